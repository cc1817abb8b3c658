package console

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/leadrelay/leadrelay/internal/api"
	"github.com/leadrelay/leadrelay/internal/config"
	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// harness is the console and the API on the package's PostgreSQL database,
// with a Temporal that is down (noTemporal): pages that start runs are
// tested end to end in e2e.
type harness struct {
	srv   *httptest.Server
	store *store.Store
	pool  *pgxpool.Pool
	c     *Console
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	return newHarnessEnv(t, nil)
}

// newHarnessEnv is newHarness with settings added to its environment.
func newHarnessEnv(t *testing.T, more map[string]string) *harness {
	t.Helper()
	env := map[string]string{"AUTH_FAILURE_RATE_LIMIT": "off", "USER_RATE_LIMIT": "off", "TRANSFERS_PER_ORG": "off",
		"WEBHOOK_SECRET_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}
	for k, v := range more {
		env[k] = v
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	pool, _ := testenv.DB(t)
	st := store.New(pool)
	h := &harness{store: st, pool: pool}
	apiH := api.New(&api.Server{Store: st, Pool: pool, Cfg: cfg, Log: zap.NewNop(), Temporal: noTemporal{}})
	h.c = &Console{Store: st, API: apiH, Cfg: cfg, Log: zap.NewNop(), Temporal: noTemporal{}}
	mux := http.NewServeMux()
	mux.Handle("/app/", New(h.c))
	mux.Handle("/", apiH)
	h.srv = httptest.NewServer(mux)
	t.Cleanup(h.srv.Close)
	return h
}

// org creates an org; its owner is the first user.
func (h *harness) org(t *testing.T, name string) (store.Org, store.User) {
	t.Helper()
	o, u, _, err := h.store.CreateOrg(context.Background(), name, "America/Chicago", domain.NewID()[:8]+"@owner.test", name+" Owner")
	if err != nil {
		t.Fatal(err)
	}
	return o, u
}

func (h *harness) user(t *testing.T, org string, role domain.Role, name string) store.User {
	t.Helper()
	u, _, err := h.store.CreateUser(context.Background(), org, domain.NewID()[:8]+"@staff.test", name, role, false)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// browser is a person's cookie jar against the harness; it does not follow
// redirects, so a test reads where each answer sends them.
type browser struct {
	t    *testing.T
	h    *harness
	http *http.Client
}

func (h *harness) anonymous(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, h: h, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// signedIn is a browser with a session acting as u, made the way the
// sign-in link makes one.
func (h *harness) signedIn(t *testing.T, u store.User) *browser {
	t.Helper()
	b := h.anonymous(t)
	plain, hash := domain.NewToken("lrs_")
	if err := h.store.CreateSession(context.Background(), hash, u.Email, u.ID, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	base, _ := url.Parse(h.srv.URL)
	b.http.Jar.SetCookies(base, []*http.Cookie{{Name: sessionCookie, Value: plain, Path: "/"}})
	return b
}

type page struct {
	status int
	body   string
	header http.Header
}

func (b *browser) get(path string) page {
	b.t.Helper()
	res, err := b.http.Get(b.h.srv.URL + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return page{res.StatusCode, string(body), res.Header}
}

// post sends a form as the page would; csrf is added unless form has one
// (set it to "" to leave it out).
func (b *browser) post(path string, form url.Values) page {
	b.t.Helper()
	res, err := b.http.PostForm(b.h.srv.URL+path, form)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return page{res.StatusCode, string(body), res.Header}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf reads the form token from a page the browser may open.
func (b *browser) csrf(path string) string {
	b.t.Helper()
	p := b.get(path)
	m := csrfField.FindStringSubmatch(p.body)
	if m == nil {
		b.t.Fatalf("GET %s (%d) has no CSRF field:\n%s", path, p.status, p.body)
	}
	return m[1]
}

func TestPagesNeedASession(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	p := h.anonymous(t).get("/app/leads?status=new")
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/app/signin?next="+url.QueryEscape("/app/leads?status=new") {
		t.Fatalf("GET /app/leads without a session: %d to %q, want 303 to the sign-in page that brings them back", p.status, p.header.Get("Location"))
	}
}

func TestPagesCarryTheSecurityHeaders(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, owner := h.org(t, "Headers Agency")
	p := h.signedIn(t, owner).get("/app/leads")
	if p.status != 200 {
		t.Fatalf("GET /app/leads: %d\n%s", p.status, p.body)
	}
	csp := p.header.Get("Content-Security-Policy")
	for _, want := range []string{"script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "form-action 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP allows inline code: %q", csp)
	}
	for k, want := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"} {
		if got := p.header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if st := p.header.Get("Server-Timing"); !strings.HasPrefix(st, "app;dur=") {
		t.Errorf("Server-Timing = %q: starter bench reads a page's server time from it", st)
	}
	if strings.Contains(p.body, "<script>") || strings.Contains(p.body, "style=") || strings.Contains(p.body, "<style") {
		t.Errorf("the page has inline script or style, which the CSP blocks")
	}
}

func TestAFormWithoutItsCSRFTokenChangesNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, owner := h.org(t, "CSRF Agency")
	b := h.signedIn(t, owner)
	for _, token := range []string{"", "forged-token"} {
		p := b.post("/app/signout", url.Values{"csrf": {token}})
		if p.status != http.StatusForbidden || !strings.Contains(p.body, "Nothing was changed") {
			t.Fatalf("sign-out with csrf %q: %d, want 403 saying nothing changed\n%s", token, p.status, p.body)
		}
	}
	if p := b.get("/app/leads"); p.status != 200 {
		t.Fatalf("the refused sign-out signed the person out: GET /app/leads %d", p.status)
	}
	// With the page's own token it works, and the cookie stops working.
	if p := b.post("/app/signout", url.Values{"csrf": {b.csrf("/app/leads")}}); p.status != http.StatusSeeOther {
		t.Fatalf("sign-out with its token: %d", p.status)
	}
	if p := b.get("/app/leads"); p.status != http.StatusSeeOther {
		t.Fatalf("after sign-out GET /app/leads: %d, want 303 to sign-in", p.status)
	}
}

func TestADeactivatedUsersSessionStopsWorking(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	o, _ := h.org(t, "Deactivation Agency")
	rep := h.user(t, o.ID, domain.RoleStaff, "Rita Rep")
	b := h.signedIn(t, rep)
	if p := b.get("/app/leads"); p.status != 200 {
		t.Fatalf("GET /app/leads as the rep: %d", p.status)
	}
	off := false
	if _, err := h.store.UpdateUser(context.Background(), o.ID, rep.ID, store.UserPatch{Active: &off}); err != nil {
		t.Fatal(err)
	}
	if p := b.get("/app/leads"); p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/app/signin") {
		t.Fatalf("a deactivated user's session: %d to %q, want 303 to sign-in", p.status, p.header.Get("Location"))
	}
	var n int
	if err := h.pool.QueryRow(context.Background(), `SELECT count(*) FROM sessions WHERE user_id = $1`, rep.ID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d sessions of the deactivated user remain in the database", n)
	}
}

// count runs a count(*) query.
func (h *harness) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := h.pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
