package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"go.uber.org/zap"
)

// serveMetrics serves the process's registry on METRICS_ADDR until ctx ends
// (nothing when it is off). It binds before the worker starts, so a taken
// address stops the worker at start, as a taken HTTP_ADDR stops the API,
// instead of leaving a worker nobody can scrape. In one process with the
// API (starter dev, the e2e stack) it is the same registry the API's
// /metrics serves.
func serveMetrics(d *Deps) (stop func(), err error) {
	if d.Cfg.MetricsAddr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", d.Cfg.MetricsAddr)
	if err != nil {
		return nil, fmt.Errorf("METRICS_ADDR %s (set another address, or off): %w", d.Cfg.MetricsAddr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", d.Metrics.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			d.Log.Warn("metrics listener stopped", zap.Error(err))
		}
	}()
	d.Log.Info("metrics listening", zap.String("addr", ln.Addr().String()))
	return func() { _ = srv.Close() }, nil
}

// recordReconciled puts one reconcile pass in the metrics: the unrouted
// backlog it counted (only a finished pass counted them all) and the runs it
// started again for stranded work, by kind. A pass cut short by the worker
// stopping is not a failure.
func recordReconciled(ctx context.Context, d *Deps, r Reconciled, err error) {
	if err != nil && ctx.Err() != nil {
		return
	}
	d.Metrics.ReconcilePass(err == nil, r.Unrouted)
	d.Metrics.Reconciled("lead", r.Restarted)
	d.Metrics.Reconciled("invitation", r.Invitations)
	d.Metrics.Reconciled("transfer", r.Transfers)
	d.Metrics.Reconciled("reroute", r.Reroutes)
	d.Metrics.Reconciled("return", r.Returns)
	d.Metrics.Reconciled("claim", r.Claims)
	d.Metrics.Reconciled("handover", r.Handovers)
	d.Metrics.Reconciled("distribution", r.Distributions)
	d.Metrics.Reconciled("digest", r.Digests)
	// The pass closes a pending invitation past its expiry itself.
	for range r.Expired {
		d.Metrics.Invitation("expired")
	}
}
