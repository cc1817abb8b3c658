package bench

import (
	"strings"
	"testing"
	"time"
)

func TestScaleGoalsBoundReadsAndKeepRates(t *testing.T) {
	r := ScaleResult{N: 1000000, Small: 1000, Rows: []ScaleRow{
		{Name: "lead read", Bound: ScaleGoalRead, Empty: ScaleMeasure{P99: 2 * time.Millisecond}, AtN: ScaleMeasure{P99: 20 * time.Millisecond}},
		{Name: "list assigned_to=one rep", Bound: ScaleGoalRead, Empty: ScaleMeasure{P99: 3 * time.Millisecond}, AtN: ScaleMeasure{P99: 911 * time.Millisecond}},
		{Name: "console leads page", Bound: ConsoleGoal, AtN: ScaleMeasure{P99: 60 * time.Millisecond}},
		{Name: "bulk assign", Rate: true, Empty: ScaleMeasure{Rate: 1000}, AtN: ScaleMeasure{Rate: 800}},
		{Name: "transfer", Rate: true, Empty: ScaleMeasure{Rate: 1000}, AtN: ScaleMeasure{Rate: 790}},
		{Name: "claim", Bound: ScaleGoalRead, Empty: ScaleMeasure{P99: time.Millisecond}},
	}}
	want := []struct {
		ratio float64
		met   bool
	}{{1, true}, {911.0 / 20, false}, {0.6, true}, {0.8, true}, {0.79, false}, {0, false}}
	g := r.Goals()
	if len(g) != len(want) {
		t.Fatalf("goals %+v", g)
	}
	for i, w := range want {
		if d := g[i].Ratio - w.ratio; d > 1e-9 || d < -1e-9 || g[i].Met() != w.met {
			t.Errorf("%s: %.3f met %v, want %.3f %v", g[i], g[i].Ratio, g[i].Met(), w.ratio, w.met)
		}
	}
	if g[0].String() != "lead read: p99 at N ÷ 20ms ≤ 1.0" || g[3].String() != "bulk assign: rate at N ÷ empty ≥ 0.8" {
		t.Fatalf("%q %q", g[0], g[3])
	}
	tab := r.Table()
	for _, s := range []string{"| list assigned_to=one rep", "3.0 ms", "911.0 ms", "45.55  missed", "| 1000.0 leads/s", "0.79  missed", "N = 1000000"} {
		if !strings.Contains(tab, s) {
			t.Errorf("table lacks %q:\n%s", s, tab)
		}
	}
}
