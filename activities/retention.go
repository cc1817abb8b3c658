package activities

import (
	"context"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/leadrelay/leadrelay/internal/failure"
)

// RetentionBatch names one batch of the retention purge: up to Size closed
// leads after the lead id After, past their org's retention at Now.
type RetentionBatch struct {
	Now   time.Time `json:"now"`
	After string    `json:"after,omitempty"`
	Size  int       `json:"size"`
}

// RetentionBatchResult counts what a batch removed and says where the
// next one starts ("": this was the last).
type RetentionBatchResult struct {
	Leads    int    `json:"leads"`
	Timeline int    `json:"timeline"`
	Feed     int    `json:"feed"`
	Next     string `json:"next,omitempty"`
}

// PurgeClosedEvents purges one batch in one transaction (see
// store.PurgeClosedEvents). It does not heartbeat: the batch is a single
// transaction, done or not, and its StartToCloseTimeout bounds it. A retry
// after the commit finds the same leads with nothing left to remove and
// reports zeros, so a retry costs one batch and changes nothing.
func (a *Activities) PurgeClosedEvents(ctx context.Context, b RetentionBatch) (RetentionBatchResult, error) {
	r, err := a.Store.PurgeClosedEvents(ctx, b.Now, b.After, b.Size)
	if err != nil {
		return RetentionBatchResult{}, failure.FromDomain(err)
	}
	activity.GetLogger(ctx).Info("retention batch done", "After", b.After, "Leads", r.Leads, "Timeline", r.Timeline, "Feed", r.Feed)
	return RetentionBatchResult{Leads: r.Leads, Timeline: r.Timeline, Feed: r.Feed, Next: r.Next}, nil
}
