package api

import (
	"context"
	"strings"
	"testing"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/workflows"
)

// linkedPair is a master and its sub-agency with handover enabled; the
// fake run of a handover applies each answer as the workflow would.
func linkedPair(t *testing.T, ts testServer) (master, sub people) {
	t.Helper()
	master, sub = newPeople(t, ts, "Master"), newPeople(t, ts, "Sub")
	if err := ts.s.Store.LinkOrgs(context.Background(), master.org, sub.org); err != nil {
		t.Fatal(err)
	}
	if a := ts.do(t, "PATCH", "/v1/orgs/"+master.org, master.tokens[domain.RoleOwner], `{"handover_enabled":true}`, ""); a.status != 200 {
		t.Fatalf("handover_enabled: %d %s", a.status, a.body)
	}
	ts.s.Temporal = fakeTemporal{update: func(o client.UpdateWorkflowOptions) (any, error) {
		status, err := ts.s.Store.ApplyHandoverAnswer(context.Background(), o.Args[0].(workflows.HandoverAnswer).AnswerID)
		return workflows.HandoverResult{Status: status}, err
	}}
	return master, sub
}

// handedOver puts lead in a manager_review transfer from p's org to toOrg,
// moved as the transfer's run would: the lead then waits for toOrg's answer.
func handedOver(t *testing.T, ts testServer, p people, toOrg, lead string) {
	t.Helper()
	body := `{"to_org":"` + toOrg + `","lead_ids":["` + lead + `"],"mode":"manager_review"}`
	a := ts.do(t, "POST", "/v1/orgs/"+p.org+"/transfers", p.tokens[domain.RoleManager], body, "")
	if a.status != 202 {
		t.Fatalf("handover of %s: %d %s", lead, a.status, a.body)
	}
	tr := str(t, a, "id")
	if _, err := ts.s.Store.MoveTransferBatch(context.Background(), store.TransferBatch{TransferID: tr, Size: 100}); err != nil {
		t.Fatal(err)
	}
}

// An id is one id in any case: the routes that change a lead take upper-case
// ids as the lower-case ones GET takes, and a transfer to one's own org
// spelled in upper case is refused on to_org, not moved as a "sibling".
func TestIDsInAnyCaseAreOneID(t *testing.T) {
	ts := newTestServer(t, true, nil)
	master, sub := linkedPair(t, ts)
	leads := routedLeads(t, ts, master, 4)
	up := strings.ToUpper
	mgr := master.tokens[domain.RoleManager]
	staffID := master.ids[domain.RoleStaff]

	a := ts.do(t, "POST", "/v1/leads/"+up(leads[0])+"/assign", mgr, `{"user_id":"`+up(staffID)+`"}`, "")
	if l := readLead(t, a); l.AssignedTo == nil || *l.AssignedTo != staffID {
		t.Errorf("assign in upper case: %d %s", a.status, a.body)
	}
	a = ts.do(t, "POST", "/v1/leads/"+up(leads[0])+"/transfer-ownership", mgr, `{"user_id":"`+up(staffID)+`"}`, "")
	if l := readLead(t, a); l.Owner.ID != staffID {
		t.Errorf("transfer-ownership in upper case: %d %s", a.status, a.body)
	}
	a = ts.do(t, "POST", "/v1/orgs/"+up(master.org)+"/leads/assign", mgr,
		`{"user_id":"`+up(staffID)+`","lead_ids":["`+up(leads[1])+`","`+leads[2]+`"]}`, "")
	if a.status != 200 || !strings.Contains(a.body, `"lead_ids":["`+leads[1]+`","`+leads[2]+`"]`) {
		t.Errorf("bulk assign in upper case: %d %s", a.status, a.body)
	}
	if n := count(t, ts.s, `SELECT count(*) FROM leads WHERE id = ANY($1::uuid[]) AND assigned_to = $2`, leads[1:3], staffID); n != 2 {
		t.Errorf("bulk assign in upper case assigned %d of 2", n)
	}
	// The same lead in two spellings is one lead listed twice.
	a = ts.do(t, "POST", "/v1/orgs/"+master.org+"/leads/assign", mgr,
		`{"user_id":"`+staffID+`","lead_ids":["`+leads[1]+`","`+up(leads[1])+`"]}`, "")
	if a.status != 422 || !strings.Contains(a.body, `"lead_ids[1]"`) {
		t.Errorf("one lead in two spellings: %d %s", a.status, a.body)
	}

	transfers := count(t, ts.s, `SELECT count(*) FROM transfers`)
	for _, c := range []struct{ path, to string }{{master.org, up(master.org)}, {up(master.org), master.org}, {up(master.org), up(master.org)}} {
		body := `{"to_org":"` + c.to + `","lead_ids":["` + leads[3] + `"],"mode":"owner"}`
		a = ts.do(t, "POST", "/v1/orgs/"+c.path+"/transfers", mgr, body, "")
		if a.status != 422 || !strings.Contains(a.body, `"to_org"`) {
			t.Errorf("transfer %s → %s (itself): %d %s, want 422 on to_org", c.path, c.to, a.status, a.body)
		}
	}
	if n := count(t, ts.s, `SELECT count(*) FROM transfers`); n != transfers {
		t.Errorf("a self-transfer wrote %d transfers", n-transfers)
	}

	handedOver(t, ts, master, up(sub.org), leads[3])
	a = ts.do(t, "POST", "/v1/leads/"+up(leads[3])+"/handover/accept", sub.tokens[domain.RoleManager],
		`{"assign_to":"`+up(sub.ids[domain.RoleStaff])+`"}`, "")
	if a.status != 200 || !strings.Contains(a.body, `"status":"accepted"`) || !strings.Contains(a.body, `"lead_id":"`+leads[3]+`"`) {
		t.Errorf("handover accept in upper case: %d %s", a.status, a.body)
	}
	if n := count(t, ts.s, `SELECT count(*) FROM leads WHERE id = $1 AND org_id = $2 AND assigned_to = $3`, leads[3], sub.org, sub.ids[domain.RoleStaff]); n != 1 {
		t.Error("the accepted lead is not assigned in the receiving org")
	}
}

// A refused handover answer writes nothing: an unknown assign_to (once a
// foreign-key 500) and another org's user are 422 on assign_to, and an
// answer the run refuses (the run closed) leaves no handover_answers row.
func TestRefusedHandoverAnswersWriteNothing(t *testing.T) {
	ts := newTestServer(t, true, nil)
	master, sub := linkedPair(t, ts)
	lead := routedLeads(t, ts, master, 1)[0]
	handedOver(t, ts, master, sub.org, lead)
	accept := "/v1/leads/" + lead + "/handover/accept"
	mgr := sub.tokens[domain.RoleManager]
	answers := func() int { return count(t, ts.s, `SELECT count(*) FROM handover_answers`) }
	before := answers()
	for name, user := range map[string]string{"unknown": domain.NewID(), "another org's": master.ids[domain.RoleStaff]} {
		a := ts.do(t, "POST", accept, mgr, `{"assign_to":"`+user+`"}`, "")
		if a.status != 422 || !strings.Contains(a.body, `"assign_to"`) {
			t.Errorf("%s assign_to: %d %s, want 422 naming assign_to", name, a.status, a.body)
		}
	}
	ts.s.Temporal = fakeTemporal{update: func(client.UpdateWorkflowOptions) (any, error) {
		return nil, serviceerror.NewNotFound("workflow execution already completed")
	}}
	if a := ts.do(t, "POST", accept, mgr, `{"assign_to":"`+sub.ids[domain.RoleStaff]+`"}`, ""); a.status != 409 {
		t.Errorf("answer to a closed run: %d %s, want 409", a.status, a.body)
	}
	if a := ts.do(t, "POST", "/v1/leads/"+lead+"/handover/reject", mgr, `{"reason":"not ours"}`, ""); a.status != 409 {
		t.Errorf("reject to a closed run: %d %s, want 409", a.status, a.body)
	}
	if n := answers(); n != before {
		t.Errorf("refused answers wrote %d handover_answers rows", n-before)
	}
}

// Who may move which leads (README, "Roles"): the owner, admins and
// managers transfer any lead of the org; only licensed users (managers,
// professionals) hand over (manager_review); a professional hands over only
// the leads assigned to them, not a colleague's and not an unassigned one.
func TestWhoMovesWhichLeads(t *testing.T) {
	ts := newTestServer(t, true, nil)
	master, sub := linkedPair(t, ts)
	ctx := context.Background()
	roles := []domain.Role{domain.RoleOwner, domain.RoleAdmin, domain.RoleManager, domain.RoleProfessional, domain.RoleStaff}
	type lot struct{ own, colleagues, unassigned string }
	modes := []string{"owner", "manager_review"}
	// Each role and mode gets leads of its own: a lead one request put in a
	// transfer would answer the next 409 whatever the rule.
	lots := map[domain.Role]map[string]lot{}
	for _, r := range roles {
		lots[r] = map[string]lot{}
		for _, mode := range modes {
			ids := routedLeads(t, ts, master, 3)
			for i, who := range []string{master.ids[r], master.ids[domain.RoleStaff]} {
				if r == domain.RoleStaff && i == 1 {
					who = master.ids[domain.RoleManager]
				}
				if err := ts.s.Store.AssignLead(ctx, "", domain.Changer{}, ids[i], who); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := ts.s.Pool.Exec(ctx, `UPDATE leads SET assigned_to = NULL WHERE id = $1`, ids[2]); err != nil {
				t.Fatal(err)
			}
			lots[r][mode] = lot{ids[0], ids[1], ids[2]}
		}
	}
	want := map[domain.Role]map[string][3]int{ // mode → own, a colleague's, unassigned
		domain.RoleOwner:        {"owner": {202, 202, 202}, "manager_review": {403, 403, 403}},
		domain.RoleAdmin:        {"owner": {202, 202, 202}, "manager_review": {403, 403, 403}},
		domain.RoleManager:      {"owner": {202, 202, 202}, "manager_review": {202, 202, 202}},
		domain.RoleProfessional: {"owner": {403, 403, 403}, "manager_review": {202, 403, 403}},
		domain.RoleStaff:        {"owner": {403, 403, 403}, "manager_review": {403, 403, 403}},
	}
	for _, r := range roles {
		for _, mode := range modes {
			l := lots[r][mode]
			for i, lead := range []string{l.own, l.colleagues, l.unassigned} {
				body := `{"to_org":"` + sub.org + `","lead_ids":["` + lead + `"],"mode":"` + mode + `"}`
				a := ts.do(t, "POST", "/v1/orgs/"+master.org+"/transfers", master.tokens[r], body, "", "Idempotency-Key", string(r)+mode+lead)
				if w := want[r][mode][i]; a.status != w {
					t.Errorf("%s, %s, lead %d: %d %s, want %d", r, mode, i, a.status, a.body, w)
				}
			}
		}
	}
}
