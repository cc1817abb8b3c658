package app

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/leadrelay/leadrelay/internal/config"
	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/workflows"
)

// DigestLookback is how far back each sweep looks for arrivals that no
// digest batch covers. Arrivals are written by workers (routing, transfer
// batches, handover answers), and every worker sweeps every 30 s, so a day
// is far more than a crash-looping worker fleet needs.
const DigestLookback = 24 * time.Hour

// DigestRecheck is how long a pending digest's run, once started or found,
// is trusted before the sweep looks for it again (and starts it again if it
// was terminated or failed).
const DigestRecheck = 10 * time.Minute

// reconcileDigests is the new-lead digest's feed (SPEC §5.4). Nothing on a
// lead's path does anything for the digest; instead each pass (1) records
// the next batch of every (org, org-local day) whose arrivals no batch
// covers yet, planned from the org's timezone and NEW_LEAD_DIGEST_AT or
// NEW_LEAD_DIGEST_DELAY, and (2) starts the run of every pending batch not
// checked for DigestRecheck, or finds it running. A crash anywhere in
// between leaves a row without a run or arrivals without a row, and the next
// pass of any worker picks either up; the outbox keys make a second run of
// one batch send nothing twice.
func reconcileDigests(ctx context.Context, d *Deps, r *Reconciled) error {
	at, err := config.ParseClock(d.Cfg.DigestAt)
	if err != nil {
		return err // config.Load refused it already
	}
	sched := domain.DigestSchedule{At: at, Delay: d.Cfg.DigestDelay}
	days, err := d.Store.UncoveredDays(ctx, time.Now().Add(-DigestLookback))
	if err != nil {
		return err
	}
	for _, u := range days {
		loc := domain.OrgLocation(u.Timezone)
		p := sched.Plan(loc, u.Day, u.First, u.PrevUntil)
		day := u.Day.Format(time.DateOnly)
		if _, err := d.Store.CreateDigest(ctx, store.Digest{OrgID: u.OrgID, Day: u.Day, Batch: u.Batch, From: p.From, Until: p.Until,
			FireAt: p.FireAt, WorkflowID: workflows.DigestWorkflowID(u.OrgID, day, u.Batch)}); err != nil {
			return err
		}
	}
	pending, err := d.Store.UnstartedDigests(ctx, time.Now().Add(-DigestRecheck), ReconcilePage)
	if err != nil {
		return err
	}
	for _, g := range pending {
		in := workflows.DigestInput{OrgID: g.OrgID, Day: g.Day.Format(time.DateOnly), Batch: g.Batch, FireAt: g.FireAt}
		err := withTimeout(ctx, func(ctx context.Context) error { return d.Starter().Digest(ctx, in) })
		if err == nil {
			err = d.Store.DigestStarted(ctx, g.OrgID, g.Day, g.Batch)
		}
		if err != nil {
			d.Log.Warn("reconcile: could not start a digest's run", zap.String("workflow_id", g.WorkflowID), zap.Error(err))
			continue
		}
		r.Digests++
		d.Log.Info("digest run started or found", zap.String("workflow_id", g.WorkflowID), zap.Time("fire_at", g.FireAt))
	}
	return nil
}
