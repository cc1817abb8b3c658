// Package bench measures a running leadrelay stack (SPEC §7): the engine's
// ceiling with a no-op workflow started as ingestion starts its runs (the
// baseline), then ingestion through the real API, on the same server, in one
// run so the numbers can be compared; and the goals as ratios of the
// two (Goals).
package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/leadrelay/leadrelay/activities"
	"github.com/leadrelay/leadrelay/internal/apiclient"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/workflows"
)

// Options say what to measure against which stack. Sources spreads the posts
// over several vendor keys, each with its own rate limit, so that limit does
// not cap the throughput measured.
type Options struct {
	API        string // base URL of the API
	AdminToken string
	Temporal   client.Client
	// WorkerOptions configure the no-op baseline's in-process worker: the
	// product's own (app.WorkerOptions), so the baseline is no faster or
	// slower than a real worker would be.
	WorkerOptions worker.Options
	TaskQueue     string
	DB            store.DB // the stack's database: links sub-agencies, reads routing outcomes
	Noop          int      // no-op workflows to run
	Leads         int      // leads to post as fast as the API takes them (throughput)
	PacedLeads    int      // leads to post at PacedRate (latency without a backlog)
	PacedRate     float64
	// HalfPeakLeads is how many no-op runs, then leads, go at half the
	// baseline's peak rate: the speed-to-lead goal's phase (0: PacedLeads).
	HalfPeakLeads int
	Concurrency   int
	Sources       int // vendor keys to spread posts over (each has its own rate limit)
	FanOutLeads   int // leads for the fan-out row (0: skip it)
	FanOutSubs    int // sub-agencies under the master
	// TransferLeads is the size of the transfer row's one transfer (0: skip it).
	TransferLeads int
	WorkerPID     int // 0: RSS not measured
	Log           io.Writer
}

// Result holds one run's numbers together with the sizes they came from,
// so a report never quotes a rate without its sample.
type Result struct {
	NoopRate                 float64
	NoopP50, NoopP99         time.Duration // start → completion of one no-op run, at full load
	IngestRate               float64
	STLp50, STLp95, STLp99   time.Duration // paced phase
	HTTPp50, HTTPp99         time.Duration // paced phase
	LoadSTLp50, LoadSTLp99   time.Duration // throughput phase: includes the backlog
	LoadHTTPp50, LoadHTTPp99 time.Duration
	FanOutRate               float64
	// NoopHopRate is no-op parent → child pairs per second (NoopHopWorkflow):
	// what the engine allows a lead passed down one level, as a child run.
	NoopHopRate           float64
	FanOutSpread          int   // max − min leads per sub-agency
	MaxHistory            int64 // events in the largest run of the fan-out
	TransferRate          float64
	TransferHistory       int64 // events in the transfer's run
	TransferN             int
	FanOutN, FanOutSubs   int
	RateLimited           int64
	WorkerPeakRSS         int64 // bytes, 0 if unknown
	NoopN, LeadsN, PacedN int
	PacedRate             float64
	Conc                  int

	// At half the no-op peak rate (HalfRate): no-op runs, then leads.
	HalfRate                           float64
	HalfN                              int
	HalfNoopP50, HalfNoopP99           time.Duration
	HalfSTLp50, HalfSTLp95, HalfSTLp99 time.Duration
	HalfHTTPp50, HalfHTTPp99           time.Duration
}

func (o *Options) logf(format string, a ...any) {
	if o.Log != nil {
		// Progress only: a lost line must not stop a benchmark.
		_, _ = fmt.Fprintf(o.Log, format+"\n", a...)
	}
}

// Run measures the phases in a fixed order on a fresh tenant, so runs are
// comparable and never count another run's leads. On error, the Result holds
// the phases that finished.
func Run(ctx context.Context, o Options) (Result, error) {
	r := Result{NoopN: o.Noop, LeadsN: o.Leads, PacedN: o.PacedLeads, PacedRate: o.PacedRate, Conc: o.Concurrency,
		HalfN: cmp.Or(o.HalfPeakLeads, o.PacedLeads)}
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	var err error
	if err = noop(ctx, o, run, &r); err != nil {
		return r, err
	}
	t, err := newTenant(ctx, o, run)
	if err != nil {
		return r, err
	}
	// Half the peak first, right after the baseline's own phase at that rate.
	stl, answer, err := t.latency(ctx, o, "h", r.HalfN, r.HalfRate, &r.RateLimited)
	if err != nil {
		return r, err
	}
	r.HalfSTLp50, r.HalfSTLp95, r.HalfSTLp99, r.HalfHTTPp50, r.HalfHTTPp99 = stl[0], stl[1], stl[2], answer[0], answer[1]
	if stl, answer, err = t.latency(ctx, o, "p", o.PacedLeads, o.PacedRate, &r.RateLimited); err != nil {
		return r, err
	}
	r.STLp50, r.STLp95, r.STLp99, r.HTTPp50, r.HTTPp99 = stl[0], stl[1], stl[2], answer[0], answer[1]
	o.logf("throughput: %d leads over %d vendor keys at concurrency %d…", o.Leads, o.Sources, o.Concurrency)
	load, err := t.post(ctx, o, "t", o.Leads, 0, &r.RateLimited)
	if err != nil {
		return r, err
	}
	r.IngestRate = load.rate
	r.LoadSTLp50, r.LoadSTLp99 = pct(load.stl, 50), pct(load.stl, 99)
	r.LoadHTTPp50, r.LoadHTTPp99 = pct(load.answer, 50), pct(load.answer, 99)
	if o.FanOutLeads > 0 {
		o.logf("fan-out: %d leads over %d sub-agencies…", o.FanOutLeads, o.FanOutSubs)
		if err := fanOut(ctx, o, run, &r); err != nil {
			return r, err
		}
	}
	if o.TransferLeads > 0 {
		o.logf("transfer: %d leads from a master to a sub-agency…", o.TransferLeads)
		if err := transfer(ctx, o, run, &r); err != nil {
			return r, err
		}
	}
	if o.WorkerPID > 0 {
		r.WorkerPeakRSS = peakRSS(o.WorkerPID)
	}
	return r, nil
}

// fanOut measures a master passing leads down to o.FanOutSubs sub-agencies,
// each rotating them over two staff of its own: one parent and one child run
// per lead. The links are made directly in Postgres; the invitation flow is
// not what is measured.
func fanOut(ctx context.Context, o Options, run string, r *Result) error {
	r.FanOutN, r.FanOutSubs = o.FanOutLeads, o.FanOutSubs
	admin := o.client()
	master, _, err := orgWithStaff(ctx, admin, "fan master "+run, 0)
	if err != nil {
		return err
	}
	subs := make([]string, o.FanOutSubs)
	for i := range subs {
		sub, owner, err := orgWithStaff(ctx, admin, fmt.Sprintf("fan sub %d %s", i, run), 2)
		if err != nil {
			return err
		}
		if _, err := owner.PutSource(ctx, sub.ID, "fan", map[string]any{"name": "Fan", "routing": map[string]string{"mode": "staff_evenly"}}); err != nil {
			return err
		}
		if err := store.New(o.DB).LinkOrgs(ctx, master.ID, sub.ID); err != nil {
			return err
		}
		subs[i] = sub.ID
	}
	src, err := admin.As(master.Owner.Token).PutSource(ctx, master.ID, "fan", map[string]any{"name": "Fan",
		"routing": map[string]any{"mode": "sub_agencies_evenly", "sub_agencies": subs}})
	if err != nil {
		return err
	}
	t := &tenant{api: admin}
	t.keys, t.sourceIDs = []string{src.APIKey}, []string{src.ID}
	p, err := t.post(ctx, o, "f", o.FanOutLeads, 0, &r.RateLimited)
	if err != nil {
		return err
	}
	r.FanOutRate = p.rate
	holders, err := leadHolders(ctx, o.DB, src.ID)
	if err != nil {
		return err
	}
	per := map[string]int{}
	var ids []string
	for id, h := range holders {
		per[h]++
		ids = append(ids, workflows.LeadWorkflowID(id), workflows.HopWorkflowID(id, h))
	}
	lo, hi := o.FanOutLeads, 0
	for _, s := range subs {
		lo, hi = min(lo, per[s]), max(hi, per[s])
	}
	r.FanOutSpread = hi - lo
	var mu sync.Mutex
	return parallel(len(ids), 16, func(i int) error {
		d, err := o.Temporal.DescribeWorkflowExecution(ctx, ids[i], "")
		if err != nil {
			return fmt.Errorf("describe %s: %w", ids[i], err)
		}
		mu.Lock()
		r.MaxHistory = max(r.MaxHistory, d.WorkflowExecutionInfo.GetHistoryLength())
		mu.Unlock()
		return nil
	})
}

// parallel runs fn(i) for i < n with c in flight.
func parallel(n, c int, fn func(i int) error) error {
	var wg sync.WaitGroup
	var first atomic.Value
	next := atomic.Int64{}
	for w := 0; w < max(1, c); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || first.Load() != nil {
					return
				}
				if err := fn(i); err != nil {
					first.CompareAndSwap(nil, err)
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := first.Load().(error); err != nil {
		return err
	}
	return nil
}

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
	w.RegisterActivity(&activities.Activities{})
	if err := w.Start(); err != nil {
		return err
	}
	defer w.Stop()
	o.logf("no-op workflows: %d at concurrency %d…", o.Noop, o.Concurrency)
	lat, rate, err := noopRuns(ctx, o, queue, run+"/peak", o.Noop, 0)
	r.NoopRate, r.NoopP50, r.NoopP99 = rate, pct(lat, 50), pct(lat, 99)
	if err != nil {
		return err
	}
	r.HalfRate = r.NoopRate / 2
	o.logf("no-op workflows at half their peak: %d at %.1f/s…", r.HalfN, r.HalfRate)
	lat, _, err = noopRuns(ctx, o, queue, run+"/half", r.HalfN, r.HalfRate)
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

// noopRuns runs n no-op workflows, at rate per second (0: as fast as
// o.Concurrency callers go), and returns each one's start → completion and
// the rate they completed at.
func noopRuns(ctx context.Context, o Options, queue, prefix string, n int, rate float64) ([]time.Duration, float64, error) {
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
			workflows.NoopWorkflow)
		if err != nil {
			return err
		}
		err = wr.Get(ctx, nil)
		lat[i] = time.Since(t0)
		return err
	})
	return lat, float64(n) / time.Since(start).Seconds(), err
}

// paced calls fn(i) for i < n, one per tick at rate per second (with up to
// conc calls in flight, so a slow call does not hold the pace back), or,
// with rate 0, as fast as conc callers go.
func paced(n int, rate float64, conc int, fn func(i int) error) error {
	if rate <= 0 {
		return parallel(n, conc, fn)
	}
	tk := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tk.Stop()
	return parallel(n, max(16, conc), func(i int) error {
		<-tk.C
		return fn(i)
	})
}

// client is the API client the bench sets up with; one HTTP transport keeps
// connections to the API open across the many posts.
func (o Options) client() *apiclient.Client {
	return &apiclient.Client{Base: o.API, Token: o.AdminToken,
		HTTP: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}}
}

// orgWithStaff makes an org through the API with n staff users, and returns
// it with a client speaking as its owner.
func orgWithStaff(ctx context.Context, admin *apiclient.Client, name string, n int) (apiclient.NewOrg, *apiclient.Client, error) {
	dom := strings.ReplaceAll(name, " ", "-") + ".example"
	org, err := admin.CreateOrg(ctx, name, "owner@"+dom, name+" Owner")
	if err != nil {
		return org, nil, err
	}
	owner := admin.As(org.Owner.Token)
	for i := 0; i < n; i++ {
		if _, err := owner.CreateUser(ctx, org.ID, fmt.Sprintf("s%d@%s", i, dom), fmt.Sprintf("Staff %d", i), "staff"); err != nil {
			return org, nil, err
		}
	}
	return org, owner, nil
}

// tenant is where a phase posts: vendor keys to spread over, their sources.
type tenant struct {
	api       *apiclient.Client
	keys      []string
	sourceIDs []string
}

// newTenant makes an org with 7 staff and o.Sources staff_evenly sources:
// the posts spread over their vendor keys.
func newTenant(ctx context.Context, o Options, run string) (*tenant, error) {
	admin := o.client()
	org, owner, err := orgWithStaff(ctx, admin, "bench "+run, 7)
	if err != nil {
		return nil, err
	}
	t := &tenant{api: admin}
	for i := 0; i < max(1, o.Sources); i++ {
		src, err := owner.PutSource(ctx, org.ID, fmt.Sprintf("bench%d", i), map[string]any{"name": "Bench", "routing": map[string]string{"mode": "staff_evenly"}})
		if err != nil {
			return nil, err
		}
		t.keys, t.sourceIDs = append(t.keys, src.APIKey), append(t.sourceIDs, src.ID)
	}
	return t, nil
}

type phase struct {
	stl, answer []time.Duration
	rate        float64 // leads/s from the first post to the last assignment
}

// post sends n leads (external ids prefix0..), at rate per second or, with
// rate 0, as fast as o.Concurrency posters go; then waits until Postgres shows
// every one routed and measures post → routed_at.
func (t *tenant) post(ctx context.Context, o Options, prefix string, n int, rate float64, limited *int64) (phase, error) {
	var p phase
	sent := make([]time.Time, n)
	answer := make([]time.Duration, n)
	start := time.Now()
	err := paced(n, rate, o.Concurrency, func(i int) error {
		body := map[string]any{"external_id": fmt.Sprintf("%s%d", prefix, i), "first_name": "Bench", "email": fmt.Sprintf("b%d@example.com", i)}
		vendor := t.api.As(t.keys[i%len(t.keys)])
		for {
			t0 := time.Now()
			_, err := vendor.PostLead(ctx, body)
			var ae *apiclient.Error
			if errors.As(err, &ae) && ae.Status == http.StatusTooManyRequests {
				atomic.AddInt64(limited, 1)
				time.Sleep(200 * time.Millisecond)
				continue
			}
			if err != nil {
				return err
			}
			sent[i], answer[i] = t0, time.Since(t0)
			return nil
		}
	})
	if err != nil {
		return p, err
	}
	var routed map[string]time.Time
	deadline := time.Now().Add(10 * time.Minute)
	for {
		all, err := RoutedTimes(ctx, o.DB, t.sourceIDs)
		if err != nil {
			return p, err
		}
		routed = map[string]time.Time{}
		for k, v := range all {
			if strings.HasPrefix(k, prefix) {
				routed[k] = v
			}
		}
		if len(routed) >= n {
			break
		}
		if time.Now().After(deadline) {
			return p, fmt.Errorf("only %d of %d leads routed after 10 minutes", len(routed), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var last time.Time
	for i := range sent {
		at := routed[fmt.Sprintf("%s%d", prefix, i)]
		if at.After(last) {
			last = at
		}
		p.stl = append(p.stl, at.Sub(sent[i]))
	}
	p.answer = answer
	p.rate = float64(n) / last.Sub(start).Seconds()
	return p, nil
}

// latency posts n leads at rate (below capacity: no backlog) and returns
// speed-to-lead's p50/p95/p99 and the HTTP answer's p50/p99.
func (t *tenant) latency(ctx context.Context, o Options, prefix string, n int, rate float64, limited *int64) (
	stl [3]time.Duration, answer [2]time.Duration, err error) {
	o.logf("speed-to-lead: %d leads at %.1f/s…", n, rate)
	p, err := t.post(ctx, o, prefix, n, rate, limited)
	return [3]time.Duration{pct(p.stl, 50), pct(p.stl, 95), pct(p.stl, 99)}, [2]time.Duration{pct(p.answer, 50), pct(p.answer, 99)}, err
}

func pct(d []time.Duration, p int) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s) == 0 {
		return 0
	}
	return s[min(len(s)-1, (len(s)*p+99)/100-1)]
}

// peakRSS reads VmHWM (the high-water mark of resident memory) of a process.
func peakRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

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
	row("no-op start → completion p50/p99 ("+half+")", ms(r.HalfNoopP50)+" / "+ms(r.HalfNoopP99))
	row("speed-to-lead p50/p95/p99 ("+half+")", ms(r.HalfSTLp50)+" / "+ms(r.HalfSTLp95)+" / "+ms(r.HalfSTLp99))
	row("HTTP answer p50/p99 ("+half+")", ms(r.HalfHTTPp50)+" / "+ms(r.HalfHTTPp99))
	row(fmt.Sprintf("speed-to-lead p50/p95/p99 (%d at %.0f/s)", r.PacedN, r.PacedRate), ms(r.STLp50)+" / "+ms(r.STLp95)+" / "+ms(r.STLp99))
	row(fmt.Sprintf("HTTP answer p50/p99 (%d at %.0f/s)", r.PacedN, r.PacedRate), ms(r.HTTPp50)+" / "+ms(r.HTTPp99))
	row(fmt.Sprintf("ingestion, post → assigned (%d leads)", r.LeadsN), fmt.Sprintf("%.1f leads/s", r.IngestRate))
	row("speed-to-lead p50/p99 at full load (backlog)", ms(r.LoadSTLp50)+" / "+ms(r.LoadSTLp99))
	row("HTTP answer p50/p99 at full load", ms(r.LoadHTTPp50)+" / "+ms(r.LoadHTTPp99))
	if r.FanOutN > 0 {
		row(fmt.Sprintf("no-op hop: parent → child, peak (%d pairs)", r.FanOutN), fmt.Sprintf("%.1f pairs/s", r.NoopHopRate))
		row(fmt.Sprintf("fan-out over %d sub-agencies (%d leads)", r.FanOutSubs, r.FanOutN), fmt.Sprintf("%.1f leads/s", r.FanOutRate))
		row("fan-out leads/s ÷ no-op hop pairs/s (not a goal: the child's cost)", fmt.Sprintf("%.2f", ratio(r.FanOutRate, r.NoopHopRate)))
		row("fan-out: max − min leads per sub-agency", strconv.Itoa(r.FanOutSpread))
		row("fan-out: largest history (events)", strconv.FormatInt(r.MaxHistory, 10))
	}
	if r.TransferN > 0 {
		row(fmt.Sprintf("transfer, request → all moved (%d leads)", r.TransferN), fmt.Sprintf("%.1f leads/s", r.TransferRate))
		row("transfer: largest history (events)", strconv.FormatInt(r.TransferHistory, 10))
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
