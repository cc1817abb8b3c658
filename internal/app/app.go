// Package app wires leadrelay's parts into running processes: the worker and
// the API, alone (`go run ./worker`, `starter serve`) or together (`starter dev`).
package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"go.uber.org/zap"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/leadrelay/leadrelay/activities"
	"github.com/leadrelay/leadrelay/internal/api"
	"github.com/leadrelay/leadrelay/internal/config"
	"github.com/leadrelay/leadrelay/internal/logging"
	"github.com/leadrelay/leadrelay/internal/mail"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/workflows"
)

// Deps are the long-lived connections of a process.
type Deps struct {
	Cfg      *config.Config
	Log      *zap.Logger
	Pool     *pgxpool.Pool
	Store    *store.Store
	Temporal client.Client
}

// Open connects to Postgres (applying migrations) and Temporal.
func Open(ctx context.Context, cfg *config.Config, log *zap.Logger) (*Deps, error) {
	if err := cfg.Require("DATABASE_URL"); err != nil {
		return nil, err
	}
	if _, err := store.Migrate(ctx, cfg.DatabaseURL); err != nil {
		return nil, err
	}
	pool, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	tc, err := DialTemporal(ctx, cfg, log)
	if err != nil {
		pool.Close()
		return nil, err
	}
	return &Deps{Cfg: cfg, Log: log, Pool: pool, Store: store.New(pool), Temporal: tc}, nil
}

func (d *Deps) Close() {
	d.Temporal.Close()
	d.Pool.Close()
}

// DialTemporal connects with zap as the SDK's logger, retrying for a while so
// a process started beside a booting server waits for it.
func DialTemporal(ctx context.Context, cfg *config.Config, log *zap.Logger) (client.Client, error) {
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := client.DialContext(ctx, client.Options{
			HostPort:  cfg.TemporalAddress,
			Namespace: cfg.TemporalNamespace,
			Logger:    logging.Temporal(log.Named("temporal")),
		})
		if err == nil {
			return c, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("TEMPORAL_ADDRESS %s: %w", cfg.TemporalAddress, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// EnsureSearchAttributes registers the attributes operators filter by, on a
// server where `start-dev --search-attribute` did not already.
func EnsureSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return err
	}
	missing := map[string]enums.IndexedValueType{}
	for _, k := range workflows.SearchAttributes {
		if _, ok := resp.CustomAttributes[k.GetName()]; !ok {
			missing[k.GetName()] = enums.INDEXED_VALUE_TYPE_KEYWORD
		}
	}
	if len(missing) == 0 {
		return nil
	}
	_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: namespace, SearchAttributes: missing})
	return err
}

// RegisterWorkflows puts every workflow on a worker or a replayer, so replay
// tests check exactly what the worker runs.
func RegisterWorkflows(w interface{ RegisterWorkflow(interface{}) }) {
	w.RegisterWorkflow(workflows.LeadWorkflow)
	w.RegisterWorkflow(workflows.NoopWorkflow)
	w.RegisterWorkflow(workflows.InvitationWorkflow)
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
	if err := EnsureSearchAttributes(ctx, d.Temporal, d.Cfg.TemporalNamespace); err != nil {
		d.Log.Warn("could not register search attributes", zap.Error(err))
	}
	w := worker.New(d.Temporal, d.Cfg.TaskQueue, worker.Options{
		// Workflow tasks are short; many in flight keeps both cores busy.
		MaxConcurrentWorkflowTaskExecutionSize:  200,
		MaxConcurrentLocalActivityExecutionSize: 200,
	})
	RegisterWorkflows(w)
	w.RegisterActivity(&activities.Activities{Store: d.Store, Outbox: &mail.Outbox{Store: d.Store, Sender: sender},
		PublicBaseURL: d.Cfg.PublicBaseURL})
	if err := w.Start(); err != nil {
		return err
	}
	defer w.Stop()
	d.Log.Info("worker started", zap.String("task_queue", d.Cfg.TaskQueue))
	sweepUnrouted(ctx, d)
	return nil
}

// sweepUnrouted starts the workflow of any lead the API recorded but could not
// hand to Temporal (a crash or outage between the two): no lead is orphaned.
func sweepUnrouted(ctx context.Context, d *Deps) {
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := SweepOnce(ctx, d, time.Minute); err != nil && ctx.Err() == nil {
			d.Log.Warn("sweep of unrouted leads failed", zap.Error(err))
		}
	}
}

// SweepOnce starts (or finds, by its ID) the workflow of every lead recorded
// more than olderThan ago and not routed yet, and returns how many it saw.
// Leads whose workflows are running are found and left alone.
func SweepOnce(ctx context.Context, d *Deps, olderThan time.Duration) (int, error) {
	leads, err := d.Store.Unrouted(ctx, time.Now().Add(-olderThan), 500)
	if err != nil {
		return 0, err
	}
	for _, l := range leads {
		if err := workflows.StartLead(ctx, d.Temporal, d.Cfg.TaskQueue, l); err != nil {
			d.Log.Warn("could not start unrouted lead", zap.String("lead_id", l.LeadID), zap.Error(err))
			continue
		}
		d.Log.Info("sweep: workflow of unrouted lead started or found", zap.String("lead_id", l.LeadID), zap.String("workflow_id", l.WorkflowID))
	}
	return len(leads), nil
}

// APIHandler builds the HTTP handler.
func APIHandler(d *Deps) http.Handler {
	return api.New(&api.Server{Store: d.Store, Pool: d.Pool, Temporal: d.Temporal, Cfg: d.Cfg, Log: d.Log.Named("api")})
}

// ServeAPI listens on HTTP_ADDR until ctx ends, then drains for up to 10 s.
func ServeAPI(ctx context.Context, d *Deps, ln net.Listener) error {
	srv := &http.Server{Handler: APIHandler(d), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Replay replays a recorded history against today's workflow code, under the
// run's own workflow ID (child workflow IDs derive from it).
func Replay(h *historypb.History, workflowID string) error {
	r := worker.NewWorkflowReplayer()
	RegisterWorkflows(r)
	return r.ReplayWorkflowHistoryWithOptions(nil, h, worker.ReplayWorkflowHistoryOptions{
		OriginalExecution: workflow.Execution{ID: workflowID, RunID: "replay"}})
}
