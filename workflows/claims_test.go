package workflows_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/leadrelay/leadrelay/activities"
	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/workflows"
)

// claimed queues a lead in a fresh org and has its first rep claim it.
func claimed(t *testing.T, s *store.Store) (org, store.Claim) {
	t.Helper()
	o, src := seedOrg(t, s, 2, domain.SourceConfig{Name: "Queue", Routing: domain.Routing{Mode: domain.RouteQueue}})
	in := postLead(t, s, o, src, "claim-1")
	_, err := s.RouteLead(ctx, store.RouteRequest{LeadID: in.LeadID})
	require.NoError(t, err)
	c, ok, err := s.ClaimNext(ctx, o.id, o.staff[0])
	require.NoError(t, err)
	require.True(t, ok)
	return o, c
}

func claimEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *store.Store) {
	env, s, _ := realEnv(t)
	env.RegisterWorkflow(workflows.ClaimWorkflow)
	return env, s
}

func claimInput(c store.Claim) workflows.ClaimInput {
	return workflows.ClaimInput{LeadID: c.LeadID, OrgID: c.OrgID, Seq: c.Seq, Deadline: c.ExpiresAt}
}

// A claim nobody works sends the lead back to the queue when the org's
// window (30 minutes) has passed, said on the timeline.
func TestClaimWindowExpiryReturnsTheLead(t *testing.T) {
	t.Parallel()
	env, s := claimEnv(t)
	o, c := claimed(t, s)
	start := env.Now()
	env.ExecuteWorkflow(workflows.ClaimWorkflow, claimInput(c))
	require.NoError(t, env.GetWorkflowError())
	var res workflows.ClaimResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, domain.ClaimExpired, res.Outcome)
	require.GreaterOrEqual(t, env.Now().Sub(start), 29*time.Minute, "the run waits for the window")
	l, err := s.GetLead(ctx, o.id, c.LeadID)
	require.NoError(t, err)
	require.Nil(t, l.AssignedTo)
	require.Equal(t, domain.LocationQueue, *l.Location)
	last := l.Timeline[len(l.Timeline)-1]
	require.Equal(t, "claim_expired", last.Kind)
	require.Equal(t, "not worked within 30m: back in the queue (claimed by Staff 0)", last.Message)
}

// A claim worked within its window is kept: when the window ends the lead
// is still the rep's, and a release in time is not undone either.
func TestClaimWorkedOrReleasedInTimeIsLeftAlone(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		outcome string
		act     func(s *store.Store, c store.Claim) error
	}{
		{domain.ClaimWorked, func(s *store.Store, c store.Claim) error {
			_, err := s.MarkWorked(ctx, c.OrgID, c.UserID, c.LeadID)
			return err
		}},
		{domain.ClaimReleased, func(s *store.Store, c store.Claim) error { return s.ReleaseLead(ctx, c.OrgID, c.UserID, c.LeadID) }},
	} {
		t.Run(tc.outcome, func(t *testing.T) {
			env, s := claimEnv(t)
			o, c := claimed(t, s)
			var actErr error
			env.RegisterDelayedCallback(func() { actErr = tc.act(s, c) }, 10*time.Minute)
			env.ExecuteWorkflow(workflows.ClaimWorkflow, claimInput(c))
			require.NoError(t, env.GetWorkflowError())
			require.NoError(t, actErr)
			var res workflows.ClaimResult
			require.NoError(t, env.GetWorkflowResult(&res))
			require.Equal(t, tc.outcome, res.Outcome)
			l, err := s.GetLead(ctx, o.id, c.LeadID)
			require.NoError(t, err)
			for _, e := range l.Timeline {
				require.NotEqual(t, "claim_expired", e.Kind)
			}
			if tc.outcome == domain.ClaimWorked {
				require.Equal(t, c.UserID, *l.AssignedTo)
			}
		})
	}
}

// The expiry is retried while PostgreSQL is away, and a run started after
// its deadline (by the reconciler) expires the claim at once.
func TestClaimExpiryRetriesAndLateRunsActAtOnce(t *testing.T) {
	t.Parallel()
	env, a := mockEnv()
	env.RegisterWorkflow(workflows.ClaimWorkflow)
	calls := 0
	env.OnActivity(a.ExpireClaim, mock.Anything, activities.ClaimRef{LeadID: "L", Seq: 2}).Return(
		func(context.Context, activities.ClaimRef) (activities.ClaimOutcome, error) {
			calls++
			if calls == 1 {
				return activities.ClaimOutcome{}, errors.New("connection refused")
			}
			return activities.ClaimOutcome{Outcome: domain.ClaimExpired}, nil
		})
	start := env.Now()
	env.ExecuteWorkflow(workflows.ClaimWorkflow, workflows.ClaimInput{LeadID: "L", OrgID: "O", Seq: 2, Deadline: start.Add(-time.Hour)})
	require.NoError(t, env.GetWorkflowError())
	var res workflows.ClaimResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, domain.ClaimExpired, res.Outcome)
	require.Equal(t, 2, calls)
	require.Less(t, env.Now().Sub(start), time.Minute, "no waiting for a deadline already past")
}
