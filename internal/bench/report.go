package bench

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Table renders the result as the one table `starter bench` prints: what
// was measured, then the goals' ratios.
func (r Result) Table() string {
	var b strings.Builder
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
	row := func(k, v string) { fmt.Fprintf(&b, "| %-66s | %29s |\n", k, v) }
	fmt.Fprintf(&b, "| %-66s | %29s |\n|%s|%s|\n", "measure", "value", strings.Repeat("-", 68), strings.Repeat("-", 31))
	half := fmt.Sprintf("%d at %.1f/s, half the peak", r.HalfN, r.HalfRate)
	row(fmt.Sprintf("no-op baseline: peak rate (%d runs, %d in flight)", r.NoopN, r.Conc), fmt.Sprintf("%.1f wf/s", r.NoopRate))
	row("no-op start → completion p50/p99 at the peak", ms(r.NoopP50)+" / "+ms(r.NoopP99))
	row(fmt.Sprintf("no-op + a lead's status upsert: peak rate (%d runs)", r.NoopN), fmt.Sprintf("%.1f wf/s", r.NoopStatusRate))
	row("no-op + status upsert start → completion p50/p99 at the peak", ms(r.NoopStatusP50)+" / "+ms(r.NoopStatusP99))
	row("no-op start → completion p50/p99 ("+half+")", ms(r.HalfNoopP50)+" / "+ms(r.HalfNoopP99))
	row("speed-to-lead p50/p95/p99 ("+half+")", ms(r.HalfSTLp50)+" / "+ms(r.HalfSTLp95)+" / "+ms(r.HalfSTLp99))
	row("HTTP answer p50/p99 ("+half+")", ms(r.HalfHTTPp50)+" / "+ms(r.HalfHTTPp99))
	if b := r.Breakdown; b.N > 0 {
		row(fmt.Sprintf("  where it goes (%d sampled): post → run started p50/p99", b.N), ms(b.StartP50)+" / "+ms(b.StartP99))
		row("  run started → routed (first task, routing transaction) p50/p99", ms(b.RouteP50)+" / "+ms(b.RouteP99))
		row("  routed → run closed (status upsert, completion) p50/p99", ms(b.CloseP50)+" / "+ms(b.CloseP99))
	}
	row(fmt.Sprintf("speed-to-lead p50/p95/p99 (%d at %.0f/s)", r.PacedN, r.PacedRate), ms(r.STLp50)+" / "+ms(r.STLp95)+" / "+ms(r.STLp99))
	row(fmt.Sprintf("HTTP answer p50/p99 (%d at %.0f/s)", r.PacedN, r.PacedRate), ms(r.HTTPp50)+" / "+ms(r.HTTPp99))
	row(fmt.Sprintf("ingestion, post → assigned (%d leads)", r.LeadsN), fmt.Sprintf("%.1f leads/s", r.IngestRate))
	row("speed-to-lead p50/p99 at full load (backlog)", ms(r.LoadSTLp50)+" / "+ms(r.LoadSTLp99))
	row("HTTP answer p50/p99 at full load", ms(r.LoadHTTPp50)+" / "+ms(r.LoadHTTPp99))
	row("ingestion ÷ bare no-op peak rate (not a goal: no status upsert)", fmt.Sprintf("%.2f", ratio(r.IngestRate, r.NoopRate)))
	if r.FanOutN > 0 {
		row(fmt.Sprintf("no-op hop: parent → child, peak (%d pairs)", r.FanOutN), fmt.Sprintf("%.1f pairs/s", r.NoopHopRate))
		row(fmt.Sprintf("fan-out over %d sub-agencies (%d leads)", r.FanOutSubs, r.FanOutN), fmt.Sprintf("%.1f leads/s", r.FanOutRate))
		row("fan-out: max − min leads per sub-agency", strconv.Itoa(r.FanOutSpread))
		row("fan-out: largest history (events)", strconv.FormatInt(r.MaxHistory, 10))
	}
	if r.TransferN > 0 {
		row(fmt.Sprintf("transfer, request → all moved (%d leads)", r.TransferN), fmt.Sprintf("%.1f leads/s", r.TransferRate))
		row("transfer: largest history (events)", strconv.FormatInt(r.TransferHistory, 10))
	}
	for _, p := range r.ConsolePages {
		row(fmt.Sprintf("console: %s p50/p99, server time (%d leads, %d reads)", p.Name, r.ConsoleN, p.N), ms(p.P50)+" / "+ms(p.P99))
	}
	if r.RulesN > 0 {
		each := fmt.Sprintf("%d at %.0f/s, interleaved", r.RulesN/2, r.RulesRate/2)
		row("speed-to-lead p50/p99, plain rotation ("+each+")", ms(r.PlainSTLp50)+" / "+ms(r.PlainSTLp99))
		row(fmt.Sprintf("speed-to-lead p50/p99, %d rules + %d-member group", RulesNeverMatching, RulesGroupSize), ms(r.RulesSTLp50)+" / "+ms(r.RulesSTLp99))
	}
	if r.WebhookN > 0 {
		row(fmt.Sprintf("webhooks: delivery rate (%d events, one endpoint)", r.WebhookN), fmt.Sprintf("%.1f events/s", r.WebhookRate))
		row("webhooks: event → first attempt p50/p99", ms(r.WebhookFirstP50)+" / "+ms(r.WebhookFirstP99))
	}
	row("posts answered 429 (retried)", strconv.FormatInt(r.RateLimited, 10))
	rss := "not measured"
	if r.WorkerPeakRSS > 0 {
		rss = fmt.Sprintf("%.1f MiB", float64(r.WorkerPeakRSS)/(1<<20))
	}
	row("worker peak RSS", rss)
	for _, g := range r.Goals() {
		row("goal: "+g.String(), g.Verdict())
	}
	return b.String()
}
