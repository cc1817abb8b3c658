package domain

import (
	"testing"
	"time"
)

// TestConditionMatches: each field of a condition against a lead, with
// case and spaces folded, postal prefixes, labels, attributes, and the
// org-local arrival window (one spanning midnight, read in Chicago).
func TestConditionMatches(t *testing.T) {
	chicago, err := time.LoadLocation("America/Chicago")
	if err != nil {
		t.Fatal(err)
	}
	// Monday 2026-12-07 22:30 in Chicago is Tuesday 04:30 UTC.
	monLate := time.Date(2026, 12, 7, 22, 30, 0, 0, chicago)
	lead := LeadFacts{State: " tx ", PostalCode: "78701", City: "Austin", Rating: "Hot", Priority: "high", Kind: "",
		Attributes: map[string]string{"product": "Auto"}, Labels: []string{"vip", "spanish"}, Arrived: monLate}
	cases := []struct {
		name string
		c    Condition
		want bool
	}{
		{"empty matches all", Condition{}, true},
		{"state any case", Condition{State: []string{"TX", "OK"}}, true},
		{"state other", Condition{State: []string{"CA"}}, false},
		{"postal prefix", Condition{PostalCode: []string{"787*"}}, true},
		{"postal exact", Condition{PostalCode: []string{"78701"}}, true},
		{"postal prefix other", Condition{PostalCode: []string{"100*"}}, false},
		{"postal code is not a prefix without *", Condition{PostalCode: []string{"787"}}, false},
		{"city", Condition{City: []string{"austin"}}, true},
		{"attribute in list", Condition{Attributes: map[string][]string{"product": {"home", "auto"}}}, true},
		{"attribute missing", Condition{Attributes: map[string][]string{"budget": {"high"}}}, false},
		{"rating", Condition{Rating: []string{"hot"}}, true},
		{"priority", Condition{Priority: []string{"normal"}}, false},
		{"label any", Condition{Label: []string{"VIP"}}, true},
		{"label none", Condition{Label: []string{"french"}}, false},
		{"kind defaults to lead", Condition{Kind: []string{"lead"}}, true},
		{"kind team member", Condition{Kind: []string{"team_member"}}, false},
		{"day in the org's zone (Monday there, Tuesday in UTC)", Condition{Days: []string{"mon"}}, true},
		{"day not", Condition{Days: []string{"tue"}}, false},
		{"window spanning midnight", Condition{From: "22:00", To: "06:00"}, true},
		{"window of the day", Condition{From: "09:00", To: "17:00"}, false},
		{"window on its start day only", Condition{Days: []string{"sun"}, From: "22:00", To: "06:00"}, false},
		{"every field, AND", Condition{State: []string{"tx"}, Label: []string{"spanish"}, Rating: []string{"hot"}}, true},
		{"one field fails the AND", Condition{State: []string{"tx"}, Label: []string{"french"}}, false},
	}
	for _, c := range cases {
		if got := c.c.Matches(lead, chicago); got != c.want {
			t.Errorf("%s: Matches = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestRulesValidationNamesTheRuleAndField: what a source's rules may not be,
// each refused naming rules[i] and the field, and a rule that can never
// match (an empty list, a window of no time, an earlier rule with the same
// condition that keeps every such lead) refused too.
func TestRulesValidationNamesTheRuleAndField(t *testing.T) {
	group := Routing{Mode: RouteGroup, Group: "texas"}
	base := func(rules ...Rule) SourceConfig {
		return SourceConfig{Name: "S", Routing: Routing{Mode: RouteStaffEvenly}, Rules: rules}
	}
	tx := Condition{State: []string{"TX"}}
	cases := []struct {
		name  string
		c     SourceConfig
		field string
	}{
		{"no condition", base(Rule{Name: "all", Routing: group}), "rules[0].when"},
		{"no name", base(Rule{When: tx, Routing: group}), "rules[0].name"},
		{"empty list", base(Rule{Name: "x", When: Condition{State: []string{}}, Routing: group}), "rules[0].when.state"},
		{"blank value", base(Rule{Name: "x", When: Condition{City: []string{" "}}, Routing: group}), "rules[0].when.city"},
		{"bad day", base(Rule{Name: "x", When: Condition{Days: []string{"funday"}}, Routing: group}), "rules[0].when.days"},
		{"from without to", base(Rule{Name: "x", When: Condition{From: "09:00"}, Routing: group}), "rules[0].when.to"},
		{"window of no time", base(Rule{Name: "x", When: Condition{From: "09:00", To: "09:00"}, Routing: group}), "rules[0].when.to"},
		{"bad priority", base(Rule{Name: "x", When: Condition{Priority: []string{"urgent"}}, Routing: group}), "rules[0].when.priority"},
		{"postal * inside", base(Rule{Name: "x", When: Condition{PostalCode: []string{"7*7"}}, Routing: group}), "rules[0].when.postal_code"},
		{"group without name", base(Rule{Name: "x", When: tx, Routing: Routing{Mode: RouteGroup}}), "rules[0].routing.group"},
		{"user not an id", base(Rule{Name: "x", When: tx, Routing: Routing{Mode: RouteUser, User: "bob"}}), "rules[0].routing.user"},
		{"group field on owner", base(Rule{Name: "x", When: tx, Routing: Routing{Mode: RouteOwner, Group: "texas"}}), "rules[0].routing.group"},
		{"unknown mode", base(Rule{Name: "x", When: tx, Routing: Routing{Mode: "sideways"}}), "rules[0].routing.mode"},
		{"shadowed", base(Rule{Name: "a", When: tx, Routing: group}, Rule{Name: "b", When: Condition{State: []string{"tx"}}, Routing: Routing{Mode: RouteOwner}}), "rules[1].when"},
		{"when_nobody", SourceConfig{Name: "S", Routing: Routing{Mode: RouteOwner}, WhenNobody: "panic"}, "when_nobody"},
		{"vendor cap", SourceConfig{Name: "S", Routing: Routing{Mode: RouteOwner}, VendorDailyCap: new(int)}, "vendor_daily_cap"},
		{"default is checked as routing", SourceConfig{Name: "S", Routing: Routing{Mode: RouteGroup}}, "routing.group"},
	}
	for _, c := range cases {
		_, err := c.c.Validate()
		e, ok := err.(*Error)
		if !ok || e.Code != EInvalid || e.Fields[c.field] == "" {
			t.Errorf("%s: %v, want a 422 naming %s", c.name, err, c.field)
		}
	}
	many := base()
	for range MaxRules {
		many.Rules = append(many.Rules, Rule{Name: "r", When: tx, Routing: Routing{Mode: RoutePending}})
	}
	if _, err := many.Validate(); err == nil || err.(*Error).Fields["rules"] == "" {
		t.Errorf("%d rules before the default: %v, want a 422 naming rules", MaxRules, err)
	}
	// A rotation may pass a lead on under next_rule, so the same condition
	// again is a fallback, not dead; and 99 good rules are fine.
	ok := base(Rule{Name: "a", When: tx, Routing: group}, Rule{Name: "b", When: tx, Routing: Routing{Mode: RouteOwner}})
	ok.WhenNobody = NobodyNextRule
	if _, err := ok.Validate(); err != nil {
		t.Errorf("a fallback rule under next_rule: %v", err)
	}
	full := base()
	for i := range MaxRules - 1 {
		full.Rules = append(full.Rules, Rule{Name: "r", When: Condition{PostalCode: []string{string(rune('0'+i%10)) + string(rune('0'+i/10)) + "*"}}, Routing: group})
	}
	if _, err := full.Validate(); err != nil {
		t.Errorf("%d distinct rules: %v", MaxRules-1, err)
	}
	if full.WhenNobody != NobodyOwner {
		t.Errorf("when_nobody defaults to %q, want owner", full.WhenNobody)
	}
}
