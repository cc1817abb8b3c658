package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/leadrelay/leadrelay/internal/app"
	"github.com/leadrelay/leadrelay/internal/bench"
	"github.com/leadrelay/leadrelay/internal/config"
	"github.com/leadrelay/leadrelay/internal/devstack"
	"github.com/leadrelay/leadrelay/internal/searchattr"
	"github.com/leadrelay/leadrelay/internal/store"
)

func runBench(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	noop := fs.Int("noop", 2000, "no-op workflows for the baseline's peak rate")
	leads := fs.Int("leads", 2000, "leads to post as fast as the stack takes them (throughput)")
	paced := fs.Int("paced-leads", 300, "leads to post at --paced-rate (speed-to-lead without a backlog)")
	rate := fs.Float64("paced-rate", 10, "leads per second of the paced phase")
	half := fs.Int("half-leads", 600, "no-op runs, then leads, at half the no-op peak rate (the speed-to-lead goal)")
	conc := fs.Int("concurrency", 64, "requests and workflows in flight")
	fanLeads := fs.Int("fanout-leads", 600, "leads for the fan-out row (0 skips it)")
	fanSubs := fs.Int("fanout-subs", 20, "sub-agencies under the fan-out master")
	transferLeads := fs.Int("transfer-leads", 10000, "leads in the transfer row's one transfer (0 skips it)")
	consoleLeads := fs.Int("console-leads", 100000, "leads in the org whose console pages are timed (0 skips the row)")
	consoleReads := fs.Int("console-reads", 200, "reads of each console page")
	rulesLeads := fs.Int("rules-leads", 300, "leads for the rules row, alternating a plain rotation and 49 rules + a weighted group (0 skips it)")
	rulesRate := fs.Float64("rules-rate", 10, "leads per second of the rules row (both sources together)")
	webhookEvents := fs.Int("webhook-events", 500, "lead.received events of the webhook row, delivered to a receiver in this process (0: skip; the worker needs WEBHOOK_ALLOW_PRIVATE=true)")
	alerts := fs.Bool("alerts", false, "keep instant alerts on for the ingestion and fan-out tenants' staff (an alert run and an email per lead beside its run)")
	sources := fs.Int("sources", 16, "vendor keys to spread posts over (each is rate limited alone)")
	pid := fs.Int("pid", 0, "worker process to read peak RSS of (default: the running `starter dev`)")
	url := fs.String("url", "", "API base URL (default http://$HTTP_ADDR)")
	var scale scaleFlag
	fs.Var(&scale, "scale", "seed N leads in one org (and as many across 50 others) in a database of the bench's own, served by an API and worker in this process, and time reads, claims and moves empty vs at N: --scale (N = 1000000), --scale N or --scale=N (absent: the engine bench above)")
	scaleReads := fs.Int("scale-reads", 200, "samples of each read and claims of the --scale bench")
	scaleDB := fs.String("scale-database", "leadrelay_scale", "the --scale bench's database, dropped and made afresh on DATABASE_URL's server")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := scale.take(fs.Args()); err != nil {
		return err
	}
	if scale > 0 {
		res, err := bench.RunScale(ctx, bench.ScaleOptions{Getenv: os.Getenv, Database: *scaleDB, N: int(scale), Reads: *scaleReads, Log: os.Stderr})
		if err != nil {
			return err
		}
		fmt.Print(res.Table())
		return nil
	}
	cfg, err := config.Load(nil)
	if err != nil {
		return err
	}
	if err := cfg.Require("DATABASE_URL", "ADMIN_TOKEN"); err != nil {
		return fmt.Errorf("%w (with `starter dev` running: set -a; . .data/dev.env; set +a)", err)
	}
	if *url == "" {
		*url = "http://" + cfg.HTTPAddr
	}
	if *pid == 0 {
		if root, err := devstack.Root(); err == nil {
			if b, err := os.ReadFile(filepath.Join(root, ".data", "dev.pid")); err == nil {
				*pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
			}
		}
	}
	pool, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	tc, err := app.DialTemporal(ctx, cfg, zap.NewNop())
	if err != nil {
		return err
	}
	defer tc.Close()
	// The baseline starts with a lead's search attributes: on a server that
	// registered them a moment ago, wait until a start may carry them.
	if err := searchattr.Ensure(ctx, tc, cfg.TemporalNamespace, 2*time.Minute); err != nil {
		return err
	}
	res, err := bench.Run(ctx, bench.Options{API: strings.TrimRight(*url, "/"), AdminToken: cfg.AdminToken, Temporal: tc,
		TaskQueue: cfg.TaskQueue, WorkerOptions: app.WorkerOptions(), DB: pool, Noop: *noop, Leads: *leads, PacedLeads: *paced, PacedRate: *rate, HalfPeakLeads: *half, Concurrency: *conc, Sources: *sources, FanOutLeads: *fanLeads, FanOutSubs: *fanSubs, TransferLeads: *transferLeads,
		ConsoleLeads: *consoleLeads, ConsoleReads: *consoleReads,
		RulesLeads: *rulesLeads, RulesRate: *rulesRate, WebhookEvents: *webhookEvents,
		Alerts: *alerts, WorkerPID: *pid, Log: os.Stderr})
	if err != nil {
		return err
	}
	fmt.Print(res.Table())
	return nil
}

// defaultScale is SPEC §7's N for a bare --scale.
const defaultScale = 1000000

// scaleFlag is --scale: bare, it is SPEC §7's default N; with a value
// (--scale=N, or --scale N, which the flag package leaves as an argument
// since a bare --scale must not swallow the next flag) that N.
type scaleFlag int

func (f *scaleFlag) String() string { return strconv.Itoa(int(*f)) }

// IsBoolFlag lets --scale stand alone.
func (f *scaleFlag) IsBoolFlag() bool { return true }

func (f *scaleFlag) Set(v string) error {
	if v == "true" {
		*f = defaultScale
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return fmt.Errorf("--scale takes a number of leads, not %q", v)
	}
	*f = scaleFlag(n)
	return nil
}

// take reads the N of "--scale N" from what the flags left: the bench takes
// no other argument.
func (f *scaleFlag) take(rest []string) error {
	switch {
	case len(rest) == 0:
		return nil
	case len(rest) == 1 && *f == defaultScale:
		return f.Set(rest[0])
	}
	return fmt.Errorf("bench takes flags only, not %q", strings.Join(rest, " "))
}
