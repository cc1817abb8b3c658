package app

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/leadrelay/leadrelay/internal/runs"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/workflows"
)

// reconcileReroutes starts the reroute of every user deactivated before
// cutoff who still has team-owned leads assigned: the API crashed between
// the PATCH and the start, or a lead was routed to them while the
// deactivation committed. RestartClosed: a run that completed is run again,
// and only finds what it missed.
func reconcileReroutes(ctx context.Context, d *Deps, cutoff time.Time, r *Reconciled) error {
	return eachPage(func(after string) ([]store.StrandedDeactivation, error) {
		return d.Store.StrandedDeactivations(ctx, cutoff, after, ReconcilePage)
	}, func(u store.StrandedDeactivation) string { return u.UserID }, func(u store.StrandedDeactivation) {
		err := withTimeout(ctx, func(ctx context.Context) error {
			return d.Starter().Reroute(ctx, workflows.RerouteInput{
				UserID: u.UserID, OrgID: u.OrgID, Deactivation: u.Deactivations}, runs.RestartClosed)
		})
		if err != nil {
			d.Log.Warn("reconcile: could not start a deactivated user's reroute", zap.String("user_id", u.UserID), zap.Error(err))
			return
		}
		r.Reroutes++
	})
}
