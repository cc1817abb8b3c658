package api

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
)

// routedLeads records n leads through an owner-routed source of p's org and
// routes them (the fake Temporal runs no workflow): all assigned to the owner.
func routedLeads(t *testing.T, ts testServer, p people, n int) []string {
	ids, _ := leadsThrough(t, ts, p, "everquote", domain.RouteOwner, n)
	return ids
}

// leadsThrough records n leads through p's source slug, routed by mode, and
// routes them. It returns their ids and the source's vendor key ("" when
// the source was there already).
func leadsThrough(t *testing.T, ts testServer, p people, slug string, mode domain.RoutingMode, n int) ([]string, string) {
	t.Helper()
	ctx := context.Background()
	sc := domain.SourceConfig{Name: "EverQuote", Routing: domain.Routing{Mode: mode}}
	delay, err := sc.Validate()
	if err != nil {
		t.Fatal(err)
	}
	src, _, key, err := ts.s.Store.PutSource(ctx, p.org, slug, sc, delay)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := 0; i < n; i++ {
		in, err := ts.s.Store.InsertLead(ctx, store.NewLead{SourceID: src.ID, OrgID: p.org, Slug: src.Slug, WorkflowID: "wf",
			ReceivedAt: time.Now(), In: domain.LeadInput{ExternalID: fmt.Sprint("own-", time.Now().UnixNano()), Email: "a@b.example"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ts.s.Store.RouteLead(ctx, store.RouteRequest{LeadID: in.LeadID}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, in.LeadID)
	}
	return ids, key
}

// leadOut is what the tests read of a lead answer.
type leadOut struct {
	AssignedTo *string     `json:"assigned_to"`
	Owner      store.Owner `json:"owner"`
	Timeline   []struct {
		Kind, Actor, Message string
	} `json:"timeline"`
}

func readLead(t *testing.T, a answer) leadOut {
	t.Helper()
	var l leadOut
	if err := json.Unmarshal([]byte(a.body), &l); err != nil || a.status != 200 {
		t.Fatalf("lead answer %d %s", a.status, a.body)
	}
	return l
}

func events(t *testing.T, ts testServer, org string) int {
	return count(t, ts.s, `SELECT count(*) FROM timeline_events WHERE org_id = $1`, org)
}

// POST /v1/leads/{id}/assign: managers assign team-owned leads to active
// users of the org and the owner stays; bad input is a 422 naming the field,
// another org's caller gets 404, and nothing is written by a refusal.
func TestAssignRoute(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true, nil)
	acme, other := newPeople(t, ts, "Acme"), newPeople(t, ts, "Other")
	id := routedLeads(t, ts, acme, 1)[0]
	path := "/v1/leads/" + id + "/assign"
	staff := acme.ids[domain.RoleStaff]

	l := readLead(t, ts.do(t, "POST", path, acme.tokens[domain.RoleManager], `{"user_id":"`+staff+`"}`, ""))
	last := l.Timeline[len(l.Timeline)-1]
	if *l.AssignedTo != staff || l.Owner.Type != "org" || last.Kind != "assigned" || last.Actor != acme.ids[domain.RoleManager] {
		t.Fatalf("assigned %v owner %+v event %+v", *l.AssignedTo, l.Owner, last)
	}

	n := events(t, ts, acme.org)
	for _, c := range []struct {
		path, tok, body string
		status          int
		field           string
	}{
		{path, acme.tokens[domain.RoleOwner], `{}`, 422, "user_id"},
		{path, acme.tokens[domain.RoleOwner], `{"user_id":null}`, 422, "user_id"},
		{path, acme.tokens[domain.RoleOwner], `{"user_id":5}`, 422, "user_id"},
		{path, acme.tokens[domain.RoleOwner], `{"user_id":"nobody"}`, 422, "user_id"},
		{path, acme.tokens[domain.RoleOwner], `{"user_id":"` + other.ids[domain.RoleStaff] + `"}`, 422, "user_id"},
		{path, acme.tokens[domain.RoleOwner], `{"user_id":"` + staff + `","why":"x"}`, 422, "why"},
		{path, acme.tokens[domain.RoleOwner], `{"user_id":"\u0000"}`, 422, "user_id"},
		{path, acme.tokens[domain.RoleOwner], `{"user_id":`, 400, ""},
		{path, acme.tokens[domain.RoleStaff], `{"user_id":"` + staff + `"}`, 403, ""},
		{path, acme.tokens[domain.RoleProfessional], `{"user_id":"` + staff + `"}`, 403, ""},
		{path, other.tokens[domain.RoleOwner], `{"user_id":"` + other.ids[domain.RoleStaff] + `"}`, 404, ""},
		{"/v1/leads/" + domain.NewID() + "/assign", acme.tokens[domain.RoleOwner], `{"user_id":"` + staff + `"}`, 404, ""},
		{"/v1/leads/not-an-id/assign", acme.tokens[domain.RoleOwner], `{"user_id":"` + staff + `"}`, 404, ""},
		{path, "", `{"user_id":"` + staff + `"}`, 401, ""},
	} {
		a := ts.do(t, "POST", c.path, c.tok, c.body, "")
		if a.status != c.status || (c.field != "" && !strings.Contains(a.body, `"`+c.field+`":`)) {
			t.Errorf("%s %s: %d %s, want %d naming %q", c.path, c.body, a.status, a.body, c.status, c.field)
		}
	}
	if got := events(t, ts, acme.org); got != n {
		t.Fatalf("refused assignments wrote %d events", got-n)
	}
	// The admin token assigns in any org.
	if l := readLead(t, ts.do(t, "POST", path, testAdmin, `{"user_id":"`+acme.ids[domain.RoleProfessional]+`"}`, "")); l.Timeline[len(l.Timeline)-1].Actor != "admin" {
		t.Fatalf("operator's event %+v", l.Timeline[len(l.Timeline)-1])
	}
}

// POST /v1/leads/{id}/transfer-ownership: once a user owns the lead only
// they may assign it or give it back ("user_id": null); admins get 403.
func TestTransferOwnershipRoute(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true, nil)
	acme := newPeople(t, ts, "Acme")
	id := routedLeads(t, ts, acme, 1)[0]
	staff, pro := acme.ids[domain.RoleStaff], acme.ids[domain.RoleProfessional]
	transfer, assign := "/v1/leads/"+id+"/transfer-ownership", "/v1/leads/"+id+"/assign"

	if a := ts.do(t, "POST", transfer, acme.tokens[domain.RoleStaff], `{"user_id":"`+staff+`"}`, ""); a.status != 403 {
		t.Fatalf("staff takes a team lead: %d %s", a.status, a.body)
	}
	for _, body := range []string{`{}`, `{"user_id":7}`, `{"user_id":"x"}`} {
		if a := ts.do(t, "POST", transfer, acme.tokens[domain.RoleManager], body, ""); a.status != 422 || !strings.Contains(a.body, `"user_id":`) {
			t.Errorf("%s: %d %s, want 422 naming user_id", body, a.status, a.body)
		}
	}
	l := readLead(t, ts.do(t, "POST", transfer, acme.tokens[domain.RoleManager], `{"user_id":"`+staff+`"}`, ""))
	if l.Owner != (store.Owner{Type: "user", ID: staff}) || *l.AssignedTo != staff || l.Timeline[len(l.Timeline)-1].Kind != "ownership" {
		t.Fatalf("after transfer: %+v", l)
	}
	n := events(t, ts, acme.org)
	for _, tok := range []string{acme.tokens[domain.RoleAdmin], acme.tokens[domain.RoleOwner], acme.tokens[domain.RoleManager], testAdmin} {
		for _, c := range []struct{ path, body string }{{assign, `{"user_id":"` + pro + `"}`}, {transfer, `{"user_id":null}`}} {
			if a := ts.do(t, "POST", c.path, tok, c.body, ""); a.status != 403 {
				t.Errorf("%s %s by a non-owner: %d %s, want 403", c.path, c.body, a.status, a.body)
			}
		}
	}
	if got := events(t, ts, acme.org); got != n {
		t.Fatalf("refused changes wrote %d events", got-n)
	}
	l = readLead(t, ts.do(t, "POST", assign, acme.tokens[domain.RoleStaff], `{"user_id":"`+pro+`"}`, ""))
	if l.Owner.ID != staff || *l.AssignedTo != pro {
		t.Fatalf("the owner's assign: %+v", l)
	}
	l = readLead(t, ts.do(t, "POST", transfer, acme.tokens[domain.RoleStaff], `{"user_id":null}`, ""))
	if l.Owner.Type != "org" || *l.AssignedTo != pro || !strings.HasPrefix(l.Timeline[len(l.Timeline)-1].Message, "given back to the team") {
		t.Fatalf("given back: %+v", l)
	}
}

// POST /v1/orgs/{org}/leads/assign: 1 to 1,000 distinct lead ids, all
// assigned or none.
func TestBulkAssignRoute(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true, nil)
	acme, other := newPeople(t, ts, "Acme"), newPeople(t, ts, "Other")
	ids := routedLeads(t, ts, acme, 3)
	foreign := routedLeads(t, ts, other, 1)[0]
	path := "/v1/orgs/" + acme.org + "/leads/assign"
	staff := acme.ids[domain.RoleStaff]
	body := func(ids ...string) string {
		b, _ := json.Marshal(map[string]any{"user_id": staff, "lead_ids": ids})
		return string(b)
	}
	many := make([]string, 1001)
	for i := range many {
		many[i] = domain.NewID()
	}
	n := events(t, ts, acme.org)
	for _, c := range []struct {
		tok, body string
		status    int
		field     string
	}{
		{acme.tokens[domain.RoleManager], body(), 422, "lead_ids"},
		{acme.tokens[domain.RoleManager], `{"user_id":"` + staff + `"}`, 422, "lead_ids"},
		{acme.tokens[domain.RoleManager], `{"user_id":"` + staff + `","lead_ids":"x"}`, 422, "lead_ids"},
		{acme.tokens[domain.RoleManager], body(many...), 422, "lead_ids"},
		{acme.tokens[domain.RoleManager], body(ids[0], "x"), 422, "lead_ids[1]"},
		{acme.tokens[domain.RoleManager], body(ids[0], ids[1], ids[0]), 422, "lead_ids[2]"},
		{acme.tokens[domain.RoleManager], body(ids[0], foreign), 422, "lead_ids[1]"},
		{acme.tokens[domain.RoleManager], `{"lead_ids":["` + ids[0] + `"]}`, 422, "user_id"},
		{acme.tokens[domain.RoleStaff], body(ids...), 403, "lead_ids[0]"},
		{other.tokens[domain.RoleOwner], body(ids...), 404, ""},
	} {
		a := ts.do(t, "POST", path, c.tok, c.body, "")
		if a.status != c.status || (c.field != "" && !strings.Contains(a.body, `"`+c.field+`":`)) {
			t.Errorf("%.120s: %d %.300s, want %d naming %q", c.body, a.status, a.body, c.status, c.field)
		}
	}
	if got := events(t, ts, acme.org); got != n {
		t.Fatalf("refused bulk assignments wrote %d events", got-n)
	}
	a := ts.do(t, "POST", path, acme.tokens[domain.RoleManager], body(ids...), "")
	if a.status != 200 || !strings.Contains(a.body, `"changed":3`) {
		t.Fatalf("bulk assign: %d %s", a.status, a.body)
	}
	if got := count(t, ts.s, `SELECT count(*) FROM leads WHERE assigned_to = $1 AND owner_user_id IS NULL`, staff); got != 3 {
		t.Fatalf("%d leads assigned to the user, want 3", got)
	}
}
