package api

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/internal/domain"
)

// people is an org made in the store with a token per role.
type people struct {
	org    string
	tokens map[domain.Role]string // owner, admin, manager, professional, staff
	ids    map[domain.Role]string
}

func newPeople(t *testing.T, ts testServer, name string) people {
	t.Helper()
	ctx := context.Background()
	dom := strings.ToLower(name) + strconv.FormatInt(time.Now().UnixNano(), 36) + ".example"
	o, owner, tok, err := ts.s.Store.CreateOrg(ctx, name, "UTC", "owner@"+dom, name+" Owner")
	if err != nil {
		t.Fatal(err)
	}
	p := people{org: o.ID, tokens: map[domain.Role]string{domain.RoleOwner: tok}, ids: map[domain.Role]string{domain.RoleOwner: owner.ID}}
	for _, r := range []domain.Role{domain.RoleAdmin, domain.RoleManager, domain.RoleProfessional, domain.RoleStaff} {
		u, tok, err := ts.s.Store.CreateUser(ctx, o.ID, string(r)+"@"+dom, name+" "+string(r), r, false)
		if err != nil {
			t.Fatal(err)
		}
		p.tokens[r], p.ids[r] = tok, u.ID
	}
	return p
}

func decodeBody(t *testing.T, a answer) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(a.body), &m); err != nil {
		t.Fatalf("answer %d is not JSON: %s", a.status, a.body)
	}
	return m
}

// GET /v1/orgs/{org}: every member and the admin token see the settings;
// another org's member and a malformed id get 404, a vendor key 403.
func TestGetOrgShowsSettingsToMembersOnly(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true, nil)
	acme, other := newPeople(t, ts, "Acme"), newPeople(t, ts, "Other")
	_, key := tenant(t, ts.s, "Keyco")
	for _, tok := range []string{acme.tokens[domain.RoleStaff], acme.tokens[domain.RoleOwner], testAdmin} {
		a := ts.do(t, "GET", "/v1/orgs/"+acme.org, tok, "", "")
		if a.status != 200 {
			t.Fatalf("GET org: %d %s", a.status, a.body)
		}
		got := decodeBody(t, a)
		want := map[string]any{"id": acme.org, "name": "Acme", "timezone": "UTC", "parent_id": nil,
			"handover_enabled": false, "cross_silo": false, "claim_window": "30m0s",
			"repeat_lookback_days": float64(domain.DefaultLookback), "business_hours": nil, "retention_days": nil}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s = %v, want %v (%s)", k, got[k], v, a.body)
			}
		}
		if len(got) != len(want) {
			t.Errorf("fields %v, want exactly %v", got, want)
		}
	}
	for _, c := range []struct {
		path, tok string
		status    int
	}{
		{"/v1/orgs/" + acme.org, other.tokens[domain.RoleOwner], 404},
		{"/v1/orgs/not-a-uuid", acme.tokens[domain.RoleOwner], 404},
		{"/v1/orgs/not-a-uuid", testAdmin, 404},
		{"/v1/orgs/" + acme.org, key, 403},
		{"/v1/orgs/" + acme.org, "", 401},
	} {
		if a := ts.do(t, "GET", c.path, c.tok, "", ""); a.status != c.status {
			t.Errorf("GET %s: %d %s, want %d", c.path, a.status, a.body, c.status)
		}
	}
}

// PATCH /v1/orgs/{org}: the owner, an org admin and the admin token change
// what they send; everyone else is refused, and bad input is a 422 naming
// the field that writes nothing.
func TestPatchOrgValidatesEveryFieldAndWritesAllOrNothing(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true, nil)
	acme, other := newPeople(t, ts, "Acme"), newPeople(t, ts, "Other")
	path := "/v1/orgs/" + acme.org
	a := ts.do(t, "PATCH", path, acme.tokens[domain.RoleOwner],
		`{"name":"  Acme West ","timezone":"America/Denver","handover_enabled":true,"cross_silo":true,"claim_window":"1h30m"}`, "")
	got := decodeBody(t, a)
	if a.status != 200 || got["name"] != "Acme West" || got["timezone"] != "America/Denver" || got["handover_enabled"] != true ||
		got["cross_silo"] != true || got["claim_window"] != "1h30m0s" {
		t.Fatalf("PATCH by the owner: %d %s", a.status, a.body)
	}
	// Fields left out keep their value.
	a = ts.do(t, "PATCH", path, acme.tokens[domain.RoleAdmin], `{"claim_window":"1m"}`, "")
	if got := decodeBody(t, a); a.status != 200 || got["claim_window"] != "1m0s" || got["name"] != "Acme West" || got["cross_silo"] != true {
		t.Fatalf("PATCH by an admin: %d %s", a.status, a.body)
	}
	if a := ts.do(t, "PATCH", path, testAdmin, `{"claim_window":"168h"}`, ""); a.status != 200 || !strings.Contains(a.body, `"claim_window":"168h0m0s"`) {
		t.Fatalf("PATCH by the admin token: %d %s", a.status, a.body)
	}
	before := ts.do(t, "GET", path, testAdmin, "", "").body

	for _, c := range []struct{ tok, body string }{
		{acme.tokens[domain.RoleManager], `{"name":"Mine"}`},
		{acme.tokens[domain.RoleStaff], `{"name":"Mine"}`},
	} {
		if a := ts.do(t, "PATCH", path, c.tok, c.body, ""); a.status != 403 {
			t.Errorf("PATCH by a non-admin member: %d %s", a.status, a.body)
		}
	}
	if a := ts.do(t, "PATCH", path, other.tokens[domain.RoleOwner], `{"name":"Mine"}`, ""); a.status != 404 {
		t.Errorf("PATCH by another org's owner: %d %s", a.status, a.body)
	}
	for _, c := range []struct{ body, field string }{
		{`{"name":""}`, "name"},
		{`{"name":"   "}`, "name"},
		{`{"name":"` + strings.Repeat("é", 201) + `"}`, "name"},
		{`{"name":null}`, "name"},
		{`{"name":5}`, "name"},
		{`{"timezone":"Mars/Olympus_Mons"}`, "timezone"},
		{`{"timezone":"Local"}`, "timezone"},
		{`{"timezone":""}`, "timezone"},
		{`{"claim_window":"59s"}`, "claim_window"},
		{`{"claim_window":"168h1s"}`, "claim_window"},
		{`{"claim_window":"-5m"}`, "claim_window"},
		{`{"claim_window":"7d"}`, "claim_window"},
		{`{"claim_window":"1m0.5s"}`, "claim_window"},
		{`{"claim_window":30}`, "claim_window"},
		{`{"claim_window":null}`, "claim_window"},
		{`{"handover_enabled":"yes"}`, "handover_enabled"},
		{`{"cross_silo":1}`, "cross_silo"},
		{`{"cross_silo":null}`, "cross_silo"},
		{`{"repeat_lookback_days":-1}`, "repeat_lookback_days"},
		{`{"repeat_lookback_days":3651}`, "repeat_lookback_days"},
		{`{"repeat_lookback_days":null}`, "repeat_lookback_days"},
		{`{"repeat_lookback_days":1.5}`, "repeat_lookback_days"},
		{`{"color":"blue"}`, "color"},
		{`{"parent_id":"` + other.org + `"}`, "parent_id"},
		{`{"name":"Good","claim_window":"1s"}`, "claim_window"},
		{`{"name":"N\u0000"}`, "name"},
	} {
		a := ts.do(t, "PATCH", path, acme.tokens[domain.RoleOwner], c.body, "")
		if a.status != 422 || !strings.Contains(a.body, `"`+c.field+`":`) {
			t.Errorf("%s: %d %s, want 422 naming %s", c.body, a.status, a.body, c.field)
		}
	}
	if a := ts.do(t, "PATCH", path, acme.tokens[domain.RoleOwner], `{"name":`, ""); a.status != 400 {
		t.Errorf("malformed JSON: %d %s", a.status, a.body)
	}
	if after := ts.do(t, "GET", path, testAdmin, "", "").body; after != before {
		t.Fatalf("refused PATCHes changed the org:\n%s\n%s", before, after)
	}
}

// PATCH business_hours sets the org's timetable and holidays (what an SLA
// with business_hours counts), names a bad span or date, and null clears
// them.
func TestPatchOrgBusinessHours(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true, nil)
	acme := newPeople(t, ts, "Acme")
	path := "/v1/orgs/" + acme.org
	set := `{"business_hours":{"hours":[{"days":["mon","tue","wed","thu","fri"],"from":"09:00","to":"17:00"}],"holidays":["2026-12-25"]}}`
	a := ts.do(t, "PATCH", path, acme.tokens[domain.RoleOwner], set, "")
	if a.status != 200 || !strings.Contains(a.body, `"business_hours":{"hours":[{"days":["mon","tue","wed","thu","fri"],"from":"09:00","to":"17:00"}],"holidays":["2026-12-25"]}`) {
		t.Fatalf("set business hours: %d %s", a.status, a.body)
	}
	before := ts.do(t, "GET", path, testAdmin, "", "").body
	for _, c := range []struct{ body, field string }{
		{`{"business_hours":{"hours":[{"days":["mon"],"from":"9","to":"17:00"}]}}`, "business_hours.hours[0].from"},
		{`{"business_hours":{"hours":[{"days":["moon"],"from":"09:00","to":"17:00"}]}}`, "business_hours.hours[0].days"},
		{`{"business_hours":{"holidays":["25/12/2026"]}}`, "business_hours.holidays[0]"},
		{`{"business_hours":{"hours":[],"weekends":true}}`, "weekends"},
	} {
		a := ts.do(t, "PATCH", path, acme.tokens[domain.RoleOwner], c.body, "")
		if a.status != 422 || !strings.Contains(a.body, `"`+c.field) {
			t.Errorf("%s: %d %s, want 422 naming %s", c.body, a.status, a.body, c.field)
		}
	}
	if a := ts.do(t, "PATCH", path, acme.tokens[domain.RoleManager], set, ""); a.status != 403 {
		t.Errorf("a manager sets business hours: %d %s", a.status, a.body)
	}
	if after := ts.do(t, "GET", path, testAdmin, "", "").body; after != before {
		t.Fatalf("refused PATCHes changed the org:\n%s\n%s", before, after)
	}
	if a := ts.do(t, "PATCH", path, acme.tokens[domain.RoleAdmin], `{"business_hours":null}`, ""); a.status != 200 ||
		!strings.Contains(a.body, `"business_hours":null`) {
		t.Fatalf("clear business hours: %d %s", a.status, a.body)
	}
}

// PATCH retention_days sets how long closed leads' events are kept
// (30 to 3650 days); null keeps them for ever again, and a bad value is a
// 422 naming the field that changes nothing.
func TestPatchOrgRetentionDays(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true, nil)
	acme := newPeople(t, ts, "Acme")
	path := "/v1/orgs/" + acme.org
	for _, c := range []struct{ body, want string }{
		{`{"retention_days":30}`, `"retention_days":30`},
		{`{"retention_days":3650}`, `"retention_days":3650`},
		{`{"retention_days":null}`, `"retention_days":null`},
		{`{"retention_days":365}`, `"retention_days":365`},
	} {
		if a := ts.do(t, "PATCH", path, acme.tokens[domain.RoleOwner], c.body, ""); a.status != 200 || !strings.Contains(a.body, c.want) {
			t.Fatalf("%s: %d %s", c.body, a.status, a.body)
		}
	}
	before := ts.do(t, "GET", path, testAdmin, "", "").body
	for _, body := range []string{`{"retention_days":29}`, `{"retention_days":3651}`, `{"retention_days":0}`,
		`{"retention_days":-30}`, `{"retention_days":"90"}`, `{"retention_days":90.5}`, `{"name":"Fine","retention_days":7}`} {
		a := ts.do(t, "PATCH", path, acme.tokens[domain.RoleOwner], body, "")
		if a.status != 422 || !strings.Contains(a.body, `"retention_days":`) {
			t.Errorf("%s: %d %s, want 422 naming retention_days", body, a.status, a.body)
		}
	}
	if a := ts.do(t, "PATCH", path, acme.tokens[domain.RoleManager], `{"retention_days":90}`, ""); a.status != 403 {
		t.Errorf("a manager sets retention: %d %s", a.status, a.body)
	}
	if after := ts.do(t, "GET", path, testAdmin, "", "").body; after != before {
		t.Fatalf("refused PATCHes changed the org:\n%s\n%s", before, after)
	}
}
