package domain

import (
	"testing"
	"time"
)

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func date(s string) time.Time {
	d, _ := time.Parse(time.DateOnly, s)
	return d
}

// TestDigestPlanAtClockTime: the digest of a day goes out at 08:00 local on
// the next day, across both daylight-saving nights in Chicago and in a zone
// without them, and the batch covers the whole local day (23 or 25 hours).
func TestDigestPlanAtClockTime(t *testing.T) {
	t.Parallel()
	s := DigestSchedule{At: 8 * 60}
	for _, c := range []struct {
		zone, day      string
		fire, from, to string // UTC
	}{
		// The night of 2026-03-07 springs forward: 08:00 CDT is 13:00Z; the day was 24 h in CST.
		{"America/Chicago", "2026-03-07", "2026-03-08T13:00:00Z", "2026-03-07T06:00:00Z", "2026-03-08T06:00:00Z"},
		// 2026-03-08 itself is 23 hours long.
		{"America/Chicago", "2026-03-08", "2026-03-09T13:00:00Z", "2026-03-08T06:00:00Z", "2026-03-09T05:00:00Z"},
		// The night of 2026-10-31 falls back: 08:00 CST is 14:00Z.
		{"America/Chicago", "2026-10-31", "2026-11-01T14:00:00Z", "2026-10-31T05:00:00Z", "2026-11-01T05:00:00Z"},
		// 2026-11-01 is 25 hours long.
		{"America/Chicago", "2026-11-01", "2026-11-02T14:00:00Z", "2026-11-01T05:00:00Z", "2026-11-02T06:00:00Z"},
		{"Asia/Kolkata", "2026-03-07", "2026-03-08T02:30:00Z", "2026-03-06T18:30:00Z", "2026-03-07T18:30:00Z"},
		{"UTC", "2026-12-31", "2027-01-01T08:00:00Z", "2026-12-31T00:00:00Z", "2027-01-01T00:00:00Z"},
	} {
		loc := mustZone(t, c.zone)
		first := date(c.day).Add(12 * time.Hour) // noon UTC: inside every one of these days
		p := s.Plan(loc, date(c.day), first, time.Time{})
		want := func(v string) time.Time { w, _ := time.Parse(time.RFC3339, v); return w }
		if !p.FireAt.Equal(want(c.fire)) || !p.From.Equal(want(c.from)) || !p.Until.Equal(want(c.to)) {
			t.Errorf("%s %s: got from %s until %s fire %s, want %s %s %s", c.zone, c.day,
				p.From.UTC().Format(time.RFC3339), p.Until.UTC().Format(time.RFC3339), p.FireAt.UTC().Format(time.RFC3339), c.from, c.to, c.fire)
		}
		if got := p.FireAt.In(loc).Format("15:04"); got != "08:00" {
			t.Errorf("%s %s: fires at %s local", c.zone, c.day, got)
		}
	}
}

// TestDigestPlanAfterDelay: with a delay, a batch covers its first arrival
// plus the delay (never past the local day) and goes out once it has
// settled; a later batch starts where the earlier one ended.
func TestDigestPlanAfterDelay(t *testing.T) {
	t.Parallel()
	s := DigestSchedule{At: 8 * 60, Delay: 2 * time.Minute}
	loc := mustZone(t, "America/Chicago")
	first := time.Date(2026, 3, 7, 10, 0, 0, 0, loc)
	p := s.Plan(loc, date("2026-03-07"), first, time.Time{})
	if !p.From.Equal(time.Date(2026, 3, 7, 0, 0, 0, 0, loc)) || !p.Until.Equal(first.Add(2*time.Minute)) ||
		!p.FireAt.Equal(first.Add(2*time.Minute+DigestSettle)) {
		t.Fatalf("first batch: %+v", p)
	}
	next := s.Plan(loc, date("2026-03-07"), first.Add(time.Hour), p.Until)
	if !next.From.Equal(p.Until) || !next.Until.Equal(first.Add(time.Hour+2*time.Minute)) {
		t.Fatalf("second batch: %+v", next)
	}
	late := time.Date(2026, 3, 7, 23, 59, 0, 0, loc)
	last := s.Plan(loc, date("2026-03-07"), late, next.Until)
	if !last.Until.Equal(time.Date(2026, 3, 8, 0, 0, 0, 0, loc)) || !last.FireAt.Equal(late.Add(2*time.Minute)) {
		t.Fatalf("a batch at the day's end stops at midnight and still waits its delay: %+v", last)
	}
}
