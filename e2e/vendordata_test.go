package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/leadrelay/leadrelay/workflows"
)

// TestAnyScriptInExternalIDIsRouted: a vendor's id in any script (or emoji)
// used to be put into the workflow ID, which a gRPC header refuses; the lead
// stayed unrouted for ever. The ID is leadrelay's now; the vendor's id is the
// ExternalID search attribute.
func TestAnyScriptInExternalIDIsRouted(t *testing.T) {
	s := up(t)
	tn := s.newTenant(t, "scripts", 2, map[string]any{"name": "EverQuote", "routing": map[string]any{"mode": "staff_evenly"}})
	exts := []string{"ext-é-1", "客户-٣-🚀", "Ωμέγα/../via/x", strings.Repeat("ü", 128)}
	for _, ext := range exts {
		r := s.do(t, "POST", "/v1/leads", tn.vendorKey, map[string]any{"external_id": ext, "email": "a@b.example"})
		if r.status != 202 {
			t.Fatalf("post %q: %d %s", ext, r.status, r.raw)
		}
		if wf := r.str("workflow_id"); wf != workflows.LeadWorkflowID(r.str("lead_id")) || !workflows.ValidWorkflowID(wf) {
			t.Fatalf("workflow id %q for %q", wf, ext)
		}
	}
	s.waitRouted(t, tn.sourceID, len(exts))
	// Found in the Web UI by the vendor's own id.
	q := fmt.Sprintf("ExternalID = '%s' AND OrgID = '%s'", exts[1], tn.id)
	deadline := time.Now().Add(20 * time.Second)
	for {
		l, err := s.deps.Temporal.WorkflowService().ListWorkflowExecutions(context.Background(),
			&workflowservice.ListWorkflowExecutionsRequest{Namespace: "default", Query: q})
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Executions) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d runs", q, len(l.Executions))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestLongestKeysFanOutTwoLevels: a 64-character slug and a 128-character
// external id passed down two sub-agency levels used to make child IDs over
// the SQL stores' 255 bytes; the lead sat unassigned at the sub-agency.
func TestLongestKeysFanOutTwoLevels(t *testing.T) {
	s := up(t)
	slug := strings.Repeat("s", 64)
	master := s.newTenant(t, "long-m", 0, nil)
	mid := s.newTenant(t, "long-mid", 0, nil)
	leaf := s.newTenant(t, "long-leaf", 1, nil)
	ctx := context.Background()
	if err := s.store().LinkOrgs(ctx, master.id, mid.id); err != nil {
		t.Fatal(err)
	}
	if err := s.store().LinkOrgs(ctx, mid.id, leaf.id); err != nil {
		t.Fatal(err)
	}
	put := func(tn tenant, routing map[string]any) resp {
		r := s.do(t, "PUT", "/v1/orgs/"+tn.id+"/sources/"+slug, tn.ownerToken, map[string]any{"name": "Long", "routing": routing})
		if r.status != 201 {
			t.Fatalf("source: %d %s", r.status, r.raw)
		}
		return r
	}
	put(leaf, map[string]any{"mode": "staff_evenly"})
	put(mid, map[string]any{"mode": "sub_agencies_evenly", "sub_agencies": []string{leaf.id}})
	src := put(master, map[string]any{"mode": "sub_agencies_evenly", "sub_agencies": []string{mid.id}})
	ext := strings.Repeat("x/via/", 21) + "xx" // 128 characters that look like an ID path
	r := s.do(t, "POST", "/v1/leads", src.str("api_key"), map[string]any{"external_id": ext, "email": "a@b.example"})
	if r.status != 202 {
		t.Fatalf("post: %d %s", r.status, r.raw)
	}
	s.waitRouted(t, src.str("id"), 1)
	got := s.do(t, "GET", "/v1/leads/"+r.str("lead_id"), leaf.ownerToken, nil)
	if got.status != 200 || got.str("assigned_to") != leaf.staff[0] {
		t.Fatalf("at the leaf: %d %s", got.status, got.raw)
	}
	for _, id := range []string{workflows.HopWorkflowID(r.str("lead_id"), mid.id), workflows.HopWorkflowID(r.str("lead_id"), leaf.id)} {
		if _, err := s.deps.Temporal.DescribeWorkflowExecution(ctx, id, ""); err != nil {
			t.Fatalf("hop run %s: %v", id, err)
		}
	}
}

// TestVendorKeyRotationAndRevocation: a new key works and the old one stops
// at once; a revoked key gets 401; another org cannot touch the source (404).
func TestVendorKeyRotationAndRevocation(t *testing.T) {
	s := up(t)
	tn := s.newTenant(t, "rotate", 1, map[string]any{"name": "EverQuote", "routing": map[string]any{"mode": "staff_evenly"}})
	other := s.newTenant(t, "rotate-other", 0, nil)
	post := func(key, ext string) int {
		return s.do(t, "POST", "/v1/leads", key, map[string]any{"external_id": ext, "email": "a@b.example"}).status
	}
	if st := post(tn.vendorKey, "k-1"); st != 202 {
		t.Fatalf("first key: %d", st)
	}
	if r := s.do(t, "POST", "/v1/orgs/"+tn.id+"/sources/everquote/key", other.ownerToken, nil); r.status != 404 {
		t.Fatalf("another org rotating: %d %s", r.status, r.raw)
	}
	r := s.do(t, "POST", "/v1/orgs/"+tn.id+"/sources/everquote/key", tn.ownerToken, nil)
	if r.status != 201 || !strings.HasPrefix(r.str("api_key"), "lrv_") {
		t.Fatalf("rotate: %d %s", r.status, r.raw)
	}
	if st := post(tn.vendorKey, "k-2"); st != 401 {
		t.Fatalf("old key after rotation: %d", st)
	}
	if st := post(r.str("api_key"), "k-3"); st != 202 {
		t.Fatalf("new key: %d", st)
	}
	if d := s.do(t, "DELETE", "/v1/orgs/"+tn.id+"/sources/everquote/key", tn.ownerToken, nil); d.status != 200 {
		t.Fatalf("revoke: %d %s", d.status, d.raw)
	}
	if st := post(r.str("api_key"), "k-4"); st != 401 {
		t.Fatalf("revoked key: %d", st)
	}
	for _, slug := range []string{"nope", "%00", "%ff", "%C3%A9"} {
		if n := s.do(t, "POST", "/v1/orgs/"+tn.id+"/sources/"+slug+"/key", tn.ownerToken, nil); n.status != 404 {
			t.Fatalf("source %q: %d %s", slug, n.status, n.raw)
		}
		if n := s.do(t, "DELETE", "/v1/orgs/"+tn.id+"/sources/"+slug+"/key", tn.ownerToken, nil); n.status != 404 {
			t.Fatalf("revoking source %q: %d %s", slug, n.status, n.raw)
		}
	}
}

// TestUnroutedCountIsForOperatorsOnly: the reconciler's backlog is visible to
// the admin token and to nobody else.
func TestUnroutedCountIsForOperatorsOnly(t *testing.T) {
	s := up(t)
	tn := s.newTenant(t, "ops", 0, nil)
	r := s.do(t, "GET", "/v1/ops/unrouted", s.admin, nil)
	if _, ok := r.body["unrouted"].(float64); r.status != 200 || !ok {
		t.Fatalf("admin: %d %s", r.status, r.raw)
	}
	if r := s.do(t, "GET", "/v1/ops/unrouted", tn.ownerToken, nil); r.status != 403 {
		t.Fatalf("an org owner: %d %s", r.status, r.raw)
	}
	if r := s.do(t, "GET", "/v1/ops/unrouted", "", nil); r.status != 401 {
		t.Fatalf("no token: %d %s", r.status, r.raw)
	}
}

// TestSMTPRefusalRecordsTheEmailFailedAndRoutesTheLead: the real SMTP server
// refuses every recipient with 550; the lead is assigned, the run completes,
// and the timeline says the purchase email failed.
func TestSMTPRefusalRecordsTheEmailFailedAndRoutesTheLead(t *testing.T) {
	s := up(t)
	buyer := fmt.Sprintf("refused-%d@agency.example", time.Now().UnixNano())
	tn := s.newTenant(t, "refused", 1, map[string]any{"name": "EverQuote", "routing": map[string]any{"mode": "staff_evenly"},
		"purchase_notification_emails": []string{buyer}})
	s.sink.Refuse(550, buyer) // this test's address only: other tests' emails still flow
	defer s.sink.Refuse(0)
	r := s.do(t, "POST", "/v1/leads", tn.vendorKey, map[string]any{"external_id": "refused-1", "email": "a@b.example"})
	if r.status != 202 {
		t.Fatalf("post: %d %s", r.status, r.raw)
	}
	run := s.deps.Temporal.GetWorkflow(context.Background(), r.str("workflow_id"), "")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run.Get(ctx, nil); err != nil {
		t.Fatalf("the lead's run did not complete: %v", err)
	}
	l := s.do(t, "GET", "/v1/leads/"+r.str("lead_id"), tn.ownerToken, nil)
	if l.str("assigned_to") != tn.staff[0] {
		t.Fatalf("not assigned: %s", l.raw)
	}
	var failed string
	for _, e := range l.body["timeline"].([]any) {
		if ev := e.(map[string]any); ev["kind"] == "email_failed" {
			failed = ev["message"].(string)
		}
	}
	if !strings.Contains(failed, buyer) || !strings.Contains(failed, "550") {
		t.Fatalf("timeline does not record the refused email: %s", l.raw)
	}
	if len(s.mailsFor(buyer)) != 0 {
		t.Fatal("a refused email arrived")
	}
}
