package console

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/internal/domain"
)

// sessionCookieOf is the Set-Cookie line of the session cookie in p.
func sessionCookieOf(p page) string {
	for _, c := range p.header.Values("Set-Cookie") {
		if strings.HasPrefix(c, sessionCookie+"=") {
			return c
		}
	}
	return ""
}

func TestTheSessionCookieIsHttpOnlyLaxAndSecureBehindHTTPS(t *testing.T) {
	t.Parallel()
	for base, secure := range map[string]bool{"https://leads.example.com": true, "http://127.0.0.1:8080": false} {
		h := newHarnessEnv(t, map[string]string{"PUBLIC_BASE_URL": base})
		o, _ := h.org(t, "Cookie Agency")
		rep := h.user(t, o.ID, domain.RoleStaff, "Cora Cookie")
		p := h.anonymous(t).use(h.link(t, rep.Email), "")
		ck := sessionCookieOf(p)
		if p.status != http.StatusSeeOther || ck == "" {
			t.Fatalf("%s: signing in answered %d without a session cookie", base, p.status)
		}
		for _, want := range []string{"HttpOnly", "SameSite=Lax", "Path=/"} {
			if !strings.Contains(ck, want) {
				t.Errorf("%s: the session cookie %q lacks %s", base, ck, want)
			}
		}
		if strings.Contains(ck, "Secure") != secure {
			t.Errorf("%s: the session cookie %q: Secure should be %v", base, ck, secure)
		}
	}
}

func TestASessionEndsWhenIdleAndAtItsLifetime(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	o, _ := h.org(t, "Lifetime Agency")
	for name, sql := range map[string]string{
		"idle":     `UPDATE sessions SET last_seen_at = now() - $2::interval - interval '1 minute' WHERE user_id = $1`,
		"lifetime": `UPDATE sessions SET expires_at = now() - interval '1 second' WHERE user_id = $1 AND $2::interval IS NOT NULL`,
	} {
		rep := h.user(t, o.ID, domain.RoleStaff, "Lena "+name)
		b := h.signedIn(t, rep)
		if p := b.get("/app/leads"); p.status != 200 {
			t.Fatalf("%s: a fresh session: %d", name, p.status)
		}
		if _, err := h.pool.Exec(context.Background(), sql, rep.ID, h.c.IdleTimeout.String()); err != nil {
			t.Fatal(err)
		}
		if p := b.get("/app/leads"); p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/app/signin") {
			t.Fatalf("%s: a session past it opens /app/leads: %d, want 303 to sign-in", name, p.status)
		}
		if n := h.count(t, `SELECT count(*) FROM sessions WHERE user_id = $1`, rep.ID); n != 0 {
			t.Fatalf("%s: %d ended sessions are still in the database", name, n)
		}
	}
	if DefaultIdleTimeout != 12*time.Hour || DefaultLifetime != 7*24*time.Hour {
		t.Fatalf("the lifetimes docs/console.md states changed: idle %s, lifetime %s", DefaultIdleTimeout, DefaultLifetime)
	}
}

// TestPageViewsAreLimitedNotTheCallsOfAPage: USER_RATE_LIMIT counts a
// person's page views. The leads page makes several API calls; they are
// not counted again, so a burst of three lets three such pages through,
// and the fourth is a 429 page saying to wait.
func TestPageViewsAreLimitedNotTheCallsOfAPage(t *testing.T) {
	t.Parallel()
	h := newHarnessEnv(t, map[string]string{"USER_RATE_LIMIT": "0.01/s,burst=3"})
	o, _ := h.org(t, "Pace Agency")
	b := h.signedIn(t, h.user(t, o.ID, domain.RoleManager, "Paula Pace"))
	for i := range 3 {
		if p := b.get("/app/leads"); p.status != 200 {
			t.Fatalf("page view %d of a burst of 3: %d\n%s", i+1, p.status, p.body)
		}
	}
	p := b.get("/app/leads")
	if p.status != http.StatusTooManyRequests || p.header.Get("Retry-After") == "" || !strings.Contains(p.body, "Wait a moment") {
		t.Fatalf("the 4th page view: %d (Retry-After %q), want 429 asking to wait", p.status, p.header.Get("Retry-After"))
	}
}
