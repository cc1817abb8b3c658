package domain

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode"
)

// Routing rules, availability, weights and caps (SPEC §5.6, docs/routing.md).
// This file holds the shapes every layer shares; matching and validation
// are pure functions here too, so the API, the console, the preview and the
// routing transaction agree by construction.

// Modes a rule's action may take besides those of §4.
const (
	RouteGroup RoutingMode = "group" // weighted rotation over a named group of users
	RouteUser  RoutingMode = "user"  // one user
)

// MaxRules bounds a source's rules, the default included.
const MaxRules = 100

// Rule is one entry of a source's ordered rules: when the lead matches When,
// Routing decides. The default (SourceConfig.Routing) is the last rule and
// has no condition.
type Rule struct {
	Name    string    `json:"name"`
	When    Condition `json:"when"`
	Routing Routing   `json:"routing"`
}

// Condition is what a lead must match; every field given must match (AND),
// and a list matches when any of its entries does (OR). Text compares
// case-insensitively after trimming. An empty Condition matches every lead,
// which only the default may do.
type Condition struct {
	State      []string            `json:"state,omitempty"`
	PostalCode []string            `json:"postal_code,omitempty"` // "78701", or a prefix "787*"
	City       []string            `json:"city,omitempty"`
	Attributes map[string][]string `json:"attributes,omitempty"` // attribute name → values it may equal
	Rating     []string            `json:"rating,omitempty"`
	Priority   []string            `json:"priority,omitempty"` // the lead's priority when it reaches this org
	Label      []string            `json:"label,omitempty"`    // the lead carries any of them
	Kind       []string            `json:"kind,omitempty"`     // lead, team_member
	// Arrival in the org's timezone: Days of the week (mon … sun) and a
	// window From ≤ t < To ("HH:MM"); From > To spans midnight.
	Days []string `json:"days,omitempty"`
	From string   `json:"from,omitempty"`
	To   string   `json:"to,omitempty"`
}

// When nobody in a rule's rotation is available (paused, away, out of
// hours or capped), the source's WhenNobody decides.
const (
	NobodyNextRule = "next_rule"
	NobodyOwner    = "owner"
	NobodyPending  = "pending"
	NobodyQueue    = "queue"
)

// WhenNobodyChoices lists WhenNobody's values in the order they are named.
var WhenNobodyChoices = []string{NobodyNextRule, NobodyOwner, NobodyPending, NobodyQueue}

// WorkingSpan is one entry of a user's weekly working hours, in the org's
// timezone: on each of Days, From ≤ t < To ("HH:MM"; From > To spans
// midnight into the next day). A user with no spans works at all hours.
type WorkingSpan struct {
	Days []string `json:"days"`
	From string   `json:"from"`
	To   string   `json:"to"`
}

// Weekdays are the day names rules and working hours use, Sunday first as
// time.Weekday counts.
var Weekdays = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// Reasons a rotation skips a member, as the timeline and the fairness report
// name them.
const (
	SkipPaused      = "paused"
	SkipOutOfHours  = "out_of_hours"
	SkipDailyCap    = "daily_cap"
	SkipOpenCap     = "open_cap"
	SkipInactive    = "inactive"
	DefaultLookback = 90 // days an open lead counts for repeats, unless the org sets another
)

// LeadFacts is what a rule's condition reads of a lead as it reaches an
// org: its data, the priority it carries there, and when it arrived.
type LeadFacts struct {
	State, PostalCode, City, Rating, Priority, Kind string
	Attributes                                      map[string]string
	Labels                                          []string
	Arrived                                         time.Time
}

// norm is how condition values and lead data compare: trimmed, case folded.
func norm(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// anyEqual reports whether v equals one of list (an empty list matches all).
func anyEqual(list []string, v string) bool {
	if len(list) == 0 {
		return true
	}
	v = norm(v)
	return slices.ContainsFunc(list, func(w string) bool { return norm(w) == v })
}

// postalMatches reads "787*" as a prefix and anything else as the whole code.
func postalMatches(list []string, code string) bool {
	if len(list) == 0 {
		return true
	}
	code = norm(code)
	for _, p := range list {
		p = norm(p)
		if prefix, ok := strings.CutSuffix(p, "*"); ok && strings.HasPrefix(code, prefix) || p == code {
			return true
		}
	}
	return false
}

// Matches reports whether the lead meets every field the condition gives,
// its arrival read on loc's wall clock.
func (c Condition) Matches(f LeadFacts, loc *time.Location) bool {
	if !anyEqual(c.State, f.State) || !postalMatches(c.PostalCode, f.PostalCode) || !anyEqual(c.City, f.City) ||
		!anyEqual(c.Rating, f.Rating) || !anyEqual(c.Priority, f.Priority) || !anyEqual(c.Kind, cmp.Or(f.Kind, KindLead)) {
		return false
	}
	for _, name := range slices.Sorted(maps.Keys(c.Attributes)) {
		v, ok := f.Attributes[name]
		if !ok || !anyEqual(c.Attributes[name], v) {
			return false
		}
	}
	if len(c.Label) > 0 && !slices.ContainsFunc(f.Labels, func(l string) bool { return anyEqual(c.Label, l) }) {
		return false
	}
	if len(c.Days) == 0 && c.From == "" {
		return true
	}
	days := c.Days
	if len(days) == 0 {
		days = Weekdays
	}
	if c.From == "" {
		return slices.Contains(days, Weekdays[f.Arrived.In(loc).Weekday()])
	}
	return Working([]WorkingSpan{{Days: days, From: c.From, To: c.To}}, f.Arrived, loc)
}

// Empty reports whether the condition matches every lead.
func (c Condition) Empty() bool {
	return len(c.State)+len(c.PostalCode)+len(c.City)+len(c.Attributes)+len(c.Rating)+len(c.Priority)+
		len(c.Label)+len(c.Kind)+len(c.Days) == 0 && c.From == "" && c.To == ""
}

// maxConditionValues bounds one list of a condition (a state list, a
// postal code list): enough for every US ZIP3, far below a body's limit.
const maxConditionValues = 1000

// conditionProblems checks one rule's condition, naming fields under at
// ("rules[2].when"). A list given empty, a time window of no time or a
// value no lead can hold would make the rule one that never matches.
func conditionProblems(f FieldErrors, at string, c *Condition) {
	lists := []struct {
		name string
		list []string
	}{{"state", c.State}, {"postal_code", c.PostalCode}, {"city", c.City}, {"rating", c.Rating},
		{"priority", c.Priority}, {"label", c.Label}, {"kind", c.Kind}, {"days", c.Days}}
	for _, l := range lists {
		valuesProblems(f, at+"."+l.name, l.list)
	}
	for _, p := range c.Priority {
		if !slices.Contains(Priorities, norm(p)) {
			f.Add(at+".priority", "not a priority: "+p+": want normal, medium or high")
		}
	}
	for _, k := range c.Kind {
		if norm(k) != KindLead && norm(k) != KindTeamMember {
			f.Add(at+".kind", "not a kind: "+k+": want lead or team_member")
		}
	}
	for _, d := range c.Days {
		if !slices.Contains(Weekdays, norm(d)) {
			f.Add(at+".days", "not a day: "+d+": want sun, mon, tue, wed, thu, fri or sat")
		}
	}
	for i, p := range c.PostalCode {
		if strings.Count(p, "*") > 1 || strings.Contains(strings.TrimSuffix(p, "*"), "*") || strings.TrimSpace(p) == "*" {
			f.Add(at+".postal_code", "a code, or a prefix ending in one *: "+p)
		}
		c.PostalCode[i] = strings.TrimSpace(p)
	}
	for _, name := range slices.Sorted(maps.Keys(c.Attributes)) {
		if strings.TrimSpace(name) == "" || len(name) > 100 {
			f.Add(at+".attributes", "an attribute name is 1 to 100 characters")
		}
		valuesProblems(f, at+".attributes."+name, c.Attributes[name])
		if c.Attributes[name] == nil {
			f.Add(at+".attributes."+name, "list at least one value")
		}
	}
	if c.From != "" || c.To != "" {
		spanProblems(f, at, c.From, c.To)
	}
}

// valuesProblems refuses a list given empty (it would match nothing), a
// blank entry, a control character and absurd sizes.
func valuesProblems(f FieldErrors, field string, list []string) {
	if list != nil && len(list) == 0 {
		f.Add(field, "an empty list never matches: leave the field out, or list a value")
	}
	if len(list) > maxConditionValues {
		f.Add(field, fmt.Sprintf("at most %d values", maxConditionValues))
	}
	for _, v := range list {
		if strings.TrimSpace(v) == "" || len(v) > 200 || strings.ContainsFunc(v, unicode.IsControl) {
			f.Add(field, "each value is 1 to 200 characters without control characters")
		}
	}
}

// routingProblems checks one rule's action under at ("rules[2].routing",
// or "routing" for the default) and returns its parsed queue delay.
func routingProblems(f FieldErrors, at string, r *Routing) time.Duration {
	modes := "owner, staff_evenly, sub_agencies_evenly, pending, queue, group or user"
	if r.Mode != RouteGroup && r.Group != "" {
		f.Add(at+".group", "only for mode group")
	}
	if r.Mode != RouteUser && r.User != "" {
		f.Add(at+".user", "only for mode user")
	}
	switch r.Mode {
	case RouteOwner, RouteStaffEvenly, RoutePending, RouteQueue:
		if len(r.SubAgencies) > 0 {
			f.Add(at+".sub_agencies", "only for mode sub_agencies_evenly")
		}
	case RouteGroup:
		if !ValidSlug(r.Group) {
			f.Add(at+".group", "the name of one of the org's groups")
		}
	case RouteUser:
		if id, ok := NormalID(r.User); ok {
			r.User = id
		} else {
			f.Add(at+".user", "the id of one of the org's users")
		}
	case RouteSubAgencies:
		if len(r.SubAgencies) == 0 {
			f.Add(at+".sub_agencies", "list at least one linked sub-agency")
		}
		seen := map[string]bool{}
		for i, raw := range r.SubAgencies {
			id, ok := NormalID(raw)
			if !ok {
				f.Add(at+".sub_agencies", "not an org id: "+raw)
			} else if seen[id] {
				f.Add(at+".sub_agencies", "listed twice: "+id)
			}
			seen[id] = true
			if ok {
				r.SubAgencies[i] = id
			}
		}
	case "":
		f.Add(at+".mode", "required: "+modes)
	default:
		f.Add(at+".mode", "unknown mode "+string(r.Mode)+": want "+modes)
	}
	var delay time.Duration
	if r.QueueDelay != "" {
		d, err := time.ParseDuration(r.QueueDelay)
		if err != nil || d < 0 || d > 30*24*time.Hour {
			f.Add(at+".queue_delay", "a duration such as 15m, at most 720h")
		}
		delay = d
	}
	return delay
}

// rulesProblems checks the rules before the default: their number, names,
// conditions and actions, when_nobody, and that each rule can match a lead
// no earlier rule takes for good.
func (c *SourceConfig) rulesProblems(f FieldErrors) {
	if len(c.Rules) > MaxRules-1 {
		f.Add("rules", fmt.Sprintf("at most %d rules before the default (%d in all)", MaxRules-1, MaxRules))
		return
	}
	if c.WhenNobody == "" {
		c.WhenNobody = NobodyOwner
	}
	if !slices.Contains(WhenNobodyChoices, c.WhenNobody) {
		f.Add("when_nobody", "next_rule, owner, pending or queue")
	}
	if c.VendorDailyCap != nil && (*c.VendorDailyCap < 1 || *c.VendorDailyCap > 10_000_000) {
		f.Add("vendor_daily_cap", "a number of leads from 1 to 10000000, or null for no cap")
	}
	for i := range c.Rules {
		r := &c.Rules[i]
		at := fmt.Sprintf("rules[%d]", i)
		r.Name = strings.TrimSpace(r.Name)
		if r.Name == "" || len(r.Name) > 100 || strings.ContainsFunc(r.Name, unicode.IsControl) {
			f.Add(at+".name", "required, at most 100 characters, no control characters")
		}
		if r.When.Empty() {
			f.Add(at+".when", "a rule needs a condition: only the default (routing) matches every lead")
		}
		conditionProblems(f, at+".when", &r.When)
		routingProblems(f, at+".routing", &r.Routing)
		for j := range i {
			if c.Rules[j].When.sameAs(r.When) && !c.passesOn(c.Rules[j]) {
				f.Add(at+".when", fmt.Sprintf("never matches: rule %d (%q) has the same condition and takes every such lead", j, c.Rules[j].Name))
				break
			}
		}
	}
}

// passesOn reports whether rule r may hand a lead to the rules after it:
// only a rotation (or one user) with nobody available, under next_rule.
func (c *SourceConfig) passesOn(r Rule) bool {
	switch r.Routing.Mode {
	case RouteStaffEvenly, RouteGroup, RouteUser:
		return c.WhenNobody == NobodyNextRule
	}
	return false
}

// sameAs compares two conditions as matching would.
func (c Condition) sameAs(o Condition) bool {
	a, _ := json.Marshal(c.normal())
	b, _ := json.Marshal(o.normal())
	return string(a) == string(b)
}

func (c Condition) normal() Condition {
	fold := func(l []string) []string {
		if l == nil {
			return nil
		}
		out := make([]string, len(l))
		for i, v := range l {
			out[i] = norm(v)
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	n := Condition{State: fold(c.State), PostalCode: fold(c.PostalCode), City: fold(c.City), Rating: fold(c.Rating),
		Priority: fold(c.Priority), Label: fold(c.Label), Kind: fold(c.Kind), Days: fold(c.Days), From: c.From, To: c.To}
	if c.Attributes != nil {
		n.Attributes = map[string][]string{}
		for k, v := range c.Attributes {
			n.Attributes[k] = fold(v)
		}
	}
	return n
}
