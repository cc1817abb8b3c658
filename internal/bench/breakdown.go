package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
)

// Breakdown is where a lead's time goes, from the vendor's post to its run's
// end, each part as p50/p99 over a sample of one phase's leads. The parts
// meet end to end: post → run started is the API's (authentication, the
// intake statement, the start call); run started → routed is the first
// workflow task and the routing transaction; routed → run closed is the
// LeadStatus upsert and the completion, after speed-to-lead's clock stops.
type Breakdown struct {
	N                  int
	StartP50, StartP99 time.Duration // post → run started
	RouteP50, RouteP99 time.Duration // run started → routed_at
	CloseP50, CloseP99 time.Duration // routed_at → run closed
}

// breakdown samples up to n of phase p's leads (external ids prefix0…)
// and reads each run's start and close times from its history. Clocks: the
// bench, the API, PostgreSQL and Temporal run on one machine, so one clock.
func (t *tenant) breakdown(ctx context.Context, o Options, prefix string, p phase, n int) (Breakdown, error) {
	var b Breakdown
	rows, err := o.DB.Query(ctx, `SELECT external_id, workflow_id, routed_at FROM leads
		WHERE source_id = ANY($1::uuid[]) AND external_id LIKE $2 || '%' AND routed_at IS NOT NULL ORDER BY received_at LIMIT $3`,
		t.sourceIDs, prefix, n)
	if err != nil {
		return b, err
	}
	type sample struct {
		ext, wf string
		routed  time.Time
	}
	samples, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (sample, error) {
		var s sample
		err := r.Scan(&s.ext, &s.wf, &s.routed)
		return s, err
	})
	if err != nil {
		return b, err
	}
	var start, route, closed []time.Duration
	for _, s := range samples {
		var i int
		if _, err := fmt.Sscanf(s.ext, prefix+"%d", &i); err != nil || i >= len(p.sent) {
			continue
		}
		started, ended, err := runTimes(ctx, o.Temporal, s.wf)
		if err != nil {
			return b, err
		}
		start, route, closed = append(start, started.Sub(p.sent[i])), append(route, s.routed.Sub(started)), append(closed, ended.Sub(s.routed))
	}
	b.N = len(start)
	b.StartP50, b.StartP99 = pct(start, 50), pct(start, 99)
	b.RouteP50, b.RouteP99 = pct(route, 50), pct(route, 99)
	b.CloseP50, b.CloseP99 = pct(closed, 50), pct(closed, 99)
	return b, nil
}

// runTimes is when workflow id's latest run started and closed, from its
// history's first and last events.
func runTimes(ctx context.Context, c client.Client, id string) (started, closed time.Time, err error) {
	it := c.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return started, closed, err
		}
		if started.IsZero() {
			started = e.GetEventTime().AsTime()
		}
		closed = e.GetEventTime().AsTime()
	}
	return started, closed, nil
}
