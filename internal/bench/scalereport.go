package bench

import (
	"fmt"
	"strings"
	"time"
)

// Goals judge the scale bench as the issue states them: every read's and
// claim's p99 at N within its bound (20 ms; the console page's own 100 ms),
// and every bulk move at N at least ScaleGoalRate of its rate on the empty
// database, so what a lead costs does not grow with the org.
func (r ScaleResult) Goals() []Goal {
	var g []Goal
	for _, row := range r.Rows {
		if row.Rate {
			g = append(g, Goal{Name: row.Name + ": rate at N ÷ empty", Ratio: ratio(row.AtN.Rate, row.Empty.Rate), Bound: ScaleGoalRate, AtLeast: true})
			continue
		}
		g = append(g, Goal{Name: fmt.Sprintf("%s: p99 at N ÷ %s", row.Name, row.Bound), Ratio: durRatio(row.AtN.P99, row.Bound), Bound: 1})
	}
	return g
}

// Table renders the scale bench as `starter bench --scale` prints it: each
// measure on the empty database and at N side by side, and its goal.
func (r ScaleResult) Table() string {
	var b strings.Builder
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d.Microseconds())/1000) }
	cell := func(row ScaleRow, m ScaleMeasure) string {
		s := ms(m.P50) + " / " + ms(m.P99) + " ms"
		if row.Rate {
			s = fmt.Sprintf("%.1f leads/s", m.Rate)
		}
		if m.Note != "" {
			s += " (" + m.Note + ")"
		}
		return s
	}
	line := func(a, e, n, g string) { fmt.Fprintf(&b, "| %-58s | %-26s | %-26s | %-16s |\n", a, e, n, g) }
	line("measure (p50 / p99, or rate)", fmt.Sprintf("empty (%d leads)", r.Small), fmt.Sprintf("N = %d", r.N), "goal at N")
	fmt.Fprintf(&b, "|%s|%s|%s|%s|\n", strings.Repeat("-", 60), strings.Repeat("-", 28), strings.Repeat("-", 28), strings.Repeat("-", 18))
	goals := r.Goals()
	for i, row := range r.Rows {
		line(row.Name, cell(row, row.Empty), cell(row, row.AtN), goals[i].Verdict())
	}
	line("seeding at N (leads, timelines, claims, feed; ANALYZE)", "", r.Seed.Round(time.Second).String(), "")
	return b.String()
}
