package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/internal/app"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/workflows"
)

// person is a user made through the API, with their token.
type person struct{ id, name, token string }

func (s *stack) addUser(t *testing.T, tn tenant, name, role string) person {
	t.Helper()
	email := fmt.Sprintf("%s-%d@people.example", strings.ToLower(strings.ReplaceAll(name, " ", ".")), time.Now().UnixNano())
	r := s.do(t, "POST", "/v1/orgs/"+tn.id+"/users", tn.ownerToken, map[string]any{"email": email, "name": name, "role": role})
	if r.status != 201 {
		t.Fatalf("create %s: %d %s", role, r.status, r.raw)
	}
	return person{r.str("id"), name, r.str("token")}
}

// postRouted posts n leads and waits until all are routed; it returns their ids.
func (s *stack) postRouted(t *testing.T, tn tenant, prefix string, n int) []string {
	t.Helper()
	var ids []string
	for i := 0; i < n; i++ {
		r := s.do(t, "POST", "/v1/leads", tn.vendorKey, lead(fmt.Sprintf("%s-%d-%d", prefix, i, time.Now().UnixNano())))
		if r.status != 202 {
			t.Fatalf("post: %d %s", r.status, r.raw)
		}
		ids = append(ids, r.str("lead_id"))
	}
	s.waitRouted(t, tn.sourceID, n)
	return ids
}

// leadState is what these tests read of a lead.
type leadState struct {
	owner, ownerType, assigned string
	last                       map[string]any // the newest timeline event
}

func (s *stack) leadState(t *testing.T, token, id string) leadState {
	t.Helper()
	r := s.do(t, "GET", "/v1/leads/"+id, token, nil)
	if r.status != 200 {
		t.Fatalf("GET lead: %d %s", r.status, r.raw)
	}
	return stateOf(t, r)
}

func stateOf(t *testing.T, r resp) leadState {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("lead answer: %d %s", r.status, r.raw)
	}
	owner, _ := r.body["owner"].(map[string]any)
	tl, _ := r.body["timeline"].([]any)
	st := leadState{owner: fmt.Sprint(owner["id"]), ownerType: fmt.Sprint(owner["type"]), assigned: r.str("assigned_to")}
	if len(tl) > 0 {
		st.last, _ = tl[len(tl)-1].(map[string]any)
	}
	return st
}

// TestOrgSettingsThroughTheAPI: members read the org, the owner changes it,
// bad input is a 422 naming the field that changes nothing, and another
// org's member gets 404.
func TestOrgSettingsThroughTheAPI(t *testing.T) {
	s := up(t)
	tn := s.newTenant(t, "settings", 0, nil)
	other := s.newTenant(t, "settings-other", 0, nil)
	staff := s.addUser(t, tn, "Sam Settings", "staff")
	path := "/v1/orgs/" + tn.id

	r := s.do(t, "GET", path, staff.token, nil)
	if r.status != 200 || r.str("id") != tn.id || r.str("timezone") != "America/Chicago" || r.str("claim_window") != "30m0s" ||
		r.body["parent_id"] != nil || r.body["handover_enabled"] != false || r.body["cross_silo"] != false {
		t.Fatalf("GET by a member: %d %s", r.status, r.raw)
	}
	r = s.do(t, "PATCH", path, tn.ownerToken, map[string]any{"name": "Settings Renamed", "timezone": "Europe/Berlin",
		"handover_enabled": true, "cross_silo": true, "claim_window": "45m"})
	if r.status != 200 || r.str("name") != "Settings Renamed" || r.str("timezone") != "Europe/Berlin" || r.str("claim_window") != "45m0s" ||
		r.body["handover_enabled"] != true || r.body["cross_silo"] != true {
		t.Fatalf("PATCH by the owner: %d %s", r.status, r.raw)
	}
	before := s.do(t, "GET", path, s.admin, nil).raw2()
	for _, c := range []struct {
		body  any
		field string
	}{
		{map[string]any{"name": ""}, "name"},
		{map[string]any{"name": strings.Repeat("x", 201)}, "name"},
		{map[string]any{"timezone": "Nowhere/Special"}, "timezone"},
		{map[string]any{"claim_window": "30s"}, "claim_window"},
		{map[string]any{"claim_window": "8760h"}, "claim_window"},
		{map[string]any{"claim_window": "soon"}, "claim_window"},
		{map[string]any{"claim_window": 30}, "claim_window"},
		{map[string]any{"handover_enabled": "yes"}, "handover_enabled"},
		{map[string]any{"cross_silo": nil}, "cross_silo"},
		{map[string]any{"name": "Fine", "owner": "me"}, "owner"},
	} {
		r := s.do(t, "PATCH", path, tn.ownerToken, c.body)
		if r.status != 422 || r.errField(c.field) == "" {
			t.Errorf("PATCH %v: %d %s, want 422 naming %s", c.body, r.status, r.raw, c.field)
		}
	}
	if r := s.do(t, "PATCH", path, staff.token, map[string]any{"name": "Mine"}); r.status != 403 {
		t.Errorf("PATCH by staff: %d %s", r.status, r.raw)
	}
	for _, m := range []string{"GET", "PATCH"} {
		if r := s.do(t, m, path, other.ownerToken, map[string]any{"name": "Mine"}); r.status != 404 {
			t.Errorf("%s by another org's owner: %d %s", m, r.status, r.raw)
		}
	}
	if after := s.do(t, "GET", path, s.admin, nil).raw2(); after != before {
		t.Fatalf("refused PATCHes changed the org:\n%s\n%s", before, after)
	}
}

// TestAssignmentAndOwnershipThroughTheAPI: assigning keeps the owner; once
// a lead is transferred to a user, an admin's reassignment is 403 and only
// that user gives it back; bulk assignment moves several at once.
func TestAssignmentAndOwnershipThroughTheAPI(t *testing.T) {
	s := up(t)
	tn := s.newTenant(t, "ownership", 0, map[string]any{"name": "EverQuote", "routing": map[string]any{"mode": "staff_evenly"}})
	ann, bob := s.addUser(t, tn, "Ann Agent", "staff"), s.addUser(t, tn, "Bob Agent", "professional")
	mgr, adm := s.addUser(t, tn, "Meg Manager", "manager"), s.addUser(t, tn, "Al Admin", "admin")
	ids := s.postRouted(t, tn, "own", 3)
	other := s.newTenant(t, "ownership-other", 0, map[string]any{"name": "EverQuote", "routing": map[string]any{"mode": "owner"}})
	foreign := s.postRouted(t, other, "foreign", 1)[0]
	id := ids[0]

	target := bob
	if s.leadState(t, mgr.token, id).assigned == bob.id {
		target = ann
	}
	st := stateOf(t, s.do(t, "POST", "/v1/leads/"+id+"/assign", mgr.token, map[string]any{"user_id": target.id}))
	if st.assigned != target.id || st.ownerType != "org" || st.last["kind"] != "assigned" || st.last["actor"] != mgr.id ||
		st.last["message"] != "assigned to "+target.name+" by Meg Manager; the team still owns it" {
		t.Fatalf("assign keeps the owner: %+v", st)
	}
	if r := s.do(t, "POST", "/v1/leads/"+id+"/assign", mgr.token, map[string]any{"user_id": other.ownerID}); r.status != 422 || r.errField("user_id") == "" {
		t.Fatalf("assign to another org's user: %d %s", r.status, r.raw)
	}
	if r := s.do(t, "POST", "/v1/leads/"+id+"/assign", other.ownerToken, map[string]any{"user_id": other.ownerID}); r.status != 404 {
		t.Fatalf("another org's owner assigns: %d %s", r.status, r.raw)
	}

	st = stateOf(t, s.do(t, "POST", "/v1/leads/"+id+"/transfer-ownership", mgr.token, map[string]any{"user_id": ann.id}))
	if st.ownerType != "user" || st.owner != ann.id || st.assigned != ann.id || st.last["kind"] != "ownership" {
		t.Fatalf("transfer: %+v", st)
	}
	for who, tok := range map[string]string{"admin": adm.token, "owner": tn.ownerToken, "manager": mgr.token, "admin token": s.admin} {
		if r := s.do(t, "POST", "/v1/leads/"+id+"/assign", tok, map[string]any{"user_id": bob.id}); r.status != 403 {
			t.Errorf("%s reassigns an agent-owned lead: %d %s", who, r.status, r.raw)
		}
		if r := s.do(t, "POST", "/v1/leads/"+id+"/transfer-ownership", tok, map[string]any{"user_id": nil}); r.status != 403 {
			t.Errorf("%s takes an agent-owned lead back: %d %s", who, r.status, r.raw)
		}
	}
	st = stateOf(t, s.do(t, "POST", "/v1/leads/"+id+"/assign", ann.token, map[string]any{"user_id": bob.id}))
	if st.owner != ann.id || st.assigned != bob.id || st.last["message"] != "assigned to Bob Agent by Ann Agent; Ann Agent still owns it" {
		t.Fatalf("the owner assigns: %+v", st)
	}
	st = stateOf(t, s.do(t, "POST", "/v1/leads/"+id+"/transfer-ownership", ann.token, map[string]any{"user_id": nil}))
	if st.ownerType != "org" || st.owner != tn.id || st.assigned != bob.id || st.last["actor"] != ann.id ||
		st.last["message"] != "given back to the team by Ann Agent: the org owns it again" {
		t.Fatalf("given back: %+v", st)
	}

	bulk := "/v1/orgs/" + tn.id + "/leads/assign"
	if r := s.do(t, "POST", bulk, mgr.token, map[string]any{"user_id": ann.id, "lead_ids": []string{ids[1], foreign}}); r.status != 422 || r.errField("lead_ids[1]") == "" {
		t.Fatalf("bulk with another org's lead: %d %s", r.status, r.raw)
	}
	if r := s.do(t, "POST", bulk, ann.token, map[string]any{"user_id": ann.id, "lead_ids": ids}); r.status != 403 {
		t.Fatalf("bulk by staff: %d %s", r.status, r.raw)
	}
	r := s.do(t, "POST", bulk, mgr.token, map[string]any{"user_id": ann.id, "lead_ids": ids})
	if r.status != 200 {
		t.Fatalf("bulk: %d %s", r.status, r.raw)
	}
	for _, id := range ids {
		if st := s.leadState(t, mgr.token, id); st.assigned != ann.id || st.ownerType != "org" {
			t.Fatalf("after bulk, lead %s: %+v", id, st)
		}
	}
}

// TestDeactivationReroutesTeamOwnedLeads: a staff user with three
// team-owned leads and one agent-owned lead is made inactive; a reroute run
// sends the three to the other staff, with the reason on each timeline, and
// the agent-owned one stays. The reconciler starts the run the API never
// started (a deactivation written without it).
func TestDeactivationReroutesTeamOwnedLeads(t *testing.T) {
	s := up(t)
	ctx := context.Background()
	tn := s.newTenant(t, "reroute", 0, map[string]any{"name": "EverQuote", "routing": map[string]any{"mode": "staff_evenly"}})
	gone := s.addUser(t, tn, "Gina Gone", "staff")
	stay1, stay2 := s.addUser(t, tn, "Sid Stays", "staff"), s.addUser(t, tn, "Pat Stays", "professional")
	ids := s.postRouted(t, tn, "rr", 4)
	team, mine := ids[:3], ids[3]
	if r := s.do(t, "POST", "/v1/orgs/"+tn.id+"/leads/assign", tn.ownerToken, map[string]any{"user_id": gone.id, "lead_ids": ids}); r.status != 200 {
		t.Fatalf("bulk assign: %d %s", r.status, r.raw)
	}
	if r := s.do(t, "POST", "/v1/leads/"+mine+"/transfer-ownership", tn.ownerToken, map[string]any{"user_id": gone.id}); r.status != 200 {
		t.Fatalf("transfer: %d %s", r.status, r.raw)
	}

	r := s.do(t, "PATCH", "/v1/orgs/"+tn.id+"/users/"+gone.id, tn.ownerToken, map[string]any{"active": false})
	if r.status != 200 || r.body["active"] != false {
		t.Fatalf("deactivate: %d %s", r.status, r.raw)
	}
	var res workflows.RerouteResult
	if err := s.deps.Temporal.GetWorkflow(ctx, workflows.RerouteWorkflowID(gone.id, 1), "").Get(ctx, &res); err != nil {
		t.Fatalf("reroute run: %v", err)
	}
	if res.Rerouted != 3 {
		t.Fatalf("reroute result %+v, want 3 rerouted", res)
	}
	got := map[string]int{}
	for _, id := range team {
		st := s.leadState(t, tn.ownerToken, id)
		got[st.assigned]++
		msg, _ := st.last["message"].(string)
		if st.ownerType != "org" || st.last["kind"] != "routed" || !strings.HasPrefix(msg, "rerouted because Gina Gone was deactivated: rotated to ") {
			t.Fatalf("rerouted lead %s: %+v", id, st)
		}
	}
	if got[stay1.id]+got[stay2.id] != 3 || got[stay1.id] == 0 || got[stay2.id] == 0 {
		t.Fatalf("rerouted to %v, want both other staff", got)
	}
	if st := s.leadState(t, tn.ownerToken, mine); st.assigned != gone.id || st.owner != gone.id {
		t.Fatalf("the agent-owned lead moved: %+v", st)
	}
	// A repeated PATCH finds the run that did the work.
	if r := s.do(t, "PATCH", "/v1/orgs/"+tn.id+"/users/"+gone.id, tn.ownerToken, map[string]any{"active": false}); r.status != 200 {
		t.Fatalf("repeated deactivation: %d %s", r.status, r.raw)
	}

	// A deactivation recorded without its run: the reconciler starts it.
	lost := s.addUser(t, tn, "Lou Lost", "staff")
	if r := s.do(t, "POST", "/v1/leads/"+team[0]+"/assign", tn.ownerToken, map[string]any{"user_id": lost.id}); r.status != 200 {
		t.Fatalf("assign: %d %s", r.status, r.raw)
	}
	off := false
	if _, err := s.store().UpdateUser(ctx, tn.id, lost.id, store.UserPatch{Active: &off}); err != nil {
		t.Fatal(err)
	}
	pass, err := app.Reconcile(ctx, s.deps, 0)
	if err != nil || pass.Reroutes < 1 {
		t.Fatalf("reconcile pass %+v: %v", pass, err)
	}
	if err := s.deps.Temporal.GetWorkflow(ctx, workflows.RerouteWorkflowID(lost.id, 1), "").Get(ctx, &res); err != nil || res.Rerouted != 1 {
		t.Fatalf("the reconciler's reroute: %+v %v", res, err)
	}
	if st := s.leadState(t, tn.ownerToken, team[0]); st.assigned == lost.id || !strings.Contains(fmt.Sprint(st.last["message"]), "Lou Lost was deactivated") {
		t.Fatalf("after the reconciler: %+v", st)
	}
}
