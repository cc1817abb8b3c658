package api

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/leadrelay/leadrelay/internal/domain"
)

// leaveLead puts a lead where code older than the routing guards could
// leave it: assigned to userID ("" nobody) and in location ("" none).
func leaveLead(t *testing.T, ts testServer, id, userID, location string) {
	t.Helper()
	if _, err := ts.s.Pool.Exec(context.Background(), `UPDATE leads SET assigned_to = nullif($2, '')::uuid,
		location = nullif($3, ''), available_at = NULL WHERE id = $1`, id, userID, location); err != nil {
		t.Fatal(err)
	}
}

// refuseSaying is refuseAll for 409s that must say why, checked on the
// lead's own timeline and its row as well as the org's event count.
func refuseSaying(t *testing.T, ts testServer, org, id, says string, cases []refusal) {
	t.Helper()
	row := func() string {
		var s string
		if err := ts.s.Pool.QueryRow(context.Background(), `SELECT concat_ws('|', org_id, status, owner_user_id, assigned_to, location,
			(SELECT count(*) FROM timeline_events WHERE lead_id = $1), (SELECT count(*) FROM lead_claims WHERE lead_id = $1))
			FROM leads WHERE id = $1`, id).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	before := row()
	refuseAll(t, ts, org, cases)
	for _, c := range cases {
		if a := ts.do(t, "POST", c.path, c.token, c.body, ""); !strings.Contains(a.body, says) {
			t.Errorf("%s: %d %s does not say %q", c.name, a.status, a.body, says)
		}
	}
	if after := row(); after != before {
		t.Fatalf("refused requests changed the lead: %s, was %s", after, before)
	}
}

// A lead handed over for review is held by the receiving org but waits for
// its manager's answer: assign, bulk assign, transfer-ownership, release
// and invalid answer 409 there, as return does, and write nothing.
func TestPendingHandoverRefusesAssignTransferOwnershipReleaseInvalidRoutes(t *testing.T) {
	ts := newTestServer(t, true, nil)
	acme, sub := linkedPair(t, ts)
	id := routedLeads(t, ts, acme, 1)[0]
	handedOver(t, ts, acme, sub.org, id)
	mgr, rep := sub.tokens[domain.RoleManager], sub.ids[domain.RoleStaff]
	lead := "/v1/leads/" + id
	refuseSaying(t, ts, sub.org, id, "waiting for a handover decision", []refusal{
		{"assign", lead + "/assign", mgr, `{"user_id":"` + rep + `"}`, 409, ""},
		{"bulk assign", "/v1/orgs/" + sub.org + "/leads/assign", mgr, `{"user_id":"` + rep + `","lead_ids":["` + id + `"]}`, 409, "lead_ids[0]"},
		{"transfer-ownership", lead + "/transfer-ownership", mgr, `{"user_id":"` + rep + `"}`, 409, ""},
		{"transfer-ownership by the admin token", lead + "/transfer-ownership", testAdmin, `{"user_id":"` + rep + `"}`, 409, ""},
		{"invalid", lead + "/invalid", mgr, `{"reason":"junk"}`, 409, ""},
	})
	// An assignee the lead got before this guard: they cannot release it.
	leaveLead(t, ts, id, rep, "")
	refuseSaying(t, ts, sub.org, id, "waiting for a handover decision", []refusal{
		{"release", lead + "/release", sub.tokens[domain.RoleStaff], "", 409, ""},
	})
}

// Returned is final: every routing route answers 409 "returned leads are
// final" and writes nothing, and a returned lead is never claimed.
func TestReturnedLeadIsFinalRoutes(t *testing.T) {
	ts := newTestServer(t, true, nil)
	ts.s.Temporal = &startRecorder{}
	acme := newPeople(t, ts, "Acme")
	id := routedLeads(t, ts, acme, 1)[0]
	mgr, staff := acme.tokens[domain.RoleManager], acme.ids[domain.RoleStaff]
	lead := "/v1/leads/" + id
	if a := ts.do(t, "POST", lead+"/return", mgr, `{"reason":"Duplicate"}`, ""); a.status != 200 {
		t.Fatalf("return: %d %s", a.status, a.body)
	}
	const says = "returned leads are final"
	refuseSaying(t, ts, acme.org, id, says, []refusal{
		{"assign", lead + "/assign", mgr, `{"user_id":"` + staff + `"}`, 409, ""},
		{"bulk assign", "/v1/orgs/" + acme.org + "/leads/assign", mgr, `{"user_id":"` + staff + `","lead_ids":["` + id + `"]}`, 409, "lead_ids[0]"},
		{"transfer-ownership", lead + "/transfer-ownership", mgr, `{"user_id":"` + staff + `"}`, 409, ""},
		{"invalid", lead + "/invalid", mgr, `{"reason":"junk"}`, 409, ""},
		{"invalid by the admin token", lead + "/invalid", testAdmin, `{"reason":"junk"}`, 409, ""},
	})
	leaveLead(t, ts, id, staff, "")
	refuseSaying(t, ts, acme.org, id, says, []refusal{
		{"release", lead + "/release", acme.tokens[domain.RoleStaff], "", 409, ""},
		{"worked", lead + "/worked", acme.tokens[domain.RoleStaff], "", 409, ""},
	})
	leaveLead(t, ts, id, "", domain.LocationQueue)
	if a := ts.do(t, "POST", "/v1/orgs/"+acme.org+"/queue/claim", acme.tokens[domain.RoleStaff], "", ""); a.status != 204 {
		t.Fatalf("claim with only a returned lead in the queue: %d %s", a.status, a.body)
	}
}

// POST /v1/leads/{id}/worked after the claim window, before its run fires:
// 409 "your claim expired", and the lead is back in the queue at once,
// claimable by the next rep.
func TestWorkedPastClaimWindowIs409AndRequeuesRoute(t *testing.T) {
	ts := newTestServer(t, true, nil)
	ts.s.Temporal = &startRecorder{}
	acme := newPeople(t, ts, "Acme")
	ids, _ := queuedLeads(t, ts, acme, 1)
	id := ids[0]
	rep := acme.tokens[domain.RoleStaff]
	if a := ts.do(t, "POST", "/v1/orgs/"+acme.org+"/queue/claim", rep, "", ""); a.status != 200 {
		t.Fatalf("claim: %d %s", a.status, a.body)
	}
	if _, err := ts.s.Pool.Exec(context.Background(), `WITH n AS (SELECT clock_timestamp() - interval '1 second' AS t)
		UPDATE lead_claims SET claimed_at = n.t - (expires_at - claimed_at), expires_at = n.t FROM n WHERE lead_id = $1`, id); err != nil {
		t.Fatal(err)
	}
	a := ts.do(t, "POST", "/v1/leads/"+id+"/worked", rep, "", "")
	if a.status != 409 || !strings.Contains(a.body, "your claim expired") {
		t.Fatalf("worked past the window: %d %s", a.status, a.body)
	}
	var got struct {
		AssignedTo *string `json:"assigned_to"`
		Location   *string `json:"location"`
		Timeline   []struct{ Kind string }
	}
	decodeInto(t, ts.do(t, "GET", "/v1/leads/"+id, acme.tokens[domain.RoleOwner], "", ""), &got)
	if got.AssignedTo != nil || got.Location == nil || *got.Location != domain.LocationQueue ||
		got.Timeline[len(got.Timeline)-1].Kind != "claim_expired" {
		t.Fatalf("after a late worked: %+v", got)
	}
	if n := count(t, ts.s, `SELECT count(*) FROM lead_claims WHERE lead_id = $1 AND status = 'expired'`, id); n != 1 {
		t.Fatalf("%d expired claims", n)
	}
	var again claimAnswer
	decodeInto(t, ts.do(t, "POST", "/v1/orgs/"+acme.org+"/queue/claim", acme.tokens[domain.RoleProfessional], "", ""), &again)
	if again.ID != id || again.Claim.Seq != 2 {
		t.Fatalf("the requeued lead is not claimable: %+v", again)
	}
}

func decodeInto(t *testing.T, a answer, v any) {
	t.Helper()
	if a.status != 200 || json.Unmarshal([]byte(a.body), v) != nil {
		t.Fatalf("answer %d %s", a.status, a.body)
	}
}
