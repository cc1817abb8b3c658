package workflows_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/leadrelay/leadrelay/activities"
	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/failure"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/workflows"
)

func transferEnv() (*testsuite.TestWorkflowEnvironment, *activities.Activities) {
	env, a := mockEnv()
	env.RegisterWorkflow(workflows.TransferWorkflow)
	return env, a
}

// TestTransferMovesEveryBatchAndCountsExactly: 1,201 leads are three batches;
// a batch that fails once is retried and counted once; retention updates go
// out for batches that moved team members; the progress query and the result
// agree with the batches.
func TestTransferMovesEveryBatchAndCountsExactly(t *testing.T) {
	t.Parallel()
	env, a := transferEnv()
	var seen []int
	env.OnActivity(a.MoveTransferBatch, mock.Anything, mock.Anything).Return(
		func(_ context.Context, b activities.TransferBatch) (activities.BatchResult, error) {
			seen = append(seen, b.Index)
			if b.Index == 1 && len(seen) == 2 {
				return activities.BatchResult{}, errors.New("connection reset")
			}
			if b.Index == 2 {
				return activities.BatchResult{Moved: 1}, nil
			}
			return activities.BatchResult{Moved: 490, Failed: 10, TeamMembers: b.Index}, nil
		})
	var emailed []int
	env.OnActivity(a.SendRetentionUpdates, mock.Anything, mock.Anything).Return(func(_ context.Context, b activities.TransferBatch) error {
		emailed = append(emailed, b.Index)
		return nil
	})
	env.OnActivity(a.FinishTransfer, mock.Anything, "T1").Return(nil).Once()
	env.ExecuteWorkflow(workflows.TransferWorkflow, workflows.TransferInput{TransferID: "T1", Mode: domain.TransferOwner, Total: 1201})
	require.NoError(t, env.GetWorkflowError())
	var p workflows.TransferProgress
	require.NoError(t, env.GetWorkflowResult(&p))
	require.Equal(t, workflows.TransferProgress{TransferID: "T1", Total: 1201, Transferred: 981, Failed: 20, Done: true}, p)
	require.Equal(t, []int{0, 1, 1, 2}, seen, "batches in order, the failed one retried")
	require.Equal(t, []int{1}, emailed, "only the batch that moved team members owes retention updates")
	q, err := env.QueryWorkflow(workflows.QueryProgress)
	require.NoError(t, err)
	var qp workflows.TransferProgress
	require.NoError(t, q.Get(&qp))
	require.Equal(t, p, qp)
	env.AssertExpectations(t)
}

// TestHandoverTransferStartsAReviewPerBatch: manager_review batches start
// their leads' review runs; other modes start none.
func TestHandoverTransferStartsAReviewPerBatch(t *testing.T) {
	t.Parallel()
	env, a := transferEnv()
	env.OnActivity(a.MoveTransferBatch, mock.Anything, mock.Anything).Return(activities.BatchResult{Moved: 3}, nil)
	env.OnActivity(a.StartHandovers, mock.Anything, mock.Anything).Return(nil).Twice()
	env.OnActivity(a.FinishTransfer, mock.Anything, mock.Anything).Return(nil)
	env.ExecuteWorkflow(workflows.TransferWorkflow, workflows.TransferInput{TransferID: "T2", Mode: domain.TransferManagerReview, Total: 501})
	require.NoError(t, env.GetWorkflowError())
	env.AssertExpectations(t)
}

// TestLargeTransferContinuesAsNew: past its batch budget a run continues as
// new with the counts so far, so no run's history grows with the transfer.
func TestLargeTransferContinuesAsNew(t *testing.T) {
	t.Parallel()
	env, a := transferEnv()
	calls := 0
	env.OnActivity(a.MoveTransferBatch, mock.Anything, mock.Anything).Return(func(context.Context, activities.TransferBatch) (activities.BatchResult, error) {
		calls++
		return activities.BatchResult{Moved: 500}, nil
	})
	env.ExecuteWorkflow(workflows.TransferWorkflow, workflows.TransferInput{TransferID: "T3", Mode: domain.TransferOwner, Total: 250_000})
	err := env.GetWorkflowError()
	var can *workflow.ContinueAsNewError
	require.ErrorAs(t, err, &can)
	require.Equal(t, 200, calls)
	var next workflows.TransferInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.Equal(t, workflows.TransferInput{TransferID: "T3", Mode: domain.TransferOwner, Total: 250_000, Next: 200, Moved: 100_000}, next)
}

// handoverFixture hands one lead over from a master to its sub-agency.
type handoverFixture struct {
	in                 workflows.HandoverInput
	manager, rep       string
	masterID, subID    string
	previousAssignedTo string
}

func handOver(t *testing.T, s *store.Store) handoverFixture {
	t.Helper()
	f := fanOutSetup(t, s, "handover-"+t.Name())
	mgr, _, err := s.CreateUser(ctx, f.sub, "mgr-"+f.dom[:8]+"@"+f.dom, "Mia Manager", domain.RoleManager, false)
	require.NoError(t, err)
	// a lead routed at the master (owner mode) to hand over
	src, _, _, err := s.PutSource(ctx, f.master, "direct", domain.SourceConfig{Name: "Direct", Priority: "normal",
		Routing: domain.Routing{Mode: domain.RouteOwner}}, 0)
	require.NoError(t, err)
	in := postLead(t, s, org{id: f.master}, src, "ho-1")
	d, err := s.RouteLead(ctx, store.RouteRequest{LeadID: in.LeadID})
	require.NoError(t, err)
	// Every batch checks the master's handover_enabled, as the request did.
	on := true
	_, _, err = s.UpdateOrg(ctx, f.master, store.OrgPatch{HandoverEnabled: &on})
	require.NoError(t, err)
	tid := domain.NewID()
	_, _, err = s.CreateTransfer(ctx, store.NewTransfer{ID: tid, OrgID: f.master, ToOrgID: f.sub, Mode: domain.TransferManagerReview,
		RequestedBy: "admin", RequestHash: []byte(tid), WorkflowID: "transfer/" + tid, LeadIDs: []string{in.LeadID}})
	require.NoError(t, err)
	out, err := s.MoveTransferBatch(ctx, store.TransferBatch{TransferID: tid, Size: 500})
	require.NoError(t, err)
	require.Equal(t, 1, out.Moved)
	return handoverFixture{in: workflows.HandoverInput{LeadID: in.LeadID, TransferID: tid, FromOrgID: f.master, ToOrgID: f.sub},
		manager: mgr.ID, rep: f.rep, masterID: f.master, subID: f.sub, previousAssignedTo: d.AssignedTo}
}

func (f handoverFixture) answer(t *testing.T, s *store.Store, kind, assignTo, reason string) string {
	t.Helper()
	id := domain.NewID()
	require.NoError(t, s.RecordHandoverAnswer(ctx, store.HandoverAnswer{ID: id, LeadID: f.in.LeadID, TransferID: f.in.TransferID,
		Kind: kind, Actor: f.manager, AssignTo: assignTo, Reason: reason}))
	return id
}

// TestHandoverWaitsForOneAnswer: the run waits hours for a manager; the
// first answer decides, a rival answer at the same instant is refused typed.
func TestHandoverWaitsForOneAnswer(t *testing.T) {
	t.Parallel()
	env, s, _ := realEnv(t)
	env.RegisterWorkflow(workflows.HandoverWorkflow)
	f := handOver(t, s)
	accept, reject := f.answer(t, s, "accept", f.rep, ""), f.answer(t, s, "reject", "", "no")
	var first, second error
	var firstDone, secondDone bool
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(workflows.UpdateHandoverAnswer, "a1", &testsuite.TestUpdateCallback{OnAccept: func() {},
			OnReject: func(err error) { first, firstDone = err, true }, OnComplete: func(_ any, err error) { first, firstDone = err, true }},
			workflows.HandoverAnswer{AnswerID: accept})
		env.UpdateWorkflow(workflows.UpdateHandoverAnswer, "a2", &testsuite.TestUpdateCallback{OnAccept: func() {},
			OnReject: func(err error) { second, secondDone = err, true }, OnComplete: func(_ any, err error) { second, secondDone = err, true }},
			workflows.HandoverAnswer{AnswerID: reject})
	}, 5*time.Hour)
	env.ExecuteWorkflow(workflows.HandoverWorkflow, f.in)
	require.NoError(t, env.GetWorkflowError())
	var res workflows.HandoverResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, domain.HandoverAccepted, res.Status)
	require.True(t, firstDone && secondDone)
	require.NoError(t, first)
	require.Equal(t, domain.EConflict, failure.Code(second), "%v", second)
	l, err := s.GetLead(ctx, f.subID, f.in.LeadID)
	require.NoError(t, err)
	require.Equal(t, f.rep, *l.AssignedTo)
}

// TestUnansweredHandoverGoesBack: nobody answers in HandoverTTL, the lead
// is back with the sender as it was.
func TestUnansweredHandoverGoesBack(t *testing.T) {
	t.Parallel()
	env, s, _ := realEnv(t)
	env.RegisterWorkflow(workflows.HandoverWorkflow)
	f := handOver(t, s)
	start := env.Now()
	env.ExecuteWorkflow(workflows.HandoverWorkflow, f.in)
	require.NoError(t, env.GetWorkflowError())
	var res workflows.HandoverResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, domain.HandoverExpired, res.Status)
	require.GreaterOrEqual(t, env.Now().Sub(start), domain.HandoverTTL)
	l, err := s.GetLead(ctx, f.masterID, f.in.LeadID)
	require.NoError(t, err)
	require.Equal(t, f.previousAssignedTo, *l.AssignedTo)
	require.Contains(t, l.Timeline[len(l.Timeline)-1].Message, "not reviewed within")
}
