package app

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/leadrelay/leadrelay/internal/store"
)

// reconcileClaims starts the run of every open claim that may lack one:
// Temporal refused the API's start (the claim stood regardless), or the
// window ended before cutoff and the claim is still open (the run was lost
// or failed). A run still going is found by its ID; a second expiry of the
// same claim changes nothing.
func reconcileClaims(ctx context.Context, d *Deps, cutoff time.Time, r *Reconciled) error {
	return eachPage(func(after string) ([]store.Claim, error) {
		return d.Store.StrandedClaims(ctx, cutoff, after, ReconcilePage)
	}, func(c store.Claim) string { return c.LeadID }, func(c store.Claim) {
		err := withTimeout(ctx, func(ctx context.Context) error {
			return d.Starter().Claim(ctx, c)
		})
		if err != nil {
			d.Log.Warn("reconcile: could not start a claim's run", zap.String("lead_id", c.LeadID), zap.Int("seq", c.Seq), zap.Error(err))
			return
		}
		d.Log.Info("reconcile: claim's run started or found", zap.String("lead_id", c.LeadID), zap.Int("seq", c.Seq))
		r.Claims++
	})
}
