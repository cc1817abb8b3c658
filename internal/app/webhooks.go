package app

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/workflows"
)

// WebhookPumpInterval is how often the worker looks for new webhook
// deliveries: the longest an event waits for its first attempt to start.
var WebhookPumpInterval = 500 * time.Millisecond

// webhookTimeout bounds one delivery attempt, answer included: a receiver
// should answer at once and do its work after.
const webhookTimeout = 15 * time.Second

// webhookRestartAfter is how long a pending delivery's run has to send it
// before the pump signals it again (a run terminated by hand, or whose
// signal was lost with its pass). A delivery being retried is found
// running and only signalled.
const webhookRestartAfter = 15 * time.Minute

// webhookLoop signals, or starts, the run of every (endpoint, lead) pair
// with a new pending delivery, each WebhookPumpInterval, until ctx ends.
// Every path that writes a lead's timeline records its deliveries in the
// same transaction (a trigger on timeline_events, migration 00020), so one
// pump here serves them all, and its restart of stale ones is their
// reconciler.
func webhookLoop(ctx context.Context, d *Deps) {
	pumpLoop(ctx, d, WebhookPumpInterval, "webhook", PumpWebhooks)
}

// webhookPumpConcurrency is how many runs the pump signals or starts at
// once: one at a time, the Temporal round trip of each start bounds the
// delivery rate of a burst (about 7 events/s on the 2-core machine).
const webhookPumpConcurrency = 16

// PumpWebhooks signals, or starts, the run of each pair with a delivery
// never started or started more than webhookRestartAfter ago and still
// pending, and reports how many runs it reached.
func PumpWebhooks(ctx context.Context, d *Deps) (int, error) {
	var reached atomic.Int64
	var after int64
	for {
		page, err := d.Store.WebhookRunsToStart(ctx, time.Now().Add(-webhookRestartAfter), after, ReconcilePage)
		if err != nil || len(page) == 0 {
			return int(reached.Load()), err
		}
		sem := make(chan struct{}, webhookPumpConcurrency)
		var wg sync.WaitGroup
		for _, r := range page {
			after = max(after, r.DeliveryID)
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				if err := startWebhook(ctx, d, r); err != nil {
					d.Log.Warn("could not start a webhook run: the next pass will", zap.String("lead_id", r.LeadID),
						zap.String("endpoint_id", r.EndpointID), zap.Error(err))
					return
				}
				reached.Add(1)
				if r.Restart {
					d.Metrics.Reconciled("webhook", 1)
				}
			})
		}
		wg.Wait()
	}
}

func startWebhook(ctx context.Context, d *Deps, r store.WebhookRun) error {
	err := withTimeout(ctx, func(ctx context.Context) error {
		return d.Starter().Webhook(ctx, workflows.WebhookInput{EndpointID: r.EndpointID, LeadID: r.LeadID, OrgID: r.OrgID})
	})
	if err != nil {
		return err
	}
	return d.Store.WebhookRunStarted(ctx, r.EndpointID, r.LeadID, r.DeliveryID)
}
