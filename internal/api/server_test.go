package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/leadrelay/leadrelay/internal/config"
	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/searchattr"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

const testAdmin = "lra_api-test-admin-token-0123456789abcdef"

// fakeTemporal answers CheckHealth and the search-attribute probe (a start
// and a terminate); nothing else is called by these tests.
type fakeTemporal struct {
	client.Client
	err   error
	saErr error // the probe's start refused
	// update stands for the run an Update reaches (nil: none is called).
	update func(client.UpdateWorkflowOptions) (any, error)
}

func (f fakeTemporal) UpdateWorkflow(_ context.Context, o client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	v, err := f.update(o)
	if err != nil {
		return nil, err
	}
	return fakeUpdate{v: v}, nil
}

// SignalWorkflow stands for a run told of a decision (a withdrawn
// handover): it reaches no run, and a refusal is only logged by the API.
func (f fakeTemporal) SignalWorkflow(context.Context, string, string, string, any) error {
	return f.err
}

// fakeUpdate is an Update that completed with v.
type fakeUpdate struct {
	client.WorkflowUpdateHandle
	v any
}

func (u fakeUpdate) Get(_ context.Context, out any) error {
	b, err := json.Marshal(u.v)
	if err == nil {
		err = json.Unmarshal(b, out)
	}
	return err
}

type fakeRun struct{ client.WorkflowRun }

func (fakeRun) GetID() string    { return searchattr.ProbeWorkflowID }
func (fakeRun) GetRunID() string { return "run" }

func (f fakeTemporal) ExecuteWorkflow(context.Context, client.StartWorkflowOptions, any, ...any) (client.WorkflowRun, error) {
	if err := errors.Join(f.err, f.saErr); err != nil {
		return nil, err
	}
	return fakeRun{}, nil
}

func (f fakeTemporal) TerminateWorkflow(context.Context, string, string, string, ...any) error {
	return f.err
}

func (f fakeTemporal) CheckHealth(context.Context, *client.CheckHealthRequest) (*client.CheckHealthResponse, error) {
	return &client.CheckHealthResponse{}, f.err
}

type testServer struct {
	h    http.Handler
	s    *Server
	logs *observer.ObservedLogs
}

// newTestServer is the real handler on the package's PostgreSQL database
// (when db is set) with an observed logger.
func newTestServer(t *testing.T, db bool, env map[string]string) testServer {
	t.Helper()
	// The limits are off unless a test is about one: scenarios make more
	// requests and transfers than a person would.
	e := map[string]string{"ADMIN_TOKEN": testAdmin, "AUTH_FAILURE_RATE_LIMIT": "off", "USER_RATE_LIMIT": "off", "TRANSFERS_PER_ORG": "off",
		"WEBHOOK_SECRET_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}
	for k, v := range env {
		e[k] = v
	}
	cfg, err := config.Load(func(k string) string { return e[k] })
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.DebugLevel)
	s := &Server{Cfg: cfg, Log: zap.New(core), Temporal: fakeTemporal{}}
	if db {
		pool, _ := testenv.DB(t)
		s.Pool, s.Store = pool, store.New(pool)
	}
	// Claims' runs start after their answers, on the database above.
	t.Cleanup(func() { drainStarts(t, s) })
	return testServer{h: New(s), s: s, logs: logs}
}

// drainStarts waits for the runs s is starting after their answers.
func drainStarts(t *testing.T, s *Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Drain(ctx); err != nil {
		t.Fatalf("runs still starting after 10 s: %v", err)
	}
}

type answer struct {
	status int
	header http.Header
	body   string
}

// do sends a request to the handler; hdr holds extra header names and values.
func (ts testServer) do(t *testing.T, method, target, token, body, remote string, hdr ...string) answer {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, r)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if remote != "" {
		req.RemoteAddr = remote
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	ts.h.ServeHTTP(rec, req)
	return answer{rec.Code, rec.Header(), rec.Body.String()}
}

// tenant makes an org with an owner-routed source and returns the org id and
// the vendor key.
func tenant(t *testing.T, s *Server, name string) (string, string) {
	t.Helper()
	ctx := context.Background()
	o, _, _, err := s.Store.CreateOrg(ctx, name, "UTC", "owner@"+strings.ToLower(name)+strconv.FormatInt(time.Now().UnixNano(), 36)+".example", "Owner")
	if err != nil {
		t.Fatal(err)
	}
	return o.ID, putSource(t, s, o.ID, domain.RouteOwner)
}

// putSource gives org an "everquote" source routed by mode and returns its
// vendor key.
func putSource(t testing.TB, s *Server, org string, mode domain.RoutingMode) string {
	t.Helper()
	sc := domain.SourceConfig{Name: "EverQuote", Routing: domain.Routing{Mode: mode}}
	delay, err := sc.Validate()
	if err != nil {
		t.Fatal(err)
	}
	_, _, key, err := s.Store.PutSource(context.Background(), org, "everquote", sc, delay)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func count(t *testing.T, s *Server, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := s.Pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Bodies with NUL or bytes that are not UTF-8 are refused by every route
// with a 422 naming the field, and nothing is written. It counts every org,
// so it is not parallel: another test's new org would read as a write.
func TestBodiesWithNULOrInvalidUTF8WriteNothing(t *testing.T) {
	ts := newTestServer(t, true, nil)
	org, key := tenant(t, ts.s, "Textco")
	for _, c := range []struct{ body, field string }{
		{`{"external_id":"n\u0000ul","email":"a@b.example"}`, "external_id"},
		{"{\"external_id\":\"ff\",\"email\":\"a@b.example\",\"last_name\":\"\xff\"}", "last_name"},
		{`{"external_id":"s","email":"a@b.example","address":{"street":"\ud800"}}`, "address.street"},
		{`{"external_id":"l","email":"a@b.example","labels":["ok","x\u0000"]}`, "labels[1]"},
		{`{"external_id":"a","email":"a@b.example","attributes":{"plan":"\u0000"}}`, "attributes.plan"},
		{`{"external_id":"bell\u0007","email":"a@b.example"}`, "external_id"},
		{"{\"external_id\":\"ls\u2028x\",\"email\":\"a@b.example\"}", "external_id"},
		{`{"external_id":"` + strings.Repeat("é", 129) + `","email":"a@b.example"}`, "external_id"},
	} {
		a := ts.do(t, "POST", "/v1/leads", key, c.body, "")
		if a.status != 422 || !strings.Contains(a.body, `"code":"invalid"`) || !strings.Contains(a.body, `"`+c.field+`":`) {
			t.Errorf("%q: %d %s, want 422 naming %s", c.body, a.status, a.body, c.field)
		}
	}
	if n := count(t, ts.s, `SELECT count(*) FROM leads WHERE org_id = $1`, org); n != 0 {
		t.Fatalf("%d leads written from refused posts", n)
	}

	orgs := count(t, ts.s, `SELECT count(*) FROM orgs`)
	a := ts.do(t, "POST", "/v1/orgs", testAdmin, `{"name":"Nul\u0000Co","owner":{"email":"o@nul.example","name":"O"}}`, "")
	if a.status != 422 || !strings.Contains(a.body, `"name":`) {
		t.Errorf("org with NUL name: %d %s", a.status, a.body)
	}
	a = ts.do(t, "PUT", "/v1/orgs/"+org+"/sources/web", testAdmin, "{\"name\":\"W\xfe\",\"routing\":{\"mode\":\"owner\"}}", "")
	if a.status != 422 || !strings.Contains(a.body, `"name":`) {
		t.Errorf("source with 0xfe: %d %s", a.status, a.body)
	}
	if n := count(t, ts.s, `SELECT count(*) FROM orgs`); n != orgs {
		t.Errorf("orgs went from %d to %d", orgs, n)
	}
	if n := count(t, ts.s, `SELECT count(*) FROM lead_sources WHERE org_id = $1`, org); n != 1 {
		t.Errorf("%d sources, want 1", n)
	}
}

// corpus reads the string seeds of a fuzz target's testdata directory.
func corpus(t *testing.T, name string) map[string]string {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", name)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		lit, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "go test fuzz v1\nstring(")
		v, err := strconv.Unquote(strings.TrimSuffix(lit, ")"))
		if !ok || err != nil {
			t.Fatalf("%s: not a string seed", e.Name())
		}
		out[e.Name()] = v
	}
	return out
}

// The list route's query through the real handler and PostgreSQL: every seed
// of FuzzListLeadsQuery answers below 500, and the known bad ones 422.
func TestListLeadsQueryThroughHandler(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true, nil)
	org, _ := tenant(t, ts.s, "Listco")
	seeds := corpus(t, "FuzzListLeadsQuery")
	for name, q := range seeds {
		a := ts.do(t, "GET", "/v1/orgs/"+org+"/leads?"+q, testAdmin, "", "")
		if a.status >= 500 {
			t.Errorf("seed %s (?%s): %d %s", name, q, a.status, a.body)
		}
	}
	for q, field := range map[string]string{
		"status=%00": "status", "source=%ff": "source", "cursor=%ff": "cursor", "status=bogus": "status",
		"cursor=AAAA": "cursor", "cursor=" + seedCursor(t, seeds, "cursor_numbers"): "cursor",
		"assigned_to=%00": "assigned_to", "status=new&status=%C0%80": "status",
		"q=a%0Ab": "q", "q=" + strings.Repeat("x", 101): "q", "owner=nobody": "owner", "location=elsewhere": "location",
	} {
		a := ts.do(t, "GET", "/v1/orgs/"+org+"/leads?"+q, testAdmin, "", "")
		if a.status != 422 || !strings.Contains(a.body, `"`+field+`":`) {
			t.Errorf("?%s: %d %s, want 422 naming %s", q, a.status, a.body, field)
		}
	}
	for _, q := range []string{"", "status=new&source=everquote&limit=5", "owner=team&location=queue&q=%25_%5C%F0%9F%98%80", "cursor=" + seedCursor(t, seeds, "cursor_year_9999"),
		"cursor=" + seedCursor(t, seeds, "cursor_year_zero")} {
		if a := ts.do(t, "GET", "/v1/orgs/"+org+"/leads?"+q, testAdmin, "", ""); a.status != 200 {
			t.Errorf("?%s: %d %s, want 200", q, a.status, a.body)
		}
	}
}

func seedCursor(t *testing.T, seeds map[string]string, name string) string {
	v, ok := strings.CutPrefix(seeds[name], "cursor=")
	if !ok {
		t.Fatalf("seed %s is not a cursor", name)
	}
	return v
}

// The access log never holds an invitation token: the path is logged with
// the token replaced.
func TestAccessLogRedactsInvitationTokens(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true, nil)
	tok, _ := domain.NewToken("lri_")
	for _, c := range []struct{ method, path, want string }{
		{"GET", "/invitations/" + tok, "/invitations/[redacted]"},
		{"POST", "/invitations/" + tok + "/accept", "/invitations/[redacted]/accept"},
		{"POST", "/invitations/" + tok + "/decline", "/invitations/[redacted]/decline"},
		{"POST", "/v1/invitations/" + tok + "/accept", "/v1/invitations/[redacted]/accept"},
		{"POST", "/v1/invitations/" + tok + "/decline", "/v1/invitations/[redacted]/decline"},
		{"GET", "/v1//invitations/" + tok + "/x", "/v1//invitations/[redacted]/x"},
		{"GET", "/elsewhere/" + tok, "/elsewhere/[redacted]"},
	} {
		ts.logs.TakeAll()
		if a := ts.do(t, c.method, c.path, "", "", ""); a.status < 300 || a.status >= 500 {
			t.Errorf("%s %s: %d %s", c.method, c.path, a.status, a.body)
		}
		lines := ts.logs.TakeAll()
		if len(lines) == 0 {
			t.Fatalf("%s %s: nothing logged", c.method, c.path)
		}
		for _, l := range lines {
			for k, v := range l.ContextMap() {
				if strings.Contains(fmt.Sprint(v), tok[4:]) {
					t.Errorf("%s %s: log field %s holds the token: %v", c.method, c.path, k, v)
				}
			}
			if strings.Contains(l.Message, tok[4:]) {
				t.Errorf("log message holds the token: %s", l.Message)
			}
		}
		if p := lines[len(lines)-1].ContextMap()["path"]; p != c.want {
			t.Errorf("%s %s: logged path %v, want %s", c.method, c.path, p, c.want)
		}
	}
	// An invitation id on the owner's routes is not a secret and stays.
	id := "0b9a2c3e-6f1d-4a8b-9c2d-1e2f3a4b5c6d"
	if got := redactPath("/v1/orgs/" + id + "/invitations/" + id); got != "/v1/orgs/"+id+"/invitations/"+id {
		t.Errorf("redactPath changed an invitation id: %s", got)
	}
}

// /readyz names what is down, never the driver's error or a connection
// string; the detail goes to the log.
func TestReadyzNamesWhatIsDownAndLogsTheDetail(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, false, nil)
	pool, err := pgxpool.New(context.Background(), "postgres://leadrelay:hunter2-secret@127.0.0.1:1/leads?connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	ts.s.Pool = pool
	ts.s.Temporal = fakeTemporal{err: errors.New("dial tcp 10.9.8.7:7233: temporal-secret-detail")}
	a := ts.do(t, "GET", "/readyz", "", "", "")
	if a.status != 503 || !strings.Contains(a.body, `"down":["postgres","temporal","search_attributes"]`) || !strings.Contains(a.body, `"ready":false`) {
		t.Fatalf("readyz: %d %s", a.status, a.body)
	}
	for _, leak := range []string{"hunter2", "127.0.0.1", "leadrelay", "10.9.8.7", "secret", "dial", "connect"} {
		if strings.Contains(a.body, leak) {
			t.Errorf("readyz body leaks %q: %s", leak, a.body)
		}
	}
	failed := ts.logs.FilterMessage("readiness check failed").All()
	if len(failed) != 3 || !strings.Contains(fmt.Sprint(failed[1].ContextMap()), "temporal-secret-detail") {
		t.Fatalf("the detail is not logged: %+v", failed)
	}

	// A fresh production server: attributes registered but refused on a start
	// until SQL visibility's cache refreshes. Not ready, and it says why.
	fresh := newTestServer(t, true, nil)
	fresh.s.Temporal = fakeTemporal{saErr: serviceerror.NewInvalidArgument("search attribute OrgID is not defined")}
	if a := fresh.do(t, "GET", "/readyz", "", "", ""); a.status != 503 || !strings.Contains(a.body, `"down":["search_attributes"]`) {
		t.Fatalf("readyz before the attributes are usable: %d %s", a.status, a.body)
	}
	fresh.s.Temporal = fakeTemporal{}
	if a := fresh.do(t, "GET", "/readyz", "", "", ""); a.status != 200 {
		t.Fatalf("readyz once they are usable: %d %s", a.status, a.body)
	}

	up := newTestServer(t, true, nil)
	if a := up.do(t, "GET", "/readyz", "", "", ""); a.status != 200 || !strings.Contains(a.body, `"ready":true`) || !strings.Contains(a.body, `"down":[]`) {
		t.Fatalf("readyz when up: %d %s", a.status, a.body)
	}
}

// Failed authentications are limited per client address before anything is
// looked up; successful ones spend nothing.
func TestFailedAuthenticationsAreLimitedPerAddress(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, false, map[string]string{"AUTH_FAILURE_RATE_LIMIT": "1/s,burst=2"})
	const a, b = "192.0.2.1:5555", "192.0.2.2:5555"
	// Authenticated requests (refused later, for their body) spend nothing.
	for i := 0; i < 5; i++ {
		if r := ts.do(t, "POST", "/v1/orgs", testAdmin, `{"name":""}`, a); r.status != 422 {
			t.Fatalf("admin post %d: %d %s", i, r.status, r.body)
		}
	}
	var got []int
	var retry string
	for i := 0; i < 3; i++ {
		r := ts.do(t, "GET", "/v1/orgs/x/leads", "", "", a)
		got = append(got, r.status)
		retry = r.header.Get("Retry-After")
		if r.status == 429 && !strings.Contains(r.body, `"code":"rate_limited"`) {
			t.Fatalf("429 body %s", r.body)
		}
	}
	if want := "[401 401 429]"; fmt.Sprint(got) != want || retry != "1" {
		t.Fatalf("statuses %v Retry-After %q, want %s and 1", got, retry, want)
	}
	// Before authentication: even a valid token from that address waits.
	if r := ts.do(t, "POST", "/v1/orgs", testAdmin, `{"name":""}`, a); r.status != 429 {
		t.Errorf("valid token from a limited address: %d", r.status)
	}
	if r := ts.do(t, "GET", "/healthz", "", "", a); r.status != 200 {
		t.Errorf("healthz from a limited address: %d", r.status)
	}
	if r := ts.do(t, "GET", "/v1/orgs/x/leads", "", "", b); r.status != 401 {
		t.Errorf("another address: %d", r.status)
	}
	// IPv6 clients are limited by /64.
	for i, want := range []int{401, 401, 429} {
		if r := ts.do(t, "GET", "/v1/orgs/x/leads", "", "", "[2001:db8:1:2::"+strconv.Itoa(i+1)+"]:443"); r.status != want {
			t.Errorf("IPv6 attempt %d: %d, want %d", i, r.status, want)
		}
	}
	time.Sleep(1100 * time.Millisecond)
	if r := ts.do(t, "GET", "/v1/orgs/x/leads", "", "", a); r.status != 401 {
		t.Errorf("after a second: %d, want 401", r.status)
	}
}
