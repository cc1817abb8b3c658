package api

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
)

// GET /v1/orgs/{org}/users: every member reads the org's users by name,
// without tokens; another org's caller gets 404, a vendor key 403.
func TestListUsersRoute(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true, nil)
	acme, other := newPeople(t, ts, "Acme"), newPeople(t, ts, "Other")
	path := "/v1/orgs/" + acme.org + "/users"
	a := ts.do(t, "GET", path, acme.tokens[domain.RoleStaff], "", "")
	var out struct {
		Users []map[string]any `json:"users"`
	}
	if err := json.Unmarshal([]byte(a.body), &out); err != nil || a.status != 200 {
		t.Fatalf("staff reads the users: %d %s", a.status, a.body)
	}
	var names []string
	for _, u := range out.Users {
		names = append(names, u["name"].(string)+"/"+u["role"].(string))
		if _, ok := u["token"]; ok {
			t.Errorf("a token in the list: %v", u)
		}
	}
	want := []string{"Acme admin/admin", "Acme manager/manager", "Acme Owner/owner", "Acme professional/professional", "Acme staff/staff"}
	if !slices.Equal(names, want) {
		t.Fatalf("users %v, want %v", names, want)
	}
	if a := ts.do(t, "GET", path, other.tokens[domain.RoleOwner], "", ""); a.status != 404 {
		t.Fatalf("another org's owner: %d %s", a.status, a.body)
	}
	if a := ts.do(t, "GET", path, testAdmin, "", ""); a.status != 200 {
		t.Fatalf("the admin token: %d %s", a.status, a.body)
	}
}

// GET /v1/orgs/{org}/handovers: the leads handed over to the org and
// waiting, for those who may answer them (manager, owner, admin) and the
// admin token; staff and professionals get 403, the sending org's manager
// 404 on the receiving org's pipeline, and a decided handover leaves it.
func TestPipelineRoute(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true, nil)
	ctx := context.Background()
	master, sub := newPeople(t, ts, "Master"), newPeople(t, ts, "Sub")
	if err := ts.s.Store.LinkOrgs(ctx, master.org, sub.org); err != nil {
		t.Fatal(err)
	}
	on := true
	if _, _, err := ts.s.Store.UpdateOrg(ctx, master.org, store.OrgPatch{HandoverEnabled: &on}); err != nil {
		t.Fatal(err)
	}
	ids := routedLeads(t, ts, master, 2)
	id := domain.NewID()
	tr, _, err := ts.s.Store.CreateTransfer(ctx, store.NewTransfer{ID: id, OrgID: master.org, ToOrgID: sub.org, Mode: domain.TransferManagerReview,
		RequestedBy: master.ids[domain.RoleManager], RequestHash: []byte(id), WorkflowID: "transfer/" + id, LeadIDs: ids})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.s.Store.MoveTransferBatch(ctx, store.TransferBatch{TransferID: tr.ID, Size: 10}); err != nil {
		t.Fatal(err)
	}
	path, masterPath := "/v1/orgs/"+sub.org+"/handovers", "/v1/orgs/"+master.org+"/handovers"
	type item struct {
		LeadID  string                     `json:"lead_id"`
		FromOrg struct{ ID, Name string }  `json:"from_org"`
		SentBy  *struct{ ID, Name string } `json:"sent_by"`
	}
	readAt := func(path, token string) []item {
		t.Helper()
		a := ts.do(t, "GET", path, token, "", "")
		var out struct {
			Handovers []item `json:"handovers"`
		}
		if err := json.Unmarshal([]byte(a.body), &out); err != nil || a.status != 200 {
			t.Fatalf("pipeline: %d %s", a.status, a.body)
		}
		return out.Handovers
	}
	read := func(token string) []item { return readAt(path, token) }
	for _, who := range []string{sub.tokens[domain.RoleManager], sub.tokens[domain.RoleOwner], sub.tokens[domain.RoleAdmin], testAdmin} {
		got := read(who)
		if len(got) != 2 || !slices.Contains(ids, got[0].LeadID) || !slices.Contains(ids, got[1].LeadID) ||
			got[0].FromOrg.ID != master.org || got[0].FromOrg.Name != "Master" ||
			got[0].SentBy == nil || got[0].SentBy.ID != master.ids[domain.RoleManager] || got[0].SentBy.Name != "Master manager" {
			t.Fatalf("pipeline %+v, want both leads from Master sent by its manager", got)
		}
	}
	for role, want := range map[string]struct {
		token  string
		status int
	}{
		"sub staff":        {sub.tokens[domain.RoleStaff], 403},
		"sub professional": {sub.tokens[domain.RoleProfessional], 403},
		"master manager":   {master.tokens[domain.RoleManager], 404},
	} {
		if a := ts.do(t, "GET", path, want.token, "", ""); a.status != want.status {
			t.Errorf("%s: %d %s, want %d", role, a.status, a.body, want.status)
		}
	}
	if got := readAt(masterPath, master.tokens[domain.RoleManager]); len(got) != 0 {
		t.Fatalf("the sender's own pipeline: %+v, want none", got)
	}
	// A decided handover leaves the pipeline.
	answer := store.HandoverAnswer{ID: domain.NewID(), LeadID: ids[0], TransferID: tr.ID, Kind: "accept",
		Actor: sub.ids[domain.RoleManager], AssignTo: sub.ids[domain.RoleStaff]}
	if err := ts.s.Store.RecordHandoverAnswer(ctx, answer); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.s.Store.ApplyHandoverAnswer(ctx, answer.ID); err != nil {
		t.Fatal(err)
	}
	if got := read(sub.tokens[domain.RoleManager]); len(got) != 1 || got[0].LeadID != ids[1] {
		t.Fatalf("after an accept: %+v, want only %s", got, ids[1])
	}
	for q, field := range map[string]string{"limit=0": "limit", "cursor=*": "cursor", "cursor=AAAA": "cursor"} {
		if a := ts.do(t, "GET", path+"?"+q, sub.tokens[domain.RoleManager], "", ""); a.status != 422 || !strings.Contains(a.body, `"`+field+`":`) {
			t.Errorf("?%s: %d %s, want 422 naming %s", q, a.status, a.body, field)
		}
	}
}

// GET /v1/orgs/{org}/leads with location, owner and q: the parameters
// reach the query (a filter that matches nothing answers an empty page, one
// that matches answers the lead) and bad values are 422s naming them.
func TestListLeadsFilterParameters(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true, nil)
	acme := newPeople(t, ts, "Acme")
	ids := routedLeads(t, ts, acme, 2) // team-owned, assigned to the owner
	ctx := context.Background()
	if _, err := ts.s.Pool.Exec(ctx, `UPDATE leads SET first_name = 'Иван', last_name = 'Петров', owner_user_id = $2 WHERE id = $1`,
		ids[0], acme.ids[domain.RoleOwner]); err != nil {
		t.Fatal(err)
	}
	list := func(query string) []string {
		t.Helper()
		a := ts.do(t, "GET", "/v1/orgs/"+acme.org+"/leads?"+query, acme.tokens[domain.RoleStaff], "", "")
		var out struct {
			Leads []struct{ ID string } `json:"leads"`
		}
		if err := json.Unmarshal([]byte(a.body), &out); err != nil || a.status != 200 {
			t.Fatalf("?%s: %d %s", query, a.status, a.body)
		}
		var got []string
		for _, l := range out.Leads {
			got = append(got, l.ID)
		}
		return got
	}
	for query, want := range map[string][]string{
		"owner=team":                             {ids[1]},
		"owner=" + acme.ids[domain.RoleOwner]:    {ids[0]},
		"owner=" + acme.ids[domain.RoleStaff]:    nil,
		"q=" + url.QueryEscape("  иван петров "): {ids[0]},
		"q=" + url.QueryEscape("100%"):           nil,
		"location=queue":                         nil,
		"location=pending&owner=team":            nil,
		"assigned_to=" + acme.ids[domain.RoleOwner] + "&q=" + url.QueryEscape("ПЕТРОВ"): {ids[0]},
	} {
		if got := list(query); !slices.Equal(got, want) {
			t.Errorf("?%s: %v, want %v", query, got, want)
		}
	}
	for query, field := range map[string]string{
		"location=elsewhere":                            "location",
		"owner=nobody":                                  "owner",
		"q=" + url.QueryEscape("a\tb"):                  "q",
		"q=" + strings.Repeat("я", 101):                 "q",
		"owner=team&location=everywhere&q=" + "%C2%85x": "location",
	} {
		a := ts.do(t, "GET", "/v1/orgs/"+acme.org+"/leads?"+query, acme.tokens[domain.RoleStaff], "", "")
		if a.status != 422 || !strings.Contains(a.body, `"`+field+`":`) {
			t.Errorf("?%s: %d %s, want 422 naming %s", query, a.status, a.body, field)
		}
	}
}
