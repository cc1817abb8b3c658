package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
)

// startRecorder stands in for Temporal: it records which links had their
// email run started.
type startRecorder struct {
	mu    sync.Mutex
	links []string
}

func (s *startRecorder) start(_ context.Context, linkID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.links = append(s.links, linkID)
	return nil
}

func (s *startRecorder) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.links)
}

func (h *harness) recordStarts() *startRecorder {
	rec := &startRecorder{}
	h.c.StartSignIn = rec.start
	return rec
}

// ask posts the sign-in form for email from browser b.
func (b *browser) ask(email string) page {
	b.t.Helper()
	return b.post("/app/signin", url.Values{"csrf": {b.csrf("/app/signin")}, "email": {email}})
}

// link records a sign-in link for email as `starter dev` does and returns
// its path.
func (h *harness) link(t *testing.T, email string) string {
	t.Helper()
	token, hash := domain.NewToken("lrl_")
	if err := h.store.CreateSignInLink(context.Background(), email, hash, 15*time.Minute); err != nil {
		t.Fatal(err)
	}
	return "/app/signin/" + token
}

// use opens a link's page and presses its button, with next when not "".
func (b *browser) use(path, next string) page {
	b.t.Helper()
	form := url.Values{"csrf": {b.csrf(path)}}
	if next != "" {
		form.Set("next", next)
	}
	return b.post(path, form)
}

func TestSignInAnswersAlikeForKnownAndUnknownAddresses(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	rec := h.recordStarts()
	o, owner := h.org(t, "Alike Agency")
	gone := h.user(t, o.ID, domain.RoleStaff, "Gone Rep")
	off := false
	if _, err := h.store.UpdateUser(context.Background(), o.ID, gone.ID, store.UserPatch{Active: &off}); err != nil {
		t.Fatal(err)
	}
	answers := map[string]page{}
	for _, email := range []string{strings.ToUpper(owner.Email), "nobody@nowhere.test", gone.Email} {
		b := h.anonymous(t)
		p := b.ask(email)
		if p.status != http.StatusSeeOther || p.header.Get("Location") != "/app/signin/sent" {
			t.Fatalf("asking a link for %s: %d to %q, want 303 to /app/signin/sent", email, p.status, p.header.Get("Location"))
		}
		answers[email] = b.get("/app/signin/sent")
	}
	known, unknown := answers[strings.ToUpper(owner.Email)], answers["nobody@nowhere.test"]
	if known.status != 200 || known.status != unknown.status || known.body != unknown.body || known.body != answers[gone.Email].body {
		t.Fatalf("the answers differ: %d vs %d\n%s\n---\n%s", known.status, unknown.status, known.body, unknown.body)
	}
	if !strings.Contains(known.body, "If that address belongs to a user of leadrelay, a sign-in link is on its way") {
		t.Fatalf("the answer does not say what happens:\n%s", known.body)
	}
	if n := h.count(t, `SELECT count(*) FROM signin_links WHERE lower(email) = lower($1) AND hash IS NULL AND expires_at BETWEEN now() + interval '14 minutes' AND now() + interval '15 minutes'`, owner.Email); n != 1 {
		t.Fatalf("%d links without a token, valid 15 minutes, for the owner; want 1", n)
	}
	if n := h.count(t, `SELECT count(*) FROM signin_links WHERE email = 'nobody@nowhere.test' OR lower(email) = lower($1)`, gone.Email); n != 0 {
		t.Fatalf("%d links were written for an unknown or deactivated address", n)
	}
	if rec.count() != 1 {
		t.Fatalf("%d email runs started, want 1 (the owner's)", rec.count())
	}
}

func TestSignInAskIsRefusedWithoutAnAddress(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	b := h.anonymous(t)
	p := b.post("/app/signin", url.Values{"csrf": {b.csrf("/app/signin")}, "email": {"not an address"}})
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, `id="email-err"`) || !strings.Contains(p.body, "Enter your email address") {
		t.Fatalf("a malformed address: %d, want 422 with the refusal next to the field\n%s", p.status, p.body)
	}
	if n := h.count(t, `SELECT count(*) FROM signin_links WHERE email = 'not an address'`); n != 0 {
		t.Fatalf("%d links written", n)
	}
}

func TestSignInLinksAreLimitedPerAddressAndPerClient(t *testing.T) {
	t.Parallel()
	t.Run("per email", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		rec := h.recordStarts()
		_, owner := h.org(t, "Limit Agency")
		b := h.anonymous(t)
		for i := range DefaultSignInsPerEmail + 2 {
			if p := b.ask(owner.Email); p.status != http.StatusSeeOther || p.header.Get("Location") != "/app/signin/sent" {
				t.Fatalf("ask %d: %d to %q, want the same answer as every other", i+1, p.status, p.header.Get("Location"))
			}
		}
		if n := h.count(t, `SELECT count(*) FROM signin_links WHERE email = $1`, owner.Email); n != DefaultSignInsPerEmail || rec.count() != DefaultSignInsPerEmail {
			t.Fatalf("%d links, %d runs after %d asks; want %d of each", n, rec.count(), DefaultSignInsPerEmail+2, DefaultSignInsPerEmail)
		}
	})
	t.Run("per client address", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.c.perAddress = signInLimit(3)
		rec := h.recordStarts()
		b := h.anonymous(t)
		var emails []string
		for i := range 5 {
			_, owner := h.org(t, "Client Limit "+string(rune('A'+i)))
			emails = append(emails, owner.Email)
			if p := b.ask(owner.Email); p.status != http.StatusSeeOther || p.header.Get("Location") != "/app/signin/sent" {
				t.Fatalf("ask %d: %d to %q, want the same answer as every other", i+1, p.status, p.header.Get("Location"))
			}
		}
		if n := h.count(t, `SELECT count(*) FROM signin_links WHERE email = ANY($1)`, emails); n != 3 || rec.count() != 3 {
			t.Fatalf("%d links, %d runs after 5 asks from one client allowed 3", n, rec.count())
		}
	})
}

func TestASignInLinkWorksOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	o, _ := h.org(t, "Once Agency")
	rep := h.user(t, o.ID, domain.RoleStaff, "Rita Once")
	link := h.link(t, rep.Email)
	b := h.anonymous(t)
	// Opening the link, as a mail scanner would, twice, uses nothing.
	for range 2 {
		if p := b.get(link); p.status != 200 || !strings.Contains(p.body, "Sign in as "+rep.Email) {
			t.Fatalf("GET the link: %d\n%s", p.status, p.body)
		}
	}
	p := b.use(link, "")
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/app/" {
		t.Fatalf("pressing Sign in: %d to %q, want 303 to /app/", p.status, p.header.Get("Location"))
	}
	if p := b.get("/app/leads"); p.status != 200 || !strings.Contains(p.body, "Rita Once") {
		t.Fatalf("after signing in GET /app/leads: %d, want 200 naming the user\n%s", p.status, p.body)
	}
	sessions := h.count(t, `SELECT count(*) FROM sessions WHERE user_id = $1`, rep.ID)
	if sessions != 1 {
		t.Fatalf("%d sessions of the rep, want 1", sessions)
	}
	// The same link again, from another browser: refused, no session.
	again := h.anonymous(t)
	if p := again.get(link); p.status != http.StatusGone || !strings.Contains(p.body, "cannot be used") {
		t.Fatalf("GET a used link: %d, want 410\n%s", p.status, p.body)
	}
	p = again.post(link, url.Values{"csrf": {again.csrf("/app/signin")}})
	if p.status != http.StatusGone || p.header.Get("Set-Cookie") != "" && strings.Contains(p.header.Get("Set-Cookie"), sessionCookie) {
		t.Fatalf("a used link pressed again: %d (cookie %q), want 410 and no session", p.status, p.header.Get("Set-Cookie"))
	}
	if n := h.count(t, `SELECT count(*) FROM sessions WHERE email = $1`, rep.Email); n != sessions {
		t.Fatalf("a used link made a session: %d sessions, want %d", n, sessions)
	}
	if p := again.get("/app/leads"); p.status != http.StatusSeeOther {
		t.Fatalf("the refused browser opens /app/leads: %d", p.status)
	}
	// A link that was never sent is refused the same way.
	if p := again.get("/app/signin/lrl_made-up"); p.status != http.StatusGone {
		t.Fatalf("GET an unknown link: %d, want 410", p.status)
	}
}

func TestAnExpiredSignInLinkIsRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, owner := h.org(t, "Expiry Agency")
	link := h.link(t, owner.Email)
	b := h.anonymous(t)
	token := b.csrf(link) // the page, while the link still works
	if _, err := h.pool.Exec(context.Background(), `UPDATE signin_links SET expires_at = now() - interval '1 second' WHERE lower(email) = lower($1)`, owner.Email); err != nil {
		t.Fatal(err)
	}
	if p := b.get(link); p.status != http.StatusGone {
		t.Fatalf("GET an expired link: %d, want 410", p.status)
	}
	if p := b.post(link, url.Values{"csrf": {token}}); p.status != http.StatusGone {
		t.Fatalf("pressing Sign in on an expired link: %d, want 410\n%s", p.status, p.body)
	}
	if n := h.count(t, `SELECT count(*) FROM sessions WHERE email = $1`, owner.Email); n != 0 {
		t.Fatalf("an expired link made %d sessions", n)
	}
}

func TestASignInLinkOfADeactivatedUserIsRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	o, _ := h.org(t, "Deactivated Link Agency")
	rep := h.user(t, o.ID, domain.RoleStaff, "Dee Activated")
	link := h.link(t, rep.Email)
	off := false
	if _, err := h.store.UpdateUser(context.Background(), o.ID, rep.ID, store.UserPatch{Active: &off}); err != nil {
		t.Fatal(err)
	}
	p := h.anonymous(t).use(link, "")
	if p.status != http.StatusForbidden || !strings.Contains(p.body, "no active account") {
		t.Fatalf("the link of a user deactivated since: %d, want 403 saying so\n%s", p.status, p.body)
	}
	if n := h.count(t, `SELECT count(*) FROM sessions WHERE email = $1`, rep.Email); n != 0 {
		t.Fatalf("a deactivated user's link made %d sessions", n)
	}
}

func TestAPersonInSeveralOrgsPicksOne(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	email := "pat." + domain.NewID()[:8] + "@two.test"
	a, _ := h.org(t, "Alpha Agency")
	bOrg, _ := h.org(t, "Bravo Agency")
	c, _ := h.org(t, "Charlie Agency")
	inA, _, err := h.store.CreateUser(ctx, a.ID, email, "Pat Alpha", domain.RoleManager, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.store.CreateUser(ctx, bOrg.ID, strings.ToUpper(email), "Pat Bravo", domain.RoleStaff, false); err != nil {
		t.Fatal(err)
	}
	inC, _, err := h.store.CreateUser(ctx, c.ID, email, "Pat Charlie", domain.RoleStaff, false)
	if err != nil {
		t.Fatal(err)
	}
	off := false
	if _, err := h.store.UpdateUser(ctx, c.ID, inC.ID, store.UserPatch{Active: &off}); err != nil {
		t.Fatal(err)
	}
	stranger := h.user(t, a.ID, domain.RoleStaff, "Someone Else")

	b := h.anonymous(t)
	if p := b.use(h.link(t, email), "/app/leads"); p.status != http.StatusSeeOther || p.header.Get("Location") != "/app/orgs" {
		t.Fatalf("signing in with two orgs: %d to %q, want 303 to the org picker", p.status, p.header.Get("Location"))
	}
	if p := b.get("/app/leads"); p.status != http.StatusSeeOther || p.header.Get("Location") != "/app/orgs" {
		t.Fatalf("a member page before picking: %d to %q, want 303 to /app/orgs", p.status, p.header.Get("Location"))
	}
	p := b.get("/app/orgs")
	if p.status != 200 || !strings.Contains(p.body, "Alpha Agency") || !strings.Contains(p.body, "Bravo Agency") {
		t.Fatalf("the picker: %d, want both active orgs\n%s", p.status, p.body)
	}
	if strings.Contains(p.body, "Charlie Agency") || strings.Contains(p.body, inC.ID) || strings.Contains(p.body, stranger.ID) {
		t.Fatalf("the picker offers a deactivated user's org or another person:\n%s", p.body)
	}
	token := b.csrf("/app/orgs")
	for what, id := range map[string]string{"another person": stranger.ID, "a deactivated user of the address": inC.ID, "no user": "not-an-id"} {
		if p := b.post("/app/orgs", url.Values{"csrf": {token}, "user_id": {id}}); p.status != http.StatusNotFound {
			t.Fatalf("picking %s: %d, want 404", what, p.status)
		}
	}
	if n := h.count(t, `SELECT count(*) FROM sessions WHERE lower(email) = lower($1) AND user_id IS NOT NULL`, email); n != 0 {
		t.Fatalf("a refused pick set the session's user")
	}
	if p := b.post("/app/orgs", url.Values{"csrf": {token}, "user_id": {inA.ID}}); p.status != http.StatusSeeOther || p.header.Get("Location") != "/app/" {
		t.Fatalf("picking Alpha: %d to %q", p.status, p.header.Get("Location"))
	}
	p = b.get("/app/leads")
	if p.status != 200 || !strings.Contains(p.body, "Pat Alpha · Alpha Agency") || !strings.Contains(p.body, `href="/app/orgs"`) {
		t.Fatalf("after picking, GET /app/leads: %d, want Pat Alpha's page with a switch link\n%s", p.status, p.body)
	}
}

func TestSignInNeverSendsThePersonToAnotherSite(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	o, _ := h.org(t, "Redirect Agency")
	for next, want := range map[string]string{
		"//evil.test/app/":             "/app/",
		"https://evil.test/app/leads":  "/app/",
		"/\\evil.test/app/":            "/app/",
		"/app/../evil":                 "/app/",
		"javascript:alert(1)":          "/app/",
		"/app/leads?status=new":        "/app/leads?status=new",
		"/app/leads/" + domain.NewID(): "/app/leads/",
	} {
		rep := h.user(t, o.ID, domain.RoleStaff, "Rep")
		p := h.anonymous(t).use(h.link(t, rep.Email), next)
		loc := p.header.Get("Location")
		if p.status != http.StatusSeeOther || !strings.HasPrefix(loc, want) || (want == "/app/" && loc != "/app/") {
			t.Errorf("next=%q: %d to %q, want %q", next, p.status, loc, want)
		}
	}
}
