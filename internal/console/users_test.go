package console

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
)

func (h *harness) getUser(t *testing.T, org, id string) store.User {
	t.Helper()
	u, err := h.store.GetUser(context.Background(), org, id)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

var tokenShown = regexp.MustCompile(`<code class="secret" id="token">(lru_[A-Za-z0-9_-]+)</code>`)

func TestAddingAUserShowsTheirTokenOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	o, owner := h.org(t, "Hiring Agency")
	b := h.signedIn(t, owner)
	p := b.post("/app/account/users", url.Values{"csrf": {b.csrf("/app/account")}, "new_name": {"Nina New"},
		"new_email": {"nina@hiring.test"}, "new_role": {"professional"}, "new_notify": {"on"}})
	if p.status != http.StatusCreated {
		t.Fatalf("adding a user: %d\n%s", p.status, p.body)
	}
	m := tokenShown.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("the result page does not show the token:\n%s", p.body)
	}
	for _, want := range []string{"This is their API token", "shown only this once", "they sign in there with a link sent to nina@hiring.test"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the result page does not say %q", want)
		}
	}
	// The token shown is the new user's.
	pr, err := h.store.Authenticate(context.Background(), domain.HashToken(m[1]))
	if err != nil || pr.User == nil || pr.User.Email != "nina@hiring.test" || pr.User.Role != domain.RoleProfessional || !pr.User.NotifyNewLeads {
		t.Fatalf("the token shown authenticates as %+v (%v)", pr.User, err)
	}
	if pr.User.OrgID != o.ID {
		t.Fatalf("the new user is in org %s", pr.User.OrgID)
	}
	if again := b.get("/app/account"); strings.Contains(again.body, m[1]) || strings.Contains(again.body, "lru_") {
		t.Fatalf("the account page shows the token again")
	}
	// A refused user: the API's words next to the field, what was typed kept, nobody added.
	p = b.post("/app/account/users", url.Values{"csrf": {b.csrf("/app/account")}, "new_name": {"Bad Mail"},
		"new_email": {"not-mail"}, "new_role": {"staff"}})
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, `id="new_email-err">a valid email address is required`) ||
		!strings.Contains(p.body, `value="Bad Mail"`) || tokenShown.MatchString(p.body) {
		t.Fatalf("a bad new user: %d\n%s", p.status, p.body)
	}
	var n int
	if err := h.pool.QueryRow(context.Background(), `SELECT count(*) FROM users WHERE org_id = $1`, o.ID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("%d users in the org, want the owner and Nina", n)
	}
}

func TestChangingAUsersRoleAndDigest(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	o, owner := h.org(t, "Team Agency")
	rep := h.user(t, o.ID, domain.RoleStaff, "Rick Rep")
	b := h.signedIn(t, owner)
	p := b.post("/app/account/users/"+rep.ID, url.Values{"csrf": {b.csrf("/app/account")}, "role": {"manager"}, "was_role": {"staff"},
		"active": {"on"}, "was_active": {"true"}, "notify_new_leads": {"on"}, "was_notify_new_leads": {"false"}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/app/account?done=user-saved#team" {
		t.Fatalf("saving the rep: %d to %q\n%s", p.status, p.header.Get("Location"), p.body)
	}
	if u := h.getUser(t, o.ID, rep.ID); u.Role != domain.RoleManager || !u.NotifyNewLeads || !u.Active {
		t.Fatalf("after the change: %+v", u)
	}
	// Making the owner something else is refused in the API's words.
	p = b.post("/app/account/users/"+owner.ID, url.Values{"csrf": {b.csrf("/app/account")}, "role": {"staff"}, "was_role": {"owner"}})
	if p.status < 400 || p.status >= 500 || !strings.Contains(p.body, `class="problem"`) {
		t.Fatalf("demoting the owner: %d\n%s", p.status, p.body)
	}
	if u := h.getUser(t, o.ID, owner.ID); u.Role != domain.RoleOwner {
		t.Fatalf("the owner became %s", u.Role)
	}
	// Staff may not change anyone: the API refuses the forged form.
	sb := h.signedIn(t, h.user(t, o.ID, domain.RoleStaff, "Sly Staff"))
	p = sb.post("/app/account/users/"+rep.ID, url.Values{"csrf": {sb.csrf("/app/account")}, "role": {"admin"}, "was_role": {"manager"}})
	if p.status != http.StatusForbidden {
		t.Fatalf("a staff member's forged change: %d, want 403\n%s", p.status, p.body)
	}
	if u := h.getUser(t, o.ID, rep.ID); u.Role != domain.RoleManager {
		t.Fatalf("a refused change made the rep %s", u.Role)
	}
}

func TestAnotherOrgsUserIsNotFound(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, owner := h.org(t, "Curious Agency")
	other, _ := h.org(t, "Private Agency")
	theirs := h.user(t, other.ID, domain.RoleStaff, "Their Rep")
	b := h.signedIn(t, owner)
	p := b.post("/app/account/users/"+theirs.ID, url.Values{"csrf": {b.csrf("/app/account")}, "role": {"admin"}, "was_role": {"staff"},
		"notify_new_leads": {"on"}, "was_notify_new_leads": {"false"}})
	if p.status != http.StatusNotFound || !strings.Contains(p.body, "Not found") {
		t.Fatalf("changing another org's user: %d, want 404\n%s", p.status, p.body)
	}
	if u := h.getUser(t, other.ID, theirs.ID); u.Role != domain.RoleStaff || u.NotifyNewLeads {
		t.Fatalf("another org's user was changed: %+v", u)
	}
}

func TestTheTeamIsListedWithRoleActiveAndDigest(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	o, owner := h.org(t, "Listed Agency")
	rep := h.user(t, o.ID, domain.RoleStaff, "Lena Listed")
	mgr := h.user(t, o.ID, domain.RoleManager, "Max Manager")
	b := h.signedIn(t, owner)
	page := b.get("/app/account")
	for _, want := range []string{
		`<li id="user-` + rep.ID + `">`, "Lena Listed", rep.Email,
		`<option value="staff" selected>staff</option>`,
		`id="user-` + rep.ID + `-active" name="active" checked>`,
		`id="user-` + rep.ID + `-notify" name="notify_new_leads">`,
		`<option value="manager" selected>manager</option>`,
		`<li id="user-` + owner.ID + `">`,
	} {
		if !strings.Contains(page.body, want) {
			t.Errorf("the owner's team section lacks %q", want)
		}
	}
	// A refused value is shown in the user's row, in the API's words.
	p := b.post("/app/account/users/"+rep.ID, url.Values{"csrf": {b.csrf("/app/account")}, "role": {"director"}, "was_role": {"staff"}})
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, `id="user-`+rep.ID+`-role-err">one of admin, manager, professional, staff</p>`) {
		t.Fatalf("an unknown role: %d\n%s", p.status, p.body)
	}
	if u := h.getUser(t, o.ID, rep.ID); u.Role != domain.RoleStaff {
		t.Fatalf("a refused role made the rep %s", u.Role)
	}
	// A manager reads the team without forms.
	mp := h.signedIn(t, mgr).get("/app/account")
	if !strings.Contains(mp.body, "Lena Listed") || !strings.Contains(mp.body, "staff · active · no new-lead digest") ||
		strings.Contains(mp.body, `action="/app/account/users`) {
		t.Fatalf("the manager's team section:\n%s", mp.body)
	}
}

// TestADeactivationWhoseRerouteCannotStartSaysSo: with Temporal down the API
// writes the deactivation but cannot start the reroute; the page says so in
// the API's words rather than an apology.
func TestADeactivationWhoseRerouteCannotStartSaysSo(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	o, owner := h.org(t, "Outage Agency")
	rep := h.user(t, o.ID, domain.RoleStaff, "Otto Out")
	b := h.signedIn(t, owner)
	p := b.post("/app/account/users/"+rep.ID, url.Values{"csrf": {b.csrf("/app/account")}, "was_active": {"true"}})
	if p.status != http.StatusServiceUnavailable || !strings.Contains(p.body, "rerouting their leads could not start: repeat the same request") {
		t.Fatalf("a deactivation with Temporal down: %d\n%s", p.status, p.body)
	}
	if u := h.getUser(t, o.ID, rep.ID); u.Active {
		t.Fatalf("the user is still active")
	}
}

// Availability and pausing, through the real API.

func TestAManagerSetsHoursAndCaps(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	o, _ := h.org(t, "Hours Agency")
	mgr := h.user(t, o.ID, domain.RoleManager, "Mona Manager")
	rep := h.user(t, o.ID, domain.RoleStaff, "Ray Rep")
	b := h.signedIn(t, mgr)
	path := "/app/users/" + rep.ID
	csrf := b.csrf(path)
	p := b.post(path+"/availability", url.Values{"csrf": {csrf}, "working_hours": {"mon, tue, wed 09:00-17:00\nsat 10:00-12:00"},
		"daily_cap": {"12"}, "open_cap": {"5"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("save hours: %d\n%s", p.status, p.body)
	}
	var hours string
	var daily, open int
	if err := h.pool.QueryRow(context.Background(), `SELECT working_hours::text, daily_cap, open_cap FROM users WHERE id = $1`, rep.ID).Scan(&hours, &daily, &open); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(hours, `"09:00"`) || !strings.Contains(hours, `"sat"`) || daily != 12 || open != 5 {
		t.Errorf("saved %s, %d, %d", hours, daily, open)
	}
	pg := b.get(path)
	if !strings.Contains(pg.body, "mon, tue, wed 09:00-17:00\nsat 10:00-12:00</textarea>") || !strings.Contains(pg.body, `value="12"`) {
		t.Errorf("the page does not show the hours and caps back")
	}
	// A line it cannot read, and a span the API refuses, are named; nothing changes.
	for _, bad := range []string{"weekdays", "mon 25:00-17:00"} {
		p = b.post(path+"/availability", url.Values{"csrf": {csrf}, "working_hours": {bad}, "daily_cap": {"12"}, "open_cap": {"5"}})
		if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, `id="working_hours-err"`) {
			t.Errorf("hours %q: %d, want 422 next to the hours", bad, p.status)
		}
	}
	// Blank clears.
	if p = b.post(path+"/availability", url.Values{"csrf": {csrf}, "working_hours": {""}, "daily_cap": {""}, "open_cap": {""}}); p.status != http.StatusSeeOther {
		t.Fatalf("clear: %d\n%s", p.status, p.body)
	}
	if n := h.count(t, `SELECT count(*) FROM users WHERE id = $1 AND working_hours IS NULL AND daily_cap IS NULL AND open_cap IS NULL`, rep.ID); n != 1 {
		t.Errorf("blank did not clear the hours and caps")
	}
	// The rep cannot set their own hours: the form is not there, and the API refuses it.
	rb := h.signedIn(t, rep)
	if pg := rb.get(path); strings.Contains(pg.body, `id="working_hours"`) {
		t.Errorf("a rep is shown the hours form")
	}
	if p := rb.post(path+"/availability", url.Values{"csrf": {rb.csrf(path)}, "was_instant_alerts": {"true"}}); p.status != http.StatusSeeOther {
		t.Errorf("a rep turning off their alerts: %d\n%s", p.status, p.body)
	}
	if n := h.count(t, `SELECT count(*) FROM users WHERE id = $1 AND NOT instant_alerts`, rep.ID); n != 1 {
		t.Errorf("the rep's instant alerts are still on")
	}
}

func TestARepPausesAndResumesFromTheHeader(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	o, _ := h.org(t, "Pause Agency")
	rep := h.user(t, o.ID, domain.RoleStaff, "Ray Rep")
	b := h.signedIn(t, rep)
	pg := b.get("/app/leads")
	if !strings.Contains(pg.body, `action="/app/me/pause"`) || !strings.Contains(pg.body, "Pause my leads") {
		t.Fatalf("the header has no pause button:\n%s", pg.body)
	}
	csrf := csrfField.FindStringSubmatch(pg.body)[1]
	// Without the token nothing changes.
	if p := b.post("/app/me/pause", url.Values{"back": {"/app/leads"}}); p.status != http.StatusForbidden {
		t.Errorf("pause without the CSRF token: %d, want 403", p.status)
	}
	if n := h.count(t, `SELECT count(*) FROM users WHERE id = $1 AND paused`, rep.ID); n != 0 {
		t.Fatalf("paused without a token")
	}
	p := b.post("/app/me/pause", url.Values{"csrf": {csrf}, "back": {"/app/leads"}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/app/leads?done=paused" {
		t.Fatalf("pause: %d %s\n%s", p.status, p.header.Get("Location"), p.body)
	}
	if n := h.count(t, `SELECT count(*) FROM users WHERE id = $1 AND paused`, rep.ID); n != 1 {
		t.Fatalf("not paused")
	}
	if pg := b.get("/app/leads"); !strings.Contains(pg.body, "Resume my leads") {
		t.Errorf("the header does not offer to resume")
	}
	// back never leaves the console.
	p = b.post("/app/me/resume", url.Values{"csrf": {csrf}, "back": {"https://evil.example/"}})
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/app/") {
		t.Errorf("resume went to %q", p.header.Get("Location"))
	}
	if n := h.count(t, `SELECT count(*) FROM users WHERE id = $1 AND paused`, rep.ID); n != 0 {
		t.Errorf("not resumed")
	}
	// Another rep of the org cannot pause this one.
	other := h.signedIn(t, h.user(t, o.ID, domain.RoleStaff, "Sam Staff"))
	if p := other.post("/app/users/"+rep.ID+"/pause", url.Values{"csrf": {other.csrf("/app/leads")}}); p.status != http.StatusForbidden {
		t.Errorf("a rep pausing another: %d, want 403", p.status)
	}
}
