package domain

import (
	"fmt"
	"slices"
	"time"
)

// SLA is a source's promise about speed after the assignment (SPEC §5.7):
// a lead routed to a person and not marked worked Within goes to the next
// available member of the rule's group not yet tried, up to
// MaxEscalations times, then to the Fallback. With BusinessHours, only
// the org's business hours (its weekly timetable, less its holidays) count
// towards Within.
type SLA struct {
	Within         string `json:"within"`                  // a duration: "15m", "1h30m"
	MaxEscalations int    `json:"max_escalations"`         // 0 … MaxSLAEscalations
	Fallback       string `json:"fallback,omitempty"`      // SLAFallback*; "" : owner
	FallbackUser   string `json:"fallback_user,omitempty"` // with fallback "user"
	BusinessHours  bool   `json:"business_hours,omitempty"`
}

// What happens to a lead after its last escalation was missed too.
const (
	SLAFallbackOwner   = "owner"   // the org owner gets it
	SLAFallbackPending = "pending" // nobody: it waits in pending for a manager
	SLAFallbackUser    = "user"    // FallbackUser gets it
)

// SLAFallbacks lists Fallback's values in the order they are named.
var SLAFallbacks = []string{SLAFallbackOwner, SLAFallbackPending, SLAFallbackUser}

// Bounds of an SLA. MaxSLAEscalations also bounds an SLA run's history: a
// step is a handful of events.
const (
	MaxSLAEscalations = 10
	MinSLAWithin      = time.Second // short clocks are for tests and demos; a person needs minutes
	MaxSLAWithin      = 30 * 24 * time.Hour
	MaxHolidays       = 100
)

// Validate checks the SLA, naming fields under prefix ("sla.within"),
// normalises it and returns Within parsed.
func (s *SLA) Validate(prefix string, f FieldErrors) time.Duration {
	d, err := time.ParseDuration(s.Within)
	if err != nil || d < MinSLAWithin || d > MaxSLAWithin {
		f.Add(prefix+".within", "a duration from 1s to 720h, such as \"15m\" or \"1h30m\"")
	}
	if s.MaxEscalations < 0 || s.MaxEscalations > MaxSLAEscalations {
		f.Add(prefix+".max_escalations", fmt.Sprintf("a number from 0 to %d", MaxSLAEscalations))
	}
	if s.Fallback == "" {
		s.Fallback = SLAFallbackOwner
	}
	switch {
	case !slices.Contains(SLAFallbacks, s.Fallback):
		f.Add(prefix+".fallback", "owner, pending or user")
	case s.Fallback == SLAFallbackUser && !ValidUUID(s.FallbackUser):
		f.Add(prefix+".fallback_user", "the id of an active user of this org, with fallback user")
	case s.Fallback != SLAFallbackUser && s.FallbackUser != "":
		f.Add(prefix+".fallback_user", "only with fallback user")
	}
	return d
}

// Deadline is when the SLA's clock, started at start, runs out: Within
// later, counted in the org's business hours b (nil: none set) when the SLA
// says so; a calendar that never opens counts the plain clock.
func (s SLA) Deadline(start time.Time, b *BusinessHours, loc *time.Location) time.Time {
	within, _ := time.ParseDuration(s.Within) // Validate checked it when the source was saved
	if s.BusinessHours && b != nil {
		if t, ok := b.Deadline(start, within, loc); ok {
			return t
		}
	}
	return start.Add(within)
}

// BusinessHours is an org's business time: a weekly timetable in its
// timezone (as a user's working hours) and the dates it is closed. An empty
// timetable is every hour of every day.
type BusinessHours struct {
	Hours    []WorkingSpan `json:"hours"`
	Holidays []string      `json:"holidays"` // YYYY-MM-DD, org-local
}

// Problems names what is wrong with b, under prefix.
func (b *BusinessHours) Problems(prefix string) FieldErrors {
	f := WorkingHoursProblems(prefix+".hours", b.Hours)
	if len(b.Holidays) > MaxHolidays {
		f.Add(prefix+".holidays", fmt.Sprintf("at most %d dates", MaxHolidays))
		return f
	}
	for i, h := range b.Holidays {
		if _, err := time.Parse(time.DateOnly, h); err != nil {
			f.Add(fmt.Sprintf("%s.holidays[%d]", prefix, i), "a date as YYYY-MM-DD")
		}
	}
	return f
}

// open reports whether t is business time.
func (b BusinessHours) open(t time.Time, loc *time.Location) bool {
	return Working(b.Hours, t, loc) && !slices.Contains(b.Holidays, t.In(loc).Format(time.DateOnly))
}

// slaHorizon bounds the search for business time: a timetable with one
// minute a week still fits, a calendar closed for good does not.
const slaHorizon = 400 * 24 * time.Hour

// Deadline is when within of business time has passed since start: the
// clock runs only while b is open, minute by minute of real (absolute)
// time, so a DST change neither adds nor removes working time and a
// 09:00–17:00 day stays eight hours. False when b never opens within a year.
func (b BusinessHours) Deadline(start time.Time, within time.Duration, loc *time.Location) (time.Time, bool) {
	if len(b.Hours) == 0 && len(b.Holidays) == 0 {
		return start.Add(within), true
	}
	t, left := start, within
	for end := start.Add(slaHorizon); t.Before(end); {
		// The clock is checked at whole minutes of the wall clock, which
		// is when timetables change.
		step := t.Truncate(time.Minute).Add(time.Minute).Sub(t)
		if b.open(t, loc) {
			if left <= step {
				return t.Add(left), true
			}
			left -= step
		}
		t = t.Add(step)
	}
	return time.Time{}, false
}
