package app

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/workflows"
)

// SLAPumpInterval is how often the worker starts the runs of SLAs routing
// recorded and tells the runs of SLAs that ended to stop: the most an SLA
// run starts late (its deadline is fixed at the assignment, so the
// escalation is not late) and the most a worked lead's run lingers.
var SLAPumpInterval = time.Second

// slaLoop runs PumpSLAs each SLAPumpInterval until ctx ends. Routing records
// an SLA in its transaction and whatever settles a lead stops its SLA in
// its own (a trigger), so one pump serves every path; its restart of late
// SLAs is their reconciler.
func slaLoop(ctx context.Context, d *Deps) {
	pumpLoop(ctx, d, SLAPumpInterval, "SLA", PumpSLAs)
}

// PumpSLAs starts (or finds) the run of each SLA not yet started or late
// past its deadline, signals the run of each SLA that ended, and reports how
// many it handled.
func PumpSLAs(ctx context.Context, d *Deps) (int, error) {
	started, err := eachSLA(ctx, d, "start", d.Store.SLAsToStart, func(ctx context.Context, ref store.SLARef) error {
		in := workflows.SLAInput{SLAID: ref.ID, LeadID: ref.LeadID, OrgID: ref.OrgID}
		if err := d.Starter().SLA(ctx, in, ref.UserID); err != nil {
			return err
		}
		if ref.Restart {
			d.Metrics.Reconciled("sla", 1)
		}
		return d.Store.SLAStarted(ctx, ref.ID)
	})
	if err != nil {
		return started, err
	}
	stopped, err := eachSLA(ctx, d, "stop", d.Store.SLAsToSignal, func(ctx context.Context, ref store.SLARef) error {
		if err := d.Starter().StopSLA(ctx, ref.LeadID, ref.ID); err != nil {
			return err
		}
		return d.Store.SLASignalled(ctx, ref.ID)
	})
	return started + stopped, err
}

// eachSLA pages through list and does do to each SLA, each within the
// pump's timeout; one that fails is logged and left for the next pass.
func eachSLA(ctx context.Context, d *Deps, what string, list func(context.Context, int64, int) ([]store.SLARef, error),
	do func(context.Context, store.SLARef) error) (int, error) {
	done := 0
	var after int64
	for {
		refs, err := list(ctx, after, ReconcilePage)
		if err != nil || len(refs) == 0 {
			return done, err
		}
		for _, ref := range refs {
			after = ref.ID
			if err := withTimeout(ctx, func(ctx context.Context) error { return do(ctx, ref) }); err != nil {
				d.Log.Warn("could not "+what+" an SLA's run: the next pass will", zap.String("lead_id", ref.LeadID),
					zap.Int64("sla_id", ref.ID), zap.Error(err))
				continue
			}
			done++
		}
	}
}
