// Package bench measures a running leadrelay stack (SPEC §7): the engine's
// ceiling with a no-op workflow started as ingestion starts its runs (the
// baseline), then ingestion through the real API, on the same server, in one
// run so the numbers can be compared; and the goals as ratios of the
// two (Goals).
package bench

import (
	"cmp"
	"context"
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

	"github.com/leadrelay/leadrelay/internal/apiclient"
	"github.com/leadrelay/leadrelay/internal/store"
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
	// ConsoleLeads is the size of the org whose console pages are timed
	// (0: skip the row); ConsoleReads how many times each page is read.
	ConsoleLeads, ConsoleReads int
	// RulesLeads are posted at RulesRate, alternating a plain rotation and
	// a source of rules (0: skip the row; see rulesRow).
	RulesLeads int
	RulesRate  float64
	// WebhookEvents is how many lead.received events the webhook row
	// delivers to a receiver in this process (0: skip the row).
	WebhookEvents int
	// Alerts keeps the ingestion and fan-out tenants' staff on instant
	// alerts: each lead then costs an alert run and an email beside its
	// own run, which the goals' no-op baselines do not (off by default).
	Alerts    bool
	WorkerPID int // 0: RSS not measured
	Log       io.Writer
}

// Result holds one run's numbers together with the sizes they came from,
// so a report never quotes a rate without its sample.
type Result struct {
	NoopRate         float64
	NoopP50, NoopP99 time.Duration // start → completion of one no-op run, at full load
	// NoopStatusRate is the peak rate of no-op runs that also make a lead's
	// one LeadStatus upsert (NoopStatusWorkflow): the ingestion goal's
	// baseline.
	NoopStatusRate               float64
	NoopStatusP50, NoopStatusP99 time.Duration
	IngestRate                   float64
	STLp50, STLp95, STLp99       time.Duration // paced phase
	HTTPp50, HTTPp99             time.Duration // paced phase
	LoadSTLp50, LoadSTLp99       time.Duration // throughput phase: includes the backlog
	LoadHTTPp50, LoadHTTPp99     time.Duration
	FanOutRate                   float64
	// NoopHopRate is no-op parent → child pairs per second (NoopHopWorkflow):
	// what the engine allows a lead passed down one level, as a child run.
	NoopHopRate         float64
	FanOutSpread        int   // max − min leads per sub-agency
	MaxHistory          int64 // events in the largest run of the fan-out
	TransferRate        float64
	TransferHistory     int64 // events in the transfer's run
	TransferN           int
	FanOutN, FanOutSubs int
	RateLimited         int64
	WorkerPeakRSS       int64 // bytes, 0 if unknown
	// ConsolePages are the console's pages timed for an org of ConsoleN leads.
	ConsolePages          []ConsolePage
	ConsoleN              int
	NoopN, LeadsN, PacedN int
	PacedRate             float64
	Conc                  int

	// At half the no-op peak rate (HalfRate): no-op runs, then leads.
	HalfRate                           float64
	HalfN                              int
	HalfNoopP50, HalfNoopP99           time.Duration
	HalfSTLp50, HalfSTLp95, HalfSTLp99 time.Duration
	HalfHTTPp50, HalfHTTPp99           time.Duration
	// Breakdown is where the half-peak phase's leads spent their time.
	Breakdown Breakdown

	// The rules row: RulesN leads at RulesRate, half through a plain
	// staff_evenly rotation, half through rules and a weighted group.
	RulesN                   int
	RulesRate                float64
	PlainSTLp50, PlainSTLp99 time.Duration
	RulesSTLp50, RulesSTLp99 time.Duration

	// The webhook row: WebhookN events delivered at WebhookRate, and the
	// time from each event to its first attempt (0 N: not measured).
	WebhookN                         int
	WebhookRate                      float64
	WebhookFirstP50, WebhookFirstP99 time.Duration
}

func (o *Options) logf(format string, a ...any) {
	if o.Log != nil {
		// Progress only: a lost line must not stop a benchmark.
		_, _ = fmt.Fprintf(o.Log, format+"\n", a...)
	}
}

// breakdownSample is how many of the half-peak phase's runs the breakdown
// reads the history of.
const breakdownSample = 200

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
	stl, answer, half, err := t.latency(ctx, o, "h", r.HalfN, r.HalfRate, &r.RateLimited)
	if err != nil {
		return r, err
	}
	r.HalfSTLp50, r.HalfSTLp95, r.HalfSTLp99, r.HalfHTTPp50, r.HalfHTTPp99 = stl[0], stl[1], stl[2], answer[0], answer[1]
	if r.Breakdown, err = t.breakdown(ctx, o, "h", half, breakdownSample); err != nil {
		return r, err
	}
	if stl, answer, _, err = t.latency(ctx, o, "p", o.PacedLeads, o.PacedRate, &r.RateLimited); err != nil {
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
	if o.ConsoleLeads > 0 {
		o.logf("console: %d leads in one org, each page read %d times…", o.ConsoleLeads, o.ConsoleReads)
		if err := consolePages(ctx, o, run, &r); err != nil {
			return r, err
		}
	}
	if o.RulesLeads > 0 {
		if err := rulesRow(ctx, o, run, &r); err != nil {
			return r, err
		}
	}
	if o.WebhookEvents > 0 {
		if err := webhookRow(ctx, o, run, &r); err != nil {
			return r, err
		}
	}
	if o.WorkerPID > 0 {
		r.WorkerPeakRSS = peakRSS(o.WorkerPID)
	}
	return r, nil
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

// alertsOff turns instant alerts off for the org's users: a phase that
// measures routing or moving leads against the engine's no-op runs must not
// start an alert run per lead beside them.
func alertsOff(ctx context.Context, db store.DB, orgID string) error {
	_, err := db.Exec(ctx, `UPDATE users SET instant_alerts = false WHERE org_id = $1`, orgID)
	return err
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
