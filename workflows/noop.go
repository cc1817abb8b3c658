package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/leadrelay/leadrelay/activities"
)

// NoopWorkflow runs one local activity that does nothing: `starter bench`
// measures the engine's ceiling on this machine with it.
func NoopWorkflow(ctx workflow.Context) error {
	var a *activities.Activities
	ctx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: 5 * time.Second, Summary: "no-op"})
	return workflow.ExecuteLocalActivity(ctx, a.Noop).Get(ctx, nil)
}

// NoopHopWorkflow is a fan-out hop with no work: one local activity that
// does nothing, then NoopWorkflow as a child under childID, with the options
// a sub-agency hop's run gets (summary and five search attributes), waited
// for as a lead's run waits for its hop. `starter bench` measures with it
// what the engine allows a lead passed down one level, beside the fan-out
// it measures.
func NoopHopWorkflow(ctx workflow.Context, childID string) error {
	var a *activities.Activities
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: 5 * time.Second, Summary: "no-op"})
	if err := workflow.ExecuteLocalActivity(lctx, a.Noop).Get(ctx, nil); err != nil {
		return err
	}
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:    childID,
		StaticSummary: "Benchmark no-op hop",
		TypedSearchAttributes: temporal.NewSearchAttributes(OrgIDKey.ValueSet("bench-noop"), LeadSourceKey.ValueSet("bench-noop"),
			LeadIDKey.ValueSet(childID), LeadStatusKey.ValueSet("bench"), ExternalIDKey.ValueSet(childID)),
	})
	return workflow.ExecuteChildWorkflow(cctx, NoopWorkflow).Get(ctx, nil)
}
