// Package runs starts leadrelay's Temporal runs: the client side of every
// workflow in package workflows, which holds deterministic code only. A
// start reads the names its run's summary shows (Store.RunNames) once, then
// starts the run under its business ID, or finds the one running there.
package runs

import (
	"context"
	"errors"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/leadrelay/leadrelay/internal/store"
)

// Starter starts runs on one task queue. The API, the worker's activities
// and the reconciler each hold one.
type Starter struct {
	Temporal client.Client
	Store    *store.Store // reads the names of each run's summary
	Queue    string       // the task queue the worker polls
	// Retry, when set, runs each start through it: the API waits out a
	// server that refuses search attributes it has only just registered.
	// It wraps the Temporal call alone, so names are read once per start,
	// never again on a retry. nil: one attempt.
	Retry func(ctx context.Context, start func(context.Context) error) error
}

// Restart says how a start treats a closed run under the run's ID.
type Restart int

const (
	// RestartFailed starts a new run only when the last one failed, was
	// terminated, cancelled or timed out: a completed run did its work.
	// The API uses it, so a vendor's retry revives a lead whose run died.
	RestartFailed Restart = iota
	// RestartClosed starts a new run after any closed one. The reconciler
	// uses it for work it found unfinished: what these runs do is
	// idempotent in PostgreSQL, so a second run only finishes what the
	// first did not.
	RestartClosed
)

// reusePolicy is the ID reuse policy that treats a closed run as r says.
func (r Restart) reusePolicy() enums.WorkflowIdReusePolicy {
	if r == RestartClosed {
		return enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE
	}
	return enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY
}

// start starts a run on s's queue, or finds the one running under its ID:
// with USE_EXISTING a running one is found, and the only refusal left is a
// closed run the reuse policy keeps (a completed one, which did its work).
func (s Starter) start(ctx context.Context, opts client.StartWorkflowOptions, restart Restart, wf any, arg any) error {
	opts.TaskQueue = s.Queue
	opts.WorkflowIDReusePolicy = restart.reusePolicy()
	opts.WorkflowIDConflictPolicy = enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING
	once := func(ctx context.Context) error {
		_, err := s.Temporal.ExecuteWorkflow(ctx, opts, wf, arg)
		var already *serviceerror.WorkflowExecutionAlreadyStarted
		if errors.As(err, &already) {
			return nil
		}
		return err
	}
	if s.Retry == nil {
		return once(ctx)
	}
	return s.Retry(ctx, once)
}
