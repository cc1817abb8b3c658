package api

import (
	"errors"
	"strings"
	"testing"

	"go.temporal.io/api/enums/v1"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/workflows"
)

// returnsOf counts what returning leads writes: return rows and timeline
// events of the org.
func returnsOf(t *testing.T, ts testServer, org string) [2]int {
	return [2]int{count(t, ts.s, `SELECT count(*) FROM lead_returns WHERE org_id = $1`, org), events(t, ts, org)}
}

// POST /v1/leads/{id}/return: the owner, an admin or a manager of the org
// that holds a team-owned lead returns it once; it is `returned`, unassigned
// and out of any location, the timeline says why, and the run that emails
// the vendor starts under return/<lead id> with ids only. Bad input is a 422
// naming the field, other callers get 401/403/404, a second return 409, and
// none of them writes anything.
func TestReturnRoute(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true, nil)
	rec := &startRecorder{}
	ts.s.Temporal = rec
	acme, other := newPeople(t, ts, "Acme"), newPeople(t, ts, "Other")
	ids := routedLeads(t, ts, acme, 4)
	_, vendorKey := tenant(t, ts.s, "Vendorco")
	path := "/v1/leads/" + ids[0] + "/return"
	mgr := acme.tokens[domain.RoleManager]

	before := returnsOf(t, ts, acme.org)
	for _, c := range []struct {
		path, tok, body string
		status          int
		field           string
	}{
		{path, mgr, `{}`, 422, "reason"},
		{path, mgr, `{"reason":"  "}`, 422, "reason"},
		{path, mgr, `{"reason":7}`, 422, "reason"},
		{path, mgr, `{"reason":"` + strings.Repeat("x", 501) + `"}`, 422, "reason"},
		{path, mgr, `{"reason":"two\nlines"}`, 422, "reason"},
		{path, mgr, `{"reason":"a\u0000b"}`, 422, "reason"},
		{path, mgr, `{"reason":"dup","comments":"` + strings.Repeat("y", 5001) + `"}`, 422, "comments"},
		{path, mgr, `{"reason":"dup","comments":"a\u0000b"}`, 422, "comments"},
		{path, mgr, "{\"reason\":\"dup\",\"comments\":\"\xff\"}", 422, "comments"},
		{path, mgr, `{"reason":"dup","comments":["x"]}`, 422, "comments"},
		{path, mgr, `{"reason":"dup","why":"x"}`, 422, "why"},
		{path, mgr, `{"reason":`, 400, ""},
		{path, acme.tokens[domain.RoleStaff], `{"reason":"dup"}`, 403, ""},
		{path, acme.tokens[domain.RoleProfessional], `{"reason":"dup"}`, 403, ""},
		{path, other.tokens[domain.RoleOwner], `{"reason":"dup"}`, 404, ""},
		{path, vendorKey, `{"reason":"dup"}`, 403, ""},
		{path, "", `{"reason":"dup"}`, 401, ""},
		{"/v1/leads/" + domain.NewID() + "/return", mgr, `{"reason":"dup"}`, 404, ""},
		{"/v1/leads/not-an-id/return", mgr, `{"reason":"dup"}`, 404, ""},
	} {
		a := ts.do(t, "POST", c.path, c.tok, c.body, "")
		if a.status != c.status || (c.field != "" && !strings.Contains(a.body, `"`+c.field+`":`)) {
			t.Errorf("%s %.80s: %d %.300s, want %d naming %q", c.path, c.body, a.status, a.body, c.status, c.field)
		}
	}
	if got := returnsOf(t, ts, acme.org); got != before || len(rec.starts) != 0 {
		t.Fatalf("refused returns wrote %v (before %v), started %d runs", got, before, len(rec.starts))
	}

	a := ts.do(t, "POST", path, mgr, `{"reason":" Duplicate of an earlier lead ","comments":"Same phone as ext-7.\nPlease credit."}`, "")
	l := readLead(t, a)
	body := decodeBody(t, a)
	last := l.Timeline[len(l.Timeline)-1]
	if body["status"] != "returned" || l.AssignedTo != nil || body["location"] != nil || last.Kind != "returned" ||
		last.Actor != acme.ids[domain.RoleManager] || !strings.HasSuffix(last.Message, ": Duplicate of an earlier lead") {
		t.Fatalf("returned lead: %s", a.body)
	}
	if got := count(t, ts.s, `SELECT count(*) FROM lead_returns WHERE lead_id = $1 AND comments = $2 AND reason = $3`,
		ids[0], "Same phone as ext-7.\nPlease credit.", "Duplicate of an earlier lead"); got != 1 {
		t.Fatalf("return row: %d", got)
	}
	if len(rec.starts) != 1 || rec.starts[0].ID != "return/"+ids[0] ||
		rec.starts[0].WorkflowIDConflictPolicy != enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING ||
		rec.inputs[0] != (workflows.ReturnInput{LeadID: ids[0], OrgID: acme.org}) {
		t.Fatalf("starts %+v inputs %+v", rec.starts, rec.inputs)
	}

	// Once returned, every further return is a conflict and writes nothing.
	before = returnsOf(t, ts, acme.org)
	for _, tok := range []string{mgr, acme.tokens[domain.RoleOwner], testAdmin} {
		if a := ts.do(t, "POST", path, tok, `{"reason":"again"}`, ""); a.status != 409 {
			t.Errorf("second return: %d %s", a.status, a.body)
		}
	}
	if got := returnsOf(t, ts, acme.org); got != before || len(rec.starts) != 1 {
		t.Fatalf("second returns wrote %v (before %v)", got, before)
	}

	// The owner, an admin and the admin token may return team-owned leads.
	for i, tok := range []string{acme.tokens[domain.RoleOwner], acme.tokens[domain.RoleAdmin], testAdmin} {
		l := readLead(t, ts.do(t, "POST", "/v1/leads/"+ids[1+i]+"/return", tok, `{"reason":"not interested"}`, ""))
		if last := l.Timeline[len(l.Timeline)-1]; last.Kind != "returned" || (tok == testAdmin) != (last.Actor == "admin") {
			t.Errorf("return %d: %+v", i, last)
		}
	}
}

// An agent-owned lead is returned by the user who owns it, whatever their
// role; the org's owner, admins, managers and the admin token get 403.
func TestReturnAgentOwnedLead(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true, nil)
	ts.s.Temporal = &startRecorder{}
	acme := newPeople(t, ts, "Acme")
	id := routedLeads(t, ts, acme, 1)[0]
	staff := acme.ids[domain.RoleStaff]
	if a := ts.do(t, "POST", "/v1/leads/"+id+"/transfer-ownership", acme.tokens[domain.RoleManager], `{"user_id":"`+staff+`"}`, ""); a.status != 200 {
		t.Fatalf("transfer ownership: %d %s", a.status, a.body)
	}
	for _, tok := range []string{acme.tokens[domain.RoleOwner], acme.tokens[domain.RoleAdmin], acme.tokens[domain.RoleManager], testAdmin} {
		if a := ts.do(t, "POST", "/v1/leads/"+id+"/return", tok, `{"reason":"dup"}`, ""); a.status != 403 {
			t.Errorf("a non-owner returns an agent-owned lead: %d %s", a.status, a.body)
		}
	}
	if a := ts.do(t, "POST", "/v1/leads/"+id+"/return", acme.tokens[domain.RoleStaff], `{"reason":"dup"}`, ""); a.status != 200 {
		t.Fatalf("the owning user returns it: %d %s", a.status, a.body)
	}
}

// When Temporal refuses the start, the return stands (200): repeating it
// would be a conflict, and the reconciler starts the run.
func TestReturnAnswersWhenTheRunCannotStart(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true, nil)
	ts.s.Temporal = &startRecorder{err: errors.New("temporal is down")}
	acme := newPeople(t, ts, "Acme")
	id := routedLeads(t, ts, acme, 1)[0]
	a := ts.do(t, "POST", "/v1/leads/"+id+"/return", acme.tokens[domain.RoleOwner], `{"reason":"dup"}`, "")
	if a.status != 200 || decodeBody(t, a)["status"] != "returned" {
		t.Fatalf("return with Temporal down: %d %s", a.status, a.body)
	}
	if n := count(t, ts.s, `SELECT count(*) FROM lead_returns WHERE lead_id = $1 AND notified_at IS NULL`, id); n != 1 {
		t.Fatalf("return recorded %d times", n)
	}
}

// PUT …/sources/{slug} checks return_template: a template that cannot work
// is a 422 naming return_template with the template's own words and
// position, and nothing is saved; a good one is saved and shown.
func TestSourceReturnTemplateIsCheckedWhenSaved(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true, nil)
	acme := newPeople(t, ts, "Acme")
	path := "/v1/orgs/" + acme.org + "/sources/everquote"
	src := func(tmpl string) string {
		return `{"name":"EverQuote","routing":{"mode":"owner"},"return_notification_emails":["vendor@eq.example"],"return_template":` + tmpl + `}`
	}
	for _, c := range []struct{ tmpl, want string }{
		{`"Subject: {{.Reason}}\n{{.LeadNme}}"`, "return_template:2:2: unknown field .LeadNme"},
		{`"{{if .Comments}}"`, "return_template:1: unexpected EOF"},
		{`"{{range .Reason}}{{end}}"`, "{{range}} is not part of"},
		{`"{{eq .Reason 1}}"`, "incompatible types for comparison"},
		{`"` + strings.Repeat("x", 16<<10+1) + `"`, "at most 16 KiB"},
		{`"a\u0000b"`, "NUL"},
		{`7`, "a string"},
	} {
		a := ts.do(t, "PUT", path, acme.tokens[domain.RoleOwner], src(c.tmpl), "")
		if a.status != 422 {
			t.Errorf("%.60s: %d %.200s, want 422", c.tmpl, a.status, a.body)
			continue
		}
		e, _ := decodeBody(t, a)["error"].(map[string]any)
		f, _ := e["fields"].(map[string]any)
		if msg, _ := f["return_template"].(string); !strings.Contains(msg, c.want) {
			t.Errorf("%.60s: return_template says %q, want %q", c.tmpl, msg, c.want)
		}
	}
	if n := count(t, ts.s, `SELECT count(*) FROM lead_sources WHERE org_id = $1`, acme.org); n != 0 {
		t.Fatalf("refused sources saved: %d", n)
	}
	good := "Subject: Returned: {{.ExternalID}}\n\n{{.LeadName}} went back because {{.Reason}}.{{if .Comments}}\n{{.Comments}}{{end}}"
	// A 16 KiB template with quotes and newlines fits the body limit.
	long := good + "\n" + strings.Repeat("\"\n", (16<<10-len(good)-1)/2)
	for _, tmpl := range []string{good, long} {
		a := ts.do(t, "PUT", path, acme.tokens[domain.RoleOwner], src(jsonString(tmpl)), "")
		if a.status != 201 && a.status != 200 || decodeBody(t, a)["return_template"] != tmpl {
			t.Fatalf("good template: %d %.300s", a.status, a.body)
		}
	}
}

func jsonString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}
