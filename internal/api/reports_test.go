package api

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
)

// The speed-to-lead report: owner, admin, manager and the admin token read
// it, professionals and staff are 403, another org is 404 before any 403.
// Days are whole days in the org's time zone (New York, across the start of
// DST on 2026-03-08): a lead a second before the first midnight and one at
// the midnight after the last day are out, the two at the edges inside are
// in. Each bad value is a 422 naming its field.
func TestSpeedToLeadRoute(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ts := newTestServer(t, true, nil)
	acme, other := newPeople(t, ts, "Acme"), newPeople(t, ts, "Other")
	report := "/v1/orgs/" + acme.org + "/reports/speed-to-lead"
	if a := ts.do(t, "PATCH", "/v1/orgs/"+acme.org, acme.tokens[domain.RoleOwner], `{"timezone":"America/New_York"}`, ""); a.status != 200 {
		t.Fatalf("PATCH timezone: %d %s", a.status, a.body)
	}
	sc := domain.SourceConfig{Name: "Web", Routing: domain.Routing{Mode: domain.RouteOwner}}
	delay, err := sc.Validate()
	if err != nil {
		t.Fatal(err)
	}
	src, _, _, err := ts.s.Store.PutSource(ctx, acme.org, "web", sc, delay)
	if err != nil {
		t.Fatal(err)
	}
	for i, at := range []string{"2026-03-07T04:59:59Z", "2026-03-07T05:00:00Z", "2026-03-09T03:59:59Z", "2026-03-09T04:00:00Z"} {
		rec, _ := time.Parse(time.RFC3339, at)
		l, err := ts.s.Store.InsertLead(ctx, store.NewLead{SourceID: src.ID, OrgID: acme.org, Slug: "web", WorkflowID: fmt.Sprintf("lead/speed-%d", i),
			ReceivedAt: rec, In: domain.LeadInput{ExternalID: fmt.Sprintf("speed-%d", i), Email: "s@example.com"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ts.s.Pool.Exec(ctx, `UPDATE leads SET assigned_to = $2, routed_at = $3 WHERE id = $1`, l.LeadID, acme.ids[domain.RoleStaff], rec.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}

	for r, want := range map[domain.Role]int{domain.RoleOwner: 200, domain.RoleAdmin: 200, domain.RoleManager: 200,
		domain.RoleProfessional: 403, domain.RoleStaff: 403} {
		if a := ts.do(t, "GET", report, acme.tokens[r], "", ""); a.status != want {
			t.Errorf("%s: %d %s, want %d", r, a.status, a.body, want)
		}
		if a := ts.do(t, "GET", report, other.tokens[r], "", ""); a.status != 404 {
			t.Errorf("another org's %s: %d, want 404", r, a.status)
		}
	}
	if a := ts.do(t, "GET", report, testAdmin, "", ""); a.status != 200 {
		t.Errorf("the admin token: %d %s", a.status, a.body)
	}
	if a := ts.do(t, "GET", "/v1/orgs/"+domain.NewID()+"/reports/speed-to-lead", testAdmin, "", ""); a.status != 404 {
		t.Errorf("an org that does not exist: %d", a.status)
	}

	a := ts.do(t, "GET", report+"?from=2026-03-07&to=2026-03-08", acme.tokens[domain.RoleManager], "", "")
	body := decodeBody(t, a)
	if a.status != 200 || body["from"] != "2026-03-07T05:00:00Z" || body["to"] != "2026-03-09T04:00:00Z" {
		t.Fatalf("two New York days: %d from %v to %v, want 05:00Z on the 7th to 04:00Z on the 9th", a.status, body["from"], body["to"])
	}
	sources, _ := body["sources"].([]any)
	users, _ := body["users"].([]any)
	if len(sources) != 1 || len(users) != 1 {
		t.Fatalf("report %s: want one source and one user", a.body)
	}
	s, u := sources[0].(map[string]any), users[0].(map[string]any)
	if s["source"] != "web" || s["leads"] != 2.0 || s["assigned"] != 2.0 || s["to_assignment"].(map[string]any)["median_seconds"] != 60.0 ||
		s["worked"] != 0.0 || s["to_worked"].(map[string]any)["median_seconds"] != nil {
		t.Errorf("source line %v: want the two leads inside, assigned after 60 s, none worked", s)
	}
	if u["user_id"] != acme.ids[domain.RoleStaff] || u["name"] != "Acme staff" || u["leads"] != 2.0 {
		t.Errorf("user line %v: want the staff member's two leads", u)
	}
	a = ts.do(t, "GET", report+"?from=2026-03-07T05:00:00Z&to=2026-03-09T04:00:00Z", acme.tokens[domain.RoleOwner], "", "")
	if s := decodeBody(t, a)["sources"].([]any); a.status != 200 || len(s) != 1 || s[0].(map[string]any)["leads"] != 2.0 {
		t.Errorf("the same period in RFC 3339: %d %s", a.status, a.body)
	}
	// The default: the 7 days up to now.
	a = ts.do(t, "GET", report, acme.tokens[domain.RoleOwner], "", "")
	from, _ := time.Parse(time.RFC3339, decodeBody(t, a)["from"].(string))
	to, _ := time.Parse(time.RFC3339, decodeBody(t, a)["to"].(string))
	if to.Sub(from) != 7*24*time.Hour || time.Since(to) > time.Minute {
		t.Errorf("the default period: %s to %s, want the last 7 days", from, to)
	}

	for _, c := range []struct{ query, field string }{
		{"from=yesterday", "from"},
		{"to=2026-13-01", "to"},
		{"from=2026-03-01T00:00:00", "from"},
		{"from=2026-03-09&to=2026-03-01", "from"},
		{"from=2026-03-01T00:00:00Z&to=2026-03-01T00:00:00Z", "from"},
		{"from=2025-01-01&to=2026-03-01", "from"},
	} {
		q, _ := url.ParseQuery(c.query)
		a := ts.do(t, "GET", report+"?"+q.Encode(), acme.tokens[domain.RoleOwner], "", "")
		if a.status != 422 || fields(t, a)[c.field] == nil {
			t.Errorf("?%s: %d %s, want 422 naming %s", c.query, a.status, a.body, c.field)
		}
	}
}
