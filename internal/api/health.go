package api

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"go.temporal.io/sdk/client"
	"go.uber.org/zap"
)

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, 200, map[string]string{"status": "ok"})
}

// readyCheck is one dependency /readyz looks at. check returns the detail,
// which goes to the log only: callers learn the name of what is down, never
// a connection string or a driver's error.
type readyCheck struct {
	name  string
	check func(context.Context) error
}

// readyChecks lists what readiness needs; add a check here.
func (s *Server) readyChecks() []readyCheck {
	return []readyCheck{
		{"postgres", func(ctx context.Context) error { return s.Pool.Ping(ctx) }},
		{"temporal", func(ctx context.Context) error {
			_, err := s.Temporal.CheckHealth(ctx, &client.CheckHealthRequest{})
			return err
		}},
		// Registered is not usable: SQL visibility refuses new attributes
		// until its cache refreshes, and every post would then fail.
		{"search_attributes", func(ctx context.Context) error { return s.searchAttrs.Check(ctx, s.Temporal) }},
	}
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	checks := s.readyChecks()
	errs := make([]error, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Go(func() {
			defer func() {
				if p := recover(); p != nil {
					errs[i] = fmt.Errorf("panic: %v", p)
				}
			}()
			errs[i] = c.check(ctx)
		})
	}
	wg.Wait()
	status := map[string]string{}
	down := []string{}
	for i, c := range checks {
		status[c.name] = "ok"
		if errs[i] != nil {
			status[c.name] = "down"
			down = append(down, c.name)
			s.Log.Warn("readiness check failed", zap.String("check", c.name), zap.Error(errs[i]))
		}
	}
	code := 200
	if len(down) > 0 {
		code = 503
	}
	writeJSON(w, code, map[string]any{"ready": len(down) == 0, "down": down, "checks": status})
}
