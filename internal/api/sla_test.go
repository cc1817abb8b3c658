package api

import (
	"strings"
	"testing"

	"github.com/leadrelay/leadrelay/internal/domain"
)

// TestSourceSLAThroughTheAPI: a PUT with a bad SLA answers 422 naming the
// field and saves nothing; a good one saves and reads back; a PUT without
// it removes it.
func TestSourceSLAThroughTheAPI(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true, nil)
	acme, other := newPeople(t, ts, "Acme"), newPeople(t, ts, "Other")
	path := "/v1/orgs/" + acme.org + "/sources/everquote"
	for _, c := range []struct{ sla, field string }{
		{`{"within":"0s"}`, "sla.within"},
		{`{"within":"fast"}`, "sla.within"},
		{`{"max_escalations":2}`, "sla.within"},
		{`{"within":"15m","max_escalations":11}`, "sla.max_escalations"},
		{`{"within":"15m","fallback":"manager"}`, "sla.fallback"},
		{`{"within":"15m","fallback":"user"}`, "sla.fallback_user"},
		{`{"within":"15m","fallback":"user","fallback_user":"` + other.ids[domain.RoleStaff] + `"}`, "sla.fallback_user"},
		{`{"within":"15m","escalate":true}`, "escalate"},
	} {
		body := `{"name":"EverQuote","routing":{"mode":"staff_evenly"},"sla":` + c.sla + `}`
		a := ts.do(t, "PUT", path, acme.tokens[domain.RoleOwner], body, "")
		if a.status != 422 || !strings.Contains(a.body, `"`+c.field+`"`) {
			t.Errorf("sla %s: %d %s, want 422 naming %s", c.sla, a.status, a.body, c.field)
		}
	}
	if n := count(t, ts.s, `SELECT count(*) FROM lead_sources WHERE org_id = $1`, acme.org); n != 0 {
		t.Fatalf("refused sources saved: %d", n)
	}
	good := `{"name":"EverQuote","routing":{"mode":"staff_evenly"},"sla":{"within":"15m","max_escalations":2,"fallback":"user",` +
		`"fallback_user":"` + acme.ids[domain.RoleManager] + `","business_hours":true}}`
	if a := ts.do(t, "PUT", path, acme.tokens[domain.RoleOwner], good, ""); a.status != 201 {
		t.Fatalf("good SLA: %d %s", a.status, a.body)
	}
	a := ts.do(t, "GET", "/v1/orgs/"+acme.org+"/sources", acme.tokens[domain.RoleStaff], "", "")
	want := `"sla":{"within":"15m","max_escalations":2,"fallback":"user","fallback_user":"` + acme.ids[domain.RoleManager] + `","business_hours":true}`
	if !strings.Contains(a.body, want) {
		t.Fatalf("GET sources lacks %s: %s", want, a.body)
	}
	if a := ts.do(t, "PUT", path, acme.tokens[domain.RoleOwner], `{"name":"EverQuote","routing":{"mode":"staff_evenly"}}`, ""); a.status != 200 ||
		!strings.Contains(a.body, `"sla":null`) {
		t.Fatalf("PUT without an SLA: %d %s", a.status, a.body)
	}
}
