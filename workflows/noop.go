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

// NoopStatusWorkflow is NoopWorkflow plus the one LeadStatus upsert a
// lead's run makes once routed (to BenchDoneStatus): the engine's ceiling
// for a run shaped like a lead's, which the ingestion goal compares with
// (SPEC §7) — the upsert is a visibility write of its own that the status
// search attribute needs, so it is the engine's cost, not ours.
func NoopStatusWorkflow(ctx workflow.Context) error {
	if err := NoopWorkflow(ctx); err != nil {
		return err
	}
	return workflow.UpsertTypedSearchAttributes(ctx, LeadStatusKey.ValueSet(BenchDoneStatus))
}

// BenchDoneStatus is the LeadStatus a NoopStatusWorkflow ends with: like
// "bench", no lead query finds it.
const BenchDoneStatus = "bench-done"

// NoopHopWorkflow is a fan-out hop with no work: one local activity that
// does nothing, then NoopWorkflow as a child under childID, with the options
// a sub-agency hop's run gets (summary and five search attributes), waited
// for as a lead's run waits for its hop. `starter bench` measures with it
// what the engine allows a lead passed down one level, beside the fan-out
// it measures.
func NoopHopWorkflow(ctx workflow.Context, childID string) error {
	if err := NoopWorkflow(ctx); err != nil {
		return err
	}
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            childID,
		StaticSummary:         "Benchmark no-op hop",
		TypedSearchAttributes: BenchSearchAttributes(childID, childID),
	})
	return workflow.ExecuteChildWorkflow(cctx, NoopWorkflow).Get(ctx, nil)
}

// BenchSearchAttributes are the five a lead's run starts with, for a bench
// run (id its LeadID, ext its ExternalID): LeadSource "bench-noop" and
// LeadStatus "bench" keep these runs out of every lead query.
func BenchSearchAttributes(id, ext string) temporal.SearchAttributes {
	return LeadSearchAttributes("bench-noop", "bench-noop", id, "bench", ext)
}
