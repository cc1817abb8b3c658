package domain

import (
	"fmt"
	"slices"
	"time"
)

// MaxWorkingSpans bounds a user's timetable: a split shift every day is 14.
const MaxWorkingSpans = 28

// ParseClock reads "HH:MM" (00:00 … 23:59) as minutes past midnight.
func ParseClock(s string) (int, bool) {
	var h, m int
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	if _, err := fmt.Sscanf(s, "%02d:%02d", &h, &m); err != nil || h > 23 || m > 59 || h < 0 || m < 0 {
		return 0, false
	}
	return h*60 + m, true
}

// WorkingHoursProblems checks a timetable, naming each bad entry's field
// under prefix ("working_hours[2].from").
func WorkingHoursProblems(prefix string, spans []WorkingSpan) FieldErrors {
	f := FieldErrors{}
	if len(spans) > MaxWorkingSpans {
		f.Add(prefix, fmt.Sprintf("at most %d spans", MaxWorkingSpans))
		return f
	}
	for i, s := range spans {
		at := fmt.Sprintf("%s[%d]", prefix, i)
		if len(s.Days) == 0 {
			f.Add(at+".days", "list at least one of sun, mon, tue, wed, thu, fri, sat")
		}
		for _, d := range s.Days {
			if !slices.Contains(Weekdays, d) {
				f.Add(at+".days", "not a day: "+d+": want sun, mon, tue, wed, thu, fri or sat")
				break
			}
		}
		from, ok1 := ParseClock(s.From)
		to, ok2 := ParseClock(s.To)
		switch {
		case !ok1:
			f.Add(at+".from", "a time of day such as 09:00")
		case !ok2:
			f.Add(at+".to", "a time of day such as 17:30")
		case from == to:
			f.Add(at+".to", "must differ from from: a span of no time is never working")
		}
	}
	return f
}

// Working reports whether t, read in loc, falls in one of the spans; a
// user without spans always works. A span whose From is after its To runs
// past midnight into the next day, and belongs to the day it starts on.
// Reading the wall clock in loc is what keeps 09:00 at 09:00 across a DST
// change.
func Working(spans []WorkingSpan, t time.Time, loc *time.Location) bool {
	if len(spans) == 0 {
		return true
	}
	local := t.In(loc)
	now := local.Hour()*60 + local.Minute()
	today := Weekdays[local.Weekday()]
	yesterday := Weekdays[(local.Weekday()+6)%7]
	for _, s := range spans {
		from, _ := ParseClock(s.From)
		to, _ := ParseClock(s.To)
		if from < to {
			if slices.Contains(s.Days, today) && now >= from && now < to {
				return true
			}
			continue
		}
		if slices.Contains(s.Days, today) && now >= from || slices.Contains(s.Days, yesterday) && now < to {
			return true
		}
	}
	return false
}
