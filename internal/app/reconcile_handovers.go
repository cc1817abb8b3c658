package app

import (
	"context"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.uber.org/zap"

	"github.com/leadrelay/leadrelay/activities"
	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/workflows"
)

// reconcileHandovers keeps PostgreSQL's pending handovers and their runs
// in step. It withdraws the pending handovers whose link or setting went
// away without the change catching them; it starts again, with the
// handover's own deadline, the run of every handover pending since before
// cutoff whose run is not running (terminated, lost, never started): a
// deadline already past expires it at once; and it tells every running run
// whose handover is no longer pending (a withdrawal whose signal was lost)
// to read the decision and end. Visibility lags a little: a run it misses
// as running is found by its ID, one it still sees running is told again
// next pass.
func reconcileHandovers(ctx context.Context, d *Deps, cutoff time.Time, r *Reconciled) error {
	if _, err := d.Store.WithdrawStrandedHandovers(ctx); err != nil {
		return err
	}
	running, err := runningHandovers(ctx, d)
	if err != nil {
		return err
	}
	start := d.Starter().Handover
	err = eachPage(func(after string) ([]store.Handover, error) {
		return d.Store.PendingHandovers(ctx, after, ReconcilePage)
	}, func(h store.Handover) string { return h.LeadID }, func(h store.Handover) {
		id := workflows.HandoverWorkflowID(h.LeadID, h.TransferID)
		wasRunning := running[id]
		delete(running, id)
		if wasRunning || !h.Deadline.Add(-domain.HandoverTTL).Before(cutoff) {
			return
		}
		err := withTimeout(ctx, func(ctx context.Context) error {
			return start(ctx, activities.HandoverRun{LeadID: h.LeadID, TransferID: h.TransferID,
				FromOrgID: h.FromOrgID, ToOrgID: h.ToOrgID, Deadline: h.Deadline})
		})
		if err != nil {
			d.Log.Warn("reconcile: could not start a pending handover's run", zap.String("workflow_id", id), zap.Error(err))
			return
		}
		r.Handovers++
		d.Log.Info("reconcile: pending handover's run started again", zap.String("workflow_id", id), zap.Time("deadline", h.Deadline))
	})
	if err != nil {
		return err
	}
	// What is left ran for a handover PostgreSQL no longer has pending.
	for id := range running {
		err := withTimeout(ctx, func(ctx context.Context) error {
			return d.Temporal.SignalWorkflow(ctx, id, "", workflows.SignalHandoverDecided, nil)
		})
		if err != nil {
			d.Log.Warn("reconcile: could not tell a handover's run it was decided", zap.String("workflow_id", id), zap.Error(err))
			continue
		}
		r.Handovers++
		d.Log.Info("reconcile: handover's run told it was decided", zap.String("workflow_id", id))
	}
	return nil
}

// runningHandovers lists the IDs of the handover runs Temporal has running.
func runningHandovers(ctx context.Context, d *Deps) (map[string]bool, error) {
	running := map[string]bool{}
	var token []byte
	for {
		var page *workflowservice.ListWorkflowExecutionsResponse
		err := withTimeout(ctx, func(ctx context.Context) error {
			var err error
			page, err = d.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
				Query: "WorkflowType = 'HandoverWorkflow' AND ExecutionStatus = 'Running'", NextPageToken: token})
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, e := range page.GetExecutions() {
			running[e.GetExecution().GetWorkflowId()] = true
		}
		if token = page.GetNextPageToken(); len(token) == 0 {
			return running, nil
		}
	}
}
