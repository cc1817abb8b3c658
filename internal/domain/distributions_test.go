package domain

import (
	"errors"
	"strings"
	"testing"
)

func TestTimetableReadsBackAsWritten(t *testing.T) {
	t.Parallel()
	for in, want := range map[[2]string]string{
		{"09:00", "mon-fri"}:             "09:00 mon-fri",
		{"9:00", ""}:                     "09:00 daily",
		{"13:30, 09:00,13:30", "daily"}:  "09:00,13:30 daily",
		{"07:15", "sat,sun"}:             "07:15 sat-sun",
		{"23:59", "mon,wed,fri"}:         "23:59 mon,wed,fri",
		{"00:00", "Fri-Sun, mon"}:        "00:00 mon,fri-sun",
		{"12:00", "mon-wed,tue-thu,sun"}: "12:00 mon-thu,sun",
		{"06:00", "mon,tue,wed,thu,fri"}: "06:00 mon-fri",
		{"06:00", "mon-sun"}:             "06:00 daily",
	} {
		tt, err := ParseTimetable(in[0], in[1])
		if err != nil || tt.String() != want {
			t.Errorf("ParseTimetable(%q, %q) = %q, %v; want %q", in[0], in[1], tt, err, want)
		}
		if again, err := ParseTimetable(strings.Fields(want)[0], strings.Fields(want)[1]); err != nil || again.String() != want {
			t.Errorf("%q does not read back: %q, %v", want, again, err)
		}
	}
}

func TestTimetableRefusalsNameTheFlag(t *testing.T) {
	t.Parallel()
	for in, field := range map[[2]string]string{
		{"", "daily"}:         "at",
		{"9am", "daily"}:      "at",
		{"24:00", "daily"}:    "at",
		{"09:00,", "daily"}:   "at",
		{"09:00", "weekdays"}: "days",
		{"09:00", "fri-mon"}:  "days",
		{"09:00", "mon-"}:     "days",
	} {
		_, err := ParseTimetable(in[0], in[1])
		var e *Error
		if !errors.As(err, &e) || e.Code != EInvalid {
			t.Errorf("ParseTimetable(%q, %q): %v, want a refusal", in[0], in[1], err)
			continue
		}
		if e.Fields[field] == "" {
			t.Errorf("ParseTimetable(%q, %q): %v, want a message for %s", in[0], in[1], e.Fields, field)
		}
	}
}

func TestDistributionWords(t *testing.T) {
	t.Parallel()
	for _, m := range []RoutingMode{RouteOwner, RouteStaffEvenly, RouteSubAgencies} {
		if !ValidDistributionMode(m) {
			t.Errorf("%s refused", m)
		}
	}
	for _, m := range []RoutingMode{RoutePending, RouteQueue, ""} {
		if ValidDistributionMode(m) {
			t.Errorf("%q accepted: it would park the leads again", m)
		}
	}
	for _, k := range []string{"now-20260105T150405Z", "monday.run:2", strings.Repeat("k", 64)} {
		if !ValidDistributionKey(k) {
			t.Errorf("key %q refused", k)
		}
	}
	for _, k := range []string{"", "a/b", "-x", "é", "a b", strings.Repeat("k", 65)} {
		if ValidDistributionKey(k) {
			t.Errorf("key %q accepted", k)
		}
	}
}

// The console and the API say a timetable in words a person reads aloud.
func TestTimetableInWords(t *testing.T) {
	for _, c := range [][3]string{
		{"09:00,14:30", "mon-fri", "at 09:00 and 14:30, Monday to Friday"},
		{"07:15", "daily", "at 07:15, every day"},
		{"08:00,12:00,16:00", "mon,wed,fri", "at 08:00, 12:00 and 16:00, Monday, Wednesday and Friday"},
		{"23:59", "sat-sun", "at 23:59, Saturday to Sunday"},
	} {
		tt, err := ParseTimetable(c[0], c[1])
		if err != nil {
			t.Fatal(err)
		}
		if got := tt.Words(); got != c[2] {
			t.Errorf("%s %s: %q, want %q", c[0], c[1], got, c[2])
		}
	}
}
