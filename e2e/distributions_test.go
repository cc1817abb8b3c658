package e2e

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/leadrelay/leadrelay/internal/app"
	"github.com/leadrelay/leadrelay/internal/distribution"
	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/runs"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/workflows"
)

// distributions is the logic behind `starter schedule` and `starter
// distribute`, against this stack's Temporal and PostgreSQL.
func (s *stack) distributions() distribution.Env {
	return distribution.Env{Temporal: s.deps.Temporal, Store: s.store(), TaskQueue: s.deps.Cfg.TaskQueue}
}

// pendingTenant is an org (America/Chicago) whose everquote source parks
// every lead in pending, with staff, and n leads posted and waiting there.
func (s *stack) pendingTenant(t *testing.T, name string, staff, n int) (tenant, []string) {
	t.Helper()
	tn := s.newTenant(t, name, staff, map[string]any{"name": "EverQuote", "routing": map[string]any{"mode": "pending"},
		"purchase_notification_emails": []string{name + "-buyer@agency.example"}})
	var ids []string
	for i := 0; i < n; i++ {
		r := s.do(t, "POST", "/v1/leads", tn.vendorKey, lead(fmt.Sprintf("%s-%d", name, i)))
		if r.status != 202 {
			t.Fatalf("post: %d %s", r.status, r.raw)
		}
		ids = append(ids, r.str("lead_id"))
	}
	s.waitRouted(t, tn.sourceID, n)
	return tn, ids
}

// waitFor polls cond every 200 ms for up to limit.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %s", what, limit)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// timeline is the lead's timeline messages, read as the holding org's owner.
func (s *stack) timeline(t *testing.T, holder tenant, leadID string) (assignedTo string, messages []string) {
	t.Helper()
	r := s.do(t, "GET", "/v1/leads/"+leadID, holder.ownerToken, nil)
	if r.status != 200 {
		t.Fatalf("lead %s as %s: %d %s", leadID, holder.id, r.status, r.raw)
	}
	for _, e := range r.body["timeline"].([]any) {
		messages = append(messages, e.(map[string]any)["message"].(string))
	}
	a, _ := r.body["assigned_to"].(string)
	return a, messages
}

// TestScheduledDistribution drives `starter schedule` through its functions
// on this Temporal: bad input refused with nothing created; create twice →
// one schedule, described with its timetable and the org's timezone, listed
// by OrgID; pause and resume; a trigger distributes the pending leads over
// the staff, its run found by OrgID and by the schedule; the same slot fired
// again moves nothing; delete. The run's history is replayed and scanned.
func TestScheduledDistribution(t *testing.T) {
	s := up(t)
	ctx := context.Background()
	env := s.distributions().Schedules()
	tn, ids := s.pendingTenant(t, "sched", 3, 6)
	ref := runs.ScheduleRef{OrgID: tn.id, Slug: "everquote", Name: "morning"}

	for _, bad := range []struct {
		plan  runs.SchedulePlan
		field string
	}{
		{runs.SchedulePlan{ScheduleRef: ref, Mode: domain.RouteStaffEvenly, At: "9am", Days: "mon-fri"}, "at"},
		{runs.SchedulePlan{ScheduleRef: ref, Mode: domain.RouteStaffEvenly, At: "09:00", Days: "weekdays"}, "days"},
		{runs.SchedulePlan{ScheduleRef: ref, Mode: domain.RoutePending, At: "09:00"}, "mode"},
		{runs.SchedulePlan{ScheduleRef: runs.ScheduleRef{OrgID: tn.id, Slug: "everquote", Name: "Morning Run"}, Mode: domain.RouteOwner, At: "09:00"}, "name"},
	} {
		_, err := env.Apply(ctx, bad.plan, false)
		if domain.ErrorCode(err) != domain.EInvalid || fieldOf(err, bad.field) == "" {
			t.Fatalf("%+v: want invalid naming %s, got %v", bad.plan, bad.field, err)
		}
	}
	for _, missing := range []runs.ScheduleRef{{OrgID: domain.NewID(), Slug: "everquote", Name: "x"}, {OrgID: tn.id, Slug: "nosuch", Name: "x"}} {
		if _, err := env.Apply(ctx, runs.SchedulePlan{ScheduleRef: missing, Mode: domain.RouteOwner, At: "09:00"}, false); domain.ErrorCode(err) != domain.ENotFound {
			t.Fatalf("%+v: want not found, got %v", missing, err)
		}
	}
	if _, err := env.Apply(ctx, runs.SchedulePlan{ScheduleRef: ref, Mode: domain.RouteOwner, At: "09:00"}, true); domain.ErrorCode(err) != domain.ENotFound {
		t.Fatalf("update of a schedule that does not exist: %v", err)
	}
	if _, err := env.Describe(ctx, ref); domain.ErrorCode(err) != domain.ENotFound {
		t.Fatalf("refused input created a schedule: %v", err)
	}

	first, err := env.Apply(ctx, runs.SchedulePlan{ScheduleRef: ref, Mode: domain.RouteOwner, At: "07:15", Days: "sat-sun"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if first.Timetable != "07:15 sat-sun" || first.TimeZone != "America/Chicago" || first.Mode != domain.RouteOwner {
		t.Fatalf("created: %+v", first)
	}
	sched, err := env.Apply(ctx, runs.SchedulePlan{ScheduleRef: ref, Mode: domain.RouteStaffEvenly, At: "09:00,13:30", Days: "mon-fri"}, false)
	if err != nil {
		t.Fatal(err)
	}
	loc, _ := time.LoadLocation("America/Chicago")
	next := sched.NextRun.In(loc)
	if sched.ID != workflows.DistributionScheduleID(tn.id, "everquote", "morning") || sched.Timetable != "09:00,13:30 mon-fri" ||
		sched.TimeZone != "America/Chicago" || sched.Mode != domain.RouteStaffEvenly || sched.Paused ||
		next.Weekday() == time.Saturday || next.Weekday() == time.Sunday || !slices.Contains([]string{"09:00", "13:30"}, next.Format("15:04")) {
		t.Fatalf("created again, updated: %+v (next %s)", sched, next)
	}
	waitFor(t, 20*time.Second, "one schedule listed by OrgID", func() bool {
		list, err := env.List(ctx, tn.id)
		if err != nil {
			t.Fatal(err)
		}
		return len(list) == 1 && list[0].ID == sched.ID && list[0].Timetable == "09:00,13:30 mon-fri" && list[0].TimeZone == "America/Chicago"
	})
	if err := env.Pause(ctx, ref, "paused by the test"); err != nil {
		t.Fatal(err)
	}
	if d, err := env.Describe(ctx, ref); err != nil || !d.Paused || !d.NextRun.IsZero() {
		t.Fatalf("paused: %+v %v", d, err)
	}
	// Updating a paused schedule keeps it paused.
	if d, err := env.Apply(ctx, runs.SchedulePlan{ScheduleRef: ref, Mode: domain.RouteStaffEvenly, At: "09:00,13:30", Days: "mon-fri"}, true); err != nil || !d.Paused {
		t.Fatalf("updated while paused: %+v %v", d, err)
	}
	if err := env.Resume(ctx, ref, "resumed by the test"); err != nil {
		t.Fatal(err)
	}

	if err := env.Trigger(ctx, ref); err != nil {
		t.Fatal(err)
	}
	runID := triggeredRun(t, s, sched.ID)
	if !strings.HasPrefix(runID, sched.ID+"-") || !workflows.ValidWorkflowID(runID) {
		t.Fatalf("the run's ID %q is not the schedule's with its nominal time", runID)
	}
	var res workflows.DistributeResult
	if err := s.deps.Temporal.GetWorkflow(ctx, runID, "").Get(ctx, &res); err != nil {
		t.Fatal(err)
	}
	if res.Total != 6 || res.Distributed != 6 || res.AlreadyDone || !strings.HasPrefix(res.Slot, "schedule:morning@") {
		t.Fatalf("the triggered run: %+v", res)
	}
	per := map[string]int{}
	for _, id := range ids {
		a, msgs := s.timeline(t, tn, id)
		if last := msgs[len(msgs)-1]; !strings.HasPrefix(last, "distributed by schedule morning: rotated to Staff ") {
			t.Fatalf("lead %s: %q", id, last)
		}
		per[a]++
	}
	if len(per) != 3 || per[tn.staff[0]] != 2 || per[tn.staff[1]] != 2 || per[tn.staff[2]] != 2 {
		t.Fatalf("six leads over three staff: %v", per)
	}
	// Its runs are found in the Web UI by the org and by the schedule.
	for _, q := range []string{fmt.Sprintf("OrgID = '%s' AND WorkflowType = 'DistributeWorkflow'", tn.id),
		fmt.Sprintf("TemporalScheduledById = '%s'", sched.ID)} {
		waitFor(t, 20*time.Second, q, func() bool {
			l, err := s.deps.Temporal.WorkflowService().ListWorkflowExecutions(ctx, &workflowservice.ListWorkflowExecutionsRequest{
				Namespace: s.deps.Cfg.TemporalNamespace, Query: q})
			if err != nil {
				t.Fatal(err)
			}
			return len(l.Executions) == 1 && l.Executions[0].Execution.WorkflowId == runID
		})
	}

	// No lead data, address or token in the run's history.
	checkHistories(t, s, map[string]string{"distribute_history.json": runID},
		[]string{"Ada", "Lovelace", "ada@example.com", "312 555 0100", "sched-buyer@agency.example", ownerEmail(t, s, tn),
			tn.vendorKey, tn.ownerToken, s.admin})

	// The schedule firing again for the same slot (as a backfill does)
	// starts a run under the same ID, which distributes nothing.
	late := s.do(t, "POST", "/v1/leads", tn.vendorKey, lead("sched-late"))
	s.waitRouted(t, tn.sourceID, 7)
	again, err := s.deps.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: runID, TaskQueue: s.deps.Cfg.TaskQueue,
		WorkflowIDReusePolicy: enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE},
		workflows.DistributeWorkflow, workflows.DistributeInput{OrgID: tn.id, Slug: "everquote", Mode: domain.RouteStaffEvenly, Schedule: "morning"})
	if err != nil {
		t.Fatal(err)
	}
	var twice workflows.DistributeResult
	if err := again.Get(ctx, &twice); err != nil {
		t.Fatal(err)
	}
	if !twice.AlreadyDone || twice.DistributionID != res.DistributionID || twice.Slot != res.Slot {
		t.Fatalf("the slot fired twice: %+v, first %+v", twice, res)
	}
	if a, _ := s.timeline(t, tn, late.str("lead_id")); a != "" {
		t.Fatalf("a second run of the slot assigned a lead to %s", a)
	}

	if err := env.Delete(ctx, ref); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Describe(ctx, ref); domain.ErrorCode(err) != domain.ENotFound {
		t.Fatalf("described after delete: %v", err)
	}
	if err := env.Pause(ctx, ref, "paused by the test"); domain.ErrorCode(err) != domain.ENotFound {
		t.Fatalf("paused after delete: %v", err)
	}
	waitFor(t, 20*time.Second, "the deleted schedule gone from the list", func() bool {
		list, err := env.List(ctx, tn.id)
		if err != nil {
			t.Fatal(err)
		}
		return len(list) == 0
	})
}

// fieldOf is what a refusal says of one field ("" when it names none).
func fieldOf(err error, field string) string {
	var de *domain.Error
	if !errors.As(err, &de) {
		return ""
	}
	return de.Fields[field]
}

// triggeredRun waits for the schedule's latest action and returns the ID of
// the run it started.
func triggeredRun(t *testing.T, s *stack, scheduleID string) string {
	t.Helper()
	var id string
	waitFor(t, 20*time.Second, "the triggered run", func() bool {
		d, err := s.deps.Temporal.ScheduleClient().GetHandle(context.Background(), scheduleID).Describe(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n := len(d.Info.RecentActions); n > 0 && d.Info.RecentActions[n-1].StartWorkflowResult != nil {
			id = d.Info.RecentActions[n-1].StartWorkflowResult.WorkflowID
		}
		return id != ""
	})
	return id
}

// TestDistributeNowToSubAgencies: `starter distribute` with
// sub_agencies_evenly passes the pending leads down to the linked
// sub-agencies in turn; each sub-agency's own routing (its hop run, found by
// its OrgID) assigns them to its staff, both decisions on the timeline. The
// same key again distributes nothing; bad input starts nothing.
func TestDistributeNowToSubAgencies(t *testing.T) {
	s := up(t)
	ctx := context.Background()
	env := s.distributions()
	master, ids := s.pendingTenant(t, "now-m", 0, 4)
	var subs []tenant
	for i := 0; i < 2; i++ {
		sub := s.newTenant(t, fmt.Sprintf("now-s%d", i), 2, map[string]any{"name": "EQ here", "routing": map[string]any{"mode": "staff_evenly"}})
		s.link(t, master, sub)
		subs = append(subs, sub)
	}
	if _, _, err := env.RunNow(ctx, distribution.OnDemand{OrgID: master.id, Slug: "everquote", Mode: domain.RouteQueue}, nil); domain.ErrorCode(err) != domain.EInvalid {
		t.Fatalf("mode queue: %v", err)
	}
	if _, _, err := env.RunNow(ctx, distribution.OnDemand{OrgID: master.id, Slug: "everquote", Mode: domain.RouteOwner, Key: "a/b"}, nil); fieldOf(err, "key") == "" {
		t.Fatalf("a key with a slash: %v", err)
	}
	var seen []int
	res, wfID, err := env.RunNow(ctx, distribution.OnDemand{OrgID: master.id, Slug: "everquote", Mode: domain.RouteSubAgencies, Key: "now-test"},
		func(done, total int) { seen = append(seen, done) })
	if err != nil {
		t.Fatal(err)
	}
	if wfID != workflows.OnDemandDistributionID(master.id, "everquote", "now-test") || res.PassedDown != 4 || res.Distributed != 0 ||
		len(seen) == 0 || seen[len(seen)-1] != 4 {
		t.Fatalf("run %s: %+v, progress %v", wfID, res, seen)
	}
	s.waitRouted(t, master.sourceID, 4) // each hop run has placed its lead
	perSub := map[string]int{}
	for _, id := range ids {
		if r := s.do(t, "GET", "/v1/leads/"+id, master.ownerToken, nil); r.status != 404 {
			t.Fatalf("the master still sees a lead it passed down: %d", r.status)
		}
		for _, sub := range subs {
			if s.do(t, "GET", "/v1/leads/"+id, sub.ownerToken, nil).status != 200 {
				continue
			}
			perSub[sub.id]++
			a, msgs := s.timeline(t, sub, id)
			n := len(msgs)
			if !slices.Contains(sub.staff, a) || !strings.HasPrefix(msgs[n-2], "distributed on demand: sent to sub-agency now-s") ||
				!strings.HasPrefix(msgs[n-1], "rotated to Staff ") {
				t.Fatalf("lead %s at %s: assigned to %s, %q", id, sub.id, a, msgs)
			}
			hop, err := s.deps.Temporal.DescribeWorkflowExecution(ctx, workflows.HopWorkflowID(id, sub.id), "")
			if err != nil {
				t.Fatal(err)
			}
			if got := string(hop.WorkflowExecutionInfo.SearchAttributes.IndexedFields["OrgID"].Data); !strings.Contains(got, sub.id) {
				t.Fatalf("hop run's OrgID %s, want %s", got, sub.id)
			}
		}
	}
	if perSub[subs[0].id] != 2 || perSub[subs[1].id] != 2 {
		t.Fatalf("four leads over two sub-agencies: %v", perSub)
	}
	// No lead data, address or token in the run's history, nor in a hop's.
	var hop string
	for _, sub := range subs {
		if s.do(t, "GET", "/v1/leads/"+ids[0], sub.ownerToken, nil).status == 200 {
			hop = workflows.HopWorkflowID(ids[0], sub.id)
		}
	}
	checkHistories(t, s, map[string]string{"distribute_fanout_history.json": wfID, "distribute_hop_history.json": hop},
		[]string{"Ada", "Lovelace", "ada@example.com", "312 555 0100", "now-m-buyer@agency.example", ownerEmail(t, s, master),
			ownerEmail(t, s, subs[0]), ownerEmail(t, s, subs[1]), master.vendorKey, master.ownerToken, subs[0].ownerToken, s.admin})
	again, _, err := env.RunNow(ctx, distribution.OnDemand{OrgID: master.id, Slug: "everquote", Mode: domain.RouteOwner, Key: "now-test"}, nil)
	if err != nil || again.DistributionID != res.DistributionID || again.PassedDown != 4 {
		t.Fatalf("the same key again: %+v %v", again, err)
	}
}

// TestReconcilerFinishesADistribution: a distribution recorded with one
// batch done but whose run was lost, and whose passed-down leads never got
// their hop runs: one reconciler pass starts the run (which finishes the
// rest) and the hops; every lead ends placed at a sub-agency.
func TestReconcilerFinishesADistribution(t *testing.T) {
	s := up(t)
	ctx := context.Background()
	master, ids := s.pendingTenant(t, "rec-m", 0, 3)
	sub := s.newTenant(t, "rec-s", 1, map[string]any{"name": "EQ here", "routing": map[string]any{"mode": "staff_evenly"}})
	s.link(t, master, sub)
	d, err := s.store().BeginDistribution(ctx, store.DistributionRequest{OrgID: master.id, Slug: "everquote", Mode: domain.RouteSubAgencies,
		Slot: workflows.OnDemandSlot("lost"), WorkflowID: workflows.OnDemandDistributionID(master.id, "everquote", "lost")})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.store().DistributeBatch(ctx, store.DistributionBatch{DistributionID: d.ID, Seq: 0, Size: 2})
	if err != nil || b.PassedDown != 2 {
		t.Fatalf("batch: %+v %v", b, err)
	}
	r, err := app.Reconcile(ctx, s.deps, 0)
	if err != nil {
		t.Fatal(err)
	}
	if r.Distributions < 3 { // the run, and the two leads' hops
		t.Fatalf("reconciled: %+v", r)
	}
	for _, id := range ids {
		waitFor(t, 30*time.Second, "lead "+id+" placed at the sub-agency", func() bool {
			l, err := s.store().GetLead(ctx, sub.id, id)
			return err == nil && l.AssignedTo != nil && *l.AssignedTo == sub.staff[0] && l.RoutedAt != nil
		})
	}
	var done workflows.DistributeResult
	if err := s.deps.Temporal.GetWorkflow(ctx, d.WorkflowID, "").Get(ctx, &done); err != nil {
		t.Fatal(err)
	}
	if done.PassedDown != 3 || done.Batches != 2 {
		t.Fatalf("the restarted run: %+v", done)
	}
}
