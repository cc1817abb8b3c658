package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// bookkeepingOptions are for writes to PostgreSQL that must happen: retried
// until the database answers.
var bookkeepingOptions = workflow.ActivityOptions{
	StartToCloseTimeout: 30 * time.Second,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:    time.Second,
		BackoffCoefficient: 2,
		MaximumInterval:    time.Minute,
	},
}

// batchOptions are bookkeepingOptions with time for one batch of a paged
// run (a distribution's, a reroute's, the retention purge's): hundreds of
// leads in one transaction.
var batchOptions = func() workflow.ActivityOptions {
	o := bookkeepingOptions
	o.StartToCloseTimeout = 2 * time.Minute
	return o
}()

// orDefault is n, or d when n is not positive: a test's override of a
// paged run's batch size or batches per run, or the default.
func orDefault(n, d int) int {
	if n <= 0 {
		return d
	}
	return n
}

// EmailActivityOptions retry an SMTP outage with backoff for up to a week.
// A permanent refusal (5xx) comes back non-retryable and is recorded at once.
var EmailActivityOptions = workflow.ActivityOptions{
	StartToCloseTimeout:    time.Minute,
	ScheduleToCloseTimeout: 7 * 24 * time.Hour,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:    time.Second,
		BackoffCoefficient: 2,
		MaximumInterval:    5 * time.Minute,
	},
}

// act is ctx with activity options o and the activity's one-line summary.
func act(ctx workflow.Context, o workflow.ActivityOptions, summary string) workflow.Context {
	o.Summary = summary
	return workflow.WithActivityOptions(ctx, o)
}

// named is ctx, whose activity options are set, with the next activity's
// one-line summary.
func named(ctx workflow.Context, summary string) workflow.Context {
	return act(ctx, workflow.GetActivityOptions(ctx), summary)
}
