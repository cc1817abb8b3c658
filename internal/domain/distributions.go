package domain

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// DistributionModeRule is what a caller is told when a distribution's mode
// is refused.
const DistributionModeRule = "owner, staff_evenly or sub_agencies_evenly"

// ValidDistributionMode reports whether a distribution may take pending leads
// through m. pending and queue would only park them again.
func ValidDistributionMode(m RoutingMode) bool {
	return m == RouteOwner || m == RouteStaffEvenly || m == RouteSubAgencies
}

// ScheduleNameRule is what a caller is told when a schedule's name is refused.
const ScheduleNameRule = "lower-case letters, digits, '-' and '_', at most 64, starting with a letter or digit"

// ValidScheduleName uses the slug's grammar: a name goes into the schedule's
// ID and its runs' workflow IDs as it is, and is an identifier, not prose.
func ValidScheduleName(s string) bool { return ValidSlug(s) }

var distributionKeyRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$`)

// DistributionKeyRule is what a caller is told when an on-demand key is refused.
const DistributionKeyRule = "letters, digits, '.', '_', ':' and '-', at most 64, starting with a letter or digit"

// ValidDistributionKey accepts an on-demand distribution's idempotency key:
// printable ASCII without '/', so it fits in a workflow ID as it is.
func ValidDistributionKey(s string) bool { return distributionKeyRE.MatchString(s) }

// ClockTime is a time of day, org-local.
type ClockTime struct{ Hour, Minute int }

func (c ClockTime) String() string { return fmt.Sprintf("%02d:%02d", c.Hour, c.Minute) }

// Timetable is when a schedule distributes: these times of day on these
// days of the week, in the org's timezone.
type Timetable struct {
	Times []ClockTime    // sorted, distinct
	Days  []time.Weekday // sorted Monday first, distinct; all seven is every day
}

// What ParseTimetable accepts, as a caller is told when it refuses.
const (
	TimetableAtRule   = "HH:MM (24-hour), or several separated by commas: 09:00,14:30"
	TimetableDaysRule = "daily, or days and ranges of mon tue wed thu fri sat sun (Monday first): mon-fri, sat,sun"
)

// weekdays are the day names in the order ranges run: Monday first, so
// mon-fri and sat-sun read as people say them.
var weekdays = []dayName{{"mon", time.Monday}, {"tue", time.Tuesday}, {"wed", time.Wednesday}, {"thu", time.Thursday},
	{"fri", time.Friday}, {"sat", time.Saturday}, {"sun", time.Sunday}}

type dayName struct {
	name string
	day  time.Weekday
}

func weekdayIndex(name string) int {
	return slices.IndexFunc(weekdays, func(w dayName) bool { return w.name == name })
}

// ParseTimetable reads `--at` and `--days`; the problems come back as an
// EInvalid *Error naming "at" or "days".
func ParseTimetable(at, days string) (Timetable, error) {
	var t Timetable
	f := FieldErrors{}
	for _, s := range strings.Split(at, ",") {
		c, err := time.Parse("15:04", strings.TrimSpace(s))
		if err != nil {
			f.Add("at", TimetableAtRule)
			break
		}
		if ct := (ClockTime{c.Hour(), c.Minute()}); !slices.Contains(t.Times, ct) {
			t.Times = append(t.Times, ct)
		}
	}
	slices.SortFunc(t.Times, func(a, b ClockTime) int { return (a.Hour*60 + a.Minute) - (b.Hour*60 + b.Minute) })
	seen := make([]bool, len(weekdays))
	days = strings.ToLower(strings.TrimSpace(days))
	if days == "" || days == "daily" {
		days = "mon-sun"
	}
	for _, part := range strings.Split(days, ",") {
		from, to, isRange := strings.Cut(strings.TrimSpace(part), "-")
		if !isRange {
			to = from
		}
		i, j := weekdayIndex(strings.TrimSpace(from)), weekdayIndex(strings.TrimSpace(to))
		if i < 0 || j < 0 || j < i {
			f.Add("days", TimetableDaysRule)
			break
		}
		for k := i; k <= j; k++ {
			seen[k] = true
		}
	}
	for i, w := range weekdays {
		if seen[i] {
			t.Days = append(t.Days, w.day)
		}
	}
	return t, f.Err("invalid schedule")
}

// DaysString is Days as ParseTimetable reads it back: "daily", or runs of
// consecutive days ("mon-fri", "mon,wed,fri", "sat-sun").
func (t Timetable) DaysString() string {
	if len(t.Days) == len(weekdays) {
		return "daily"
	}
	var parts []string
	for i := 0; i < len(weekdays); {
		if !slices.Contains(t.Days, weekdays[i].day) {
			i++
			continue
		}
		j := i
		for j+1 < len(weekdays) && slices.Contains(t.Days, weekdays[j+1].day) {
			j++
		}
		switch {
		case j == i:
			parts = append(parts, weekdays[i].name)
		default:
			parts = append(parts, weekdays[i].name+"-"+weekdays[j].name)
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// String is the timetable as the operator wrote it, canonically: "09:00 mon-fri".
func (t Timetable) String() string {
	times := make([]string, len(t.Times))
	for i, c := range t.Times {
		times[i] = c.String()
	}
	return strings.Join(times, ",") + " " + t.DaysString()
}

// dayWords are the day names as a person reads them.
var dayWords = map[string]string{"mon": "Monday", "tue": "Tuesday", "wed": "Wednesday", "thu": "Thursday", "fri": "Friday",
	"sat": "Saturday", "sun": "Sunday"}

// Words is the timetable as a sentence: "at 09:00 and 14:30, Monday to
// Friday", "at 07:15, every day".
func (t Timetable) Words() string {
	times := make([]string, len(t.Times))
	for i, c := range t.Times {
		times[i] = c.String()
	}
	at := strings.Join(times, ", ")
	if n := len(times); n > 1 {
		at = strings.Join(times[:n-1], ", ") + " and " + times[n-1]
	}
	days := t.DaysString()
	if days == "daily" {
		return "at " + at + ", every day"
	}
	var parts []string
	for _, p := range strings.Split(days, ",") {
		from, to, isRange := strings.Cut(p, "-")
		if isRange {
			parts = append(parts, dayWords[from]+" to "+dayWords[to])
		} else {
			parts = append(parts, dayWords[from])
		}
	}
	d := strings.Join(parts, ", ")
	if n := len(parts); n > 1 {
		d = strings.Join(parts[:n-1], ", ") + " and " + parts[n-1]
	}
	return "at " + at + ", " + d
}
