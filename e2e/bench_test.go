package e2e

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/leadrelay/leadrelay/internal/app"
	"github.com/leadrelay/leadrelay/internal/bench"
)

// TestBenchRunsAgainstTheStack checks the benchmark's plumbing with small
// numbers; its figures are measured by `starter bench`, never asserted here.
func TestBenchRunsAgainstTheStack(t *testing.T) {
	s := up(t)
	r, err := bench.Run(context.Background(), bench.Options{API: s.api.URL, AdminToken: s.admin, Temporal: s.deps.Temporal,
		TaskQueue: s.deps.Cfg.TaskQueue, WorkerOptions: app.WorkerOptions(), DB: s.deps.Pool, Noop: 20, Leads: 30, PacedLeads: 10, PacedRate: 20, HalfPeakLeads: 12, FanOutLeads: 12, FanOutSubs: 3, TransferLeads: 1200, ConsoleLeads: 3000, ConsoleReads: 5, RulesLeads: 20, RulesRate: 20, WebhookEvents: 20, Concurrency: 8, Sources: 2, WorkerPID: os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	if r.FanOutRate <= 0 || r.FanOutSpread != 0 || r.MaxHistory < 10 {
		t.Fatalf("fan-out row %+v", r)
	}
	if r.TransferRate <= 0 || r.TransferN != 1200 || r.TransferHistory < 10 || r.TransferHistory > 5000 {
		t.Fatalf("transfer row %+v", r)
	}
	if r.NoopP50 <= 0 || r.NoopP99 < r.NoopP50 || r.HalfNoopP50 <= 0 || r.HalfNoopP99 < r.HalfNoopP50 {
		t.Fatalf("no-op latency %+v", r)
	}
	if r.NoopStatusRate <= 0 || r.NoopStatusP50 <= 0 || r.NoopStatusP99 < r.NoopStatusP50 {
		t.Fatalf("no-op with a status upsert %+v", r)
	}
	// The breakdown's first two parts meet end to end as speed-to-lead:
	// their medians cannot add up to far more than its p99 unless a part
	// reads the wrong clock or event.
	if b := r.Breakdown; b.N != 12 || b.StartP50 <= 0 || b.RouteP50 <= 0 || b.CloseP50 <= 0 || b.StartP99 < b.StartP50 ||
		b.RouteP99 < b.RouteP50 || b.CloseP99 < b.CloseP50 || b.StartP50+b.RouteP50 > 2*r.HalfSTLp99 {
		t.Fatalf("breakdown %+v (speed-to-lead p50 %v p99 %v)", b, r.HalfSTLp50, r.HalfSTLp99)
	}
	if r.HalfN != 12 || r.HalfRate != r.NoopRate/2 || r.HalfSTLp50 <= 0 || r.HalfSTLp99 < r.HalfSTLp50 || r.HalfHTTPp50 <= 0 {
		t.Fatalf("half-peak phase %+v", r)
	}
	if len(r.ConsolePages) != 3 || r.ConsoleN != 3000 {
		t.Fatalf("console rows %+v", r.ConsolePages)
	}
	// The seeded org's thousands of assignments owe no email: their alert
	// runs would slow every test after this one on the shared stack.
	var owed int
	if err := s.deps.Pool.QueryRow(context.Background(), `SELECT count(*) FROM alerts a JOIN leads l ON l.id = a.lead_id
		WHERE l.workflow_id = 'lead/console'`).Scan(&owed); err != nil || owed != 0 {
		t.Fatalf("the console bench's seeded leads owe %d instant alerts (%v)", owed, err)
	}
	// Nor do the ingestion and fan-out leads (Alerts unset): an alert run per
	// lead would be measured against no-op runs that start none.
	if err := s.deps.Pool.QueryRow(context.Background(), `SELECT count(*) FROM alerts a JOIN orgs o ON o.id = a.org_id
		WHERE o.name ~ '^(bench|fan sub [0-9]+) [0-9a-z]+$'`).Scan(&owed); err != nil || owed != 0 {
		t.Fatalf("the bench's ingestion and fan-out leads owe %d instant alerts (%v)", owed, err)
	}
	for _, p := range r.ConsolePages {
		if p.N != 5 || p.P50 <= 0 || p.P99 < p.P50 || p.Status != 200 {
			t.Fatalf("console page %+v", p)
		}
	}
	if g := r.Goals(); len(g) != 7 || g[0].Ratio <= 0 || g[1].Ratio <= 0 || g[2].Ratio <= 0 {
		t.Fatalf("goals %+v", g)
	}
	if r.RulesN != 20 || r.PlainSTLp50 <= 0 || r.PlainSTLp99 < r.PlainSTLp50 || r.RulesSTLp50 <= 0 || r.RulesSTLp99 < r.RulesSTLp50 {
		t.Fatalf("rules row %+v", r)
	}
	if r.WebhookN != 20 || r.WebhookRate <= 0 || r.WebhookFirstP50 <= 0 || r.WebhookFirstP99 < r.WebhookFirstP50 {
		t.Fatalf("webhook row %+v", r)
	}
	if r.NoopRate <= 0 || r.IngestRate <= 0 || r.STLp50 <= 0 || r.STLp99 < r.STLp50 || r.HTTPp50 <= 0 || r.WorkerPeakRSS <= 0 {
		t.Fatalf("implausible result %+v", r)
	}
	tab := r.Table()
	for _, want := range []string{"no-op baseline: peak rate", "no-op start → completion p50/p99 at the peak",
		"no-op start → completion p50/p99 (12 at", "speed-to-lead p50/p95/p99 (12 at", "goal: ingestion ÷ no-op with a lead's status upsert, peak rates ≥ 0.9",
		"no-op + a lead's status upsert: peak rate (20 runs)", "where it goes (12 sampled): post → run started",
		"run started → routed (first task, routing transaction)", "routed → run closed (status upsert, completion)",
		"goal: speed-to-lead p99 ÷ no-op p99, both at half the peak ≤ 1.5", "goal: fan-out leads/s ÷ no-op parent → child hops/s ≥ 0.8",
		"speed-to-lead p50/p95/p99 (10 at 20/s)", "HTTP answer p50/p99", "worker peak RSS", "fan-out over 3 sub-agencies", "largest history",
		"transfer, request → all moved (1200 leads)", "console: leads page, a rep's own leads p50/p99, server time (3000 leads, 5 reads)",
		"goal: console manager pipeline: p99 server time ÷ 100 ms ≤ 1.0",
		"speed-to-lead p50/p99, plain rotation (10 at 10/s, interleaved)", "speed-to-lead p50/p99, 49 rules + 200-member group",
		"goal: speed-to-lead p99, 50 rules ÷ plain rotation ≤ 1.2", "webhooks: delivery rate (20 events, one endpoint)",
		"webhooks: event → first attempt p50/p99"} {
		if !strings.Contains(tab, want) {
			t.Fatalf("table lacks %q:\n%s", want, tab)
		}
	}
}
