package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/leadrelay/leadrelay/activities"
	"github.com/leadrelay/leadrelay/internal/domain"
)

// TransferWorkflowID names a transfer's run.
func TransferWorkflowID(transferID string) string { return "transfer/" + transferID }

// TransferBatchSize is how many leads one activity moves in one transaction:
// large enough that a 10,000-lead transfer is 20 activities, small enough
// that a transaction holds its row locks for well under a second.
const TransferBatchSize = 500

// transferBatchesPerRun bounds a run's history: past it the run continues
// as new, so a transfer of any size stays far below Temporal's limits (each
// batch adds under a dozen events).
const transferBatchesPerRun = 200

// QueryProgress answers with a transfer's TransferProgress.
const QueryProgress = "progress"

// TransferInput starts (or, after continue-as-new, continues) a transfer's
// run. The lead ids are in PostgreSQL, in request order; the run carries
// counts only.
type TransferInput struct {
	TransferID string
	Mode       domain.TransferMode
	Total      int
	Next       int // the next batch to move
	Moved      int // moved by the runs before this one
	Failed     int
}

// TransferProgress is how far a transfer got.
type TransferProgress struct {
	TransferID  string `json:"transfer_id"`
	Total       int    `json:"total"`
	Transferred int    `json:"transferred"`
	Failed      int    `json:"failed"`
	Done        bool   `json:"done"`
}

// TransferWorkflow moves a transfer's leads batch by batch (SPEC §5.3). A
// lead that cannot move is recorded with its reason and the rest go on.
// Retention updates for moved team members go out beside the next batches,
// never holding them up; handed-over leads each get a review run.
func TransferWorkflow(ctx workflow.Context, in TransferInput) (TransferProgress, error) {
	p := TransferProgress{TransferID: in.TransferID, Total: in.Total, Transferred: in.Moved, Failed: in.Failed}
	if err := workflow.SetQueryHandler(ctx, QueryProgress, func() (TransferProgress, error) { return p, nil }); err != nil {
		return p, err
	}
	logger := workflow.GetLogger(ctx)
	var a *activities.Activities
	bctx := workflow.WithActivityOptions(ctx, bookkeepingOptions)
	hctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 5 * time.Minute,
		HeartbeatTimeout:    30 * time.Second,
		RetryPolicy:         bookkeepingOptions.RetryPolicy,
	})
	ectx := workflow.WithActivityOptions(ctx, EmailActivityOptions)
	var emails []workflow.Future
	batches := (in.Total + TransferBatchSize - 1) / TransferBatchSize
	workflow.SetCurrentDetails(ctx, transferNow(p, in.Next+1, batches))
	for i := in.Next; i < batches; i++ {
		if i-in.Next == transferBatchesPerRun {
			if err := awaitAll(ctx, emails); err != nil {
				return p, err
			}
			next := in
			next.Next, next.Moved, next.Failed = i, p.Transferred, p.Failed
			return p, workflow.NewContinueAsNewError(ctx, TransferWorkflow, next)
		}
		b := activities.TransferBatch{TransferID: in.TransferID, Index: i, Size: TransferBatchSize}
		var r activities.BatchResult
		batch := fmt.Sprintf("batch %d of %d", i+1, batches)
		if err := workflow.ExecuteActivity(named(bctx, "move "+batch), a.MoveTransferBatch, b).Get(ctx, &r); err != nil {
			return p, err
		}
		p.Transferred += r.Moved
		p.Failed += r.Failed
		workflow.SetCurrentDetails(ctx, transferNow(p, min(i+2, batches), batches))
		if in.Mode == domain.TransferManagerReview && r.Moved > 0 {
			if err := workflow.ExecuteActivity(named(hctx, fmt.Sprintf("start %d review runs, %s", r.Moved, batch)), a.StartHandovers, b).Get(ctx, nil); err != nil {
				return p, err
			}
		}
		if r.TeamMembers > 0 {
			emails = append(emails, workflow.ExecuteActivity(named(ectx, fmt.Sprintf("retention updates for %d team members, %s", r.TeamMembers, batch)),
				a.SendRetentionUpdates, b))
		}
	}
	if err := workflow.ExecuteActivity(named(bctx, "mark the transfer completed"), a.FinishTransfer, in.TransferID).Get(ctx, nil); err != nil {
		return p, err
	}
	p.Done = true
	workflow.SetCurrentDetails(ctx, transferNow(p, batches, batches))
	logger.Info("transfer done", "TransferID", in.TransferID, "Transferred", p.Transferred, "Failed", p.Failed)
	// The leads are moved; a retention update that failed for good is on
	// its lead's timeline and does not fail the transfer.
	if err := awaitAll(ctx, emails); err != nil {
		logger.Error("retention updates failed for good", "TransferID", in.TransferID, "Error", err)
	}
	return p, nil
}

// awaitAll waits for every future and returns the first error.
func awaitAll(ctx workflow.Context, fs []workflow.Future) error {
	var first error
	for _, f := range fs {
		if err := f.Get(ctx, nil); err != nil && first == nil {
			first = err
		}
	}
	return first
}
