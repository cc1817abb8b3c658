package workflows_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/leadrelay/leadrelay/activities"
	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/workflows"
)

// lastLeadStatus is the LeadStatus an upsert set.
func lastLeadStatus(sa temporal.SearchAttributes) string {
	v, _ := sa.GetKeyword(workflows.LeadStatusKey)
	return v
}

var handoverIn = workflows.HandoverInput{LeadID: "L1", TransferID: "T1", FromOrgID: "O1", ToOrgID: "O2"}

// TestHandoverRunReportsWhatTheDatabaseDecided is issue 15 item 6: the run
// waited its 30 days, an answer committed in PostgreSQL just before the
// expiry, and the expiry activity says so (accepted). The run's result and
// its LeadStatus must say accepted, not expired as the run assumed.
func TestHandoverRunReportsWhatTheDatabaseDecided(t *testing.T) {
	env, a := mockEnv()
	env.RegisterWorkflow(workflows.HandoverWorkflow)
	start := env.Now()
	var expiredAt time.Time
	env.OnActivity(a.ExpireHandover, mock.Anything, mock.Anything).Return(func(_ context.Context, h activities.HandoverRun) (activities.HandoverDecision, error) {
		expiredAt = env.Now()
		return activities.HandoverDecision{Status: domain.HandoverAccepted}, nil
	}).Once()
	var ended string
	env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		ended = lastLeadStatus(args.Get(0).(temporal.SearchAttributes))
	}).Return(nil)
	env.ExecuteWorkflow(workflows.HandoverWorkflow, handoverIn)
	require.NoError(t, env.GetWorkflowError())
	var res workflows.HandoverResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, domain.HandoverAccepted, res.Status, "the result is what PostgreSQL decided")
	require.Equal(t, "handover_accepted", ended, "LeadStatus is the run's own outcome")
	require.GreaterOrEqual(t, expiredAt.Sub(start), domain.HandoverTTL, "no expiry before the 30 days")
	env.AssertExpectations(t)
}

// TestHandoverRunEndsWithdrawnWhenTold: a withdrawal commits in PostgreSQL
// (the orgs were unlinked) and the API signals the run; it reads the
// decision and ends withdrawn at once, without waiting for its deadline.
func TestHandoverRunEndsWithdrawnWhenTold(t *testing.T) {
	env, a := mockEnv()
	env.RegisterWorkflow(workflows.HandoverWorkflow)
	start := env.Now()
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(workflows.SignalHandoverDecided, nil) }, time.Hour)
	env.OnActivity(a.HandoverOutcome, mock.Anything, mock.Anything).Return(activities.HandoverDecision{Status: domain.HandoverWithdrawn}, nil).Once()
	var ended string
	env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		ended = lastLeadStatus(args.Get(0).(temporal.SearchAttributes))
	}).Return(nil)
	env.ExecuteWorkflow(workflows.HandoverWorkflow, handoverIn)
	require.NoError(t, env.GetWorkflowError())
	var res workflows.HandoverResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, domain.HandoverWithdrawn, res.Status)
	require.Equal(t, "handover_withdrawn", ended)
	require.Less(t, env.Now().Sub(start), 2*time.Hour, "ended when told, not at the deadline")
	env.AssertExpectations(t)
}

// TestRestartedHandoverRunKeepsTheOriginalDeadline: the reconciler starts a
// lost run again with the deadline recorded at the handover; the lead waits
// what was left of its 30 days, not a fresh 30 days, and a deadline already
// past expires it at once.
func TestRestartedHandoverRunKeepsTheOriginalDeadline(t *testing.T) {
	for name, left := range map[string]time.Duration{"some left": 2 * time.Hour, "past": -time.Hour} {
		t.Run(name, func(t *testing.T) {
			env, a := mockEnv()
			env.RegisterWorkflow(workflows.HandoverWorkflow)
			start := env.Now()
			var expiredAt time.Time
			env.OnActivity(a.ExpireHandover, mock.Anything, mock.Anything).Return(func(_ context.Context, h activities.HandoverRun) (activities.HandoverDecision, error) {
				expiredAt = env.Now()
				return activities.HandoverDecision{Status: domain.HandoverExpired}, nil
			})
			in := handoverIn
			in.Deadline = start.Add(left)
			env.ExecuteWorkflow(workflows.HandoverWorkflow, in)
			require.NoError(t, env.GetWorkflowError())
			var res workflows.HandoverResult
			require.NoError(t, env.GetWorkflowResult(&res))
			require.Equal(t, domain.HandoverExpired, res.Status)
			waited := expiredAt.Sub(start)
			require.GreaterOrEqual(t, waited, max(left, 0))
			require.Less(t, waited, max(left, 0)+time.Minute, "expired at the original deadline")
		})
	}
}

// TestClaimRunEndsWithItsOwnOutcome: a claim's run starts as "claimed"; when
// its window closes it says how the claim ended (here the rep worked the
// lead before the window closed), not "claimed" for ever.
func TestClaimRunEndsWithItsOwnOutcome(t *testing.T) {
	env, a := mockEnv()
	env.RegisterWorkflow(workflows.ClaimWorkflow)
	env.OnActivity(a.ExpireClaim, mock.Anything, mock.Anything).Return(activities.ClaimOutcome{Outcome: "worked"}, nil).Once()
	var ended string
	env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		ended = lastLeadStatus(args.Get(0).(temporal.SearchAttributes))
	}).Return(nil)
	env.ExecuteWorkflow(workflows.ClaimWorkflow, workflows.ClaimInput{LeadID: "L1", OrgID: "O1", Seq: 1, Deadline: env.Now().Add(time.Hour)})
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, "claim_worked", ended)
}

// updateRefusal records how the test environment answered an Update.
type updateRefusal struct {
	rejected error
	accepted bool
}

func (u *updateRefusal) Accept()             { u.accepted = true }
func (u *updateRefusal) Reject(err error)    { u.rejected = err }
func (u *updateRefusal) Complete(any, error) {}

// TestAnswerWhileTheExpiryRunsIsRefused: a manager's answer reaching the
// run while its expiry activity is deciding in PostgreSQL is refused (the
// API answers 409) instead of being accepted and racing the expiry; the
// run ends with what the expiry decided.
func TestAnswerWhileTheExpiryRunsIsRefused(t *testing.T) {
	env, a := mockEnv()
	env.RegisterWorkflow(workflows.HandoverWorkflow)
	in := handoverIn
	in.Deadline = env.Now().Add(2 * time.Hour)
	env.OnActivity(a.ExpireHandover, mock.Anything, mock.Anything).After(time.Hour).
		Return(activities.HandoverDecision{Status: domain.HandoverExpired}, nil).Once()
	u := &updateRefusal{}
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(workflows.UpdateHandoverAnswer, "late", u, workflows.HandoverAnswer{AnswerID: "A1"})
	}, 2*time.Hour+30*time.Minute)
	env.ExecuteWorkflow(workflows.HandoverWorkflow, in)
	require.NoError(t, env.GetWorkflowError())
	require.False(t, u.accepted, "an answer accepted while the expiry decides races it")
	require.Error(t, u.rejected)
	var res workflows.HandoverResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, domain.HandoverExpired, res.Status)
}
