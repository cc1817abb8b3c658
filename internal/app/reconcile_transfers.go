package app

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/leadrelay/leadrelay/workflows"
)

// reconcileTransfers starts the run of every transfer recorded but not
// completed (a crash between the row and the start, a run terminated by an
// operator): moving a batch again changes nothing that moved, so the new run
// finishes what the old one did not.
func reconcileTransfers(ctx context.Context, d *Deps, cutoff time.Time, r *Reconciled) error {
	running, err := d.Store.RunningTransfers(ctx, cutoff, ReconcilePage)
	if err != nil {
		return err
	}
	for _, t := range running {
		err := withTimeout(ctx, func(ctx context.Context) error {
			return d.Starter().Transfer(ctx, workflows.TransferInput{TransferID: t.ID, Mode: t.Mode, Total: t.Total}, t.OrgID, t.ToOrgID)
		})
		if err != nil {
			d.Log.Warn("reconcile: could not start a transfer's run", zap.String("transfer_id", t.ID), zap.Error(err))
			continue
		}
		r.Transfers++
	}
	return nil
}
