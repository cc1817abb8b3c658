package app

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/workflows"
)

// reconcileReturns starts the run of every return recorded before cutoff
// whose emails were never dealt with: the API died between the commit and
// the start, or Temporal refused the start, or an operator terminated the
// run. The outbox keys make a second run send nothing twice.
func reconcileReturns(ctx context.Context, d *Deps, cutoff time.Time, r *Reconciled) error {
	return eachPage(func(after string) ([]store.Returned, error) {
		return d.Store.UnnotifiedReturns(ctx, cutoff, after, ReconcilePage)
	}, func(ret store.Returned) string { return ret.LeadID }, func(ret store.Returned) {
		err := withTimeout(ctx, func(ctx context.Context) error {
			return d.Starter().Return(ctx, workflows.ReturnInput{LeadID: ret.LeadID, OrgID: ret.OrgID}, ret.Slug)
		})
		if err != nil {
			d.Log.Warn("reconcile: could not start a return's run", zap.String("lead_id", ret.LeadID), zap.Error(err))
			return
		}
		r.Returns++
		d.Log.Info("reconcile: run of a return started or found", zap.String("lead_id", ret.LeadID), zap.String("workflow_id", ret.WorkflowID))
	})
}
