package api

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/workflows"
)

// scheduleTemporal is fakeTemporal with Temporal Schedules kept in memory:
// what runs.Schedules calls (create, update, describe, list, pause,
// unpause, trigger, delete) behaves as the server's does for one caller.
type scheduleTemporal struct {
	fakeTemporal
	s *fakeSchedules
}

func (t scheduleTemporal) ScheduleClient() client.ScheduleClient { return t.s }

type fakeSchedules struct {
	mu        sync.Mutex
	byID      map[string]*client.ScheduleDescription
	triggered map[string]int
	down      bool // every call answers Unavailable
}

func newFakeSchedules() *fakeSchedules {
	return &fakeSchedules{byID: map[string]*client.ScheduleDescription{}, triggered: map[string]int{}}
}

var errTemporalDown = serviceerror.NewUnavailable("connection refused: temporal-secret-detail")

// nextTimes stand for the server's calendar arithmetic: two slots ahead
// unless paused.
func nextTimes(d *client.ScheduleDescription) []time.Time {
	if d.Schedule.State != nil && d.Schedule.State.Paused {
		return nil
	}
	now := time.Now().UTC().Truncate(time.Minute)
	return []time.Time{now.Add(time.Hour), now.Add(25 * time.Hour)}
}

func (f *fakeSchedules) Create(_ context.Context, o client.ScheduleOptions) (client.ScheduleHandle, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, errTemporalDown
	}
	if _, ok := f.byID[o.ID]; ok {
		return nil, temporal.ErrScheduleAlreadyRunning
	}
	a := *o.Action.(*client.ScheduleWorkflowAction)
	// The server hands the arguments back as payloads.
	for i, arg := range a.Args {
		p, err := converter.GetDefaultDataConverter().ToPayload(arg)
		if err != nil {
			return nil, err
		}
		a.Args[i] = p
	}
	spec := o.Spec
	f.byID[o.ID] = &client.ScheduleDescription{Schedule: client.Schedule{Action: &a, Spec: &spec,
		State: &client.ScheduleState{Paused: o.Paused}}}
	return f.GetHandle(context.Background(), o.ID), nil
}

func (f *fakeSchedules) GetHandle(_ context.Context, id string) client.ScheduleHandle {
	return fakeScheduleHandle{f: f, id: id}
}

// List answers `OrgID = '<org>'`, the only query runs.Schedules makes, or
// everything for no query.
func (f *fakeSchedules) List(_ context.Context, o client.ScheduleListOptions) (client.ScheduleListIterator, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, errTemporalDown
	}
	var out []*client.ScheduleListEntry
	for id, d := range f.byID {
		if o.Query != "" && !strings.Contains(o.Query, "'"+strings.Split(id, "/")[1]+"'") {
			continue
		}
		out = append(out, &client.ScheduleListEntry{ID: id, Spec: d.Schedule.Spec, Paused: d.Schedule.State.Paused, NextActionTimes: nextTimes(d)})
	}
	return &fakeScheduleList{entries: out}, nil
}

type fakeScheduleList struct{ entries []*client.ScheduleListEntry }

func (l *fakeScheduleList) HasNext() bool { return len(l.entries) > 0 }
func (l *fakeScheduleList) Next() (*client.ScheduleListEntry, error) {
	e := l.entries[0]
	l.entries = l.entries[1:]
	return e, nil
}

type fakeScheduleHandle struct {
	client.ScheduleHandle
	f  *fakeSchedules
	id string
}

func (h fakeScheduleHandle) GetID() string { return h.id }

// with runs do on the schedule, or answers NotFound as the server does.
func (h fakeScheduleHandle) with(do func(*client.ScheduleDescription) error) error {
	h.f.mu.Lock()
	defer h.f.mu.Unlock()
	if h.f.down {
		return errTemporalDown
	}
	d, ok := h.f.byID[h.id]
	if !ok {
		return serviceerror.NewNotFound("schedule not found")
	}
	return do(d)
}

func (h fakeScheduleHandle) Describe(context.Context) (*client.ScheduleDescription, error) {
	var out client.ScheduleDescription
	err := h.with(func(d *client.ScheduleDescription) error {
		out = *d
		out.Info.NextActionTimes = nextTimes(d)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

func (h fakeScheduleHandle) Update(ctx context.Context, o client.ScheduleUpdateOptions) error {
	d, err := h.Describe(ctx)
	if err != nil {
		return err
	}
	u, err := o.DoUpdate(client.ScheduleUpdateInput{Description: *d})
	if err != nil {
		return err
	}
	return h.with(func(d *client.ScheduleDescription) error {
		a := *u.Schedule.Action.(*client.ScheduleWorkflowAction)
		for i, arg := range a.Args {
			if p, err := converter.GetDefaultDataConverter().ToPayload(arg); err == nil {
				a.Args[i] = p
			}
		}
		d.Schedule.Action, d.Schedule.Spec = &a, u.Schedule.Spec
		return nil
	})
}

func (h fakeScheduleHandle) Pause(_ context.Context, o client.SchedulePauseOptions) error {
	return h.with(func(d *client.ScheduleDescription) error {
		d.Schedule.State = &client.ScheduleState{Paused: true, Note: o.Note}
		return nil
	})
}

func (h fakeScheduleHandle) Unpause(_ context.Context, o client.ScheduleUnpauseOptions) error {
	return h.with(func(d *client.ScheduleDescription) error {
		d.Schedule.State = &client.ScheduleState{Note: o.Note}
		return nil
	})
}

func (h fakeScheduleHandle) Trigger(context.Context, client.ScheduleTriggerOptions) error {
	return h.with(func(*client.ScheduleDescription) error {
		h.f.triggered[h.id]++
		return nil
	})
}

func (h fakeScheduleHandle) Delete(context.Context) error {
	return h.with(func(*client.ScheduleDescription) error {
		delete(h.f.byID, h.id)
		return nil
	})
}

// scheduleScenario calls every schedule route for routeScenario: the
// successes and the refusals the description documents. org has the source
// everquote; owner, staff and otherOwner are tokens.
func scheduleScenario(t *testing.T, ts testServer, call func(method, target, token, body string, want int, hdr ...string) answer,
	org, owner, staff, otherOwner string) {
	t.Helper()
	ts.s.Temporal = scheduleTemporal{s: newFakeSchedules()}
	defer func() { ts.s.Temporal = fakeTemporal{} }()
	base := "/v1/orgs/" + org + "/schedules"
	call("POST", base, owner, `{"source":"everquote","name":"morning","at":"09:00,14:30","days":"mon-fri"}`, 200)
	call("POST", base, owner, `{"source":"everquote","at":"9am","days":"weekdays","mode":"pending"}`, 422)
	call("POST", base, owner, `{"source":"nosuch","at":"09:00"}`, 404)
	call("POST", base, staff, `{"source":"everquote","at":"09:00"}`, 403)
	call("POST", base, owner, `{"source":`, 400)
	call("GET", base, staff, "", 200)
	call("GET", base, otherOwner, "", 404)
	call("POST", base+"/everquote.morning/pause", owner, "", 200)
	call("POST", base+"/everquote.morning/resume", testAdmin, "", 200)
	call("POST", base+"/everquote.morning/trigger", owner, "", 202)
	call("POST", base+"/everquote.morning/trigger", staff, "", 403)
	call("POST", base+"/everquote.nosuch/pause", owner, "", 404)
	call("DELETE", base+"/everquote.morning", owner, "", 200)
	call("DELETE", base+"/everquote.morning", owner, "", 404)
	ts.s.Temporal = scheduleTemporal{s: &fakeSchedules{down: true}}
	call("GET", base, owner, "", 503)
}

// scheduleAPI is a server with in-memory schedules, an org with sources
// everquote and webform (America/Chicago), its owner, a staff user and
// another org's owner.
type scheduleAPI struct {
	ts                       testServer
	sched                    *fakeSchedules
	org, other               string
	owner, staff, otherOwner string
}

func newScheduleAPI(t *testing.T) scheduleAPI {
	t.Helper()
	ts := newTestServer(t, true, nil)
	sched := newFakeSchedules()
	ts.s.Temporal = scheduleTemporal{s: sched}
	stamp := strings.ToLower(time.Now().Format("150405.000000000"))
	body := func(a answer) map[string]any {
		var m map[string]any
		_ = json.Unmarshal([]byte(a.body), &m)
		return m
	}
	a := ts.do(t, "POST", "/v1/orgs", testAdmin, `{"name":"Sched Co","timezone":"America/Chicago","owner":{"email":"o@s`+stamp+`.example","name":"O"}}`, "")
	org := body(a)["id"].(string)
	owner := body(a)["owner"].(map[string]any)["token"].(string)
	a = ts.do(t, "POST", "/v1/orgs", testAdmin, `{"name":"Other","owner":{"email":"o@x`+stamp+`.example","name":"X"}}`, "")
	other := body(a)["id"].(string)
	otherOwner := body(a)["owner"].(map[string]any)["token"].(string)
	a = ts.do(t, "POST", "/v1/orgs/"+org+"/users", owner, `{"email":"s@s`+stamp+`.example","name":"Sam","role":"staff"}`, "")
	staff := body(a)["token"].(string)
	for _, src := range []string{"everquote", "webform"} {
		for _, o := range []string{org, other} {
			if a := ts.do(t, "PUT", "/v1/orgs/"+o+"/sources/"+src, testAdmin, `{"name":"Src `+src+`","routing":{"mode":"pending"}}`, ""); a.status != 201 {
				t.Fatalf("source: %d %s", a.status, a.body)
			}
		}
	}
	return scheduleAPI{ts: ts, sched: sched, org: org, other: other, owner: owner, staff: staff, otherOwner: otherOwner}
}

func scheduleOf(t *testing.T, a answer) scheduleOut {
	t.Helper()
	var s scheduleOut
	if err := json.Unmarshal([]byte(a.body), &s); err != nil {
		t.Fatalf("%s: %v", a.body, err)
	}
	return s
}

// An owner creates a schedule through the API with the command's inputs:
// it lands in Temporal under the ID built from the org, source and name,
// reads back in words with the org's timezone and next runs, and the same
// request again updates the one schedule. Another timezone can be given.
func TestScheduleCreateIsCreateOrUpdate(t *testing.T) {
	t.Parallel()
	x := newScheduleAPI(t)
	base := "/v1/orgs/" + x.org + "/schedules"
	a := x.ts.do(t, "POST", base, x.owner, `{"source":"everquote","name":"morning","at":"14:30,09:00","days":"mon-fri"}`, "")
	if a.status != 200 {
		t.Fatalf("create: %d %s", a.status, a.body)
	}
	s := scheduleOf(t, a)
	if s.ID != "everquote.morning" || s.Mode != domain.RouteStaffEvenly || s.Timezone != "America/Chicago" || s.At != "09:00,14:30" ||
		s.Days != "mon-fri" || s.When != "at 09:00 and 14:30, Monday to Friday (America/Chicago)" || s.Paused || len(s.NextRuns) == 0 ||
		s.Source.Name != "Src everquote" || s.Does != "distributes the pending leads of Src everquote evenly among the staff" {
		t.Fatalf("created: %+v", s)
	}
	if _, ok := x.sched.byID[workflows.DistributionScheduleID(x.org, "everquote", "morning")]; !ok || len(x.sched.byID) != 1 {
		t.Fatalf("in Temporal: %v", x.sched.byID)
	}
	a = x.ts.do(t, "POST", base, x.owner, `{"source":"everquote","name":"morning","at":"07:00","mode":"owner","timezone":"Europe/Paris"}`, "")
	if s := scheduleOf(t, a); a.status != 200 || s.At != "07:00" || s.Days != "daily" || s.Mode != domain.RouteOwner || s.Timezone != "Europe/Paris" {
		t.Fatalf("update: %d %s", a.status, a.body)
	}
	if len(x.sched.byID) != 1 {
		t.Fatalf("the same create twice made %d schedules", len(x.sched.byID))
	}
	a = x.ts.do(t, "GET", base, x.staff, "", "")
	var list struct{ Schedules []scheduleOut }
	if err := json.Unmarshal([]byte(a.body), &list); a.status != 200 || err != nil || len(list.Schedules) != 1 || list.Schedules[0].At != "07:00" {
		t.Fatalf("a staff user's list: %d %s", a.status, a.body)
	}
}

// Bad input is refused naming each field, and nothing reaches Temporal; a
// source of another org is not found.
func TestScheduleRefusalsNameTheField(t *testing.T) {
	t.Parallel()
	x := newScheduleAPI(t)
	base := "/v1/orgs/" + x.org + "/schedules"
	for _, c := range []struct{ body, field string }{
		{`{"source":"everquote","at":"9am"}`, "at"},
		{`{"source":"everquote","at":"09:00","days":"weekdays"}`, "days"},
		{`{"source":"everquote","at":"09:00","mode":"queue"}`, "mode"},
		{`{"source":"everquote","at":"09:00","name":"Morning Run"}`, "name"},
		{`{"source":"Not A Slug","at":"09:00"}`, "source"},
		{`{"source":"everquote","at":"09:00","timezone":"Mars/Olympus"}`, "timezone"},
	} {
		a := x.ts.do(t, "POST", base, x.owner, c.body, "")
		if a.status != 422 || !strings.Contains(a.body, `"`+c.field+`":`) {
			t.Errorf("%s: %d %s, want 422 naming %s", c.body, a.status, a.body, c.field)
		}
	}
	if a := x.ts.do(t, "POST", base, x.owner, `{"source":"gone","at":"09:00"}`, ""); a.status != 404 {
		t.Errorf("a source the org does not have: %d %s", a.status, a.body)
	}
	if len(x.sched.byID) != 0 {
		t.Fatalf("refused requests created %v", x.sched.byID)
	}
}

// Pause, resume, trigger and delete reach the org's own schedule only: the
// same id under another org's path, or from another org's owner, is not
// found and leaves the schedule as it was; staff may read but not act.
func TestScheduleActionsStayInTheOrg(t *testing.T) {
	t.Parallel()
	x := newScheduleAPI(t)
	base := "/v1/orgs/" + x.org + "/schedules"
	otherBase := "/v1/orgs/" + x.other + "/schedules"
	if a := x.ts.do(t, "POST", base, x.owner, `{"source":"webform","name":"evening","at":"18:00"}`, ""); a.status != 200 {
		t.Fatalf("create: %d %s", a.status, a.body)
	}
	id := workflows.DistributionScheduleID(x.org, "webform", "evening")
	for _, c := range []struct {
		method, path, token string
		want                int
	}{
		{"POST", otherBase + "/webform.evening/pause", x.otherOwner, 404},
		{"POST", base + "/webform.evening/pause", x.otherOwner, 404},
		{"POST", otherBase + "/webform.evening/trigger", x.otherOwner, 404},
		{"DELETE", otherBase + "/webform.evening", x.otherOwner, 404},
		{"GET", base, x.otherOwner, 404},
		{"POST", base + "/" + strings.ReplaceAll(id, "/", "%2F") + "/pause", x.owner, 404},
		{"POST", base + "/webform/pause", x.owner, 404},
		{"POST", base + "/webform.evening/pause", x.staff, 403},
		{"DELETE", base + "/webform.evening", x.staff, 403},
	} {
		if a := x.ts.do(t, c.method, c.path, c.token, "", ""); a.status != c.want {
			t.Errorf("%s %s: %d %s, want %d", c.method, c.path, a.status, a.body, c.want)
		}
	}
	if d := x.sched.byID[id]; d == nil || d.Schedule.State.Paused || x.sched.triggered[id] != 0 {
		t.Fatalf("refused actions changed the schedule: %+v, triggered %d", d, x.sched.triggered[id])
	}

	a := x.ts.do(t, "POST", base+"/webform.evening/pause", x.owner, "", "")
	if s := scheduleOf(t, a); a.status != 200 || !s.Paused || len(s.NextRuns) != 0 {
		t.Fatalf("pause: %d %s", a.status, a.body)
	}
	if n := x.sched.byID[id].Schedule.State.Note; !strings.Contains(n, "through the API") {
		t.Errorf("pause note %q", n)
	}
	if a := x.ts.do(t, "POST", base+"/webform.evening/trigger", x.owner, "", ""); a.status != 202 || x.sched.triggered[id] != 1 {
		t.Fatalf("trigger of a paused schedule: %d %s, triggered %d", a.status, a.body, x.sched.triggered[id])
	}
	if a := x.ts.do(t, "POST", base+"/webform.evening/resume", x.owner, "", ""); a.status != 200 || scheduleOf(t, a).Paused {
		t.Fatalf("resume: %d %s", a.status, a.body)
	}
	if a := x.ts.do(t, "DELETE", base+"/webform.evening", x.owner, "", ""); a.status != 200 || x.sched.byID[id] != nil {
		t.Fatalf("delete: %d %s", a.status, a.body)
	}
}

// Temporal out of reach is a 503 that says to try again, with none of
// Temporal's own words.
func TestSchedulesWithoutTemporal(t *testing.T) {
	t.Parallel()
	x := newScheduleAPI(t)
	x.sched.down = true
	a := x.ts.do(t, "GET", "/v1/orgs/"+x.org+"/schedules", x.owner, "", "")
	if a.status != 503 || strings.Contains(a.body, "temporal-secret-detail") || !strings.Contains(a.body, "try again") {
		t.Fatalf("%d %s", a.status, a.body)
	}
}
