package console

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"go.temporal.io/sdk/client"

	"github.com/leadrelay/leadrelay/internal/domain"
)

// downSchedules is noTemporal's Schedules: every call finds Temporal down.
type downSchedules struct{}

func (downSchedules) Create(context.Context, client.ScheduleOptions) (client.ScheduleHandle, error) {
	return nil, errDown
}
func (downSchedules) List(context.Context, client.ScheduleListOptions) (client.ScheduleListIterator, error) {
	return nil, errDown
}
func (downSchedules) GetHandle(_ context.Context, id string) client.ScheduleHandle {
	return downSchedule{}
}

type downSchedule struct{ client.ScheduleHandle }

func (downSchedule) Describe(context.Context) (*client.ScheduleDescription, error) {
	return nil, errDown
}
func (downSchedule) Pause(context.Context, client.SchedulePauseOptions) error     { return errDown }
func (downSchedule) Unpause(context.Context, client.ScheduleUnpauseOptions) error { return errDown }
func (downSchedule) Trigger(context.Context, client.ScheduleTriggerOptions) error { return errDown }
func (downSchedule) Delete(context.Context) error                                 { return errDown }

// With Temporal out of reach the schedules page still opens and says so;
// an owner gets the create form, its source list and the org's timezone as
// the default, a staff user neither form nor buttons. A refused create is
// shown next to its field with what was typed, and a source of another org
// is refused on the source field; neither reaches Temporal.
func TestSchedulesPageFormAndRefusals(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	o, owner := h.org(t, "Sched Page Agency")
	if _, _, _, err := h.store.PutSource(context.Background(), o.ID, "webform", domain.SourceConfig{Name: "Web Form",
		Routing: domain.Routing{Mode: domain.RoutePending}, Priority: "normal"}, 0); err != nil {
		t.Fatal(err)
	}
	other := h.otherOrg(t)
	b := h.signedIn(t, owner)
	p := b.get("/app/schedules")
	if p.status != 200 || !strings.Contains(p.body, "cannot be reached right now") || !strings.Contains(p.body, `<option value="webform"`) ||
		!strings.Contains(p.body, `value="America/Chicago"`) || !strings.Contains(p.body, `action="/app/schedules"`) {
		t.Fatalf("the owner's schedules page: %d\n%s", p.status, p.body)
	}
	staff := h.signedIn(t, h.user(t, o.ID, domain.RoleStaff, "Sid Staff")).get("/app/schedules")
	if staff.status != 200 || strings.Contains(staff.body, `action="/app/schedules"`) || strings.Contains(staff.body, "Run now") {
		t.Fatalf("a staff user's schedules page has the form or buttons: %d\n%s", staff.status, staff.body)
	}

	form := url.Values{"csrf": {b.csrf("/app/schedules")}, "source": {"webform"}, "name": {"evening"}, "mode": {"owner"},
		"at": {"7pm"}, "days": {"weekdays"}, "timezone": {"America/Chicago"}}
	p = b.post("/app/schedules", form)
	if p.status != 422 || !strings.Contains(p.body, `id="at-err"`) || !strings.Contains(p.body, domain.TimetableAtRule) ||
		!strings.Contains(p.body, `id="days-err"`) || !strings.Contains(p.body, `value="7pm"`) || !strings.Contains(p.body, `value="evening"`) {
		t.Fatalf("a bad time: %d\n%s", p.status, p.body)
	}
	form.Set("at", "19:00")
	form.Set("days", "daily")
	form.Set("source", other.slug)
	p = b.post("/app/schedules", form)
	if p.status != 404 || !strings.Contains(p.body, `id="source-err"`) || !strings.Contains(p.body, "no such source") {
		t.Fatalf("another org's source: %d\n%s", p.status, p.body)
	}
}
