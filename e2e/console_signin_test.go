package e2e

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/leadrelay/leadrelay/workflows"
)

var signInLinkRE = regexp.MustCompile(`(http://\S+/app/signin/(lrl_[A-Za-z0-9_-]+))`)

// anonymousVisitor is a Chromium window with no session.
func (s *stack) anonymousVisitor(t *testing.T, name string) *visitor {
	t.Helper()
	ctx, cancel := browser(t)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatal(err)
	}
	return &visitor{t: t, s: s, ctx: ctx, name: name}
}

// waitPath waits until the page's path starts with prefix (a form's
// redirect has landed) and its main content is there.
func (p *visitor) waitPath(prefix string) {
	p.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.HasPrefix(p.location(), prefix) {
		if time.Now().After(deadline) {
			p.t.Fatalf("%s is at %s, want %s (screenshot %s)", p.name, p.location(), prefix, p.shot("failure-"+p.t.Name()))
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.do(chromedp.WaitReady("main"))
}

// askSignInLink types email on the sign-in page, sends the form, and
// returns the link and token from the email that arrives (the n-th to it).
func (s *stack) askSignInLink(t *testing.T, p *visitor, email string, n int, shot string) (link, token string) {
	t.Helper()
	p.open("/app/signin")
	p.accessible()
	if shot != "" {
		p.shot(shot)
	}
	p.do(chromedp.SendKeys("#email", email), chromedp.Click("form[action='/app/signin'] button[type=submit]"))
	p.waitPath("/app/signin/sent")
	if got := p.text("main"); !strings.Contains(got, "If that address belongs to a user of leadrelay, a sign-in link is on its way") {
		t.Fatalf("the answer to an ask: %q", got)
	}
	p.accessible()
	msgs := s.waitMail(t, email, n, 30*time.Second)
	m := signInLinkRE.FindStringSubmatch(msgs[n-1].Text)
	if m == nil {
		t.Fatalf("no sign-in link in the email:\n%s", msgs[n-1].Text)
	}
	return m[1], m[2]
}

// TestConsoleSignInByEmailedLink is the sign-in as a person does it: the
// email typed on the sign-in page, the link read from the email, one press
// of "Sign in", the leads page under their name; the link refused the
// second time; a person in two orgs choosing one; and the token nowhere in
// the run's history.
func TestConsoleSignInByEmailedLink(t *testing.T) {
	s := up(t)
	ctx := context.Background()
	stamp := time.Now().Format("150405.000000")
	tn := s.newTenant(t, "SignInAgency", 0, nil)
	email := "rita." + stamp + "@signin.example"
	r := s.do(t, "POST", "/v1/orgs/"+tn.id+"/users", tn.ownerToken, map[string]any{"email": email, "name": "Rita Signin", "role": "staff"})
	if r.status != 201 {
		t.Fatalf("create user: %d %s", r.status, r.raw)
	}
	rita := r.str("id")

	p := s.anonymousVisitor(t, email)
	link, token := s.askSignInLink(t, p, email, 1, "signin")
	p.do(chromedp.Navigate(link), chromedp.WaitReady("main"))
	if h := p.text("h1"); h != "Sign in as "+email {
		t.Fatalf("the link's page says %q", h)
	}
	p.accessible()
	p.do(chromedp.Click("#signin"))
	p.waitPath("/app/leads")
	if who := p.text(".who"); !strings.Contains(who, "Rita Signin") || !strings.Contains(who, "SignInAgency") {
		t.Fatalf("the leads page after signing in names %q, want Rita Signin of SignInAgency", who)
	}
	p.accessible()

	// What the database says: the link used, one session acting as Rita.
	var linkID string
	var used bool
	var sessions int
	if err := s.deps.Pool.QueryRow(ctx, `SELECT id, used_at IS NOT NULL, (SELECT count(*) FROM sessions WHERE user_id = $2)
		FROM signin_links WHERE email = $1`, email, rita).Scan(&linkID, &used, &sessions); err != nil {
		t.Fatal(err)
	}
	if !used || sessions != 1 {
		t.Fatalf("after signing in: link used %v, %d sessions of Rita; want used and 1", used, sessions)
	}

	// The same link again, in another browser: refused, no session.
	again := s.anonymousVisitor(t, "someone else")
	again.do(chromedp.Navigate(link), chromedp.WaitReady("main"))
	if h := again.text("h1"); h != "This sign-in link cannot be used" {
		t.Fatalf("a used link's page says %q", h)
	}
	again.accessible()
	again.open("/app/leads")
	again.waitPath("/app/signin")
	if err := s.deps.Pool.QueryRow(ctx, `SELECT count(*) FROM sessions WHERE lower(email) = lower($1)`, email).Scan(&sessions); err != nil || sessions != 1 {
		t.Fatalf("%d sessions for the address after the used link was tried again (%v), want 1", sessions, err)
	}

	// The run that emailed the link holds neither the token nor the address.
	checkHistories(t, s, map[string]string{"signin_history.json": workflows.SignInWorkflowID(linkID)}, []string{token, email})
	if found := revealed(t, history(t, s, workflows.SignInWorkflowID(linkID)), []string{token, "lrl_"}); len(found) > 0 {
		t.Fatalf("the sign-in run's history holds %q", found)
	}

	// The owner deactivates Rita through the API: her open page stops
	// working at its next request.
	if r := s.do(t, "PATCH", "/v1/orgs/"+tn.id+"/users/"+rita, tn.ownerToken, map[string]any{"active": false}); r.status != 200 {
		t.Fatalf("deactivate Rita: %d %s", r.status, r.raw)
	}
	p.open("/app/leads")
	p.waitPath("/app/signin")

	// A person who is a user in two orgs picks one.
	a := s.newTenant(t, "PickerAlpha", 0, nil)
	b := s.newTenant(t, "PickerBravo", 0, nil)
	pat := "pat." + stamp + "@signin.example"
	ids := map[string]string{}
	for _, org := range []tenant{a, b} {
		r := s.do(t, "POST", "/v1/orgs/"+org.id+"/users", org.ownerToken, map[string]any{"email": pat, "name": "Pat Picker", "role": "manager"})
		if r.status != 201 {
			t.Fatalf("create user: %d %s", r.status, r.raw)
		}
		ids[org.id] = r.str("id")
	}
	q := s.anonymousVisitor(t, pat)
	link, _ = s.askSignInLink(t, q, pat, 1, "")
	q.do(chromedp.Navigate(link), chromedp.WaitReady("main"), chromedp.Click("#signin"))
	q.waitPath("/app/orgs")
	if got := q.text("main"); !strings.Contains(got, "PickerAlpha") || !strings.Contains(got, "PickerBravo") {
		t.Fatalf("the org picker offers %q", got)
	}
	q.accessible()
	q.shot("orgs")
	q.do(chromedp.Click(fmt.Sprintf(`form:has(input[value="%s"]) button`, ids[b.id])))
	q.waitPath("/app/leads")
	if who := q.text(".who"); !strings.Contains(who, "Pat Picker · PickerBravo") || !strings.Contains(who, "Switch organization") {
		t.Fatalf("after picking Bravo the header says %q", who)
	}
	q.accessible()
	var actsAs string
	if err := s.deps.Pool.QueryRow(ctx, `SELECT user_id FROM sessions WHERE email = $1`, pat).Scan(&actsAs); err != nil || actsAs != ids[b.id] {
		t.Fatalf("the session acts as %q (%v), want Pat's user in Bravo %s", actsAs, err, ids[b.id])
	}
}
