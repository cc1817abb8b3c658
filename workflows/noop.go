package workflows

import (
	"time"

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
