// Package e2e drives leadrelay end to end: the real Temporal dev server (or,
// with LEADRELAY_TEMPORAL=postgres, the production-shaped server; see
// production_test.go), the real PostgreSQL, an SMTP sink on loopback, the real
// worker and API.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/leadrelay/leadrelay/internal/app"
	"github.com/leadrelay/leadrelay/internal/bench"
	"github.com/leadrelay/leadrelay/internal/config"
	"github.com/leadrelay/leadrelay/internal/devstack"
	"github.com/leadrelay/leadrelay/internal/mailcatcher"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

type stack struct {
	deps  *app.Deps
	api   *httptest.Server
	sink  *mailcatcher.Catcher
	admin string
}

var (
	once   sync.Once
	shared *stack
)

const adminToken = "lra_e2e-admin-token-0123456789abcdef"

// up starts one stack per test package: worker and API in this process.
func up(t *testing.T) *stack {
	t.Helper()
	once.Do(func() {
		_, dbURL := testenv.DB(t)
		ts := testenv.Temporal(t)
		sink, err := mailcatcher.Start("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		// The API's address is fixed first so emailed links point at it.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		// The worker's metrics on a free port: the default may be taken
		// by a `starter dev` on the same machine.
		metricsPort, err := devstack.FreePort(0)
		if err != nil {
			t.Fatal(err)
		}
		env := map[string]string{"DATABASE_URL": dbURL, "TEMPORAL_ADDRESS": ts.FrontendHostPort(),
			"ADMIN_TOKEN": adminToken, "SMTP_URL": sink.URL(), "MAIL_FROM": "leadrelay <noreply@leadrelay.test>",
			"VENDOR_RATE_LIMIT": "1000/s,burst=1000", "PUBLIC_BASE_URL": "http://" + ln.Addr().String(),
			// One shared stack serves every test's users and transfers; the
			// limits are unit-tested in internal/api.
			"USER_RATE_LIMIT": "100000/s,burst=100000", "TRANSFERS_PER_ORG": "off",
			"METRICS_ADDR": fmt.Sprintf("127.0.0.1:%d", metricsPort),
			// The webhook tests' receiver listens on 127.0.0.1.
			"WEBHOOK_ALLOW_PRIVATE": "true", "WEBHOOK_SECRET_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}
		cfg, err := config.Load(func(k string) string { return env[k] })
		if err != nil {
			t.Fatal(err)
		}
		log := zap.NewNop()
		if os.Getenv("TEST_LOG") != "" {
			log, _ = zap.NewDevelopment()
		}
		d, err := app.Open(context.Background(), cfg, log)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			if err := app.RunWorker(context.Background(), d); err != nil {
				panic(err)
			}
		}()
		srv := httptest.NewUnstartedServer(app.APIHandler(d))
		_ = srv.Listener.Close() // httptest's own, never served on: ln replaces it
		srv.Listener = ln
		srv.Start()
		// The worker registers the search attributes; a fresh production
		// server refuses them for several seconds, and /readyz says so.
		waitReady(t, srv.URL+"/readyz", 2*time.Minute)
		shared = &stack{deps: d, api: srv, sink: sink, admin: adminToken}
	})
	if shared == nil {
		t.Fatal("stack did not start (see the first failure)")
	}
	return shared
}

// waitReady polls url until it answers 200, for at most limit.
func waitReady(t *testing.T, url string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	var last string
	for {
		res, err := http.Get(url)
		if err == nil {
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
			last = fmt.Sprintf("%d %s", res.StatusCode, b)
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			t.Fatalf("stack not ready after %s: GET %s: %s", limit, url, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (s *stack) store() *store.Store { return s.deps.Store }

type resp struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

func (r resp) errField(name string) string {
	e, _ := r.body["error"].(map[string]any)
	f, _ := e["fields"].(map[string]any)
	v, _ := f[name].(string)
	return v
}

func (r resp) errCode() string {
	e, _ := r.body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func (r resp) str(k string) string { v, _ := r.body[k].(string); return v }

// do sends body (a value to encode, or raw []byte) with a bearer token.
func (s *stack) do(t *testing.T, method, path, token string, body any) resp {
	t.Helper()
	return s.doWith(t, method, path, token, nil, body)
}

// doWith is do with extra request headers.
func (s *stack) doWith(t *testing.T, method, path, token string, hdr map[string]string, body any) resp {
	t.Helper()
	var rdr io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rdr = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rdr = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, s.api.URL+path, rdr)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := resp{status: res.StatusCode, header: res.Header, raw: raw}
	_ = json.Unmarshal(raw, &out.body)
	return out
}

// tenant is an org made through the API, with its tokens.
type tenant struct {
	id, ownerID, ownerToken string
	staff                   []string
	vendorKey, sourceID     string
}

func (s *stack) newTenant(t *testing.T, name string, staff int, source map[string]any) tenant {
	t.Helper()
	dom := name + time.Now().Format("150405.000000") + ".example"
	r := s.do(t, "POST", "/v1/orgs", s.admin, map[string]any{"name": name, "timezone": "America/Chicago",
		"owner": map[string]any{"email": "owner@" + dom, "name": name + " Owner"}})
	if r.status != 201 {
		t.Fatalf("create org: %d %s", r.status, r.raw)
	}
	owner := r.body["owner"].(map[string]any)
	tn := tenant{id: r.str("id"), ownerID: owner["id"].(string), ownerToken: owner["token"].(string)}
	// Repeat leads off: most tests post many leads with lead()'s one email
	// and phone, and a repeat goes to the first one's assignee, not through
	// the rotation they check. The repeat tests turn it back on.
	if r := s.do(t, "PATCH", "/v1/orgs/"+tn.id, tn.ownerToken, map[string]any{"repeat_lookback_days": 0}); r.status != 200 {
		t.Fatalf("repeat lookback off: %d %s", r.status, r.raw)
	}
	roles := []string{"staff", "professional", "manager"}
	for i := 0; i < staff; i++ {
		r := s.do(t, "POST", "/v1/orgs/"+tn.id+"/users", tn.ownerToken, map[string]any{
			"email": "s" + string(rune('a'+i)) + "@" + dom, "name": "Staff " + string(rune('A'+i)), "role": roles[i%3]})
		if r.status != 201 {
			t.Fatalf("create user: %d %s", r.status, r.raw)
		}
		tn.staff = append(tn.staff, r.str("id"))
	}
	if source != nil {
		r := s.do(t, "PUT", "/v1/orgs/"+tn.id+"/sources/everquote", tn.ownerToken, source)
		if r.status != 201 {
			t.Fatalf("put source: %d %s", r.status, r.raw)
		}
		tn.vendorKey, tn.sourceID = r.str("api_key"), r.str("id")
	}
	return tn
}

// waitRouted polls Postgres until n leads of the source are routed.
func (s *stack) waitRouted(t *testing.T, sourceID string, n int) map[string]time.Time {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		got, err := bench.RoutedTimes(context.Background(), s.deps.Pool, []string{sourceID})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d leads routed after 90 s", len(got), n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// mailsFor returns the sink's messages to addr but instant alerts, which
// every assignment now sends its assignee (alertsTo reads those): a test of
// another email counts that email.
func (s *stack) mailsFor(addr string) []mailcatcher.Message {
	var out []mailcatcher.Message
	for _, m := range notAlerts(s.sink.Messages()) {
		for _, to := range m.To {
			if to == addr {
				out = append(out, m)
			}
		}
	}
	return out
}

func newServer(t *testing.T, h http.Handler) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func (r resp) raw2() string { return string(r.raw) }

func json_(b []byte, v any) error { return json.Unmarshal(b, v) }

// notAlerts is msgs without the instant alerts (outbox keys alert:…).
func notAlerts(msgs []mailcatcher.Message) []mailcatcher.Message {
	var out []mailcatcher.Message
	for _, m := range msgs {
		if !strings.HasPrefix(m.Key, "alert:") {
			out = append(out, m)
		}
	}
	return out
}
