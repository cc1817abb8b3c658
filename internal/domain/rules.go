package domain

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
