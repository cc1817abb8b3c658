package bench

import (
	"strings"
	"testing"
	"time"
)

func TestGoalsAreRatiosToTheBaseline(t *testing.T) {
	r := Result{NoopRate: 60, HalfRate: 30, IngestRate: 57, HalfNoopP99: 20 * time.Millisecond, HalfSTLp99: 31 * time.Millisecond,
		FanOutN: 600, FanOutRate: 23}
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
	if g[1].Verdict() != "1.55  missed" || g[0].String() != "ingestion ÷ no-op peak rate ≥ 0.9" {
		t.Fatalf("%q %q", g[1].Verdict(), g[0].String())
	}
	// A ratio exactly at its bound meets the goal.
	at := Result{NoopRate: 100, HalfRate: 50, IngestRate: 90, HalfNoopP99: 20 * time.Millisecond, HalfSTLp99: 30 * time.Millisecond,
		FanOutN: 600, FanOutRate: 40}
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
