package api

import (
	"strings"
	"testing"

	"github.com/leadrelay/leadrelay/internal/domain"
)

// TestSourceRulesThroughTheAPI: a PUT with rules naming an unknown group
// and a malformed condition answers 422 naming each field and saves
// nothing; a good one saves, and GET lists the rules and when_nobody.
func TestSourceRulesThroughTheAPI(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true, nil)
	acme := newPeople(t, ts, "Acme")
	path := "/v1/orgs/" + acme.org + "/sources/everquote"
	bad := `{"name":"EverQuote","routing":{"mode":"owner"},"rules":[
		{"name":"Texas","when":{"state":["TX"]},"routing":{"mode":"group","group":"nobody-here"}},
		{"name":"Zip","when":{"postal_code":["7*8"]},"routing":{"mode":"owner"}}]}`
	a := ts.do(t, "PUT", path, acme.tokens[domain.RoleOwner], bad, "")
	if a.status != 422 || !strings.Contains(string(a.body), "rules[1].when.postal_code") {
		t.Fatalf("bad condition: %d %s", a.status, a.body)
	}
	bad = `{"name":"EverQuote","routing":{"mode":"owner"},"rules":[
		{"name":"Texas","when":{"state":["TX"]},"routing":{"mode":"group","group":"nobody-here"}}]}`
	a = ts.do(t, "PUT", path, acme.tokens[domain.RoleOwner], bad, "")
	if a.status != 422 || !strings.Contains(string(a.body), "rules[0].routing.group") {
		t.Fatalf("unknown group: %d %s", a.status, a.body)
	}
	if n := count(t, ts.s, `SELECT count(*) FROM lead_sources WHERE org_id = $1`, acme.org); n != 0 {
		t.Fatalf("refused sources saved: %d", n)
	}
	good := `{"name":"EverQuote","routing":{"mode":"staff_evenly"},"when_nobody":"pending","vendor_daily_cap":50,
		"rules":[{"name":"Texas","when":{"state":["TX"],"from":"22:00","to":"06:00"},"routing":{"mode":"queue","queue_delay":"5m"}}]}`
	if a = ts.do(t, "PUT", path, acme.tokens[domain.RoleOwner], good, ""); a.status != 201 {
		t.Fatalf("good rules: %d %s", a.status, a.body)
	}
	a = ts.do(t, "GET", "/v1/orgs/"+acme.org+"/sources", acme.tokens[domain.RoleOwner], "", "")
	body := string(a.body)
	for _, want := range []string{`"when_nobody":"pending"`, `"vendor_daily_cap":50`, `"name":"Texas"`, `"from":"22:00"`} {
		if !strings.Contains(body, want) {
			t.Fatalf("GET sources lacks %s: %s", want, body)
		}
	}
}
