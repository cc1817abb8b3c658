package api

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/workflows"
)

// queuedLeads puts a queue source in p's org and n leads in its queue; it
// returns their ids and the source's vendor key.
func queuedLeads(t *testing.T, ts testServer, p people, n int) ([]string, string) {
	t.Helper()
	return leadsThrough(t, ts, p, "queue", domain.RouteQueue, n)
}

// claimAnswer is what the tests read of a claim's answer.
type claimAnswer struct {
	ID         string  `json:"id"`
	AssignedTo *string `json:"assigned_to"`
	Location   *string `json:"location"`
	Claim      struct {
		Seq        int       `json:"seq"`
		ExpiresAt  time.Time `json:"expires_at"`
		WorkflowID string    `json:"workflow_id"`
	} `json:"claim"`
}

// refusal is one request that must be refused with status, naming field
// when it is set, and write nothing.
type refusal struct {
	name, path, token, body string
	status                  int
	field                   string
}

func refuseAll(t *testing.T, ts testServer, org string, cases []refusal) {
	t.Helper()
	n := events(t, ts, org)
	for _, c := range cases {
		a := ts.do(t, "POST", c.path, c.token, c.body, "")
		if a.status != c.status || (c.field != "" && !strings.Contains(a.body, `"`+c.field+`":`)) {
			t.Errorf("%s: %d %s, want %d naming %q", c.name, a.status, a.body, c.status, c.field)
		}
	}
	if got := events(t, ts, org); got != n {
		t.Fatalf("refused requests wrote %d timeline events", got-n)
	}
}

// POST /v1/orgs/{org}/queue/claim: any user of the org claims the next
// lead (200 with the lead and its claim, whose run is started), 204 when
// none is left; the admin token and vendor keys may not, another org's
// user does not see the org. A start Temporal refuses leaves the claim
// standing for the reconciler.
func TestClaimRoute(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true, nil)
	rec := &startRecorder{}
	ts.s.Temporal = rec
	acme, other := newPeople(t, ts, "Acme"), newPeople(t, ts, "Other")
	ids, vendorKey := queuedLeads(t, ts, acme, 2)
	path := "/v1/orgs/" + acme.org + "/queue/claim"
	staff := acme.ids[domain.RoleStaff]

	refuseAll(t, ts, acme.org, []refusal{
		{"the admin token", path, testAdmin, "", 403, ""},
		{"a vendor key", path, vendorKey, "", 403, ""},
		{"another org's owner", path, other.tokens[domain.RoleOwner], "", 404, ""},
		{"no token", path, "", "", 401, ""},
		{"an org id that is no uuid", "/v1/orgs/nope/queue/claim", acme.tokens[domain.RoleStaff], "", 404, ""},
		{"a body with a field", path, acme.tokens[domain.RoleStaff], `{"priority":"high"}`, 422, "priority"},
		{"a body that is no object", path, acme.tokens[domain.RoleStaff], `[1]`, 400, ""},
	})

	// The answer does not wait for Temporal: the start is held until the
	// claim has been answered.
	held := make(chan struct{})
	rec.mu.Lock()
	rec.hold = held
	rec.mu.Unlock()
	a := ts.do(t, "POST", path, acme.tokens[domain.RoleStaff], "", "")
	var got claimAnswer
	if err := json.Unmarshal([]byte(a.body), &got); err != nil || a.status != 200 {
		t.Fatalf("claim: %d %s", a.status, a.body)
	}
	if got.ID != ids[0] || *got.AssignedTo != staff || got.Location != nil || got.Claim.Seq != 1 ||
		got.Claim.WorkflowID != workflows.ClaimWorkflowID(ids[0], 1) || time.Until(got.Claim.ExpiresAt) < 29*time.Minute {
		t.Fatalf("claimed: %s", a.body)
	}
	if n := count(t, ts.s, `SELECT count(*) FROM lead_claims WHERE lead_id = $1 AND run_started_at IS NULL`, ids[0]); n != 1 {
		t.Fatal("the claim was answered after its run's start, not before")
	}
	close(held)
	drainStarts(t, ts.s)
	if len(rec.starts) != 1 || rec.starts[0].ID != "claim/"+ids[0]+"/1" {
		t.Fatalf("starts %+v", rec.starts)
	}
	if in, ok := rec.inputs[0].(workflows.ClaimInput); !ok || in.LeadID != ids[0] || in.OrgID != acme.org || in.Seq != 1 ||
		!in.Deadline.Equal(got.Claim.ExpiresAt) {
		t.Fatalf("input %#v", rec.inputs[0])
	}
	if n := count(t, ts.s, `SELECT count(*) FROM lead_claims WHERE lead_id = $1 AND run_started_at IS NOT NULL`, ids[0]); n != 1 {
		t.Fatal("a started run is recorded as started")
	}

	rec.err = errors.New("temporal is down")
	a = ts.do(t, "POST", path, acme.tokens[domain.RoleManager], `{}`, "")
	if a.status != 200 || !strings.Contains(a.body, ids[1]) {
		t.Fatalf("a claim whose run could not start still stands: %d %s", a.status, a.body)
	}
	drainStarts(t, ts.s)
	if n := count(t, ts.s, `SELECT count(*) FROM lead_claims WHERE lead_id = $1 AND run_started_at IS NULL`, ids[1]); n != 1 {
		t.Fatal("a run that did not start is left to the reconciler")
	}
	if a := ts.do(t, "POST", path, acme.tokens[domain.RoleOwner], "", ""); a.status != 204 || a.body != "" {
		t.Fatalf("empty queue: %d %q", a.status, a.body)
	}
}

// POST /v1/leads/{id}/release and …/worked: its assignee only; the admin
// token is nobody's assignee; worked is for a lead under the caller's claim.
func TestReleaseAndWorkedRoutes(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true, nil)
	acme, other := newPeople(t, ts, "Acme"), newPeople(t, ts, "Other")
	ids, vendorKey := queuedLeads(t, ts, acme, 1)
	id := ids[0]
	rep, rival := acme.tokens[domain.RoleStaff], acme.tokens[domain.RoleProfessional]
	if a := ts.do(t, "POST", "/v1/orgs/"+acme.org+"/queue/claim", rep, "", ""); a.status != 200 {
		t.Fatalf("claim: %d %s", a.status, a.body)
	}
	for _, verb := range []string{"release", "worked"} {
		path := "/v1/leads/" + id + "/" + verb
		refuseAll(t, ts, acme.org, []refusal{
			{verb + " by another rep", path, rival, "", 403, ""},
			{verb + " by the org's owner", path, acme.tokens[domain.RoleOwner], "", 403, ""},
			{verb + " by the admin token", path, testAdmin, "", 403, ""},
			{verb + " by a vendor key", path, vendorKey, "", 403, ""},
			{verb + " by another org", path, other.tokens[domain.RoleStaff], "", 404, ""},
			{verb + " of no lead", "/v1/leads/" + domain.NewID() + "/" + verb, rep, "", 404, ""},
			{verb + " of a bad id", "/v1/leads/x/" + verb, rep, "", 404, ""},
			{verb + " with a field", path, rep, `{"note":"called"}`, 422, "note"},
			{verb + " with NUL", path, rep, `{"n\u0000":1}`, 422, ""},
		})
	}
	for range 2 {
		if l := readLead(t, ts.do(t, "POST", "/v1/leads/"+id+"/worked", rep, "", "")); *l.AssignedTo != acme.ids[domain.RoleStaff] {
			t.Fatalf("worked: %+v", l)
		}
	}
	if n := count(t, ts.s, `SELECT count(*) FROM timeline_events WHERE lead_id = $1 AND kind = 'worked'`, id); n != 1 {
		t.Fatalf("%d worked events for two calls", n)
	}
	l := readLead(t, ts.do(t, "POST", "/v1/leads/"+id+"/release", rep, "  ", ""))
	if l.AssignedTo != nil || l.Timeline[len(l.Timeline)-1].Kind != "released" {
		t.Fatalf("released: %+v", l)
	}
	// a lead assigned by routing, not claimed: its assignee marks it
	// worked (what stops an SLA), once; then released to the queue
	owned := routedLeads(t, ts, acme, 1)[0]
	if a := ts.do(t, "POST", "/v1/leads/"+owned+"/worked", rep, "", ""); a.status != 403 {
		t.Fatalf("worked by someone who is not its assignee: %d %s", a.status, a.body)
	}
	for range 2 {
		if l := readLead(t, ts.do(t, "POST", "/v1/leads/"+owned+"/worked", acme.tokens[domain.RoleOwner], "", "")); l.Timeline[len(l.Timeline)-1].Kind != "worked" {
			t.Fatalf("worked without a claim: %+v", l)
		}
	}
	if n := count(t, ts.s, `SELECT count(*) FROM timeline_events WHERE lead_id = $1 AND kind = 'worked'`, owned); n != 1 {
		t.Fatalf("%d worked events for two calls on a routed lead", n)
	}
	if l := readLead(t, ts.do(t, "POST", "/v1/leads/"+owned+"/release", acme.tokens[domain.RoleOwner], "{}", "")); l.AssignedTo != nil {
		t.Fatalf("release of a routed lead: %+v", l)
	}
}

// POST /v1/leads/{id}/invalid {reason}: the reason is 1 to 1000 characters
// of text (422 naming reason); the assignee, a manager, admin or owner of
// the org, or the admin token may; anyone else 403, another org 404.
func TestInvalidRoute(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true, nil)
	acme, other := newPeople(t, ts, "Acme"), newPeople(t, ts, "Other")
	ids, vendorKey := queuedLeads(t, ts, acme, 4)
	rep := acme.tokens[domain.RoleStaff]
	if a := ts.do(t, "POST", "/v1/orgs/"+acme.org+"/queue/claim", rep, "", ""); a.status != 200 {
		t.Fatalf("claim: %d %s", a.status, a.body)
	}
	path := "/v1/leads/" + ids[0] + "/invalid"
	ok := `{"reason":"number disconnected"}`
	refuseAll(t, ts, acme.org, []refusal{
		{"no reason", path, rep, `{}`, 422, "reason"},
		{"an empty reason", path, rep, `{"reason":""}`, 422, "reason"},
		{"a blank reason", path, rep, `{"reason":"  \n "}`, 422, "reason"},
		{"a null reason", path, rep, `{"reason":null}`, 422, "reason"},
		{"a number", path, rep, `{"reason":5}`, 422, "reason"},
		{"1001 characters", path, rep, `{"reason":"` + strings.Repeat("é", 1001) + `"}`, 422, "reason"},
		{"NUL", path, rep, `{"reason":"bad\u0000"}`, 422, "reason"},
		{"invalid UTF-8", path, rep, "{\"reason\":\"bad\xff\"}", 422, "reason"},
		{"a control character", path, rep, `{"reason":"bell\u0007"}`, 422, "reason"},
		{"an unknown field", path, rep, `{"reason":"x","why":"y"}`, 422, "why"},
		{"no body", path, rep, ``, 400, ""},
		{"another rep", path, acme.tokens[domain.RoleProfessional], ok, 403, ""},
		{"a vendor key", path, vendorKey, ok, 403, ""},
		{"another org's manager", path, other.tokens[domain.RoleManager], ok, 404, ""},
		{"no such lead", "/v1/leads/" + domain.NewID() + "/invalid", rep, ok, 404, ""},
	})
	var l leadOut
	a := ts.do(t, "POST", path, rep, `{"reason":"  number disconnected\nsecond line  "}`, "")
	if err := json.Unmarshal([]byte(a.body), &l); err != nil || a.status != 200 || l.AssignedTo != nil ||
		!strings.Contains(a.body, `"status":"invalid"`) || l.Timeline[len(l.Timeline)-1].Message != "marked invalid by Acme staff: number disconnected\nsecond line" {
		t.Fatalf("invalid by its assignee: %d %s", a.status, a.body)
	}
	if a := ts.do(t, "POST", path, acme.tokens[domain.RoleManager], ok, ""); a.status != 409 {
		t.Fatalf("twice: %d %s", a.status, a.body)
	}
	for i, tok := range []string{acme.tokens[domain.RoleManager], acme.tokens[domain.RoleAdmin], testAdmin} {
		reason := `{"reason":"` + strings.Repeat("é", 1000) + `"}`
		if a := ts.do(t, "POST", "/v1/leads/"+ids[i+1]+"/invalid", tok, reason, ""); a.status != 200 {
			t.Errorf("a queued lead marked invalid by %d: %d %s", i, a.status, a.body)
		}
	}
}
