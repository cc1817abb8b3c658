// Package api is leadrelay's HTTP API (SPEC §4): JSON under /v1, three kinds
// of bearer token, and one error shape everywhere.
package api

import (
	"context"
	"net/http"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/client"
	"go.uber.org/zap"

	"github.com/leadrelay/leadrelay/internal/config"
	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/metrics"
	"github.com/leadrelay/leadrelay/internal/searchattr"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/internal/webhook"
)

// Server holds what the handlers need.
type Server struct {
	Store    *store.Store
	Pool     *pgxpool.Pool
	Temporal client.Client
	Cfg      *config.Config
	Log      *zap.Logger
	// Metrics is the process's registry, served on GET /metrics (nil: an
	// empty page, nothing counted).
	Metrics *metrics.Metrics

	adminHash   []byte
	searchAttrs searchattr.Readiness
	vendors     *keyedLimiter   // per vendor key's source
	authFails   *keyedLimiter   // per client address; nil: failed authentications are not limited
	users       *keyedLimiter   // per user token; nil: user tokens are not limited
	sealer      *webhook.Sealer // seals webhook secrets; nil: no WEBHOOK_SECRET_KEY, webhooks are off
	starts      sync.WaitGroup  // runs started after their answer (claims), which Drain waits for
}

// Drain waits, until ctx ends, for the runs the server is still starting
// after answering: call it once the HTTP server has shut down, before the
// Temporal client closes. A start cut short is the reconciler's to make.
func (s *Server) Drain(ctx context.Context) error {
	done := make(chan struct{})
	go func() { s.starts.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// New returns the API's handler: every route behind the request log and the
// per-address limit on failed authentications, so no route can skip either.
func New(s *Server) http.Handler {
	if s.Cfg.AdminToken != "" {
		s.adminHash = domain.HashToken(s.Cfg.AdminToken)
	}
	s.vendors = newKeyedLimiter(s.Cfg.VendorRate.PerSecond, s.Cfg.VendorRate.Burst)
	// config.Load admits a key of 32 bytes only, which AES-256 takes: no error.
	s.sealer, _ = webhook.NewSealer(s.Cfg.WebhookSecretKey)
	if rl := s.Cfg.AuthFailureRate; rl.PerSecond > 0 {
		s.authFails = newKeyedLimiter(rl.PerSecond, rl.Burst)
	}
	if rl := s.Cfg.UserRate; rl.PerSecond > 0 {
		s.users = newKeyedLimiter(rl.PerSecond, rl.Burst)
	}
	mux := http.NewServeMux()
	for _, rt := range s.routes() {
		mux.HandleFunc(rt.method+" "+rt.pattern, normalPathIDs(rt.pattern, rt.handler))
	}
	// Prometheus scrapes without a token (SPEC §4: "scrapers"); see docs/operating.md, Metrics.
	mux.Handle("GET /metrics", s.Metrics.Handler())
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeErr(w, domain.Errorf(domain.ENotFound, "no route %s %s", r.Method, r.URL.Path))
	})
	return s.logged(s.preAuth(mux))
}
