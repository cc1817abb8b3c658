package e2e

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestReturnRulesEndToEnd: a source with a 72-hour return window and three
// reasons (saved and answered through the API); a manager returns a lead
// with a reason from the list in another case, and it is recorded as the
// list spells it; a reason outside the list is a 422 naming reason, and a
// lead past the window (its arrival moved back in the database, as three
// days passing would) is a 409 naming return_window, neither writing
// anything; then the vendor lists its returns with its own key — the one
// return, with the comments the source sends — while a user's token is
// refused and another vendor's key sees none of them.
func TestReturnRulesEndToEnd(t *testing.T) {
	s := up(t)
	ctx := context.Background()
	tn := s.newTenant(t, "returnrules", 2, nil)
	other := s.newTenant(t, "returnrules-other", 1, nil)
	stamp := time.Now().UnixNano()
	key, _ := s.putSource(t, tn, "rules", map[string]any{"name": "Rules", "routing": map[string]any{"mode": "staff_evenly"},
		"include_comments_on_return": true, "return_window": "72h", "return_reasons": []string{"Duplicate", "Wrong number", "Out of area"}})
	otherKey, _ := s.putSource(t, other, "rules", map[string]any{"name": "Rules", "routing": map[string]any{"mode": "owner"}})
	if r := s.do(t, "GET", "/v1/orgs/"+tn.id+"/sources", tn.ownerToken, nil); r.status != 200 ||
		!strings.Contains(r.raw2(), `"return_window":"72h0m0s","return_reasons":["Duplicate","Wrong number","Out of area"]`) {
		t.Fatalf("the source's rules: %d %s", r.status, r.raw)
	}

	var ids, exts []string
	for i := 0; i < 3; i++ {
		ext := fmt.Sprintf("rr-%d-%d", i, stamp)
		r := s.do(t, "POST", "/v1/leads", key, lead(ext))
		if r.status != 202 {
			t.Fatalf("post: %d %s", r.status, r.raw)
		}
		history(t, s, r.str("workflow_id")) // routed
		ids, exts = append(ids, r.str("lead_id")), append(exts, ext)
	}
	manager := s.addUser(t, tn, "Rhea Manager", "manager")

	r := s.do(t, "POST", "/v1/leads/"+ids[0]+"/return", manager.token, map[string]any{"reason": "wrong NUMBER", "comments": "disconnected"})
	st := stateOf(t, r)
	if data, _ := st.last["data"].(map[string]any); r.str("status") != "returned" || st.last["kind"] != "returned" || data["reason"] != "Wrong number" {
		t.Fatalf("a return by the rules: %d %s", r.status, r.raw)
	}
	r = s.do(t, "POST", "/v1/leads/"+ids[1]+"/return", manager.token, map[string]any{"reason": "Bad lead"})
	if r.status != 422 || r.errField("reason") != "not one of this source's return reasons: Duplicate; Wrong number; Out of area" {
		t.Fatalf("a reason off the list: %d %s", r.status, r.raw)
	}
	if _, err := s.deps.Pool.Exec(ctx, `UPDATE leads SET received_at = received_at - interval '73 hours' WHERE id = $1`, ids[2]); err != nil {
		t.Fatal(err)
	}
	r = s.do(t, "POST", "/v1/leads/"+ids[2]+"/return", manager.token, map[string]any{"reason": "Duplicate"})
	if r.status != 409 || r.errField("return_window") == "" {
		t.Fatalf("a lead past the window: %d %s", r.status, r.raw)
	}
	for _, id := range ids[1:] {
		if l := s.do(t, "GET", "/v1/leads/"+id, tn.ownerToken, nil); l.str("status") == "returned" || strings.Contains(l.raw2(), `"kind":"returned"`) {
			t.Fatalf("a refused return changed the lead: %s", l.raw)
		}
	}

	since := url.QueryEscape(time.Now().Add(-time.Hour).UTC().Format(time.RFC3339))
	r = s.do(t, "GET", "/v1/returns?since="+since, key, nil)
	list, _ := r.body["returns"].([]any)
	if r.status != 200 || len(list) != 1 || r.str("next_cursor") != "" {
		t.Fatalf("the vendor's returns: %d %s", r.status, r.raw)
	}
	got := list[0].(map[string]any)
	if got["lead_id"] != ids[0] || got["external_id"] != exts[0] || got["reason"] != "Wrong number" || got["comments"] != "disconnected" ||
		got["returned_at"] == nil {
		t.Fatalf("the vendor's return: %v", got)
	}
	if r := s.do(t, "GET", "/v1/returns", otherKey, nil); r.status != 200 || len(r.body["returns"].([]any)) != 0 {
		t.Fatalf("another vendor's key: %d %s", r.status, r.raw)
	}
	if r := s.do(t, "GET", "/v1/returns", tn.ownerToken, nil); r.status != 403 {
		t.Fatalf("a user's token lists returns: %d %s", r.status, r.raw)
	}
	if r := s.do(t, "GET", "/v1/returns?since=monday", key, nil); r.status != 422 || r.errField("since") == "" {
		t.Fatalf("a bad since: %d %s", r.status, r.raw)
	}
}
