package runs

import (
	"strings"
	"testing"

	"go.temporal.io/sdk/client"

	"github.com/leadrelay/leadrelay/internal/domain"
)

// What a schedule is given reads back the same from its calendars, whether
// the SDK hands them back as given or as the server normalises them
// (End = Start).
func TestTimetableReadsBackFromTheCalendars(t *testing.T) {
	for _, in := range [][2]string{{"09:00", "mon-fri"}, {"07:15,19:45", "sat,sun"}, {"00:00", "daily"}, {"12:30", "mon,wed,fri"}} {
		tt, err := domain.ParseTimetable(in[0], in[1])
		if err != nil {
			t.Fatal(err)
		}
		spec := client.ScheduleSpec{Calendars: calendars(tt)}
		if got := timetable(&spec); got != tt.String() {
			t.Errorf("%v: read back %q, want %q", in, got, tt)
		}
		for i := range spec.Calendars {
			for j, r := range spec.Calendars[i].DayOfWeek {
				spec.Calendars[i].DayOfWeek[j].End = r.Start
			}
		}
		if got := timetable(&spec); got != tt.String() {
			t.Errorf("%v normalised: read back %q, want %q", in, got, tt)
		}
	}
	if got := timetable(&client.ScheduleSpec{CronExpressions: []string{"0 9 * * *"}}); got != "custom" {
		t.Errorf("a schedule made by hand: %q", got)
	}
}

func TestScheduleIDsReadBack(t *testing.T) {
	r := ScheduleRef{OrgID: domain.NewID(), Slug: "everquote", Name: "morning"}
	if got, ok := parseID(r.ID()); !ok || got != r {
		t.Fatalf("parseID(%q) = %+v, %v", r.ID(), got, ok)
	}
	for _, id := range []string{"lead/x", "distribute/not-a-uuid/everquote/morning", "distribute/" + r.OrgID + "/everquote",
		"distribute/" + r.OrgID + "/everquote/on-demand/k", strings.ToUpper(r.ID())} {
		if _, ok := parseID(id); ok {
			t.Errorf("%q read as a distribution schedule", id)
		}
	}
}
