package app

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/leadrelay/leadrelay/activities"
	"github.com/leadrelay/leadrelay/internal/runs"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/workflows"
)

// reconcileDistributions starts again the run of every distribution begun
// before cutoff and not completed (a run terminated or lost: batches already
// done are recorded and not redone), and the hop run of every lead a
// distribution passed down before cutoff that no sub-agency has placed yet.
// Those leads are this pass's, not the unrouted-lead pass's: their routing
// resumes at the hop the distribution chose.
func reconcileDistributions(ctx context.Context, d *Deps, cutoff time.Time, r *Reconciled) error {
	running, err := d.Store.RunningDistributions(ctx, cutoff, ReconcilePage)
	if err != nil {
		return err
	}
	for _, dist := range running {
		err := withTimeout(ctx, func(ctx context.Context) error {
			return d.Starter().Distribution(ctx, dist.WorkflowID, workflows.DistributeInput{
				OrgID: dist.OrgID, Slug: dist.Slug, Mode: dist.Mode, Schedule: dist.Schedule, Slot: dist.Slot}, runs.RestartClosed)
		})
		if err != nil {
			d.Log.Warn("reconcile: could not start a distribution's run", zap.String("distribution_id", dist.ID), zap.Error(err))
			continue
		}
		r.Distributions++
		d.Log.Info("reconcile: run of an unfinished distribution started or found", zap.String("distribution_id", dist.ID),
			zap.String("workflow_id", dist.WorkflowID))
	}
	start := d.Starter().LeadHop
	return eachPage(func(after string) ([]store.DistributionHop, error) {
		return d.Store.StrandedDistributionHops(ctx, cutoff, after, ReconcilePage)
	}, func(h store.DistributionHop) string { return h.LeadID }, func(h store.DistributionHop) {
		err := withTimeout(ctx, func(ctx context.Context) error {
			return start(ctx, activities.HopRun{LeadID: h.LeadID, OrgID: h.SubOrgID, Slug: h.Slug, ExternalID: h.ExternalID})
		})
		if err != nil {
			d.Log.Warn("reconcile: could not start a distributed lead's hop run", zap.String("lead_id", h.LeadID), zap.Error(err))
			return
		}
		r.Distributions++
		d.Log.Info("reconcile: hop run of a distributed lead started or found", zap.String("lead_id", h.LeadID),
			zap.String("sub_org_id", h.SubOrgID))
	})
}
