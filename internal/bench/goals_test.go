package bench

import (
	"strings"
	"testing"
	"time"
)

// TestGoalsAreRatiosToTheBaseline: each goal divides by the engine's cost
// for the same shape (SPEC §7) — ingestion by the no-op run with a lead's
// status upsert, not the bare no-op; fan-out by the no-op parent → child
// hop, not half the no-op peak.
func TestGoalsAreRatiosToTheBaseline(t *testing.T) {
	r := Result{NoopRate: 80, NoopStatusRate: 60, HalfRate: 40, IngestRate: 57, HalfNoopP99: 20 * time.Millisecond, HalfSTLp99: 31 * time.Millisecond,
		FanOutN: 600, NoopHopRate: 30, FanOutRate: 23}
	g := r.Goals()
	if len(g) != 3 {
		t.Fatalf("goals %+v", g)
	}
	for i, want := range []struct {
		ratio float64
		met   bool
	}{{0.95, true}, {1.55, false}, {23.0 / 30, false}} {
		if d := g[i].Ratio - want.ratio; d > 1e-9 || d < -1e-9 || g[i].Met() != want.met {
			t.Errorf("%s: %.3f met %v, want %.3f %v", g[i], g[i].Ratio, g[i].Met(), want.ratio, want.met)
		}
	}
	if g[1].Verdict() != "1.55  missed" || g[0].String() != "ingestion ÷ no-op with a lead's status upsert, peak rates ≥ 0.9" ||
		g[2].String() != "fan-out leads/s ÷ no-op parent → child hops/s ≥ 0.8" {
		t.Fatalf("%q %q %q", g[1].Verdict(), g[0].String(), g[2].String())
	}
	// A ratio exactly at its bound meets the goal.
	at := Result{NoopRate: 200, NoopStatusRate: 100, HalfRate: 100, IngestRate: 90, HalfNoopP99: 20 * time.Millisecond, HalfSTLp99: 30 * time.Millisecond,
		FanOutN: 600, NoopHopRate: 50, FanOutRate: 40}
	for _, g := range at.Goals() {
		if !g.Met() {
			t.Errorf("%s at its bound (%.3f): missed", g, g.Ratio)
		}
	}
	rules := Result{RulesN: 300, PlainSTLp99: 40 * time.Millisecond, RulesSTLp99: 46 * time.Millisecond}
	if g := rules.Goals(); len(g) != 3 || g[2].String() != "speed-to-lead p99, 50 rules ÷ plain rotation ≤ 1.2" || g[2].Verdict() != "1.15  met" {
		t.Fatalf("rules goal %+v", g)
	}
	r.FanOutN, r.IngestRate = 0, 0
	if g := r.Goals(); len(g) != 2 || g[0].Met() {
		t.Fatalf("a skipped phase meets nothing: %+v", g)
	}
	if !strings.Contains(r.Table(), "| goal: speed-to-lead p99 ÷ no-op p99, both at half the peak ≤ 1.5") {
		t.Fatalf("table:\n%s", r.Table())
	}
}
