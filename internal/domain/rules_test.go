package domain

import (
	"fmt"
	"testing"
	"time"
)

func TestConditionMatches(t *testing.T) {
	chicago, err := time.LoadLocation("America/Chicago")
	if err != nil {
		t.Fatal(err)
	}
	// Sat 2026-03-07 23:30 and Sun 2026-03-08 01:30 / 03:30 local: the night
	// US clocks jump from 02:00 to 03:00.
	satLate := time.Date(2026, 3, 7, 23, 30, 0, 0, chicago)
	sunEarly := time.Date(2026, 3, 8, 1, 30, 0, 0, chicago)
	sunAfterJump := time.Date(2026, 3, 8, 3, 30, 0, 0, chicago)
	base := LeadFacts{State: " tx ", PostalCode: "78701", City: "Austin", Attributes: map[string]string{"Product": "Solar"},
		Rating: "A", Priority: "high", Kind: "", Labels: []string{"VIP"}, At: satLate, Loc: chicago}
	with := func(f func(*LeadFacts)) LeadFacts { l := base; f(&l); return l }
	cases := []struct {
		name string
		c    Condition
		f    LeadFacts
		want bool
	}{
		{"state case-insensitive trimmed", Condition{State: []string{"TX"}}, base, true},
		{"state other", Condition{State: []string{"CA", "NY"}}, base, false},
		{"postal exact", Condition{PostalCode: []string{"78701"}}, base, true},
		{"postal prefix", Condition{PostalCode: []string{"787*"}}, base, true},
		{"postal prefix other", Condition{PostalCode: []string{"786*"}}, base, false},
		{"postal missing", Condition{PostalCode: []string{"787*"}}, with(func(l *LeadFacts) { l.PostalCode = "" }), false},
		{"city", Condition{City: []string{"austin"}}, base, true},
		{"attribute any case", Condition{Attributes: map[string][]string{"product": {"SOLAR", "roof"}}}, base, true},
		{"attribute absent", Condition{Attributes: map[string][]string{"budget": {"high"}}}, base, false},
		{"rating", Condition{Rating: []string{"a"}}, base, true},
		{"priority", Condition{Priority: []string{"normal"}}, base, false},
		{"label any", Condition{Label: []string{"vip", "hot"}}, base, true},
		{"label none", Condition{Label: []string{"hot"}}, base, false},
		{"kind defaults to lead", Condition{Kind: []string{"lead"}}, base, true},
		{"kind team_member", Condition{Kind: []string{"team_member"}}, base, false},
		{"AND of fields", Condition{State: []string{"tx"}, City: []string{"Dallas"}}, base, false},
		{"day", Condition{Days: []string{"sat"}}, base, true},
		{"day other", Condition{Days: []string{"mon"}}, base, false},
		{"window", Condition{From: "23:00", To: "23:59"}, base, true},
		{"window before", Condition{From: "09:00", To: "17:00"}, base, false},
		{"midnight-spanning, evening", Condition{Days: []string{"sat"}, From: "22:00", To: "04:00"}, base, true},
		{"midnight-spanning, next morning across the DST jump",
			Condition{Days: []string{"sat"}, From: "22:00", To: "04:00"}, with(func(l *LeadFacts) { l.At = sunAfterJump }), true},
		{"midnight-spanning, next morning belongs to the day it starts",
			Condition{Days: []string{"sun"}, From: "22:00", To: "04:00"}, with(func(l *LeadFacts) { l.At = sunEarly }), false},
		{"window read on the org's wall clock, not UTC",
			Condition{From: "01:00", To: "02:00"}, with(func(l *LeadFacts) { l.At = sunEarly.UTC() }), true},
	}
	for _, tc := range cases {
		if got := tc.c.Matches(tc.f); got != tc.want {
			t.Errorf("%s: Matches = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestSourceRulesValidation(t *testing.T) {
	rule := func(name string, w Condition, mode RoutingMode) Rule {
		return Rule{Name: name, When: w, Routing: Routing{Mode: mode}}
	}
	tx := Condition{State: []string{"TX"}}
	many := make([]Rule, MaxRules)
	for i := range many {
		many[i] = rule(fmt.Sprintf("r%d", i), Condition{PostalCode: []string{fmt.Sprint(10000 + i)}}, RouteOwner)
	}
	cases := []struct {
		name       string
		c          SourceConfig
		wantField  string // "" : valid
		wantNobody string
	}{
		{"valid rules", SourceConfig{Rules: []Rule{rule("Texas", tx, RouteStaffEvenly), {Name: "Group", When: Condition{PostalCode: []string{"787*"}},
			Routing: Routing{Mode: RouteGroup, Group: "closers"}}}}, "", NobodyOwner},
		{"too many", SourceConfig{Rules: many}, "rules", ""},
		{"no name", SourceConfig{Rules: []Rule{rule(" ", tx, RouteOwner)}}, "rules[0].name", ""},
		{"control char in name", SourceConfig{Rules: []Rule{rule("a\nb", tx, RouteOwner)}}, "rules[0].name", ""},
		{"no condition", SourceConfig{Rules: []Rule{rule("all", Condition{}, RouteOwner)}}, "rules[0].when", ""},
		{"empty list", SourceConfig{Rules: []Rule{rule("x", Condition{State: []string{}}, RouteOwner)}}, "rules[0].when.state", ""},
		{"bad postal", SourceConfig{Rules: []Rule{rule("x", Condition{PostalCode: []string{"7*8"}}, RouteOwner)}}, "rules[0].when.postal_code", ""},
		{"bad day", SourceConfig{Rules: []Rule{rule("x", Condition{Days: []string{"funday"}}, RouteOwner)}}, "rules[0].when.days", ""},
		{"from without to", SourceConfig{Rules: []Rule{rule("x", Condition{From: "09:00"}, RouteOwner)}}, "rules[0].when.from", ""},
		{"bad to", SourceConfig{Rules: []Rule{rule("x", Condition{From: "09:00", To: "25:00"}, RouteOwner)}}, "rules[0].when.to", ""},
		{"from equals to", SourceConfig{Rules: []Rule{rule("x", Condition{From: "09:00", To: "09:00"}, RouteOwner)}}, "rules[0].when.to", ""},
		{"bad kind", SourceConfig{Rules: []Rule{rule("x", Condition{Kind: []string{"robot"}}, RouteOwner)}}, "rules[0].when.kind", ""},
		{"bad priority", SourceConfig{Rules: []Rule{rule("x", Condition{Priority: []string{"urgent"}}, RouteOwner)}}, "rules[0].when.priority", ""},
		{"empty attribute values", SourceConfig{Rules: []Rule{rule("x", Condition{Attributes: map[string][]string{"a": {}}}, RouteOwner)}},
			"rules[0].when.attributes.a", ""},
		{"group without name", SourceConfig{Rules: []Rule{rule("x", tx, RouteGroup)}}, "rules[0].routing.group", ""},
		{"user not an id", SourceConfig{Rules: []Rule{{Name: "x", When: tx, Routing: Routing{Mode: RouteUser, User: "bob"}}}}, "rules[0].routing.user", ""},
		{"group field on mode user", SourceConfig{Routing: Routing{Mode: RouteUser, User: "0190c1de-0000-4000-8000-000000000001", Group: "a"}},
			"routing.group", ""},
		{"same condition as an earlier rule that always takes the lead",
			SourceConfig{Rules: []Rule{rule("a", tx, RouteOwner), rule("b", Condition{State: []string{" tx"}}, RouteStaffEvenly)}}, "rules[1].when", ""},
		{"same condition after a rotation passes on with next_rule",
			SourceConfig{WhenNobody: NobodyNextRule, Rules: []Rule{rule("a", tx, RouteStaffEvenly), rule("b", tx, RouteOwner)}}, "", NobodyNextRule},
		{"same condition after a rotation without next_rule",
			SourceConfig{WhenNobody: NobodyQueue, Rules: []Rule{rule("a", tx, RouteStaffEvenly), rule("b", tx, RouteOwner)}}, "rules[1].when", ""},
		{"bad when_nobody", SourceConfig{WhenNobody: "later"}, "when_nobody", ""},
		{"bad vendor cap", SourceConfig{VendorDailyCap: new(int)}, "vendor_daily_cap", ""},
	}
	for _, tc := range cases {
		c := tc.c
		c.Name = "Vendor"
		if c.Routing.Mode == "" {
			c.Routing.Mode = RouteOwner
		}
		_, err := c.Validate()
		if tc.wantField == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			} else if c.WhenNobody != tc.wantNobody {
				t.Errorf("%s: when_nobody = %q, want %q", tc.name, c.WhenNobody, tc.wantNobody)
			}
			continue
		}
		e, ok := err.(*Error)
		if !ok || e.Fields[tc.wantField] == "" {
			t.Errorf("%s: want a problem with %s, got %v", tc.name, tc.wantField, err)
		}
	}
}
