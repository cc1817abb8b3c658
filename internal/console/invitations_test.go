package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/internal/domain"
)

func (h *harness) parentOf(t *testing.T, org string) string {
	t.Helper()
	o, err := h.store.GetOrg(context.Background(), org)
	if err != nil {
		t.Fatal(err)
	}
	if o.ParentID == nil {
		return ""
	}
	return *o.ParentID
}

func (h *harness) linkOrgs(t *testing.T, parent, child string) {
	t.Helper()
	if err := h.store.LinkOrgs(context.Background(), parent, child); err != nil {
		t.Fatal(err)
	}
}

func TestUnlinkingAnotherOrgsSubAgencyIsNotFound(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, owner := h.org(t, "Nosy Master")
	other, _ := h.org(t, "Other Master")
	sub, _ := h.org(t, "Other Sub")
	h.linkOrgs(t, other.ID, sub.ID)
	b := h.signedIn(t, owner)
	p := b.post("/app/account/sub-agencies/"+sub.ID+"/unlink", url.Values{"csrf": {b.csrf("/app/account")}, "confirm": {"yes"}})
	if p.status != http.StatusNotFound || !strings.Contains(p.body, "Not found") {
		t.Fatalf("unlinking another org's sub-agency: %d, want 404\n%s", p.status, p.body)
	}
	if got := h.parentOf(t, sub.ID); got != other.ID {
		t.Fatalf("the other org's sub-agency now has parent %q", got)
	}
}

func TestUnlinkAsksForConfirmationThenUnlinks(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	master, owner := h.org(t, "Unlink Master")
	sub, subOwner := h.org(t, "Unlink Sub")
	h.linkOrgs(t, master.ID, sub.ID)
	b := h.signedIn(t, owner)
	page := b.get("/app/account")
	if !strings.Contains(page.body, `<strong class="sub-name">Unlink Sub</strong>`) {
		t.Fatalf("the master's account page does not list its sub-agency:\n%s", page.body)
	}
	// The sub-agency's people see their parent.
	rep := h.user(t, sub.ID, domain.RoleStaff, "Sub Rep")
	if p := h.signedIn(t, rep).get("/app/account"); !strings.Contains(p.body, "is a sub-agency of <strong>Unlink Master</strong>") {
		t.Fatalf("the sub-agency's page does not name its parent:\n%s", p.body)
	}
	path := "/app/account/sub-agencies/" + sub.ID + "/unlink"
	p := b.post(path, url.Values{"csrf": {b.csrf("/app/account")}})
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, `id="unlink-`+sub.ID+`-confirm-err">Tick this box to confirm the unlink.`) {
		t.Fatalf("unlink without confirming: %d, want 422 asking to tick the box\n%s", p.status, p.body)
	}
	if h.parentOf(t, sub.ID) != master.ID {
		t.Fatalf("an unconfirmed unlink unlinked")
	}
	// A manager of the master confirms, and the API refuses: only an owner may.
	mgr := h.user(t, master.ID, domain.RoleManager, "Master Manager")
	mb := h.signedIn(t, mgr)
	if strings.Contains(mb.get("/app/account").body, `action="`+path+`"`) {
		t.Errorf("a manager is shown the unlink form")
	}
	if p := mb.post(path, url.Values{"csrf": {mb.csrf("/app/account")}, "confirm": {"yes"}}); p.status != http.StatusForbidden {
		t.Fatalf("a manager's unlink: %d, want 403\n%s", p.status, p.body)
	}
	if h.parentOf(t, sub.ID) != master.ID {
		t.Fatalf("a refused unlink unlinked")
	}
	p = b.post(path, url.Values{"csrf": {b.csrf("/app/account")}, "confirm": {"yes"}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/app/account?done=unlinked#sub-agencies" {
		t.Fatalf("confirmed unlink: %d to %q\n%s", p.status, p.header.Get("Location"), p.body)
	}
	if got := h.parentOf(t, sub.ID); got != "" {
		t.Fatalf("after the unlink the sub-agency still has parent %q", got)
	}
	if p := b.get("/app/account?done=unlinked"); strings.Contains(p.body, "Unlink Sub") || !strings.Contains(p.body, "No sub-agencies yet.") {
		t.Fatalf("the page still lists the unlinked sub-agency")
	}
	// The sub's owner may leave a parent too, from their own page.
	h.linkOrgs(t, master.ID, sub.ID)
	sb := h.signedIn(t, subOwner)
	leave := "/app/account/sub-agencies/" + sub.ID + "/unlink"
	if !strings.Contains(sb.get("/app/account").body, `action="`+leave+`"`) {
		t.Fatalf("the sub-agency's owner is not offered to leave the parent")
	}
	if p := sb.post(leave, url.Values{"csrf": {sb.csrf("/app/account")}, "confirm": {"yes"}}); p.status != http.StatusSeeOther {
		t.Fatalf("the sub's owner leaving: %d\n%s", p.status, p.body)
	}
	if got := h.parentOf(t, sub.ID); got != "" {
		t.Fatalf("after leaving, the sub-agency still has parent %q", got)
	}
}

func TestInvitationsAreListedWithTheirStatus(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	o, owner := h.org(t, "Inviting Agency")
	inv, err := h.store.CreateInvitation(context.Background(), o.ID, "someone@invited.test", time.Hour, func(id string) string { return "invitation/" + id })
	if err != nil {
		t.Fatal(err)
	}
	b := h.signedIn(t, owner)
	p := b.get("/app/account")
	row := `<li id="inv-` + inv.ID + `">`
	i := strings.Index(p.body, row)
	if i < 0 {
		t.Fatalf("the invitation is not listed:\n%s", p.body)
	}
	rowText := p.body[i : i+strings.Index(p.body[i:], "</li>")]
	for _, want := range []string{"someone@invited.test", `<span class="status">pending</span>`, `action="/app/account/invitations/` + inv.ID + `/revoke"`} {
		if !strings.Contains(rowText, want) {
			t.Errorf("the invitation's row lacks %q:\n%s", want, rowText)
		}
	}
	// An admin sees the list (the API lets them) but may not invite or revoke.
	admin := h.user(t, o.ID, domain.RoleAdmin, "Ada Admin")
	ap := h.signedIn(t, admin).get("/app/account")
	if !strings.Contains(ap.body, row) || strings.Contains(ap.body, "/revoke") || strings.Contains(ap.body, `id="invite_email"`) {
		t.Errorf("the admin's page: invitation listed %v, revoke offered %v, invite form offered %v",
			strings.Contains(ap.body, row), strings.Contains(ap.body, "/revoke"), strings.Contains(ap.body, `id="invite_email"`))
	}
	// Staff are not shown the invitations: the API does not list them.
	rep := h.user(t, o.ID, domain.RoleStaff, "Sam Staff")
	if sp := h.signedIn(t, rep).get("/app/account"); strings.Contains(sp.body, "someone@invited.test") {
		t.Errorf("a staff member sees the invitations")
	}
	// A bad address is refused next to its field, before any run starts.
	ip := b.post("/app/account/invitations", url.Values{"csrf": {b.csrf("/app/account")}, "invite_email": {"not-an-address"}})
	if ip.status != http.StatusUnprocessableEntity || !strings.Contains(ip.body, `id="invite_email-err">a valid email address is required`) ||
		!strings.Contains(ip.body, `value="not-an-address"`) {
		t.Fatalf("a bad invitation address: %d\n%s", ip.status, ip.body)
	}
}

// TestTheInvitationPageLooksLikeTheConsole: the API's invitation page links
// the console's stylesheet, carries its brand, and is sent with the very
// security headers of a console page, which its markup obeys (no inline
// style or script).
func TestTheInvitationPageLooksLikeTheConsole(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	master, owner := h.org(t, "Looks Master")
	inv, err := h.store.CreateInvitation(context.Background(), master.ID, "invitee@looks.test", time.Hour, func(id string) string { return "invitation/" + id })
	if err != nil {
		t.Fatal(err)
	}
	token, hash := domain.NewToken("lri_")
	if _, ok, err := h.store.AddInvitationToken(context.Background(), inv.ID, hash); err != nil || !ok {
		t.Fatalf("token: %v %v", ok, err)
	}
	anon := h.anonymous(t)
	p := anon.get("/invitations/" + token)
	if p.status != 200 || !strings.Contains(p.body, "<h1>Join Looks Master as a sub-agency</h1>") {
		t.Fatalf("the invitation page: %d\n%s", p.status, p.body)
	}
	for _, want := range []string{`<link rel="stylesheet" href="/app/static/console.css">`, `<header class="top"><a class="brand" href="/app/">leadrelay</a></header>`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the invitation page lacks %s", want)
		}
	}
	for _, inline := range []string{"<style", "style=", "<script", "onclick", "onsubmit"} {
		if strings.Contains(p.body, inline) {
			t.Errorf("the invitation page has inline code (%q), which its CSP blocks", inline)
		}
	}
	consolePage := h.signedIn(t, owner).get("/app/account")
	for _, k := range []string{"Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy", "Cross-Origin-Opener-Policy", "Cache-Control"} {
		if got, want := p.header.Get(k), consolePage.header.Get(k); got != want || got == "" {
			t.Errorf("%s: the invitation page sends %q, a console page %q", k, got, want)
		}
	}
	css := anon.get("/app/static/console.css")
	if css.status != 200 || !strings.HasPrefix(css.header.Get("Content-Type"), "text/css") || !strings.Contains(css.body, "label.org") {
		t.Fatalf("the stylesheet the invitation page links: %d %q", css.status, css.header.Get("Content-Type"))
	}
}
