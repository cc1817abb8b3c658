package runs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/workflows"
)

// Schedules are the timed distributions (SPEC §5.5): Temporal Schedules
// that distribute an org's pending leads of one source on a timetable in a
// timezone (the org's unless the plan names one). `starter schedule` and the
// API's schedule routes both manage them through it. It talks to Temporal
// for the schedules, and to PostgreSQL for the org's timezone, to check the
// source exists and for the names of the runs' summaries.
type Schedules struct {
	Temporal client.Client
	Store    *store.Store
	Queue    string // the task queue the runs start on
}

// Schedules manages the timed distributions whose runs s's queue takes.
func (s Starter) Schedules() Schedules {
	return Schedules{Temporal: s.Temporal, Store: s.Store, Queue: s.Queue}
}

// ScheduleRef names one schedule: an org's source and the schedule's name.
type ScheduleRef struct {
	OrgID, Slug, Name string
}

// ID is the schedule's ID in Temporal.
func (r ScheduleRef) ID() string { return workflows.DistributionScheduleID(r.OrgID, r.Slug, r.Name) }

func (r ScheduleRef) check(f domain.FieldErrors) {
	if !domain.ValidUUID(r.OrgID) {
		f.Add("org", "an org id")
	}
	if !domain.ValidSlug(r.Slug) {
		f.Add("source", "a source slug")
	}
	if !domain.ValidScheduleName(r.Name) {
		f.Add("name", domain.ScheduleNameRule)
	}
}

// SchedulePlan is a schedule to create or update: distribute the source's
// pending leads through Mode at At (HH:MM, local; several comma-separated)
// on Days (daily, mon-fri, …), local to TimeZone ("": the org's).
type SchedulePlan struct {
	ScheduleRef
	Mode     domain.RoutingMode
	At, Days string
	TimeZone string
}

// Schedule is one timed distribution as Temporal has it.
type Schedule struct {
	ScheduleRef
	ID        string
	Mode      domain.RoutingMode
	Timetable string    // "09:00 mon-fri", read back from the schedule's calendar
	TimeZone  string    // the plan's, or the org's when the schedule was last created or updated
	NextRun   time.Time // zero when paused or none is due
	// NextRuns are the next few slots (Describe only; List has NextRun).
	NextRuns []time.Time
	Paused   bool
}

// Policies of every distribution schedule. A slot that comes while the
// previous run still goes is skipped: the running one pages through every
// pending lead, and the next slot takes what it missed. A slot missed while
// Temporal was down runs when it returns, up to a day late; older ones are
// left to the next slot.
const (
	overlap       = enums.SCHEDULE_OVERLAP_POLICY_SKIP
	catchupWindow = 24 * time.Hour
)

// Apply creates the schedule, or updates it when it exists (create twice:
// one schedule), keeping its paused state. With mustExist (`update`), a
// schedule that does not exist is not created. It reads the org's timezone
// and checks the org's source exists (another org's is not found); bad
// input is an EInvalid error naming the field, and nothing is written.
func (e Schedules) Apply(ctx context.Context, p SchedulePlan, mustExist bool) (Schedule, error) {
	f := domain.FieldErrors{}
	p.check(f)
	if !domain.ValidDistributionMode(p.Mode) {
		f.Add("mode", domain.DistributionModeRule)
	}
	if p.TimeZone != "" && !domain.ValidTimezone(p.TimeZone) {
		f.Add("timezone", domain.TimezoneRule)
	}
	tt, err := domain.ParseTimetable(p.At, p.Days)
	var de *domain.Error
	if errors.As(err, &de) {
		for k, v := range de.Fields {
			f.Add(k, v)
		}
	}
	if err := f.Err("invalid schedule"); err != nil {
		return Schedule{}, err
	}
	tz, err := e.orgSource(ctx, p.OrgID, p.Slug)
	if err != nil {
		return Schedule{}, err
	}
	if p.TimeZone != "" {
		tz = p.TimeZone
	}
	if mustExist {
		if _, err := e.Describe(ctx, p.ScheduleRef); err != nil {
			return Schedule{}, err
		}
	}
	spec := client.ScheduleSpec{Calendars: calendars(tt), TimeZoneName: tz}
	action := e.action(p, e.Store.RunNames(ctx, domain.RunRef{OrgID: p.OrgID, Slug: p.Slug}))
	memo := map[string]any{"org_id": p.OrgID, "source": p.Slug, "schedule": p.Name}
	sc := e.Temporal.ScheduleClient()
	_, err = sc.Create(ctx, client.ScheduleOptions{ID: p.ID(), Spec: spec, Action: action, Overlap: overlap,
		CatchupWindow: catchupWindow, Memo: memo, TypedSearchAttributes: workflows.DistributionSearchAttributes(p.OrgID, p.Slug)})
	if errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		err = sc.GetHandle(ctx, p.ID()).Update(ctx, client.ScheduleUpdateOptions{
			DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
				s := in.Description.Schedule // its State (paused or not, the note) stays
				s.Spec, s.Action = &spec, action
				s.Policy = &client.SchedulePolicies{Overlap: overlap, CatchupWindow: catchupWindow}
				sa := workflows.DistributionSearchAttributes(p.OrgID, p.Slug)
				return &client.ScheduleUpdate{Schedule: &s, TypedSearchAttributes: &sa}, nil
			}})
	}
	if err != nil {
		return Schedule{}, err
	}
	return e.Describe(ctx, p.ScheduleRef)
}

// action starts DistributeWorkflow on the task queue, found in the Web UI by
// OrgID and LeadSource, with a memo, a one-line summary of what it does and
// details. Ids, the slug, the org's and source's names and words only: this
// goes into every run's history.
func (e Schedules) action(p SchedulePlan, names domain.RunNames) *client.ScheduleWorkflowAction {
	return &client.ScheduleWorkflowAction{
		ID:       p.ID(),
		Workflow: workflows.DistributeWorkflow,
		Args: []any{workflows.DistributeInput{OrgID: p.OrgID, Slug: p.Slug, Mode: p.Mode,
			Schedule: p.Name}},
		TaskQueue:             e.Queue,
		TypedSearchAttributes: workflows.DistributionSearchAttributes(p.OrgID, p.Slug),
		Memo:                  map[string]any{"org_id": p.OrgID, "source": p.Slug, "schedule": p.Name, "mode": string(p.Mode)},
		StaticSummary:         workflows.DistributionSummary(p.Mode, p.Name, names),
		StaticDetails:         workflows.DistributionDetails(p.OrgID, p.Slug, p.Mode),
	}
}

// orgSource returns the org's timezone once it has checked that the org
// and its source exist.
func (e Schedules) orgSource(ctx context.Context, orgID, slug string) (string, error) {
	org, err := e.Store.GetOrg(ctx, orgID)
	if err != nil {
		return "", err
	}
	if _, err := e.Store.GetSourceBySlug(ctx, orgID, slug); err != nil {
		return "", err
	}
	return org.Timezone, nil
}

// calendars is one calendar per time of day, each on the timetable's days.
func calendars(tt domain.Timetable) []client.ScheduleCalendarSpec {
	var days []client.ScheduleRange
	for _, d := range tt.Days {
		days = append(days, client.ScheduleRange{Start: int(d)})
	}
	out := make([]client.ScheduleCalendarSpec, len(tt.Times))
	for i, t := range tt.Times {
		out[i] = client.ScheduleCalendarSpec{Second: []client.ScheduleRange{{Start: 0}},
			Minute: []client.ScheduleRange{{Start: t.Minute}}, Hour: []client.ScheduleRange{{Start: t.Hour}},
			DayOfWeek: days, Comment: tt.String()}
	}
	return out
}

// timetable reads calendars back as a Timetable (the shape calendars
// makes); anything else, made by hand in Temporal, is "custom".
func timetable(spec *client.ScheduleSpec) string {
	if spec == nil || len(spec.Calendars) == 0 {
		return "custom"
	}
	var tt domain.Timetable
	for _, c := range spec.Calendars {
		if len(c.Hour) != 1 || len(c.Minute) != 1 {
			return "custom"
		}
		tt.Times = append(tt.Times, domain.ClockTime{Hour: c.Hour[0].Start, Minute: c.Minute[0].Start})
	}
	for _, r := range spec.Calendars[0].DayOfWeek {
		for d := r.Start; d <= max(r.Start, r.End); d++ {
			if !slices.Contains(tt.Days, time.Weekday(d)) {
				tt.Days = append(tt.Days, time.Weekday(d))
			}
		}
	}
	return tt.String()
}

// Describe reads one schedule from Temporal.
func (e Schedules) Describe(ctx context.Context, r ScheduleRef) (Schedule, error) {
	if err := e.checkRef(r); err != nil {
		return Schedule{}, err
	}
	d, err := e.Temporal.ScheduleClient().GetHandle(ctx, r.ID()).Describe(ctx)
	if err != nil {
		return Schedule{}, notFound(err, r)
	}
	s := Schedule{ScheduleRef: r, ID: r.ID(), Timetable: timetable(d.Schedule.Spec), Paused: d.Schedule.State != nil && d.Schedule.State.Paused}
	if d.Schedule.Spec != nil {
		s.TimeZone = d.Schedule.Spec.TimeZoneName
	}
	if a, ok := d.Schedule.Action.(*client.ScheduleWorkflowAction); ok && len(a.Args) == 1 {
		var in workflows.DistributeInput
		if p, ok := a.Args[0].(*commonpb.Payload); ok && converter.GetDefaultDataConverter().FromPayload(p, &in) == nil {
			s.Mode = in.Mode
		}
	}
	if !s.Paused && len(d.Info.NextActionTimes) > 0 {
		s.NextRun = d.Info.NextActionTimes[0]
		s.NextRuns = d.Info.NextActionTimes[:min(len(d.Info.NextActionTimes), 5)]
	}
	return s, nil
}

func (e Schedules) checkRef(r ScheduleRef) error {
	f := domain.FieldErrors{}
	r.check(f)
	return f.Err("invalid schedule")
}

// notFound turns Temporal's "no such schedule" into the domain's not found.
func notFound(err error, r ScheduleRef) error {
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return domain.Errorf(domain.ENotFound, "no schedule %s", r.ID())
	}
	return err
}

// Delete removes the schedule; runs it started are left alone.
func (e Schedules) Delete(ctx context.Context, r ScheduleRef) error {
	return e.handle(ctx, r, func(h client.ScheduleHandle) error { return h.Delete(ctx) })
}

// Pause stops the schedule from taking actions until Resume. The note,
// shown in Temporal's UI, says by what (and whom): words and ids only.
func (e Schedules) Pause(ctx context.Context, r ScheduleRef, note string) error {
	return e.handle(ctx, r, func(h client.ScheduleHandle) error {
		return h.Pause(ctx, client.SchedulePauseOptions{Note: note})
	})
}

// Resume lets a paused schedule take actions again, from its next slot.
func (e Schedules) Resume(ctx context.Context, r ScheduleRef, note string) error {
	return e.handle(ctx, r, func(h client.ScheduleHandle) error {
		return h.Unpause(ctx, client.ScheduleUnpauseOptions{Note: note})
	})
}

// Trigger makes the schedule distribute now, as a slot of its own (now's
// time), whatever its timetable and even when paused.
func (e Schedules) Trigger(ctx context.Context, r ScheduleRef) error {
	return e.handle(ctx, r, func(h client.ScheduleHandle) error { return h.Trigger(ctx, client.ScheduleTriggerOptions{}) })
}

func (e Schedules) handle(ctx context.Context, r ScheduleRef, do func(client.ScheduleHandle) error) error {
	if err := e.checkRef(r); err != nil {
		return err
	}
	return notFound(do(e.Temporal.ScheduleClient().GetHandle(ctx, r.ID())), r)
}

// List returns the distribution schedules, of one org when orgID is not
// "". Temporal's list is eventually consistent: a schedule created a moment
// ago may be missing for a second.
func (e Schedules) List(ctx context.Context, orgID string) ([]Schedule, error) {
	opts := client.ScheduleListOptions{}
	if orgID != "" {
		if !domain.ValidUUID(orgID) {
			return nil, &domain.Error{Code: domain.EInvalid, Message: "invalid list", Fields: map[string]string{"org": "an org id"}}
		}
		opts.Query = fmt.Sprintf("%s = '%s'", workflows.OrgIDKey.GetName(), orgID)
	}
	it, err := e.Temporal.ScheduleClient().List(ctx, opts)
	if err != nil {
		return nil, err
	}
	var out []Schedule
	for it.HasNext() {
		l, err := it.Next()
		if err != nil {
			return nil, err
		}
		r, ok := parseID(l.ID)
		if !ok {
			continue // not a distribution schedule
		}
		s := Schedule{ScheduleRef: r, ID: l.ID, Timetable: timetable(l.Spec), Paused: l.Paused}
		if l.Spec != nil {
			s.TimeZone = l.Spec.TimeZoneName
		}
		if !l.Paused && len(l.NextActionTimes) > 0 {
			s.NextRun = l.NextActionTimes[0]
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b Schedule) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// parseID reads a distribution schedule's ID back into its ScheduleRef.
func parseID(id string) (ScheduleRef, bool) {
	rest, ok := strings.CutPrefix(id, "distribute/")
	parts := strings.Split(rest, "/")
	if !ok || len(parts) != 3 {
		return ScheduleRef{}, false
	}
	r := ScheduleRef{OrgID: parts[0], Slug: parts[1], Name: parts[2]}
	return r, r.ID() == id && domain.ValidUUID(r.OrgID) && domain.ValidSlug(r.Slug) && domain.ValidScheduleName(r.Name)
}
