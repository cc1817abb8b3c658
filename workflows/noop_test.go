package workflows_test

import (
	"testing"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/leadrelay/leadrelay/workflows"
)

// TestNoopStatusRunMakesALeadsOneUpsert: the ingestion goal's baseline
// (SPEC §7) is worth comparing with only if it does what a lead's run does
// beside routing — exactly one LeadStatus upsert, to a value no lead query
// finds — after its no-op local activity.
func TestNoopStatusRunMakesALeadsOneUpsert(t *testing.T) {
	env, _ := mockEnv()
	env.RegisterWorkflow(workflows.NoopStatusWorkflow)
	var statuses []string
	env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		statuses = append(statuses, lastLeadStatus(args.Get(0).(temporal.SearchAttributes)))
	}).Return(nil)
	env.ExecuteWorkflow(workflows.NoopStatusWorkflow)
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, []string{workflows.BenchDoneStatus}, statuses)
}
