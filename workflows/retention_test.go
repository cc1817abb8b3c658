package workflows_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/leadrelay/leadrelay/activities"
	"github.com/leadrelay/leadrelay/workflows"
)

// fakePurge answers batches over leads "1".."n", each with two events,
// and records the batches it was asked for.
type fakePurge struct {
	mu      sync.Mutex
	n       int
	batches []activities.RetentionBatch
}

func (f *fakePurge) batch(_ context.Context, b activities.RetentionBatch) (activities.RetentionBatchResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.batches = append(f.batches, b)
	from := 0
	if b.After != "" {
		from, _ = strconv.Atoi(b.After)
	}
	leads := min(b.Size, f.n-from)
	r := activities.RetentionBatchResult{Leads: leads, Timeline: 2 * leads, Feed: leads}
	if leads == b.Size {
		r.Next = strconv.Itoa(from + leads)
	}
	return r, nil
}

func retentionEnv(f *fakePurge) *testsuite.TestWorkflowEnvironment {
	env := newTestEnv()
	env.RegisterWorkflow(workflows.RetentionPurgeWorkflow)
	var a *activities.Activities
	env.RegisterActivity(a)
	env.OnActivity(a.PurgeClosedEvents, mock.Anything, mock.Anything).Return(f.batch)
	return env
}

// A purge pages through the closed leads a batch at a time, each batch
// starting after the one before, with one cut-off for all of them, and
// adds up what they removed.
func TestRetentionPurgePagesThroughBatches(t *testing.T) {
	t.Parallel()
	f := &fakePurge{n: 7}
	env := retentionEnv(f)
	env.ExecuteWorkflow(workflows.RetentionPurgeWorkflow, workflows.RetentionInput{BatchSize: 3})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var res workflows.RetentionResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, workflows.RetentionResult{Batches: 3, Leads: 7, Timeline: 14, Feed: 7}, res)
	require.Len(t, f.batches, 3)
	for i, after := range []string{"", "3", "6"} {
		require.Equal(t, after, f.batches[i].After, "batch %d", i)
		require.Equal(t, f.batches[0].Now, f.batches[i].Now, "batch %d's cut-off moved", i)
	}
	require.False(t, f.batches[0].Now.IsZero())
}

// Past BatchesPerRun batches a run continues as new with its cursor, its
// cut-off and its totals; the continued run finishes the purge.
func TestRetentionPurgeContinuesAsNew(t *testing.T) {
	t.Parallel()
	f := &fakePurge{n: 10}
	env := retentionEnv(f)
	env.ExecuteWorkflow(workflows.RetentionPurgeWorkflow, workflows.RetentionInput{BatchSize: 2, BatchesPerRun: 2})
	require.True(t, env.IsWorkflowCompleted())
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(env.GetWorkflowError(), &can), "want continue-as-new, got %v", env.GetWorkflowError())
	var next workflows.RetentionInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.Equal(t, "4", next.After)
	require.Equal(t, workflows.RetentionResult{Batches: 2, Leads: 4, Timeline: 8, Feed: 4}, next.Done)
	require.Equal(t, f.batches[0].Now, next.Now, "the continued run must keep the first run's cut-off")

	next.BatchesPerRun = 10
	cont := retentionEnv(f)
	cont.ExecuteWorkflow(workflows.RetentionPurgeWorkflow, next)
	require.True(t, cont.IsWorkflowCompleted())
	require.NoError(t, cont.GetWorkflowError())
	var res workflows.RetentionResult
	require.NoError(t, cont.GetWorkflowResult(&res))
	require.Equal(t, workflows.RetentionResult{Batches: 6, Leads: 10, Timeline: 20, Feed: 10}, res)
	require.Equal(t, "4", f.batches[2].After)
	require.WithinDuration(t, next.Now, f.batches[len(f.batches)-1].Now, time.Nanosecond)
}
