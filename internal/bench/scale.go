package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"

	"github.com/leadrelay/leadrelay/internal/apiclient"
	"github.com/leadrelay/leadrelay/internal/app"
	"github.com/leadrelay/leadrelay/internal/config"
	"github.com/leadrelay/leadrelay/internal/devstack"
	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/mailcatcher"
	"github.com/leadrelay/leadrelay/internal/store"
)

// ScaleOptions say how large a database `starter bench --scale` builds, and
// on which servers.
type ScaleOptions struct {
	// Getenv is the configuration the bench's own API and worker start
	// from: DATABASE_URL names the PostgreSQL server its database is made
	// on, TEMPORAL_ADDRESS the Temporal server. Their database, task queue,
	// mail sink and rate limits are the bench's own.
	Getenv   func(string) string
	Database string // made afresh (dropped first); default leadrelay_scale
	N        int    // leads in the measured org, and as many again across 50 others
	Reads    int    // samples of each read (default 200)
	Log      io.Writer
}

// ScaleGoalRead is the bound on every read's and claim's p99 at N.
const ScaleGoalRead = 20 * time.Millisecond

// ScaleGoalRate is the share of its empty-database rate a bulk move keeps at N.
const ScaleGoalRate = 0.8

// ScaleRow is one measure, on the nearly empty database and at N, by the
// same code.
type ScaleRow struct {
	Name string
	// Rate rows (bulk moves) are judged by their rate against the empty
	// database's; the others by their p99 against Bound.
	Rate       bool
	Bound      time.Duration
	Empty, AtN ScaleMeasure
}

// ScaleMeasure is one column of a row.
type ScaleMeasure struct {
	P50, P99 time.Duration
	Rate     float64 // leads/s, for rate rows
	Samples  int
	Note     string // what was read, when it depends on the size (the page reached)
}

// ScaleResult is the table `starter bench --scale` prints.
type ScaleResult struct {
	N, Small int
	Seed     time.Duration // seeding at N: leads, timelines, claims, feed, ANALYZE
	Rows     []ScaleRow
}

// scaleSmall is the measured org's size in the empty column: enough leads
// that every filter finds a page.
const scaleSmall = 1000

// scaleOthers is how many other orgs hold the second N leads.
const scaleOthers = 50

// scaleQueue is the queue the claim row claims from, at most (the seeded
// tenth of N otherwise).
const scaleQueue = 100000

// RunScale makes its database, starts an API and a worker in this process
// on it, seeds a small org and measures it, then seeds N leads in another
// org (and N across 50 more) and measures that org by the same code.
func RunScale(ctx context.Context, o ScaleOptions) (ScaleResult, error) {
	r := ScaleResult{N: o.N, Small: min(scaleSmall, o.N)}
	o.Reads = max(1, o.Reads)
	if o.Database == "" {
		o.Database = "leadrelay_scale"
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	s, err := startScaleStack(ctx, o)
	if err != nil {
		return r, err
	}
	defer s.stop()
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	logf := s.opts.logf
	logf("scale: the empty database: %d leads in one org…", r.Small)
	small, err := s.newOrg(ctx, "scale small "+run)
	if err != nil {
		return r, err
	}
	now := time.Now()
	// Everything seeded was routed before the digest sweep's lookback, so
	// the worker owes no digest for it.
	if err := seedLeads(ctx, s.deps.Pool, small.scaleOrg, r.Small, now.AddDate(-3, 0, 0), now.Add(-2*app.DigestLookback), realisticMix); err != nil {
		return r, err
	}
	empty, err := s.measure(ctx, small, o.N, run+"e")
	if err != nil {
		return r, err
	}
	logf("scale: seeding %d leads in one org and %d across %d others…", o.N, o.N, scaleOthers)
	big, err := s.newOrg(ctx, "scale big "+run)
	if err != nil {
		return r, err
	}
	others := make([]*measuredOrg, scaleOthers)
	for i := range others {
		if others[i], err = s.newOrg(ctx, fmt.Sprintf("scale other %d %s", i, run)); err != nil {
			return r, err
		}
	}
	start := time.Now()
	err = withoutIndexes(ctx, s.deps.Pool, func() error {
		if err := seedLeads(ctx, s.deps.Pool, big.scaleOrg, o.N, now.AddDate(-3, 0, 0), now.Add(-2*app.DigestLookback), realisticMix); err != nil {
			return err
		}
		for _, other := range others {
			if err := seedLeads(ctx, s.deps.Pool, other.scaleOrg, o.N/scaleOthers, now.AddDate(-3, 0, 0), now.Add(-2*app.DigestLookback), realisticMix); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return r, err
	}
	if _, err := s.deps.Pool.Exec(ctx, `ANALYZE`); err != nil {
		return r, err
	}
	r.Seed = time.Since(start)
	logf("scale: seeded in %s", r.Seed.Round(time.Second))
	if err := nothingOwed(ctx, s.deps.Pool); err != nil {
		return r, err
	}
	atN, err := s.measure(ctx, big, o.N, run+"n")
	if err != nil {
		return r, err
	}
	for i := range empty {
		empty[i].AtN = atN[i].Empty
	}
	r.Rows = empty
	return r, nil
}

// nothingOwed checks the seed left no alert, SLA clock or webhook delivery
// for the worker to work through while the bench measures.
func nothingOwed(ctx context.Context, db store.DB) error {
	var alerts, slas, hooks int
	if err := db.QueryRow(ctx, `SELECT (SELECT count(*) FROM alerts WHERE done_at IS NULL), (SELECT count(*) FROM lead_slas),
		(SELECT count(*) FROM webhook_deliveries)`).Scan(&alerts, &slas, &hooks); err != nil {
		return err
	}
	if alerts+slas+hooks > 0 {
		return fmt.Errorf("the seed owes %d alerts, %d SLA clocks and %d webhook deliveries", alerts, slas, hooks)
	}
	return nil
}

// scaleStack is the bench's own API and worker, in this process, on its own
// database and task queue.
type scaleStack struct {
	deps  *app.Deps
	opts  Options
	admin *apiclient.Client
	stop  func()
}

// startScaleStack makes the database (dropping an earlier run's) on
// DATABASE_URL's server and starts the API and the worker on it, as the
// e2e stack does.
func startScaleStack(ctx context.Context, o ScaleOptions) (*scaleStack, error) {
	base, err := config.Load(o.Getenv)
	if err != nil {
		return nil, err
	}
	if err := base.Require("DATABASE_URL"); err != nil {
		return nil, err
	}
	dbURL, err := freshDatabase(ctx, base.DatabaseURL, o.Database)
	if err != nil {
		return nil, err
	}
	sink, err := mailcatcher.Start("127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = sink.Close()
		return nil, err
	}
	metricsPort, err := devstack.FreePort(0)
	if err != nil {
		_ = sink.Close()
		_ = ln.Close()
		return nil, err
	}
	admin := base.AdminToken
	if admin == "" {
		admin, _ = domain.NewToken("lra_")
	}
	env := map[string]string{"DATABASE_URL": dbURL, "TEMPORAL_TASK_QUEUE": "leadrelay-scale-" + strconv.FormatInt(time.Now().UnixNano(), 36),
		"ADMIN_TOKEN": admin, "SMTP_URL": sink.URL(), "PUBLIC_BASE_URL": "http://" + ln.Addr().String(),
		"METRICS_ADDR": fmt.Sprintf("127.0.0.1:%d", metricsPort),
		// The bench reads as fast as one caller goes, and measures the
		// reads, not the limits that keep a caller from doing so.
		"USER_RATE_LIMIT": "off", "TRANSFERS_PER_ORG": "off"}
	cfg, err := config.Load(func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		return o.Getenv(k)
	})
	if err != nil {
		_ = sink.Close()
		_ = ln.Close()
		return nil, err
	}
	d, err := app.Open(ctx, cfg, zap.NewNop())
	if err != nil {
		_ = sink.Close()
		_ = ln.Close()
		return nil, err
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Add(2)
	errc := make(chan error, 2)
	go func() { defer wg.Done(); errc <- app.RunWorker(rctx, d) }()
	go func() { defer wg.Done(); errc <- app.ServeAPI(rctx, d, ln) }()
	s := &scaleStack{deps: d, stop: func() {
		cancel()
		wg.Wait()
		d.Close()
		_ = sink.Close()
	}}
	s.opts = Options{API: "http://" + ln.Addr().String(), AdminToken: admin, Temporal: d.Temporal, TaskQueue: cfg.TaskQueue,
		DB: d.Pool, ConsoleReads: o.Reads, Log: o.Log}
	s.admin = s.opts.client()
	if err := waitReady(ctx, s.opts.API+"/readyz", 2*time.Minute, errc); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// freshDatabase drops and makes name on the server of serverURL (a URL or
// libpq's keyword form) and returns how to reach it.
func freshDatabase(ctx context.Context, serverURL, name string) (string, error) {
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return "", err
	}
	defer func() { _ = conn.Close(ctx) }()
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := conn.Exec(ctx, `DROP DATABASE IF EXISTS `+ident+` WITH (FORCE)`); err != nil {
		return "", err
	}
	if _, err := conn.Exec(ctx, `CREATE DATABASE `+ident); err != nil {
		return "", err
	}
	if u, err := url.Parse(serverURL); err == nil && u.Scheme != "" {
		u.Path = "/" + name
		return u.String(), nil
	}
	return serverURL + " dbname=" + name, nil // the last of a repeated keyword counts
}

// waitReady polls /readyz until it answers 200: the worker registers the
// search attributes first, which a fresh server refuses for a while.
func waitReady(ctx context.Context, u string, limit time.Duration, errc <-chan error) error {
	deadline := time.Now().Add(limit)
	last := ""
	for time.Now().Before(deadline) {
		select {
		case err := <-errc:
			return fmt.Errorf("the bench's stack stopped: %v", err)
		default:
		}
		res, err := http.Get(u)
		if err == nil {
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
			last = res.Status
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("the bench's stack is not ready after %s: %s", limit, last)
}

// newOrg makes an org through the API (its owner, 20 sources and 20
// claimers with tokens), then its 100 users and a partner that transferred
// leads in, by SQL.
func (s *scaleStack) newOrg(ctx context.Context, name string) (*measuredOrg, error) {
	org, owner, err := orgWithStaff(ctx, s.admin, name, 0)
	if err != nil {
		return nil, err
	}
	partner, _, err := orgWithStaff(ctx, s.admin, name+" partner", 0)
	if err != nil {
		return nil, err
	}
	var slugs []string
	for i := 0; i < 20; i++ {
		slug := fmt.Sprintf("source-%d", i)
		if _, err := owner.PutSource(ctx, org.ID, slug, map[string]any{"name": slug, "routing": map[string]string{"mode": "owner"}}); err != nil {
			return nil, err
		}
		slugs = append(slugs, slug)
	}
	m := &measuredOrg{org: org, owner: owner}
	for i := 0; i < 20; i++ {
		u, err := owner.AddUser(ctx, org.ID, fmt.Sprintf("claimer%d@%s.scale.bench", i, org.ID[:8]), fmt.Sprintf("Claimer %d", i), "staff")
		if err != nil {
			return nil, err
		}
		m.claimers = append(m.claimers, owner.As(u.Token))
	}
	// Claimed leads would owe their claimer an email each.
	if err := alertsOff(ctx, s.deps.Pool, org.ID); err != nil {
		return nil, err
	}
	if m.scaleOrg, err = newScaleOrg(ctx, s.deps.Pool, org.ID, partner.ID, slugs); err != nil {
		return nil, err
	}
	return m, nil
}

type measuredOrg struct {
	*scaleOrg
	org      apiclient.NewOrg
	owner    *apiclient.Client
	claimers []*apiclient.Client
}
