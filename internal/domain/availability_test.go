package domain

import (
	"testing"
	"time"
)

func TestWorkingHoursAcrossDSTAndMidnight(t *testing.T) {
	chicago, err := time.LoadLocation("America/Chicago")
	if err != nil {
		t.Fatal(err)
	}
	day := []WorkingSpan{{Days: []string{"mon", "tue", "wed", "thu", "fri"}, From: "09:00", To: "17:00"}}
	night := []WorkingSpan{{Days: []string{"sat"}, From: "22:00", To: "06:00"}}
	at := func(s string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04", s, chicago)
		if err != nil {
			t.Fatal(err)
		}
		return tm.UTC() // what the store hands over: an instant
	}
	for _, c := range []struct {
		spans []WorkingSpan
		at    string
		want  bool
	}{
		{nil, "2026-03-08 03:00", true},
		// the Monday after spring-forward (2026-03-08) and after fall-back (2026-11-01):
		// 09:00 local is 14:00 UTC then 15:00 UTC, and is working both times
		{day, "2026-03-09 09:00", true},
		{day, "2026-03-09 08:59", false},
		{day, "2026-11-02 09:00", true},
		{day, "2026-11-02 17:00", false},
		{day, "2026-03-07 12:00", false}, // a Saturday
		{night, "2026-03-07 23:30", true},
		{night, "2026-03-08 05:59", true}, // Sunday morning belongs to Saturday's span
		{night, "2026-03-08 06:00", false},
		{night, "2026-03-08 23:30", false},
	} {
		if got := Working(c.spans, at(c.at), chicago); got != c.want {
			t.Errorf("Working(%v, %s Chicago) = %v, want %v", c.spans, c.at, got, c.want)
		}
	}
	// The same UTC instant is 09:00 in Chicago before the change and 10:00 after it.
	if !Working(day, time.Date(2026, 3, 6, 15, 0, 0, 0, time.UTC), chicago) || Working(day, time.Date(2026, 3, 9, 13, 30, 0, 0, time.UTC), chicago) {
		t.Error("working hours follow the UTC offset instead of the org's wall clock")
	}
}

func TestWorkingHoursProblemsNameTheField(t *testing.T) {
	f := WorkingHoursProblems("working_hours", []WorkingSpan{
		{Days: []string{"mon"}, From: "09:00", To: "17:00"},
		{Days: []string{"funday"}, From: "9", To: "17:00"},
		{Days: nil, From: "10:00", To: "10:00"},
	})
	for _, k := range []string{"working_hours[1].days", "working_hours[1].from", "working_hours[2].days", "working_hours[2].to"} {
		if _, ok := f[k]; !ok {
			t.Errorf("no problem named %s in %v", k, f)
		}
	}
	if _, ok := f["working_hours[0].from"]; ok || len(f) != 4 {
		t.Errorf("problems %v, want exactly the four bad fields", f)
	}
}
