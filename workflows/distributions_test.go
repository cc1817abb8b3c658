package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/leadrelay/leadrelay/activities"
	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/failure"
	"github.com/leadrelay/leadrelay/internal/mail"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/internal/testenv"
	"github.com/leadrelay/leadrelay/workflows"
)

// hops records the sub-agency hop runs a distribution asked for.
type hops struct {
	mu   sync.Mutex
	runs []activities.HopRun
}

func (h *hops) start(_ context.Context, r activities.HopRun) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.runs = append(h.runs, r)
	return nil
}

// distributeEnv runs DistributeWorkflow with the real activities on the test
// database; hop runs are recorded, not started.
func distributeEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *store.Store, *hops) {
	t.Helper()
	pool, _ := testenv.DB(t)
	_, sender := testenv.MailSink(t)
	s := store.New(pool)
	h := &hops{}
	env := newTestEnv()
	env.RegisterWorkflow(workflows.DistributeWorkflow)
	env.RegisterActivity(&activities.Activities{Store: s, Outbox: &mail.Outbox{Store: s, Sender: sender}, StartLeadHop: h.start})
	return env, s, h
}

// pendingOrg makes an org whose source parks every lead in pending, with
// staff to rotate over, and n leads waiting there.
func pendingOrg(t *testing.T, s *store.Store, staff, n int) (org, []string) {
	t.Helper()
	o, src := seedOrg(t, s, staff, domain.SourceConfig{Name: "EverQuote", Routing: domain.Routing{Mode: domain.RoutePending}})
	return o, addPending(t, s, o, src, n)
}

func addPending(t *testing.T, s *store.Store, o org, src store.Source, n int) []string {
	t.Helper()
	var ids []string
	for i := 0; i < n; i++ {
		in := postLead(t, s, o, src, fmt.Sprintf("p-%s-%d", domain.NewID()[:8], i))
		d, err := s.RouteLead(ctx, store.RouteRequest{LeadID: in.LeadID})
		require.NoError(t, err)
		require.Equal(t, domain.LocationPending, d.Location)
		ids = append(ids, in.LeadID)
	}
	slices.Sort(ids) // the order distributions take them in
	return ids
}

// resultOf is the result of a run that completed.
func resultOf[T any](t *testing.T, env *testsuite.TestWorkflowEnvironment) T {
	t.Helper()
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var res T
	require.NoError(t, env.GetWorkflowResult(&res))
	return res
}

// distributeResult is a distribution's result once it completed.
func distributeResult(t *testing.T, env *testsuite.TestWorkflowEnvironment) workflows.DistributeResult {
	t.Helper()
	return resultOf[workflows.DistributeResult](t, env)
}

// lastEvent is the newest message on the lead's timeline.
func lastEvent(t *testing.T, s *store.Store, orgID, leadID string) (store.Lead, string) {
	t.Helper()
	l, err := s.GetLead(ctx, orgID, leadID)
	require.NoError(t, err)
	return l, l.Timeline[len(l.Timeline)-1].Message
}

// Seven pending leads in batches of three: three batches, every lead
// assigned by the staff rotation with the reason on its timeline, counts
// within one; the progress query agrees with the result.
func TestDistributionTakesPendingLeadsInBatches(t *testing.T) {
	t.Parallel()
	env, s, _ := distributeEnv(t)
	o, ids := pendingOrg(t, s, 3, 7)
	env.ExecuteWorkflow(workflows.DistributeWorkflow, workflows.DistributeInput{OrgID: o.id, Slug: "everquote",
		Mode: domain.RouteStaffEvenly, Slot: workflows.OnDemandSlot("k1"), BatchSize: 3})
	res := distributeResult(t, env)
	require.Equal(t, 7, res.Total)
	require.Equal(t, 7, res.Distributed)
	require.Equal(t, 3, res.Batches)
	require.True(t, res.Done)
	require.Equal(t, "on-demand:k1", res.Slot)
	q, err := env.QueryWorkflow(workflows.QueryDistributionProgress)
	require.NoError(t, err)
	var p workflows.DistributeResult
	require.NoError(t, q.Get(&p))
	require.Equal(t, res, p)
	per := map[string]int{}
	for _, id := range ids {
		l, msg := lastEvent(t, s, o.id, id)
		require.Nil(t, l.Location)
		require.NotNil(t, l.AssignedTo)
		require.True(t, strings.HasPrefix(msg, "distributed on demand: rotated to Staff "), msg)
		per[*l.AssignedTo]++
	}
	require.Len(t, per, 3)
	for _, n := range per {
		require.InDelta(t, 7.0/3, n, 1, "spread over the staff: %v", per)
	}
	// A batch asked for again (a retry after its commit) returns what it did
	// and moves nothing.
	again, err := s.DistributeBatch(ctx, store.DistributionBatch{DistributionID: res.DistributionID, Seq: 0, Size: 3})
	require.NoError(t, err)
	require.Equal(t, 3, again.Distributed)
	require.True(t, again.More)
	l, msg := lastEvent(t, s, o.id, ids[0])
	require.Len(t, l.Timeline, 3, "received, pending, distributed: %q", msg)
}

// Each mode with its reason: owner, and the owner as the fallback of the
// rotations with no one to rotate over; sub_agencies_evenly passes the
// leads down to the linked sub-agencies in turn, in flight until the hop
// run places them, and asks for each hop run.
func TestDistributionModes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		mode  domain.RoutingMode
		staff int
		want  string
	}{
		{domain.RouteOwner, 2, "assigned to the org owner"},
		{domain.RouteStaffEvenly, 0, "no active staff to rotate over (staff_evenly): assigned to the org owner"},
		{domain.RouteSubAgencies, 0, "no linked sub-agency to rotate over (sub_agencies_evenly): assigned to the org owner"},
	} {
		t.Run(fmt.Sprintf("%s/%d staff", tc.mode, tc.staff), func(t *testing.T) {
			env, s, _ := distributeEnv(t)
			o, ids := pendingOrg(t, s, tc.staff, 2)
			env.ExecuteWorkflow(workflows.DistributeWorkflow, workflows.DistributeInput{OrgID: o.id, Slug: "everquote",
				Mode: tc.mode, Slot: workflows.OnDemandSlot("owner")})
			require.Equal(t, 2, resultOf[workflows.DistributeResult](t, env).Distributed)
			for _, id := range ids {
				l, msg := lastEvent(t, s, o.id, id)
				require.Equal(t, o.owner, *l.AssignedTo)
				require.Equal(t, "distributed on demand: "+tc.want+" Olivia Owner", msg)
			}
		})
	}
	t.Run("sub_agencies_evenly", func(t *testing.T) {
		env, s, started := distributeEnv(t)
		o, ids := pendingOrg(t, s, 0, 4)
		var subs []org
		for i := 0; i < 2; i++ {
			sub, _ := seedOrg(t, s, 1, domain.SourceConfig{Name: "EQ", Routing: domain.Routing{Mode: domain.RouteStaffEvenly}})
			require.NoError(t, s.LinkOrgs(ctx, o.id, sub.id))
			subs = append(subs, sub)
		}
		env.ExecuteWorkflow(workflows.DistributeWorkflow, workflows.DistributeInput{OrgID: o.id, Slug: "everquote",
			Mode: domain.RouteSubAgencies, Slot: workflows.OnDemandSlot("subs")})
		res := distributeResult(t, env)
		require.Equal(t, 0, res.Distributed)
		require.Equal(t, 4, res.PassedDown)
		require.Len(t, started.runs, 4, "one hop run per lead passed down")
		per := map[string]int{}
		for i, run := range started.runs {
			require.Equal(t, ids[i], run.LeadID, "hops in lead id order")
			require.Equal(t, "everquote", run.Slug)
			require.NotEmpty(t, run.ExternalID)
			per[run.OrgID]++
			l, err := s.GetLead(ctx, run.OrgID, run.LeadID)
			require.NoError(t, err, "the sub-agency holds the lead")
			require.Nil(t, l.Location)
			require.Nil(t, l.RoutedAt, "in flight until the sub-agency's routing places it")
			require.True(t, strings.HasPrefix(l.Timeline[len(l.Timeline)-1].Message, "distributed on demand: sent to sub-agency Org: position "))
			// The hop run routes it at the sub-agency with its own rules.
			d, err := s.RouteLead(ctx, store.RouteRequest{LeadID: run.LeadID, OrgID: run.OrgID, Hop: 1})
			require.NoError(t, err)
			require.False(t, d.AlreadyRouted)
			require.Contains(t, d.Reason, "rotated to Staff 0")
		}
		require.Equal(t, map[string]int{subs[0].id: 2, subs[1].id: 2}, per)
		hopsLeft, err := s.DistributionHops(ctx, res.DistributionID, 0)
		require.NoError(t, err)
		require.Empty(t, hopsLeft, "placed leads need no hop run again")
	})
}

// A slot run twice distributes once: the second run finds the slot
// recorded and leaves leads that arrived since in pending.
func TestDistributionSlotRunTwiceDistributesOnce(t *testing.T) {
	t.Parallel()
	env, s, _ := distributeEnv(t)
	o, src := seedOrg(t, s, 2, domain.SourceConfig{Name: "EverQuote", Routing: domain.Routing{Mode: domain.RoutePending}})
	addPending(t, s, o, src, 3)
	in := workflows.DistributeInput{OrgID: o.id, Slug: "everquote", Mode: domain.RouteStaffEvenly, Schedule: "morning"}
	scheduled := client.StartWorkflowOptions{ID: workflows.DistributionScheduleID(o.id, "everquote", "morning") + "-2026-01-05T15:00:00Z"}
	env.SetStartWorkflowOptions(scheduled)
	env.ExecuteWorkflow(workflows.DistributeWorkflow, in)
	first := distributeResult(t, env)
	require.Equal(t, "schedule:morning@2026-01-05T15:00:00Z", first.Slot, "the slot is the nominal time in the workflow ID")
	require.Equal(t, 3, first.Distributed)
	late := addPending(t, s, o, src, 2)

	again, _, _ := distributeEnv(t)
	again.SetStartWorkflowOptions(scheduled)
	again.ExecuteWorkflow(workflows.DistributeWorkflow, in)
	second := distributeResult(t, again)
	require.True(t, second.AlreadyDone)
	require.Equal(t, first.DistributionID, second.DistributionID)
	require.Equal(t, 3, second.Distributed, "reports what the first run did")
	for _, id := range late {
		l, err := s.GetLead(ctx, o.id, id)
		require.NoError(t, err)
		require.Equal(t, domain.LocationPending, *l.Location, "a second run of the slot moves nothing")
	}

	// The next slot takes them, saying which schedule did.
	next, _, _ := distributeEnv(t)
	next.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: workflows.DistributionScheduleID(o.id, "everquote", "morning") + "-2026-01-06T15:00:00Z"})
	next.ExecuteWorkflow(workflows.DistributeWorkflow, in)
	require.Equal(t, 2, distributeResult(t, next).Distributed)
	_, msg := lastEvent(t, s, o.id, late[0])
	require.True(t, strings.HasPrefix(msg, "distributed by schedule morning: rotated to Staff "), msg)
}

// A run with no slot and no schedule's time in its ID is refused, typed.
func TestDistributionNeedsASlot(t *testing.T) {
	t.Parallel()
	env, s, _ := distributeEnv(t)
	o, _ := pendingOrg(t, s, 1, 1)
	env.ExecuteWorkflow(workflows.DistributeWorkflow, workflows.DistributeInput{OrgID: o.id, Slug: "everquote",
		Mode: domain.RouteOwner, Schedule: "morning"})
	require.True(t, env.IsWorkflowCompleted())
	require.Equal(t, domain.EInvalid, failure.Code(env.GetWorkflowError()))
}

// Past BatchesPerRun batches a run continues as new with its place and
// totals; the continued run finishes and reports the whole.
func TestDistributionContinuesAsNew(t *testing.T) {
	t.Parallel()
	env, s, _ := distributeEnv(t)
	o, ids := pendingOrg(t, s, 2, 5)
	env.ExecuteWorkflow(workflows.DistributeWorkflow, workflows.DistributeInput{OrgID: o.id, Slug: "everquote",
		Mode: domain.RouteStaffEvenly, Slot: workflows.OnDemandSlot("can"), BatchSize: 2, BatchesPerRun: 2})
	require.True(t, env.IsWorkflowCompleted())
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(env.GetWorkflowError(), &can), "want continue-as-new, got %v", env.GetWorkflowError())
	var next workflows.DistributeInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.Equal(t, 2, next.Next)
	require.Equal(t, ids[3], next.After)
	require.Equal(t, 4, next.Done.Distributed)
	require.NotEmpty(t, next.DistributionID)

	cont, _, _ := distributeEnv(t)
	cont.ExecuteWorkflow(workflows.DistributeWorkflow, next)
	res := distributeResult(t, cont)
	require.Equal(t, 5, res.Distributed)
	require.Equal(t, 3, res.Batches)
	require.Equal(t, 5, res.Total)
}

func TestDistributionIDsFitEveryPersistence(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 64)
	id := workflows.DistributionScheduleID(domain.NewID(), long, long) + "-2026-01-05T15:00:00Z"
	require.True(t, workflows.ValidWorkflowID(id), id)
	require.True(t, workflows.ValidWorkflowID(workflows.OnDemandDistributionID(domain.NewID(), long, strings.Repeat("K", 64))))
}
