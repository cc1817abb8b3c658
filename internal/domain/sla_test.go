package domain

import (
	"testing"
	"time"
)

func TestSLAValidationNamesEachField(t *testing.T) {
	for _, c := range []struct {
		sla   SLA
		field string
	}{
		{SLA{Within: "0s"}, "sla.within"},
		{SLA{Within: "soon"}, "sla.within"},
		{SLA{Within: "721h"}, "sla.within"},
		{SLA{Within: "15m", MaxEscalations: 11}, "sla.max_escalations"},
		{SLA{Within: "15m", MaxEscalations: -1}, "sla.max_escalations"},
		{SLA{Within: "15m", Fallback: "nobody"}, "sla.fallback"},
		{SLA{Within: "15m", Fallback: "user"}, "sla.fallback_user"},
		{SLA{Within: "15m", Fallback: "owner", FallbackUser: "4b0c5d5e-7a39-4f2e-9d7c-1f0f3c1f2a10"}, "sla.fallback_user"},
	} {
		f := FieldErrors{}
		c.sla.Validate("sla", f)
		if _, ok := f[c.field]; !ok || len(f) != 1 {
			t.Errorf("%+v: got %v, want one problem naming %s", c.sla, f, c.field)
		}
	}
	ok := SLA{Within: "1h30m", MaxEscalations: 2}
	f := FieldErrors{}
	if d := ok.Validate("sla", f); len(f) != 0 || d != 90*time.Minute || ok.Fallback != SLAFallbackOwner {
		t.Errorf("a valid SLA: %v, %s, fallback %q", f, d, ok.Fallback)
	}
}

func TestBusinessDeadline(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	weekdays := []WorkingSpan{{Days: []string{"mon", "tue", "wed", "thu", "fri"}, From: "09:00", To: "17:00"}}
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04:05", s, ny)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, c := range []struct {
		name   string
		b      BusinessHours
		start  string
		within time.Duration
		want   string
	}{
		{"no timetable: the plain clock", BusinessHours{}, "2026-03-07 23:50:00", 30 * time.Minute, "2026-03-08 00:20:00"},
		{"inside the day", BusinessHours{Hours: weekdays}, "2026-03-04 10:00:00", 30 * time.Minute, "2026-03-04 10:30:00"},
		{"across the evening", BusinessHours{Hours: weekdays}, "2026-03-04 16:50:00", 30 * time.Minute, "2026-03-05 09:20:00"},
		{"before opening", BusinessHours{Hours: weekdays}, "2026-03-04 07:00:00", 15 * time.Minute, "2026-03-04 09:15:00"},
		{"seconds inside a minute", BusinessHours{Hours: weekdays}, "2026-03-04 16:59:30", time.Minute, "2026-03-05 09:00:30"},
		// Friday 16:45 + 30 min: Saturday and Sunday closed, and the US
		// spring-forward (Sunday 8 March 2026, 02:00 → 03:00) lies between:
		// Monday 09:15 local, an hour fewer of real time than a week's
		// arithmetic in UTC would give.
		{"over the weekend and spring forward", BusinessHours{Hours: weekdays}, "2026-03-06 16:45:00", 30 * time.Minute, "2026-03-09 09:15:00"},
		// Fall back (Sunday 1 November 2026): the same.
		{"over the weekend and fall back", BusinessHours{Hours: weekdays}, "2026-10-30 16:45:00", 30 * time.Minute, "2026-11-02 09:15:00"},
		// A day of business on the night of fall back: 01:00–03:00 wall
		// clock is three real hours that night, all of them counted.
		{"the repeated hour counts", BusinessHours{Hours: []WorkingSpan{{Days: Weekdays, From: "01:00", To: "03:00"}}},
			"2026-11-01 01:00:00", 150 * time.Minute, "2026-11-01 02:30:00"},
		{"a holiday is skipped", BusinessHours{Hours: weekdays, Holidays: []string{"2026-03-05"}}, "2026-03-04 16:50:00",
			30 * time.Minute, "2026-03-06 09:20:00"},
		{"holidays alone", BusinessHours{Holidays: []string{"2026-12-25"}}, "2026-12-24 23:00:00", 2 * time.Hour, "2026-12-26 01:00:00"},
	} {
		got, ok := c.b.Deadline(at(c.start), c.within, ny)
		want := at(c.want)
		if c.name == "the repeated hour counts" {
			// 01:00 EDT + 150 min of real time = 01:30 EST (the second 01:30).
			want = at("2026-11-01 01:00:00").Add(150 * time.Minute)
		}
		if !ok || !got.Equal(want) {
			t.Errorf("%s: %s + %s = %s (%v), want %s", c.name, c.start, c.within, got.In(ny), ok, want.In(ny))
		}
	}
	// One hour a week cannot hold thirty days of business time within the
	// year the search looks at.
	closed := BusinessHours{Hours: []WorkingSpan{{Days: []string{"mon"}, From: "09:00", To: "10:00"}}}
	if _, ok := closed.Deadline(at("2026-01-01 00:00:00"), time.Hour*24*30, ny); ok {
		t.Error("thirty days of business time found in a year of one hour a week")
	}
}

func TestBusinessHoursProblems(t *testing.T) {
	b := BusinessHours{Hours: []WorkingSpan{{Days: []string{"mon"}, From: "9", To: "17:00"}}, Holidays: []string{"2026-12-25", "25/12/2026"}}
	f := b.Problems("business_hours")
	if _, ok := f["business_hours.hours[0].from"]; !ok {
		t.Errorf("a bad clock: %v", f)
	}
	if _, ok := f["business_hours.holidays[1]"]; !ok {
		t.Errorf("a bad date: %v", f)
	}
}
