// Package app wires leadrelay's parts into running processes: the worker and
// the API, alone (`go run ./worker`, `starter serve`) or together (`starter dev`).
package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"go.uber.org/zap"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sethvargo/go-retry"

	"github.com/leadrelay/leadrelay/activities"
	"github.com/leadrelay/leadrelay/internal/api"
	"github.com/leadrelay/leadrelay/internal/config"
	"github.com/leadrelay/leadrelay/internal/console"
	"github.com/leadrelay/leadrelay/internal/logging"
	"github.com/leadrelay/leadrelay/internal/mail"
	"github.com/leadrelay/leadrelay/internal/metrics"
	"github.com/leadrelay/leadrelay/internal/runs"
	"github.com/leadrelay/leadrelay/internal/searchattr"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/internal/store/migrate"
	"github.com/leadrelay/leadrelay/internal/webhook"
	"github.com/leadrelay/leadrelay/workflows"
)

// Deps are the long-lived connections of a process.
type Deps struct {
	Cfg      *config.Config
	Log      *zap.Logger
	Pool     *pgxpool.Pool
	Store    *store.Store
	Temporal client.Client
	// Metrics is the process's one registry: ours and the Temporal SDK's,
	// served by the API's /metrics and the worker's METRICS_ADDR.
	Metrics *metrics.Metrics
	// Sealer seals and opens webhook secrets (nil without WEBHOOK_SECRET_KEY).
	Sealer *webhook.Sealer
}

// Open connects to Postgres (applying migrations) and Temporal.
func Open(ctx context.Context, cfg *config.Config, log *zap.Logger) (*Deps, error) {
	if err := cfg.Require("DATABASE_URL"); err != nil {
		return nil, err
	}
	// A process started beside a booting or restarting PostgreSQL waits for
	// it, as it does for Temporal, rather than exit and depend on a supervisor.
	err := retry.Do(ctx, retry.WithMaxDuration(60*time.Second, retry.NewConstant(time.Second)), func(ctx context.Context) error {
		_, err := migrate.Up(ctx, cfg.DatabaseURL)
		if store.Unreachable(err) {
			log.Warn("PostgreSQL not reachable yet: retrying", zap.Error(err))
			return retry.RetryableError(err)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	pool, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	sealer, err := webhook.NewSealer(cfg.WebhookSecretKey)
	if err != nil {
		pool.Close()
		return nil, err
	}
	if sealer != nil {
		// Secrets saved in the clear before they were sealed (migration
		// 00021) are sealed by the first process that has the key.
		n, err := store.New(pool).SealWebhookSecrets(ctx, sealer)
		if err != nil {
			pool.Close()
			return nil, fmt.Errorf("sealing webhook secrets: %w", err)
		}
		if n > 0 {
			log.Info("webhook secrets sealed", zap.Int("endpoints", n))
		}
	}
	m, err := metrics.New()
	if err != nil {
		pool.Close()
		return nil, err
	}
	tc, err := dialTemporal(ctx, cfg, log, m.Temporal(func(err error) {
		log.Warn("Temporal SDK metric refused", zap.Error(err))
	}))
	if err != nil {
		pool.Close()
		return nil, err
	}
	return &Deps{Cfg: cfg, Log: log, Pool: pool, Store: store.New(pool), Temporal: tc, Metrics: m, Sealer: sealer}, nil
}

// Close releases what Open connected; call it once the worker or API that
// used them has stopped.
func (d *Deps) Close() {
	d.Temporal.Close()
	d.Pool.Close()
	_ = d.Metrics.Close(context.Background())
}

// DialTemporal connects with zap as the SDK's logger, retrying for a while so
// a process started beside a booting server waits for it.
func DialTemporal(ctx context.Context, cfg *config.Config, log *zap.Logger) (client.Client, error) {
	return dialTemporal(ctx, cfg, log, nil)
}

// dialTemporal is DialTemporal reporting the SDK's metrics to mh (nil: none).
func dialTemporal(ctx context.Context, cfg *config.Config, log *zap.Logger, mh client.MetricsHandler) (client.Client, error) {
	c, err := retry.DoValue(ctx, retry.WithMaxDuration(60*time.Second, retry.NewConstant(500*time.Millisecond)),
		func(ctx context.Context) (client.Client, error) {
			c, err := client.DialContext(ctx, client.Options{
				HostPort:       cfg.TemporalAddress,
				Namespace:      cfg.TemporalNamespace,
				Logger:         logging.Temporal(log.Named("temporal")),
				MetricsHandler: mh,
			})
			return c, retry.RetryableError(err)
		})
	if err != nil {
		return nil, fmt.Errorf("TEMPORAL_ADDRESS %s: %w", cfg.TemporalAddress, err)
	}
	return c, nil
}

// RegisterWorkflows puts every workflow on a worker or a replayer, so replay
// tests check exactly what the worker runs.
func RegisterWorkflows(w interface{ RegisterWorkflow(interface{}) }) {
	w.RegisterWorkflow(workflows.LeadWorkflow)
	w.RegisterWorkflow(workflows.NoopWorkflow)
	w.RegisterWorkflow(workflows.InvitationWorkflow)
	w.RegisterWorkflow(workflows.TransferWorkflow)
	w.RegisterWorkflow(workflows.HandoverWorkflow)
	w.RegisterWorkflow(workflows.RerouteWorkflow)
	w.RegisterWorkflow(workflows.ReturnWorkflow)
	w.RegisterWorkflow(workflows.ClaimWorkflow)
	w.RegisterWorkflow(workflows.DistributeWorkflow)
	w.RegisterWorkflow(workflows.DigestWorkflow)
	w.RegisterWorkflow(workflows.SignInWorkflow)
	w.RegisterWorkflow(workflows.AlertWorkflow)
	w.RegisterWorkflow(workflows.SLAWorkflow)
	w.RegisterWorkflow(workflows.WebhookWorkflow)
	w.RegisterWorkflow(workflows.RetentionPurgeWorkflow)
}

// Starter starts the worker's and the reconciler's runs on the configured
// queue: one attempt each, as a pass that fails comes round again.
func (d *Deps) Starter() runs.Starter {
	return runs.Starter{Temporal: d.Temporal, Store: d.Store, Queue: d.Cfg.TaskQueue}
}

// WorkerOptions are the worker's settings; the benchmark's no-op worker uses
// them too, so its baseline runs under the same limits as the product.
func WorkerOptions() worker.Options {
	return worker.Options{
		// Workflow tasks are short; many in flight keeps both cores busy.
		MaxConcurrentWorkflowTaskExecutionSize:  200,
		MaxConcurrentLocalActivityExecutionSize: 200,
		// A deploy lets SMTP sends and routing transactions in flight finish.
		WorkerStopTimeout: 30 * time.Second,
	}
}

// RunWorker runs the worker and the unrouted-lead sweep until ctx ends.
func RunWorker(ctx context.Context, d *Deps) error {
	if err := d.Cfg.Require("SMTP_URL"); err != nil {
		return err
	}
	sender, err := mail.NewSender(d.Cfg.SMTPURL, d.Cfg.MailFrom)
	if err != nil {
		return err
	}
	stopMetrics, err := serveMetrics(d)
	if err != nil {
		return err
	}
	defer stopMetrics()
	if err := searchattr.Ensure(ctx, d.Temporal, d.Cfg.TemporalNamespace, 2*time.Minute); err != nil {
		return err
	}
	w := worker.New(d.Temporal, d.Cfg.TaskQueue, WorkerOptions())
	RegisterWorkflows(w)
	w.RegisterActivity(&activities.Activities{Store: d.Store, Outbox: &mail.Outbox{Store: d.Store, Sender: sender},
		PublicBaseURL: d.Cfg.PublicBaseURL, StartHandover: d.Starter().Handover,
		StartLeadHop: d.Starter().LeadHop, Metrics: d.Metrics,
		Webhooks: webhook.Guard{AllowPrivate: d.Cfg.WebhookAllowPrivate}.Client(webhookTimeout), Sealer: d.Sealer})
	if d.Sealer == nil {
		d.Log.Warn("WEBHOOK_SECRET_KEY is not set: webhook deliveries fail, saying so in their log, until the worker has it")
	}
	if err := withTimeout(ctx, d.Starter().EnsureRetentionSchedule); err != nil {
		return fmt.Errorf("retention schedule: %w", err)
	}
	if err := w.Start(); err != nil {
		return err
	}
	defer w.Stop()
	d.Log.Info("worker started", zap.String("task_queue", d.Cfg.TaskQueue))
	go alertLoop(ctx, d)
	go slaLoop(ctx, d)
	go webhookLoop(ctx, d)
	reconcileLoop(ctx, d)
	return nil
}

// APIHandler builds the HTTP handler: the API, and the console under /app/
// calling it in the process.
func APIHandler(d *Deps) http.Handler {
	h, _ := apiHandler(d)
	return h
}

// apiHandler is APIHandler with the API's server, which ServeAPI drains.
func apiHandler(d *Deps) (http.Handler, *api.Server) {
	a := &api.Server{Store: d.Store, Pool: d.Pool, Temporal: d.Temporal, Cfg: d.Cfg, Log: d.Log.Named("api"), Metrics: d.Metrics}
	h := api.New(a)
	mux := http.NewServeMux()
	mux.Handle("/app/", console.New(&console.Console{Store: d.Store, API: h, Temporal: d.Temporal, Cfg: d.Cfg,
		Log: d.Log.Named("console")}))
	mux.Handle("/", h)
	return mux, a
}

// ServeAPI listens on HTTP_ADDR until ctx ends, then drains the requests in
// flight for up to 10 s, and then, for up to 10 s more, the claims' runs
// still being started; a start still going after that is the reconciler's
// to make, and is logged, not an error of the shutdown.
func ServeAPI(ctx context.Context, d *Deps, ln net.Listener) error {
	h, a := apiHandler(d)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err = srv.Shutdown(sctx); errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
	}
	dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if derr := a.Drain(dctx); derr != nil {
		d.Log.Warn("claims' runs still starting at shutdown: the reconciler will start them", zap.Error(derr))
	}
	return err
}

// Replay replays a recorded history against today's workflow code, under the
// run's own workflow ID (child workflow IDs derive from it).
func Replay(h *historypb.History, workflowID string) error {
	r := worker.NewWorkflowReplayer()
	RegisterWorkflows(r)
	return r.ReplayWorkflowHistoryWithOptions(nil, h, worker.ReplayWorkflowHistoryOptions{
		OriginalExecution: workflow.Execution{ID: workflowID, RunID: "replay"}})
}

// LoadHistory reads a history kept as JSON (what `temporal workflow show
// --output json` and the fixture recorder write).
func LoadHistory(path string) (*historypb.History, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return client.HistoryFromJSON(bytes.NewReader(b), client.HistoryJSONOptions{})
}
