package workflows

import (
	"strconv"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/workflow"

	"github.com/leadrelay/leadrelay/activities"
)

// RetentionScheduleID names the daily Temporal Schedule of the retention
// purge; its runs are "retention-purge-<nominal time>", as Temporal names
// a schedule's runs.
const RetentionScheduleID = "retention-purge"

// RetentionBatchSize and RetentionBatchesPerRun are the purge's defaults:
// 1,000 closed leads a transaction (its locks and deletes stay short beside
// the lead traffic, and a retry re-does at most that), and a run
// continues as new after 100 batches, so its history stays a few hundred
// events however many leads there are.
const (
	RetentionBatchSize     = 1000
	RetentionBatchesPerRun = 100
)

// RetentionInput starts the purge, or continues it (continue-as-new).
// Times, a lead id and counts only.
type RetentionInput struct {
	// Now is the moment every org's cut-off is counted back from: the
	// first run's start, kept by the runs it continues as, so one purge
	// has one cut-off per org. Zero: the run's start.
	Now   time.Time       `json:"now"`
	After string          `json:"after,omitempty"` // the last lead the runs before looked at
	Done  RetentionResult `json:"done"`
	// BatchSize and BatchesPerRun override the defaults (tests); 0 means
	// the default.
	BatchSize     int `json:"batch_size,omitempty"`
	BatchesPerRun int `json:"batches_per_run,omitempty"`
}

// RetentionResult is what a purge removed, over all its runs.
type RetentionResult struct {
	Batches  int `json:"batches"`
	Leads    int `json:"leads"`    // closed leads past retention looked at
	Timeline int `json:"timeline"` // timeline events removed
	Feed     int `json:"feed"`     // feed events removed
}

// RetentionPurgeWorkflow removes closed leads' timeline and feed events
// older than their org's retention_days (issue 20), a batch of leads per
// transaction in lead id order. The batch's cursor is the workflow's
// state: a failed batch is retried from the same cursor, and a purge cut
// short (a worker lost, a run terminated) is finished by the next day's,
// since a batch that finds nothing left to remove changes nothing.
func RetentionPurgeWorkflow(ctx workflow.Context, in RetentionInput) (RetentionResult, error) {
	size, perRun := orDefault(in.BatchSize, RetentionBatchSize), orDefault(in.BatchesPerRun, RetentionBatchesPerRun)
	if in.Now.IsZero() {
		in.Now = workflow.Now(ctx).UTC()
	}
	logger := log.With(workflow.GetLogger(ctx), "Now", in.Now)
	var a *activities.Activities
	actx := workflow.WithActivityOptions(ctx, batchOptions)
	res := in.Done
	after := in.After
	for i := 0; ; i++ {
		if i == perRun {
			next := in
			next.After, next.Done = after, res
			logger.Info("retention purge continues as new", "Batches", res.Batches, "Timeline", res.Timeline)
			return res, workflow.NewContinueAsNewError(ctx, RetentionPurgeWorkflow, next)
		}
		var r activities.RetentionBatchResult
		err := workflow.ExecuteActivity(named(actx, "purge batch "+strconv.Itoa(res.Batches+1)+" (up to "+strconv.Itoa(size)+" closed leads)"),
			a.PurgeClosedEvents, activities.RetentionBatch{Now: in.Now, After: after, Size: size}).Get(ctx, &r)
		if err != nil {
			logger.Error("retention batch failed", "After", after, "Error", err)
			return res, err
		}
		res.Batches++
		res.Leads += r.Leads
		res.Timeline += r.Timeline
		res.Feed += r.Feed
		workflow.SetCurrentDetails(ctx, retentionNow(res))
		if r.Next == "" {
			break
		}
		after = r.Next
	}
	logger.Info("retention purge done", "Batches", res.Batches, "Leads", res.Leads, "Timeline", res.Timeline, "Feed", res.Feed)
	return res, nil
}

// retentionNow is the run's progress as the Web UI shows it.
func retentionNow(r RetentionResult) string {
	return strconv.Itoa(r.Timeline) + " timeline and " + strconv.Itoa(r.Feed) + " feed events removed from " +
		strconv.Itoa(r.Leads) + " closed leads in " + strconv.Itoa(r.Batches) + " batches"
}
