package app

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/leadrelay/leadrelay/internal/runs"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/workflows"
)

// maxFailuresInARow ends a pass early when Temporal is unreachable.
const maxFailuresInARow = 20

func reconcileLeads(ctx context.Context, d *Deps, cutoff time.Time, r *Reconciled) error {
	var after store.UnroutedLead
	failedInARow := 0
	for {
		page, err := d.Store.Unrouted(ctx, cutoff, after, ReconcilePage)
		if err != nil {
			return err
		}
		r.Unrouted += len(page)
		for _, l := range page {
			if !workflows.ValidWorkflowID(l.WorkflowID) {
				l.WorkflowID = workflows.LeadWorkflowID(l.LeadID)
				if err := d.Store.SetWorkflowID(ctx, l.LeadID, l.WorkflowID); err != nil {
					return err
				}
			}
			err := withTimeout(ctx, func(ctx context.Context) error {
				return d.Starter().Lead(ctx, l.WorkflowID,
					workflows.LeadInput{LeadID: l.LeadID, OrgID: l.OrgID, Slug: l.Slug, ExternalID: l.ExternalID}, runs.RestartClosed)
			})
			if err != nil {
				r.Failed++
				failedInARow++
				d.Log.Warn("reconcile: could not start the run of an unrouted lead", zap.String("lead_id", l.LeadID),
					zap.String("workflow_id", l.WorkflowID), zap.Error(err))
				if failedInARow >= maxFailuresInARow {
					// Temporal is down or refusing: a pass over a large backlog
					// would only pile up time-outs. The next pass starts over.
					return fmt.Errorf("reconcile: %d starts failed in a row, pass stopped: %w", failedInARow, err)
				}
				continue
			}
			failedInARow = 0
			r.Restarted++
			d.Log.Info("reconcile: run of an unrouted lead started or found", zap.String("lead_id", l.LeadID),
				zap.String("workflow_id", l.WorkflowID))
		}
		if len(page) < ReconcilePage {
			return nil
		}
		after = page[len(page)-1]
	}
}
