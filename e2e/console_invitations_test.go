package e2e

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestConsoleInviteAndAccept: the master's owner invites the owner of a
// second org from the console's account page, the invitation is listed as
// pending; the invitee opens the email in the mail catcher's inbox in a
// second browser, follows the link and accepts; the master's account page
// then lists the sub-agency, and so does the API. A second invitation is
// revoked from the page.
func TestConsoleInviteAndAccept(t *testing.T) {
	s := up(t)
	master := s.newTenant(t, "ConsoleMaster", 0, nil)
	sub := s.newTenant(t, "ConsoleSub", 0, nil)
	subEmail := ownerEmail(t, s, sub)

	p := s.signedInAs(t, master.ownerID, ownerEmail(t, s, master))
	p.open("/app/account")
	p.accessible()
	invite := func(email string) {
		p.do(chromedp.SendKeys("#invite_email", email),
			chromedp.Click(`form[action="/app/account/invitations"] button[type=submit]`))
		p.waitText("p.flash", "Invitation sent")
	}
	invite(subEmail)
	if loc := p.location(); loc != "/app/account?done=invited" {
		t.Fatalf("after inviting, the page is %s", loc)
	}
	if row := p.text("#invitations"); !strings.Contains(row, subEmail) || !strings.Contains(row, "pending") {
		t.Fatalf("the invitations listed: %q", row)
	}
	p.accessible()

	// The invitee reads the email in the mail catcher's inbox, in their own browser.
	s.waitMail(t, subEmail, 1, 90*time.Second)
	msgID := 0
	for i, m := range s.sink.Messages() {
		for _, to := range m.To {
			if to == subEmail && !strings.HasPrefix(m.Key, "alert:") {
				msgID = i + 1
			}
		}
	}
	inbox := httptest.NewServer(s.sink.Handler())
	defer inbox.Close()
	ctx, cancel := browser(t)
	defer cancel()
	if err := chromedp.Do(ctx); err != nil {
		t.Fatal(err)
	}
	q := &visitor{t: t, s: s, ctx: ctx, name: subEmail}
	q.do(chromedp.Navigate(fmt.Sprintf("%s/messages/%d", inbox.URL, msgID)), chromedp.WaitReady("pre"))
	href, err := chromedp.Run(ctx, chromedp.AttributeValue(`pre a[href*="/invitations/"]`, "href"))
	if err != nil || !inviteLinkRE.MatchString(href.Value) {
		t.Fatalf("the link in the email: %q (%v)", href.Value, err)
	}
	q.do(chromedp.Navigate(href.Value), chromedp.WaitReady("main"))
	if h := q.text("h1"); h != "Join ConsoleMaster as a sub-agency" {
		t.Fatalf("the invitation page's heading is %q", h)
	}
	if brand := q.text("header.top .brand"); brand != "leadrelay" {
		t.Fatalf("the invitation page's header is %q, not the console's", brand)
	}
	// The console's stylesheet applies (the CSP would block an inline one).
	bg, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector("header.top")).backgroundColor`))
	if err != nil || bg != "rgb(18, 38, 63)" {
		t.Fatalf("the invitation page's header background is %q (%v): the console's stylesheet did not apply", bg, err)
	}
	q.accessible()
	q.shot("invitation")
	q.do(chromedp.Click("#accept"), chromedp.WaitVisible("#message"))
	if msg := q.text("#message"); !strings.Contains(msg, "ConsoleSub is now a sub-agency of ConsoleMaster") {
		t.Fatalf("after accepting, the page says %q", msg)
	}
	q.accessible()

	// The master's page lists the sub-agency, and the invitation as accepted.
	p.open("/app/account")
	if subs := p.text("#sub-agencies ul.rows"); !strings.Contains(subs, "ConsoleSub") || !strings.Contains(subs, subEmail) {
		t.Fatalf("the master's sub-agencies: %q", subs)
	}
	if row := p.text("#invitations"); !strings.Contains(row, "accepted") {
		t.Fatalf("the invitation after accepting: %q", row)
	}
	list := subAgencies(t, s, master)
	if len(list) != 1 || list[0].(map[string]any)["id"] != sub.id {
		t.Fatalf("the API's sub-agencies of the master: %v", list)
	}

	// A second invitation, revoked from the page: the API lists it as revoked.
	other := "nobody-" + time.Now().Format("150405.000000") + "@console.test"
	invite(other)
	r := s.do(t, "GET", "/v1/orgs/"+master.id+"/invitations", master.ownerToken, nil)
	id := ""
	for _, it := range r.body["invitations"].([]any) {
		if m := it.(map[string]any); m["email"] == other {
			id = m["id"].(string)
		}
	}
	if id == "" {
		t.Fatalf("the API does not list the second invitation: %s", r.raw)
	}
	p.do(chromedp.Click("#inv-" + id + " button"))
	p.waitText("p.flash", "Invitation revoked")
	if row := p.text("#inv-" + id); !strings.Contains(row, "revoked") {
		t.Fatalf("the revoked invitation's row: %q", row)
	}
	r = s.do(t, "GET", "/v1/orgs/"+master.id+"/invitations", master.ownerToken, nil)
	for _, it := range r.body["invitations"].([]any) {
		if m := it.(map[string]any); m["id"] == id && m["status"] != "revoked" {
			t.Fatalf("the API lists the revoked invitation as %v", m["status"])
		}
	}
	p.accessible()
	p.shot("account")
}

// waitText waits until the first element matching sel says want: the page a
// click posts to replaces the current one, which may match sel too.
func (p *visitor) waitText(sel, want string) {
	p.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(p.ctx, 2*time.Second)
		got, err := chromedp.Run(ctx, chromedp.Text(sel))
		cancel()
		if err == nil && strings.Contains(got, want) {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s at %s: %s says %q (%v), want %q", p.name, p.location(), sel, got, err, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
