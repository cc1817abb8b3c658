package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/leadrelay/leadrelay/internal/apiclient"
	"github.com/leadrelay/leadrelay/internal/mailcatcher"
	"github.com/leadrelay/leadrelay/internal/testenv"
)

var inviteLinkRE = regexp.MustCompile(`(http://\S+/invitations/(lri_[A-Za-z0-9_-]+))`)

// waitMail waits until n messages to addr arrived, then a little longer so a
// wrong extra copy would show, and returns them.
func (s *stack) waitMail(t *testing.T, addr string, n int, within time.Duration) []mailcatcher.Message {
	t.Helper()
	deadline := time.Now().Add(within)
	for len(s.mailsFor(addr)) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d emails to %s after %s, want %d", len(s.mailsFor(addr)), addr, within, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	got := s.mailsFor(addr)
	if len(got) != n {
		t.Fatalf("%d emails to %s, want exactly %d", len(got), addr, n)
	}
	return got
}

// inviteLink invites email from master and returns the link from the email.
func (s *stack) invite(t *testing.T, master tenant, email string) (id, link, token string) {
	t.Helper()
	before := len(s.mailsFor(email))
	r := s.do(t, "POST", "/v1/orgs/"+master.id+"/invitations", master.ownerToken, map[string]string{"email": email})
	if r.status != 202 || r.str("status") != "pending" || r.str("expires_at") == "" || !strings.HasPrefix(r.str("workflow_id"), "invitation/") {
		t.Fatalf("invite: %d %s", r.status, r.raw)
	}
	msgs := s.waitMail(t, email, before+1, 30*time.Second)
	m := inviteLinkRE.FindStringSubmatch(msgs[len(msgs)-1].Text)
	if m == nil {
		t.Fatalf("no link in the invitation email: %q", msgs[len(msgs)-1].Text)
	}
	return r.str("id"), m[1], m[2]
}

func ownerEmail(t *testing.T, s *stack, tn tenant) string {
	t.Helper()
	var e string
	if err := s.deps.Pool.QueryRow(context.Background(), `SELECT email FROM users WHERE id = $1`, tn.ownerID).Scan(&e); err != nil {
		t.Fatal(err)
	}
	return e
}

func subAgencies(t *testing.T, s *stack, tn tenant) []any {
	t.Helper()
	r := s.do(t, "GET", "/v1/orgs/"+tn.id+"/sub-agencies", tn.ownerToken, nil)
	var list []any
	if r.status != 200 || json_(r.raw, &list) != nil {
		t.Fatalf("sub-agencies: %d %s", r.status, r.raw)
	}
	return list
}

// TestInvitationAcceptedInTheBrowser: invite → email → open the link in
// headless Chromium → Accept → linked → confirmation email.
func TestInvitationAcceptedInTheBrowser(t *testing.T) {
	s := up(t)
	master := s.newTenant(t, "master", 0, nil)
	sub := s.newTenant(t, "north", 0, nil)
	_, link, _ := s.invite(t, master, ownerEmail(t, s, sub))

	ctx, cancel := browser(t)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(link)); err != nil {
		t.Fatalf("open the link: %v", err)
	}
	heading, err := chromedp.Run(ctx, chromedp.Text("h1"))
	if err != nil {
		t.Fatal(err)
	}
	body, err := chromedp.Run(ctx, chromedp.Text("main"))
	if err != nil {
		t.Fatal(err)
	}
	if dir := os.Getenv("TEST_SCREENSHOTS"); dir != "" {
		if page, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()); err == nil {
			_ = os.WriteFile(dir+"/invitation-page.png", page, 0o644)
		}
	}
	if err := chromedp.Do(ctx, chromedp.Click("#accept"), chromedp.WaitVisible("#message")); err != nil {
		t.Fatalf("click Accept: %v", err)
	}
	result, err := chromedp.Run(ctx, chromedp.Text("#message"))
	if err != nil {
		t.Fatal(err)
	}
	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(heading, "Join master") || !strings.Contains(body, ownerEmail(t, s, sub)) {
		t.Fatalf("invitation page: %q / %q", heading, body)
	}
	if !strings.Contains(result, "is now a sub-agency of master") {
		t.Fatalf("result page says %q", result)
	}
	if dir := os.Getenv("TEST_SCREENSHOTS"); dir != "" {
		_ = os.WriteFile(dir+"/invitation-accepted.png", shot, 0o644)
	}
	list := subAgencies(t, s, master)
	if len(list) != 1 || list[0].(map[string]any)["id"] != sub.id || list[0].(map[string]any)["owner_email"] != ownerEmail(t, s, sub) {
		t.Fatalf("sub-agencies after accept: %v", list)
	}
	conf := s.waitMail(t, ownerEmail(t, s, master), 1, 30*time.Second)
	if conf[0].Subject != "north is now a sub-agency of master" {
		t.Fatalf("confirmation subject %q", conf[0].Subject)
	}

	// The link works once: the page now says so, and the API refuses.
	if err := chromedp.Do(ctx, chromedp.Navigate(link)); err != nil {
		t.Fatal(err)
	}
	if result, err = chromedp.Run(ctx, chromedp.Text("#message")); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(result, "already accepted") {
		t.Fatalf("used link page says %q", result)
	}
}

func browser(t *testing.T) (context.Context, context.CancelFunc) {
	t.Helper()
	path := testenv.Chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.WindowSize(390, 760), chromedp.UserDataDir(t.TempDir()))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	return ctx, func() { cancelB(); cancelA() }
}

func TestInvitationRefusals(t *testing.T) {
	s := up(t)
	a := s.newTenant(t, "alpha", 0, nil)
	b := s.newTenant(t, "bravo", 0, nil)
	c := s.newTenant(t, "charlie", 0, nil)
	_, _, tokB := s.invite(t, a, ownerEmail(t, s, b))
	if r := s.do(t, "POST", "/v1/invitations/"+tokB+"/accept", "", nil); r.status != 200 || r.str("sub_org_id") != b.id || r.str("master_org_id") != a.id {
		t.Fatalf("accept: %d %s", r.status, r.raw)
	}
	check := func(name string, r resp, status int, want string) {
		t.Helper()
		if r.status != status || !strings.Contains(r.raw2(), want) {
			t.Errorf("%s: %d %s, want %d with %q", name, r.status, r.raw, status, want)
		}
	}
	inv := func(from tenant, email string) resp {
		return s.do(t, "POST", "/v1/orgs/"+from.id+"/invitations", from.ownerToken, map[string]string{"email": email})
	}
	check("second accept", s.do(t, "POST", "/v1/invitations/"+tokB+"/accept", "", nil), 409, "already accepted")
	check("decline after accept", s.do(t, "POST", "/v1/invitations/"+tokB+"/decline", "", nil), 409, "already accepted")
	check("wrong token", s.do(t, "POST", "/v1/invitations/lri_"+strings.Repeat("x", 43)+"/accept", "", nil), 404, "not valid")
	check("garbage token", s.do(t, "POST", "/v1/invitations/nonsense/accept", "", nil), 404, "not valid")
	check("own org", inv(a, ownerEmail(t, s, a)), 409, "your own organization")
	check("already linked", inv(a, ownerEmail(t, s, b)), 409, "already a sub-agency")
	check("already has a parent", inv(c, ownerEmail(t, s, b)), 409, "already has a master")
	check("cycle", inv(b, ownerEmail(t, s, a)), 409, "cycle")
	check("bad email", inv(a, "nope"), 422, "email")
	check("not the owner", s.do(t, "POST", "/v1/orgs/"+a.id+"/invitations", "", map[string]string{"email": "x@y.example"}), 401, "token")
	check("another org", s.do(t, "POST", "/v1/orgs/"+a.id+"/invitations", c.ownerToken, map[string]string{"email": "x@y.example"}), 404, "not found")

	// Pending invitations: one per email, revoke by the owner only, a
	// revoked or expired link refuses, a foreign user token refuses.
	_, _, tokC := s.invite(t, a, ownerEmail(t, s, c))
	check("second pending invite", inv(a, ownerEmail(t, s, c)), 409, "already pending")
	check("someone else's token", s.do(t, "POST", "/v1/invitations/"+tokC+"/accept", b.ownerToken, nil), 403, "not the invited owner")
	check("org_id not theirs", s.do(t, "POST", "/v1/invitations/"+tokC+"/accept", "", map[string]string{"org_id": b.id}), 422, "org_id")
	list := s.do(t, "GET", "/v1/orgs/"+a.id+"/invitations", a.ownerToken, nil)
	invs := list.body["invitations"].([]any)
	var pendingID string
	for _, i := range invs {
		if m := i.(map[string]any); m["status"] == "pending" {
			pendingID = m["id"].(string)
		}
	}
	if len(invs) != 2 || pendingID == "" {
		t.Fatalf("invitations: %s", list.raw)
	}
	check("revoke from another org", s.do(t, "DELETE", "/v1/orgs/"+a.id+"/invitations/"+pendingID, c.ownerToken, nil), 404, "not found")
	check("revoke", s.do(t, "DELETE", "/v1/orgs/"+a.id+"/invitations/"+pendingID, a.ownerToken, nil), 200, "revoked")
	check("accept revoked", s.do(t, "POST", "/v1/invitations/"+tokC+"/accept", "", nil), 409, "already revoked")
	check("revoke twice", s.do(t, "DELETE", "/v1/orgs/"+a.id+"/invitations/"+pendingID, a.ownerToken, nil), 409, "already revoked")

	_, _, tokE := s.invite(t, a, ownerEmail(t, s, c))
	if _, err := s.deps.Pool.Exec(context.Background(), `UPDATE invitations SET expires_at = now() - interval '1 minute'
		WHERE id = (SELECT invitation_id FROM invitation_tokens WHERE hash = sha256($1::bytea))`, tokE); err != nil {
		t.Fatal(err)
	}
	check("expired", s.do(t, "POST", "/v1/invitations/"+tokE+"/accept", "", nil), 409, "expired")
	page := s.do(t, "GET", "/invitations/"+tokE, "", nil)
	check("expired page", page, 409, "expired")

	if got := subAgencies(t, s, a); len(got) != 1 {
		t.Fatalf("refusals changed the links: %v", got)
	}
	if got := subAgencies(t, s, c); len(got) != 0 {
		t.Fatalf("refusals changed the links: %v", got)
	}
	// Decline works once; unlink by the sub-agency's owner.
	_, _, tokD := s.invite(t, b, ownerEmail(t, s, c))
	check("decline", s.do(t, "POST", "/v1/invitations/"+tokD+"/decline", "", nil), 200, "declined")
	check("decline twice", s.do(t, "POST", "/v1/invitations/"+tokD+"/decline", "", nil), 409, "already declined")
	check("unlink by a stranger", s.do(t, "DELETE", "/v1/orgs/"+a.id+"/sub-agencies/"+b.id, c.ownerToken, nil), 404, "not found")
	check("unlink by the sub's owner", s.do(t, "DELETE", "/v1/orgs/"+a.id+"/sub-agencies/"+b.id, b.ownerToken, nil), 200, "unlinked")
	check("unlink again", s.do(t, "DELETE", "/v1/orgs/"+a.id+"/sub-agencies/"+b.id, a.ownerToken, nil), 404, "not found")
	if got := subAgencies(t, s, a); len(got) != 0 {
		t.Fatalf("after unlink: %v", got)
	}
}

// TestEmailsSurviveAnSMTPOutage: with the SMTP server down for 30 s, an
// invitation email and a confirmation email both wait, then arrive once each.
func TestEmailsSurviveAnSMTPOutage(t *testing.T) {
	s := up(t)
	master := s.newTenant(t, "outage-m", 0, nil)
	first := s.newTenant(t, "outage-a", 0, nil)
	second := s.newTenant(t, "outage-b", 0, nil)
	_, _, tok := s.invite(t, master, ownerEmail(t, s, first))

	if err := s.sink.Stop(); err != nil {
		t.Fatal(err)
	}
	down := time.Now()
	if r := s.do(t, "POST", "/v1/invitations/"+tok+"/accept", "", nil); r.status != 200 {
		t.Fatalf("accept during the outage: %d %s", r.status, r.raw)
	}
	if r := s.do(t, "POST", "/v1/orgs/"+master.id+"/invitations", master.ownerToken, map[string]string{"email": ownerEmail(t, s, second)}); r.status != 202 {
		t.Fatalf("invite during the outage: %d %s", r.status, r.raw)
	}
	time.Sleep(30*time.Second - time.Since(down))
	if n := len(s.mailsFor(ownerEmail(t, s, master))) + len(s.mailsFor(ownerEmail(t, s, second))); n != 0 {
		t.Fatalf("%d emails arrived while the server was down", n)
	}
	var failures int
	_ = s.deps.Pool.QueryRow(context.Background(), `SELECT count(*) FROM email_deliveries WHERE status = 'pending' AND last_error IS NOT NULL
		AND to_addr = ANY($1)`, []string{ownerEmail(t, s, master), ownerEmail(t, s, second)}).Scan(&failures)
	if failures != 2 {
		t.Fatalf("%d emails recorded as failing during the outage, want 2", failures)
	}
	if err := s.sink.Resume(); err != nil {
		t.Fatal(err)
	}
	s.waitMail(t, ownerEmail(t, s, master), 1, 90*time.Second)
	s.waitMail(t, ownerEmail(t, s, second), 1, 90*time.Second)
	time.Sleep(2 * time.Second)
	if a, b := len(s.mailsFor(ownerEmail(t, s, master))), len(s.mailsFor(ownerEmail(t, s, second))); a != 1 || b != 1 {
		t.Fatalf("after the outage: %d confirmation, %d invitation emails, want 1 and 1", a, b)
	}
	fmt.Fprintf(os.Stderr, "outage: both emails delivered %.1fs after the server came back\n", time.Since(down).Seconds()-30)
}

// TestOperatorInviteCommands drives what `starter invite` and `starter
// invitations` call, with the admin token.
func TestOperatorInviteCommands(t *testing.T) {
	s := up(t)
	m := s.newTenant(t, "ops-m", 0, nil)
	sub := s.newTenant(t, "ops-s", 0, nil)
	c := &apiclient.Client{Base: s.api.URL, Token: s.admin}
	inv, err := c.Invite(context.Background(), m.id, ownerEmail(t, s, sub))
	if err != nil || inv.Status != "pending" || inv.WorkflowID != "invitation/"+inv.ID {
		t.Fatalf("invite: %+v %v", inv, err)
	}
	s.waitMail(t, ownerEmail(t, s, sub), 1, 30*time.Second)
	list, err := c.Invitations(context.Background(), m.id)
	if err != nil || len(list) != 1 || list[0].ID != inv.ID || list[0].Email != ownerEmail(t, s, sub) || list[0].Status != "pending" {
		t.Fatalf("invitations: %+v %v", list, err)
	}
	_, err = c.Invite(context.Background(), m.id, "not-an-email")
	var ae *apiclient.Error
	if !errors.As(err, &ae) || ae.Status != 422 || ae.Fields["email"] == "" {
		t.Fatalf("bad email: %v", err)
	}
}
