package api

import (
	"strings"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/internal/domain"
)

// fields is the fields a 422 answer names.
func fields(t *testing.T, a answer) map[string]any {
	t.Helper()
	e, _ := decodeBody(t, a)["error"].(map[string]any)
	f, _ := e["fields"].(map[string]any)
	return f
}

// Groups: owner, admin and manager change them, every member reads them,
// another org gets 404 before any 403; a member of another org is a 422
// naming members[i].user_id.
func TestGroupsRolesAndMembers(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true, nil)
	acme, other := newPeople(t, ts, "Acme"), newPeople(t, ts, "Other")
	groups := "/v1/orgs/" + acme.org + "/groups"
	body := `{"members":[{"user_id":"` + acme.ids[domain.RoleStaff] + `","weight":2}]}`
	for _, r := range []domain.Role{domain.RoleProfessional, domain.RoleStaff} {
		if a := ts.do(t, "PUT", groups+"/closers", acme.tokens[r], body, ""); a.status != 403 {
			t.Errorf("%s PUT: %d, want 403", r, a.status)
		}
	}
	if a := ts.do(t, "PUT", groups+"/closers", other.tokens[domain.RoleStaff], body, ""); a.status != 404 {
		t.Errorf("another org's staff PUT: %d, want 404", a.status)
	}
	if a := ts.do(t, "PUT", groups+"/closers", acme.tokens[domain.RoleManager], body, ""); a.status != 201 {
		t.Fatalf("manager PUT: %d %s", a.status, a.body)
	}
	if a := ts.do(t, "PUT", groups+"/closers", acme.tokens[domain.RoleAdmin], body, ""); a.status != 200 {
		t.Errorf("admin replaces: %d %s", a.status, a.body)
	}
	a := ts.do(t, "PUT", groups+"/closers", acme.tokens[domain.RoleOwner],
		`{"members":[{"user_id":"`+acme.ids[domain.RoleStaff]+`"},{"user_id":"`+other.ids[domain.RoleStaff]+`","weight":0}]}`, "")
	if f := fields(t, a); a.status != 422 || f["members[1].user_id"] == nil || f["members[1].weight"] == nil {
		t.Errorf("another org's user, weight 0: %d %s", a.status, a.body)
	}
	a = ts.do(t, "GET", groups, acme.tokens[domain.RoleStaff], "", "")
	if a.status != 200 || !strings.Contains(a.body, `"weight":2`) || !strings.Contains(a.body, `"name":"closers"`) {
		t.Errorf("list after a refused put: %d %s", a.status, a.body)
	}
	if a := ts.do(t, "DELETE", groups+"/closers", acme.tokens[domain.RoleStaff], "", ""); a.status != 403 {
		t.Errorf("staff DELETE: %d", a.status)
	}
	if a := ts.do(t, "DELETE", groups+"/closers", other.tokens[domain.RoleOwner], "", ""); a.status != 404 {
		t.Errorf("another org's owner DELETE: %d", a.status)
	}
	if a := ts.do(t, "DELETE", groups+"/closers", acme.tokens[domain.RoleManager], "", ""); a.status != 200 {
		t.Errorf("manager DELETE: %d %s", a.status, a.body)
	}
}

// PATCH a user: per-field permissions (a rep only their own
// instant_alerts, a manager hours and caps), 404 for another org before any
// 403, each bad field named, null clears a cap.
func TestPatchUserAvailabilityFieldsAndPermissions(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true, nil)
	acme, other := newPeople(t, ts, "Acme"), newPeople(t, ts, "Other")
	user := func(r domain.Role) string { return "/v1/orgs/" + acme.org + "/users/" + acme.ids[r] }
	staff, manager := acme.tokens[domain.RoleStaff], acme.tokens[domain.RoleManager]
	cases := []struct {
		token, target, body string
		want                int
	}{
		{staff, user(domain.RoleStaff), `{"instant_alerts":false}`, 200},
		{staff, user(domain.RoleProfessional), `{"instant_alerts":false}`, 403},
		{staff, user(domain.RoleStaff), `{"daily_cap":5}`, 403},
		{staff, "/v1/orgs/" + acme.org + "/users/" + other.ids[domain.RoleStaff], `{"instant_alerts":false}`, 404},
		{manager, user(domain.RoleStaff), `{"instant_alerts":false}`, 403},
		{manager, user(domain.RoleStaff), `{"active":false}`, 403},
		{manager, user(domain.RoleStaff), `{"daily_cap":5,"open_cap":3,"working_hours":[{"days":["mon"],"from":"22:00","to":"06:00"}]}`, 200},
		{acme.tokens[domain.RoleAdmin], user(domain.RoleStaff), `{"instant_alerts":true,"open_cap":null}`, 200},
	}
	for _, c := range cases {
		if a := ts.do(t, "PATCH", c.target, c.token, c.body, ""); a.status != c.want {
			t.Errorf("PATCH %s %s: %d %s, want %d", c.target, c.body, a.status, a.body, c.want)
		}
	}
	a := ts.do(t, "GET", "/v1/orgs/"+acme.org+"/users", staff, "", "")
	for _, want := range []string{`"daily_cap":5`, `"open_cap":null`, `"instant_alerts":true`, `"from":"22:00"`} {
		if !strings.Contains(a.body, want) {
			t.Errorf("users list lacks %s: %s", want, a.body)
		}
	}
	a = ts.do(t, "PATCH", user(domain.RoleStaff), manager,
		`{"working_hours":[{"days":["mon"],"from":"09:00","to":"17:00"},{"days":["funday"],"from":"25:00","to":"17:00"}],"daily_cap":0,"open_cap":-1}`, "")
	f := fields(t, a)
	for _, k := range []string{"working_hours[1].days", "working_hours[1].from", "daily_cap", "open_cap"} {
		if f[k] == nil {
			t.Errorf("422 does not name %s: %d %s", k, a.status, a.body)
		}
	}
	if !strings.Contains(ts.do(t, "GET", "/v1/orgs/"+acme.org+"/users", staff, "", "").body, `"daily_cap":5`) {
		t.Error("a refused PATCH changed the daily cap")
	}
}

// Pause and resume: the user themself or owner/admin/manager; until must be
// in the future; resume clears both; paused_by is recorded.
func TestPauseAndResumeUser(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true, nil)
	acme, other := newPeople(t, ts, "Acme"), newPeople(t, ts, "Other")
	base := "/v1/orgs/" + acme.org + "/users/"
	staff := acme.tokens[domain.RoleStaff]
	until := time.Now().Add(2 * time.Hour).UTC().Truncate(time.Second).Format(time.RFC3339)
	if a := ts.do(t, "POST", base+acme.ids[domain.RoleProfessional]+"/pause", staff, "", ""); a.status != 403 {
		t.Errorf("staff pauses a colleague: %d", a.status)
	}
	if a := ts.do(t, "POST", base+acme.ids[domain.RoleStaff]+"/pause", other.tokens[domain.RoleOwner], "", ""); a.status != 404 {
		t.Errorf("another org pauses: %d", a.status)
	}
	a := ts.do(t, "POST", base+acme.ids[domain.RoleStaff]+"/pause", staff, `{"until":"2020-01-01T00:00:00Z"}`, "")
	if a.status != 422 || fields(t, a)["until"] == nil {
		t.Errorf("until in the past: %d %s", a.status, a.body)
	}
	a = ts.do(t, "POST", base+acme.ids[domain.RoleStaff]+"/pause", acme.tokens[domain.RoleManager], `{"until":"`+until+`"}`, "")
	if a.status != 200 || !strings.Contains(a.body, `"paused":true`) {
		t.Fatalf("manager pauses: %d %s", a.status, a.body)
	}
	if n := count(t, ts.s, `SELECT count(*) FROM users WHERE id = $1 AND paused_by = $2 AND paused_until IS NOT NULL`,
		acme.ids[domain.RoleStaff], acme.ids[domain.RoleManager]); n != 1 {
		t.Error("paused_by/paused_until not recorded")
	}
	a = ts.do(t, "POST", base+acme.ids[domain.RoleStaff]+"/resume", staff, "", "")
	if a.status != 200 || !strings.Contains(a.body, `"paused":false`) || !strings.Contains(a.body, `"paused_until":null`) {
		t.Errorf("resume by the user: %d %s", a.status, a.body)
	}
}

// POST /v1/leads: a lead with the email of an open lead carries repeat_of
// (and GET shows it); a source at its vendor_daily_cap answers 429
// cap_reached with Retry-After and records nothing.
func TestIntakeRepeatOfAndVendorCap(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true, nil)
	org, key := tenant(t, ts.s, "Capco")
	a := ts.do(t, "POST", "/v1/leads", key, `{"external_id":"first","email":"Ann@Example.com"}`, "")
	first := str(t, a, "lead_id")
	if _, err := ts.s.Pool.Exec(t.Context(), `UPDATE leads SET assigned_to = (SELECT id FROM users WHERE org_id = $1 LIMIT 1) WHERE id = $2`, org, first); err != nil {
		t.Fatal(err)
	}
	a = ts.do(t, "POST", "/v1/leads", key, `{"external_id":"second","email":"ann@example.com"}`, "")
	if got := decodeBody(t, a)["repeat_of"]; got != first {
		t.Errorf("repeat_of %v, want %s: %s", got, first, a.body)
	}
	if _, err := ts.s.Pool.Exec(t.Context(), `UPDATE lead_sources SET vendor_daily_cap = 3 WHERE org_id = $1`, org); err != nil {
		t.Fatal(err)
	}
	// The two leads above were posted without a cap: they were not counted.
	for _, ext := range []string{"c1", "c2", "c3"} {
		if a := ts.do(t, "POST", "/v1/leads", key, `{"external_id":"`+ext+`","phone":"555 0100"}`, ""); a.status != 202 {
			t.Fatalf("%s under the cap: %d %s", ext, a.status, a.body)
		}
	}
	if a := ts.do(t, "POST", "/v1/leads", key, `{"external_id":"c1","phone":"555 0100"}`, ""); a.status != 200 {
		t.Errorf("duplicate at the cap: %d, want 200", a.status)
	}
	before := count(t, ts.s, `SELECT count(*) FROM leads WHERE org_id = $1`, org)
	a = ts.do(t, "POST", "/v1/leads", key, `{"external_id":"c4","phone":"555 0100"}`, "")
	e, _ := decodeBody(t, a)["error"].(map[string]any)
	if a.status != 429 || e["code"] != "cap_reached" || a.header.Get("Retry-After") == "" || a.header.Get("Retry-After") == "0" {
		t.Errorf("past the cap: %d %v %s", a.status, a.header, a.body)
	}
	if n := count(t, ts.s, `SELECT count(*) FROM leads WHERE org_id = $1`, org); n != before {
		t.Errorf("refused post wrote: %d leads, want %d", n, before)
	}
}

// Route preview and fairness: owner, admin and manager only (another org
// 404 first); the preview says who would get the lead and writes nothing;
// a bad period names its field.
func TestRoutePreviewAndFairnessRoutes(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true, nil)
	acme, other := newPeople(t, ts, "Acme"), newPeople(t, ts, "Other")
	src := "/v1/orgs/" + acme.org + "/sources/web"
	a := ts.do(t, "PUT", src, acme.tokens[domain.RoleOwner], `{"name":"Web","routing":{"mode":"owner"},`+
		`"rules":[{"name":"Texas","when":{"state":["TX"]},"routing":{"mode":"user","user":"`+acme.ids[domain.RoleStaff]+`"}}]}`, "")
	if a.status != 201 {
		t.Fatalf("PUT source: %d %s", a.status, a.body)
	}
	leads := count(t, ts.s, `SELECT count(*) FROM leads WHERE org_id = $1`, acme.org)
	body := `{"email":"tex@example.com","address":{"state":"TX"}}`
	for r, want := range map[domain.Role]int{domain.RoleManager: 200, domain.RoleAdmin: 200, domain.RoleOwner: 200,
		domain.RoleProfessional: 403, domain.RoleStaff: 403} {
		a := ts.do(t, "POST", src+"/route-preview", acme.tokens[r], body, "")
		if a.status != want {
			t.Errorf("%s preview: %d %s, want %d", r, a.status, a.body, want)
		}
		if want == 200 && decodeBody(t, a)["assigned_to"] != acme.ids[domain.RoleStaff] {
			t.Errorf("%s preview: %s, want the Texas rule's user", r, a.body)
		}
		if a := ts.do(t, "GET", src+"/fairness", acme.tokens[r], "", ""); a.status != want {
			t.Errorf("%s fairness: %d %s, want %d", r, a.status, a.body, want)
		}
	}
	if n := count(t, ts.s, `SELECT count(*) FROM leads WHERE org_id = $1`, acme.org); n != leads {
		t.Errorf("previews wrote leads: %d, want %d", n, leads)
	}
	if a := ts.do(t, "POST", src+"/route-preview", other.tokens[domain.RoleOwner], body, ""); a.status != 404 {
		t.Errorf("another org's preview: %d", a.status)
	}
	if a := ts.do(t, "POST", src+"/route-preview", acme.tokens[domain.RoleOwner], `{"address":{"state":"TX"}}`, ""); a.status != 422 {
		t.Errorf("a lead without email or phone: %d", a.status)
	}
	a = ts.do(t, "GET", src+"/fairness?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", acme.tokens[domain.RoleOwner], "", "")
	if a.status != 422 || fields(t, a)["from"] == nil {
		t.Errorf("from after to: %d %s", a.status, a.body)
	}
}
