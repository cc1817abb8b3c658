package domain

import (
	"cmp"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
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

// LeadFacts is what a rule's condition reads of a lead: its data as it
// reaches the org, and when it arrived, read in the org's timezone.
type LeadFacts struct {
	State, PostalCode, City string
	Attributes              map[string]string
	Rating, Priority, Kind  string
	Labels                  []string
	At                      time.Time
	Loc                     *time.Location
}

// FactsOf reads a lead's input as a condition sees it.
func FactsOf(in LeadInput, priority string, at time.Time, loc *time.Location) LeadFacts {
	return LeadFacts{State: in.Address.State, PostalCode: in.Address.PostalCode, City: in.Address.City,
		Attributes: in.Attributes, Rating: in.Rating, Priority: priority, Kind: cmp.Or(in.Kind, KindLead),
		Labels: in.Labels, At: at, Loc: loc}
}

// norm is how condition text compares: trimmed, case-insensitive.
func norm(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// anyEqual reports whether v equals one of list (a nil list: no constraint).
func anyEqual(list []string, v string) bool {
	if list == nil {
		return true
	}
	v = norm(v)
	return slices.ContainsFunc(list, func(s string) bool { return norm(s) == v })
}

// postalMatches accepts a code equal to an entry, or starting with an
// entry's prefix ("787*").
func postalMatches(list []string, code string) bool {
	if list == nil {
		return true
	}
	code = norm(code)
	for _, p := range list {
		p = norm(p)
		if pre, ok := strings.CutSuffix(p, "*"); ok && code != "" && strings.HasPrefix(code, pre) || p == code && code != "" {
			return true
		}
	}
	return false
}

// Matches reports whether the lead satisfies every field of c. A pure
// function: the routing transaction and the preview call it alike.
func (c Condition) Matches(f LeadFacts) bool {
	if !anyEqual(c.State, f.State) || !postalMatches(c.PostalCode, f.PostalCode) || !anyEqual(c.City, f.City) ||
		!anyEqual(c.Rating, f.Rating) || !anyEqual(c.Priority, f.Priority) || !anyEqual(c.Kind, cmp.Or(f.Kind, KindLead)) {
		return false
	}
	if c.Label != nil && !slices.ContainsFunc(f.Labels, func(l string) bool { return anyEqual(c.Label, l) }) {
		return false
	}
	for k, vals := range c.Attributes {
		v, ok := attribute(f.Attributes, k)
		if !ok || !anyEqual(vals, v) {
			return false
		}
	}
	return c.arrivedInWindow(f.At, f.Loc)
}

// attribute finds the lead's attribute named k, whatever its case.
func attribute(attrs map[string]string, k string) (string, bool) {
	k = norm(k)
	for name, v := range attrs {
		if norm(name) == k {
			return v, true
		}
	}
	return "", false
}

// arrivedInWindow checks Days and From/To against the arrival read on the
// org's wall clock. A window past midnight (From > To) belongs to the day
// it starts on, as working hours do, so "fri 22:00–02:00" takes Saturday
// 01:00.
func (c Condition) arrivedInWindow(at time.Time, loc *time.Location) bool {
	if c.Days == nil && c.From == "" {
		return true
	}
	if loc == nil {
		loc = time.UTC
	}
	local := at.In(loc)
	today, yesterday := Weekdays[local.Weekday()], Weekdays[(local.Weekday()+6)%7]
	onDay := func(d string) bool {
		return c.Days == nil || slices.ContainsFunc(c.Days, func(x string) bool { return norm(x) == d })
	}
	if c.From == "" {
		return onDay(today)
	}
	from, _ := ParseClock(c.From)
	to, _ := ParseClock(c.To)
	now := local.Hour()*60 + local.Minute()
	if from < to {
		return onDay(today) && now >= from && now < to
	}
	return onDay(today) && now >= from || onDay(yesterday) && now < to
}

// Rotates reports whether a rule's action can find nobody available and
// so pass the lead on when the source's WhenNobody is next_rule.
func (r Routing) Rotates() bool {
	return r.Mode == RouteStaffEvenly || r.Mode == RouteGroup || r.Mode == RouteUser
}

// RuleLabel names rule i of n rules for reasons: `rule 2 "Texas"` (1-based,
// as people count) or `default rule`.
func RuleLabel(rules []Rule, i int) string {
	if i >= len(rules) {
		return "default rule"
	}
	return fmt.Sprintf("rule %d %q", i+1, rules[i].Name)
}

// rulesProblems checks the rules before the default and the source's
// WhenNobody and VendorDailyCap, naming each field ("rules[3].when.state").
func (c *SourceConfig) rulesProblems(f FieldErrors) {
	if c.WhenNobody == "" {
		c.WhenNobody = NobodyOwner
	}
	if !slices.Contains(WhenNobodyChoices, c.WhenNobody) {
		f.Add("when_nobody", "next_rule, owner, pending or queue")
	}
	if c.VendorDailyCap != nil && (*c.VendorDailyCap < 1 || *c.VendorDailyCap > 1_000_000) {
		f.Add("vendor_daily_cap", "a number of leads from 1 to 1000000, or null for no cap")
	}
	if len(c.Rules) > MaxRules-1 {
		f.Add("rules", fmt.Sprintf("at most %d rules before the default", MaxRules-1))
		return
	}
	seen := make([]string, len(c.Rules))
	for i := range c.Rules {
		r := &c.Rules[i]
		at := fmt.Sprintf("rules[%d]", i)
		r.Name = strings.TrimSpace(r.Name)
		if r.Name == "" || utf8.RuneCountInString(r.Name) > 100 || strings.ContainsFunc(r.Name, unicode.IsControl) {
			f.Add(at+".name", "required, at most 100 characters, no control characters")
		}
		conditionProblems(at+".when", r.When, f)
		routingProblems(at+".routing", &r.Routing, f)
		if _, ok := f[at+".when"]; ok {
			continue
		}
		seen[i] = r.When.key()
		for j := range i {
			if seen[j] == seen[i] && !(c.WhenNobody == NobodyNextRule && c.Rules[j].Routing.Rotates()) {
				f.Add(at+".when", fmt.Sprintf("never matches: rule %d has the same condition and always takes the lead", j+1))
				break
			}
		}
	}
}

// key is the condition in a form two equivalent conditions share.
func (c Condition) key() string {
	n := func(l []string) []string {
		if l == nil {
			return nil
		}
		out := make([]string, len(l))
		for i, s := range l {
			out[i] = norm(s)
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	k := Condition{State: n(c.State), PostalCode: n(c.PostalCode), City: n(c.City), Rating: n(c.Rating),
		Priority: n(c.Priority), Label: n(c.Label), Kind: n(c.Kind), Days: n(c.Days), From: c.From, To: c.To}
	if c.Attributes != nil {
		k.Attributes = map[string][]string{}
		for name, vals := range c.Attributes {
			k.Attributes[norm(name)] = n(vals)
		}
	}
	b, _ := json.Marshal(k) // map keys marshal sorted
	return string(b)
}

// conditionProblems checks one rule's condition; a condition that can
// never match is refused, as it would only mislead.
func conditionProblems(at string, c Condition, f FieldErrors) {
	if c.Attributes == nil && c.State == nil && c.PostalCode == nil && c.City == nil && c.Rating == nil &&
		c.Priority == nil && c.Label == nil && c.Kind == nil && c.Days == nil && c.From == "" && c.To == "" {
		f.Add(at, "a rule needs a condition: only the default (routing) matches every lead")
		return
	}
	lists := []struct {
		name string
		list []string
		ok   func(string) bool
		want string
	}{
		{"state", c.State, nil, ""},
		{"postal_code", c.PostalCode, validPostal, `a postal code such as 78701, or a prefix such as 787*`},
		{"city", c.City, nil, ""},
		{"rating", c.Rating, nil, ""},
		{"priority", c.Priority, func(s string) bool { return slices.Contains(Priorities, norm(s)) }, "normal, medium or high"},
		{"label", c.Label, nil, ""},
		{"kind", c.Kind, func(s string) bool { return norm(s) == KindLead || norm(s) == KindTeamMember }, "lead or team_member"},
		{"days", c.Days, func(s string) bool { return slices.Contains(Weekdays, norm(s)) }, "sun, mon, tue, wed, thu, fri or sat"},
	}
	for _, l := range lists {
		listProblems(at+"."+l.name, l.list, l.ok, l.want, f)
	}
	if c.Attributes != nil && len(c.Attributes) == 0 {
		f.Add(at+".attributes", "an empty object never matches: name at least one attribute")
	}
	for name, vals := range c.Attributes {
		if strings.TrimSpace(name) == "" {
			f.Add(at+".attributes", "an attribute name is empty")
		}
		listProblems(at+".attributes."+name, vals, nil, "", f)
	}
	if c.From == "" && c.To == "" {
		return
	}
	from, ok1 := ParseClock(c.From)
	to, ok2 := ParseClock(c.To)
	switch {
	case c.From == "" || c.To == "":
		f.Add(at+".from", "give both from and to, or neither")
	case !ok1:
		f.Add(at+".from", "a time of day such as 09:00")
	case !ok2:
		f.Add(at+".to", "a time of day such as 17:30")
	case from == to:
		f.Add(at+".to", "must differ from from: a window of no time never matches")
	}
}

// listProblems refuses an empty list (it never matches), a blank entry,
// and an entry ok refuses.
func listProblems(at string, list []string, ok func(string) bool, want string, f FieldErrors) {
	if list == nil {
		return
	}
	if len(list) == 0 {
		f.Add(at, "an empty list never matches: leave the field out, or list a value")
	}
	if len(list) > 1000 {
		f.Add(at, "at most 1000 values")
	}
	for _, s := range list {
		switch {
		case strings.TrimSpace(s) == "" || len(s) > 200:
			f.Add(at, "values must be non-empty, at most 200 characters")
		case ok != nil && !ok(s):
			f.Add(at, "not allowed: "+s+": want "+want)
		}
	}
}

var postalRE = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z -]{0,15}\*?$`)

func validPostal(s string) bool { return postalRE.MatchString(strings.TrimSpace(s)) }

// routingProblems checks one action (the default's "routing" or a rule's
// "rules[i].routing"): its mode and the fields that mode needs or forbids.
func routingProblems(at string, r *Routing, f FieldErrors) {
	modes := "owner, staff_evenly, sub_agencies_evenly, pending, queue, group or user"
	if r.Mode != RouteGroup && r.Group != "" {
		f.Add(at+".group", "only for mode group")
	}
	if r.Mode != RouteUser && r.User != "" {
		f.Add(at+".user", "only for mode user")
	}
	if r.Mode != RouteSubAgencies && len(r.SubAgencies) > 0 {
		f.Add(at+".sub_agencies", "only for mode sub_agencies_evenly")
	}
	switch r.Mode {
	case RouteOwner, RouteStaffEvenly, RoutePending, RouteQueue:
	case RouteGroup:
		r.Group = strings.TrimSpace(r.Group)
		if !ValidSlug(r.Group) {
			f.Add(at+".group", "the name of a group of this org")
		}
	case RouteUser:
		id, ok := NormalID(strings.TrimSpace(r.User))
		if !ok {
			f.Add(at+".user", "the id of a user of this org")
		}
		r.User = id
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
	if r.QueueDelay != "" {
		if d, err := time.ParseDuration(r.QueueDelay); err != nil || d < 0 || d > 30*24*time.Hour {
			f.Add(at+".queue_delay", "a duration such as 15m, at most 720h")
		}
	}
}
