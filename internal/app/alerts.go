package app

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/workflows"
)

// AlertPumpInterval is how often the worker looks for recorded instant
// alerts to start: the longest an assignee waits for their alert's run to
// begin. The assignment itself never waits (docs/routing.md, Instant alerts).
var AlertPumpInterval = time.Second

// alertRestartAfter is how long an alert's run has to deal with it before
// the pump starts it again (found running: left alone; lost, failed or
// terminated: started anew; the outbox key never sends twice).
const alertRestartAfter = 10 * time.Minute

// alertLoop starts the run of every recorded alert not yet dealt with, each
// AlertPumpInterval, until ctx ends. Every path that assigns a lead records
// its alert in the assigning transaction (a trigger on leads.assigned_to),
// so one pump here serves them all, and its restart of stale alerts is the
// reconciler for alerts too.
func alertLoop(ctx context.Context, d *Deps) {
	pumpLoop(ctx, d, AlertPumpInterval, "alert", PumpAlerts)
}

// pumpLoop runs pump every interval until ctx ends, logging a pass that
// failed (the next one tries again) and, at debug, one that did something.
func pumpLoop(ctx context.Context, d *Deps, interval time.Duration, what string, pump func(context.Context, *Deps) (int, error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := pump(ctx, d)
		switch {
		case err != nil && ctx.Err() == nil:
			d.Log.Warn(what+" pump pass failed", zap.Int("handled", n), zap.Error(err))
		case n > 0:
			d.Log.Debug(what+" pump pass", zap.Int("handled", n))
		}
	}
}

// PumpAlerts starts, or finds, the run of each alert never started or
// started more than alertRestartAfter ago and still not dealt with, and
// reports how many it started or found.
func PumpAlerts(ctx context.Context, d *Deps) (int, error) {
	started := 0
	var after int64
	for {
		page, err := d.Store.AlertsToStart(ctx, time.Now().Add(-alertRestartAfter), after, ReconcilePage)
		if err != nil || len(page) == 0 {
			return started, err
		}
		for _, a := range page {
			after = a.ID
			if err := startAlert(ctx, d, a); err != nil {
				d.Log.Warn("could not start an alert's run: the next pass will", zap.String("lead_id", a.LeadID),
					zap.Int64("alert_id", a.ID), zap.Error(err))
				continue
			}
			started++
			if a.Restart {
				d.Metrics.Reconciled("alert", 1)
			}
		}
	}
}

func startAlert(ctx context.Context, d *Deps, a store.Alert) error {
	err := withTimeout(ctx, func(ctx context.Context) error {
		return d.Starter().Alert(ctx, workflows.AlertInput{AlertID: a.ID, LeadID: a.LeadID, OrgID: a.OrgID, UserID: a.UserID})
	})
	if err != nil {
		return err
	}
	return d.Store.AlertStarted(ctx, a.ID)
}
