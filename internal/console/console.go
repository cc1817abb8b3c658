// Package console is leadrelay's web console (SPEC §8): server-rendered
// pages under /app/ for the people who work leads. It holds no rule of its
// own: every read and every change goes through the API's own handlers,
// called in the process as the signed-in user (api.AsUser), so a page
// refuses exactly what the API refuses, in the same words.
package console

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	"go.uber.org/zap"

	"github.com/leadrelay/leadrelay/internal/api"
	"github.com/leadrelay/leadrelay/internal/config"
	"github.com/leadrelay/leadrelay/internal/store"
)

// Console holds what the pages need.
type Console struct {
	Store *store.Store
	// API is the API's handler (api.New): pages call it as the signed-in user.
	API      http.Handler
	Temporal client.Client
	Cfg      *config.Config
	Log      *zap.Logger

	// IdleTimeout and Lifetime bound a session: signed out after IdleTimeout
	// without a request, and after Lifetime whatever happens.
	IdleTimeout, Lifetime time.Duration

	// StartSignIn starts the run that emails a sign-in link (nil: through
	// Temporal, runs.Starter.SignIn); tests put a recorder here.
	StartSignIn func(ctx context.Context, linkID string) error
	// SignInsPerEmail and SignInsPerAddress bound the links asked for per
	// address and per client address in SignInWindow (0: the defaults).
	SignInsPerEmail, SignInsPerAddress int

	secure     bool // cookies carry Secure: PUBLIC_BASE_URL is https
	perAddress *api.KeyedLimiter
	// pageViews limits each person's page views by USER_RATE_LIMIT (nil:
	// off): a page makes several API calls, which the API does not count.
	pageViews *api.KeyedLimiter
}

// Defaults for a session's lifetimes: a working day of idleness, a week in all.
const (
	DefaultIdleTimeout = 12 * time.Hour
	DefaultLifetime    = 7 * 24 * time.Hour
)

// New returns the console's handler for /app/ (and its static files).
func New(c *Console) http.Handler {
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.Lifetime == 0 {
		c.Lifetime = DefaultLifetime
	}
	if c.SignInsPerEmail == 0 {
		c.SignInsPerEmail = DefaultSignInsPerEmail
	}
	if c.SignInsPerAddress == 0 {
		c.SignInsPerAddress = DefaultSignInsPerAddress
	}
	c.perAddress = signInLimit(c.SignInsPerAddress)
	if rl := c.Cfg.UserRate; rl.PerSecond > 0 {
		c.pageViews = api.NewKeyedLimiter(rl.PerSecond, rl.Burst)
	}
	c.secure = strings.HasPrefix(c.Cfg.PublicBaseURL, "https://")
	mux := http.NewServeMux()
	for _, rt := range c.routes() {
		mux.Handle(rt.method+" "+rt.pattern, c.serve(rt))
	}
	mux.Handle("GET /app/static/", http.StripPrefix("/app/static/", staticFiles()))
	mux.HandleFunc("/app/", func(w http.ResponseWriter, r *http.Request) {
		c.notFound(w, r, nil)
	})
	return c.logged(secureHeaders(mux))
}

// secureHeaders are sent with every page: the headers of every HTML page
// of the process (api.SetPageHeaders: no inline script or style, no
// framing, no referrer, shared with the invitation page), and no caching
// of pages that hold a person's data.
func secureHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		api.SetPageHeaders(hd)
		if !strings.HasPrefix(r.URL.Path, "/app/static/") {
			hd.Set("Cache-Control", "no-store")
		}
		h.ServeHTTP(w, r)
	})
}

// statusWriter remembers the status for the request log, and says how long
// the server took in a Server-Timing header (what `starter bench` reads:
// the page's own time, without the network's).
type statusWriter struct {
	http.ResponseWriter
	status int
	start  time.Time
	wrote  bool
}

func (s *statusWriter) WriteHeader(code int) {
	if !s.wrote {
		s.wrote = true
		s.status = code
		s.Header().Set("Server-Timing", fmt.Sprintf("app;dur=%.3f", float64(time.Since(s.start).Microseconds())/1000))
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(p []byte) (int, error) {
	if !s.wrote {
		s.WriteHeader(http.StatusOK)
	}
	return s.ResponseWriter.Write(p)
}

func (c *Console) logged(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: 200, start: start}
		h.ServeHTTP(sw, r)
		if strings.HasPrefix(r.URL.Path, "/app/static/") {
			return
		}
		c.Log.Info("page", zap.String("method", r.Method), zap.String("path", redactPath(r.URL.Path)),
			zap.Int("status", sw.status), zap.Duration("took", time.Since(start)))
	})
}

// redactPath hides a sign-in token carried in the path.
func redactPath(p string) string {
	if rest, ok := strings.CutPrefix(p, "/app/signin/"); ok && rest != "" && rest != "sent" {
		return "/app/signin/[redacted]"
	}
	return p
}
