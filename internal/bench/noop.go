package bench

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/leadrelay/leadrelay/activities"
	"github.com/leadrelay/leadrelay/workflows"
)

// noop measures the baseline: no-op runs as fast as o.Concurrency callers
// start them (the peak rate), then r.HalfN of them at half that rate, whose
// latency the speed-to-lead goal compares with.
func noop(ctx context.Context, o Options, run string, r *Result) error {
	// Started as ingestion starts its runs: eagerly, by a client whose
	// process runs a worker (its own, with the product's options, on a
	// private task queue so the stack's worker never takes these tasks).
	queue := o.TaskQueue + "-noop-" + run
	w := worker.New(o.Temporal, queue, o.WorkerOptions)
	w.RegisterWorkflow(workflows.NoopWorkflow)
	w.RegisterWorkflow(workflows.NoopHopWorkflow)
	w.RegisterWorkflow(workflows.NoopStatusWorkflow)
	w.RegisterActivity(&activities.Activities{})
	if err := w.Start(); err != nil {
		return err
	}
	defer w.Stop()
	o.logf("no-op workflows: %d at concurrency %d…", o.Noop, o.Concurrency)
	lat, rate, err := noopRuns(ctx, o, queue, run+"/peak", o.Noop, 0, workflows.NoopWorkflow)
	r.NoopRate, r.NoopP50, r.NoopP99 = rate, pct(lat, 50), pct(lat, 99)
	if err != nil {
		return err
	}
	// Right after, the same number of runs shaped like a lead's: the
	// ingestion goal's baseline (SPEC §7).
	o.logf("no-op workflows with a lead's status upsert: %d at concurrency %d…", o.Noop, o.Concurrency)
	lat, rate, err = noopRuns(ctx, o, queue, run+"/status", o.Noop, 0, workflows.NoopStatusWorkflow)
	r.NoopStatusRate, r.NoopStatusP50, r.NoopStatusP99 = rate, pct(lat, 50), pct(lat, 99)
	if err != nil {
		return err
	}
	r.HalfRate = r.NoopRate / 2
	o.logf("no-op workflows at half their peak: %d at %.1f/s…", r.HalfN, r.HalfRate)
	lat, _, err = noopRuns(ctx, o, queue, run+"/half", r.HalfN, r.HalfRate, workflows.NoopWorkflow)
	r.HalfNoopP50, r.HalfNoopP99 = pct(lat, 50), pct(lat, 99)
	if err != nil || o.FanOutLeads == 0 {
		return err
	}
	o.logf("no-op hops: %d parents, each starting a no-op child, at concurrency %d…", o.FanOutLeads, o.Concurrency)
	r.NoopHopRate, err = noopHops(ctx, o, queue, run+"/hop", o.FanOutLeads)
	return err
}

// noopHops runs n NoopHopWorkflows (each waits for its child) as fast as
// o.Concurrency callers go, and returns the pairs completed per second: the
// engine's ceiling for a lead passed down one level.
func noopHops(ctx context.Context, o Options, queue, prefix string, n int) (float64, error) {
	start := time.Now()
	err := parallel(n, o.Concurrency, func(i int) error {
		id := fmt.Sprintf("bench-noop/%s/%d", prefix, i)
		wr, err := o.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: queue, EnableEagerStart: true,
			StaticSummary: "Benchmark no-op hop " + strconv.Itoa(i), TypedSearchAttributes: workflows.BenchSearchAttributes(id, strconv.Itoa(i))},
			workflows.NoopHopWorkflow, id+"/child")
		if err != nil {
			return err
		}
		return wr.Get(ctx, nil)
	})
	return float64(n) / time.Since(start).Seconds(), err
}

// noopRuns runs n no-op workflows wf (NoopWorkflow or NoopStatusWorkflow),
// at rate per second (0: as fast as o.Concurrency callers go), and returns
// each one's start → completion and the rate they completed at.
func noopRuns(ctx context.Context, o Options, queue, prefix string, n int, rate float64, wf any) ([]time.Duration, float64, error) {
	lat := make([]time.Duration, n)
	start := time.Now()
	err := paced(n, rate, o.Concurrency, func(i int) error {
		t0 := time.Now()
		id := fmt.Sprintf("bench-noop/%s/%d", prefix, i)
		wr, err := o.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID: id, TaskQueue: queue, EnableEagerStart: true,
			// As a lead's start carries its summary, details and five
			// search attributes.
			StaticSummary: "Benchmark no-op run " + strconv.Itoa(i), StaticDetails: "- `starter bench`: one local activity that does nothing",
			TypedSearchAttributes: workflows.BenchSearchAttributes(id, strconv.Itoa(i))},
			wf)
		if err != nil {
			return err
		}
		err = wr.Get(ctx, nil)
		lat[i] = time.Since(t0)
		return err
	})
	return lat, float64(n) / time.Since(start).Seconds(), err
}
