package e2e

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/internal/app"
	"github.com/leadrelay/leadrelay/internal/bench"
	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/workflows"
)

// handedOverLeads hands n of m's leads over to sub (handover enabled at
// m) and waits for each lead's review run; it returns the leads, the
// transfer's id and a reviewer's token in sub.
func (s *stack) handedOverLeads(t *testing.T, m, sub tenant, prefix string, n int) (ids []string, transferID, reviewer string) {
	t.Helper()
	ctx := context.Background()
	s.link(t, m, sub)
	s.settings(t, m, true, false)
	ids, err := bench.BulkLeads(ctx, s.deps.Pool, m.id, m.sourceID, "everquote", prefix, m.ownerID, n)
	if err != nil {
		t.Fatal(err)
	}
	_, sender := s.user(t, m, "manager")
	_, reviewer = s.user(t, sub, "manager")
	r := s.do(t, "POST", "/v1/orgs/"+m.id+"/transfers", sender, map[string]any{"to_org": sub.id, "lead_ids": ids, "mode": "manager_review"})
	if r.status != 202 {
		t.Fatalf("handover: %d %s", r.status, r.raw)
	}
	transferID = r.str("id")
	s.waitTransfer(t, m.id, sender, transferID, time.Minute)
	for _, id := range ids {
		s.waitRunning(t, workflows.HandoverWorkflowID(id, transferID))
	}
	return ids, transferID, reviewer
}

// waitRunning waits until Temporal says the run under id is running.
func (s *stack) waitRunning(t *testing.T, id string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		d, err := s.deps.Temporal.DescribeWorkflowExecution(context.Background(), id, "")
		if err == nil && d.GetWorkflowExecutionInfo().GetStatus().String() == "Running" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s not running: %v %v", id, d.GetWorkflowExecutionInfo().GetStatus(), err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// handoverEnded waits for the handover run's result.
func (s *stack) handoverEnded(t *testing.T, id string) workflows.HandoverResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var res workflows.HandoverResult
	if err := s.deps.Temporal.GetWorkflow(ctx, id, "").Get(ctx, &res); err != nil {
		t.Fatalf("run %s: %v", id, err)
	}
	return res
}

// TestTerminatedHandoverRunIsStartedAgainWithItsDeadline: an operator
// terminates two review runs (`temporal workflow terminate`, as they would).
// Without a run the leads would wait in the pipeline for ever. The
// reconciler starts both again: the one whose 30 days are over expires at
// once (the lead is back with the sender), the other waits with the
// deadline recorded at the handover, not a fresh 30 days.
func TestTerminatedHandoverRunIsStartedAgainWithItsDeadline(t *testing.T) {
	s := up(t)
	ctx := context.Background()
	src := map[string]any{"name": "EverQuote", "routing": map[string]any{"mode": "owner"}}
	m := s.newTenant(t, "hr-master", 0, src)
	sub := s.newTenant(t, "hr-sub", 2, nil)
	ids, tr, reviewer := s.handedOverLeads(t, m, sub, "hr-", 2)
	cli := temporalCLI(t, s)
	for _, id := range ids {
		cli(t, "workflow", "terminate", "--workflow-id", workflows.HandoverWorkflowID(id, tr), "--reason", "operator test")
	}
	// The first was handed over 31 days ago: its deadline has passed.
	if _, err := s.deps.Pool.Exec(ctx, `UPDATE handovers SET created_at = now() - interval '31 days' WHERE lead_id = $1`, ids[0]); err != nil {
		t.Fatal(err)
	}
	var created time.Time
	if err := s.deps.Pool.QueryRow(ctx, `SELECT created_at FROM handovers WHERE lead_id = $1`, ids[1]).Scan(&created); err != nil {
		t.Fatal(err)
	}
	// Visibility may still list a run just terminated as running; the
	// next pass sees it closed.
	deadline := time.Now().Add(30 * time.Second)
	for s.count(t, `SELECT count(*) FROM handovers WHERE lead_id = $1 AND status = 'pending'`, ids[0]) == 1 {
		if _, err := app.Reconcile(ctx, s.deps, 0); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("the handover past its deadline is still pending after the reconciler's passes")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if res := s.handoverEnded(t, workflows.HandoverWorkflowID(ids[0], tr)); res.Status != domain.HandoverExpired {
		t.Fatalf("the restarted run past its deadline: %+v, want expired", res)
	}
	if x := s.do(t, "POST", "/v1/leads/"+ids[0]+"/handover/accept", reviewer, map[string]any{"assign_to": sub.staff[0]}); x.status != 409 {
		t.Fatalf("an answer after the expiry: %d %s, want 409", x.status, x.raw)
	}
	checkHistories(t, s, map[string]string{"handover_restarted_expired_history.json": workflows.HandoverWorkflowID(ids[0], tr)}, []string{m.ownerToken})
	back := s.do(t, "GET", "/v1/leads/"+ids[0], m.ownerToken, nil)
	if back.status != 200 || back.body["location"] != nil {
		t.Fatalf("the expired lead is back with the sender, out of the pipeline: %d %s", back.status, back.raw)
	}

	wf := workflows.HandoverWorkflowID(ids[1], tr)
	s.waitRunning(t, wf)
	it := s.deps.Temporal.GetWorkflowHistory(ctx, wf, "", false, 0)
	ev, err := it.Next()
	if err != nil {
		t.Fatal(err)
	}
	var in workflows.HandoverInput
	if err := json.Unmarshal(ev.GetWorkflowExecutionStartedEventAttributes().GetInput().GetPayloads()[0].GetData(), &in); err != nil {
		t.Fatal(err)
	}
	if want := created.Add(domain.HandoverTTL); !in.Deadline.Equal(want) {
		t.Fatalf("restarted with deadline %v, want the handover's own %v", in.Deadline, want)
	}
	if l := s.do(t, "GET", "/v1/leads/"+ids[1], sub.ownerToken, nil); l.str("location") != "pending" {
		t.Fatalf("still waiting for a decision: %s", l.raw)
	}
}

// TestUnlinkWithdrawsPendingHandovers: two leads wait for the sub-agency's
// review when the master's owner unlinks it. Both go back to the sender as
// they were, their runs end withdrawn (result and LeadStatus), and the
// reviewer's late answer is a conflict, not "not found".
func TestUnlinkWithdrawsPendingHandovers(t *testing.T) {
	s := up(t)
	src := map[string]any{"name": "EverQuote", "routing": map[string]any{"mode": "owner"}}
	m := s.newTenant(t, "hw-master", 0, src)
	sub := s.newTenant(t, "hw-sub", 2, nil)
	ids, tr, reviewer := s.handedOverLeads(t, m, sub, "hw-", 2)
	if r := s.do(t, "DELETE", "/v1/orgs/"+m.id+"/sub-agencies/"+sub.id, m.ownerToken, nil); r.status != 200 {
		t.Fatalf("unlink: %d %s", r.status, r.raw)
	}
	cli := temporalCLI(t, s)
	for _, id := range ids {
		l := s.do(t, "GET", "/v1/leads/"+id, m.ownerToken, nil)
		if l.status != 200 || l.body["location"] != nil || l.str("assigned_to") != m.ownerID {
			t.Fatalf("back with the sender as it was: %d %s", l.status, l.raw)
		}
		wf := workflows.HandoverWorkflowID(id, tr)
		if res := s.handoverEnded(t, wf); res.Status != domain.HandoverWithdrawn {
			t.Fatalf("run %s ended %+v, want withdrawn", wf, res)
		}
		var d struct {
			WorkflowExecutionInfo struct {
				SearchAttributes struct {
					IndexedFields map[string]json.RawMessage `json:"indexedFields"`
				} `json:"searchAttributes"`
			} `json:"workflowExecutionInfo"`
		}
		if err := json.Unmarshal(cli(t, "workflow", "describe", "--workflow-id", wf), &d); err != nil {
			t.Fatal(err)
		}
		if got := payloadText(t, d.WorkflowExecutionInfo.SearchAttributes.IndexedFields["LeadStatus"]); got != "handover_withdrawn" {
			t.Fatalf("LeadStatus of %s: %q", wf, got)
		}
	}
	if x := s.do(t, "POST", "/v1/leads/"+ids[0]+"/handover/accept", reviewer, map[string]any{"assign_to": sub.staff[0]}); x.status != 409 {
		t.Fatalf("an answer after the withdrawal: %d %s, want 409", x.status, x.raw)
	}
	checkHistories(t, s, map[string]string{"handover_withdrawn_history.json": workflows.HandoverWorkflowID(ids[0], tr)}, []string{reviewer, m.ownerToken})
}

// TestHandoverOffWithdrawsPendingHandovers: the master's owner turns
// handover_enabled off (PATCH): the pending review ends withdrawn at once.
// Then a change the API never saw (the setting flipped in the database, as
// a restore or a manual fix would) is caught by the reconciler's handover
// pass: it withdraws the handover and tells its run, which ends withdrawn.
func TestHandoverOffWithdrawsPendingHandovers(t *testing.T) {
	s := up(t)
	src := map[string]any{"name": "EverQuote", "routing": map[string]any{"mode": "owner"}}
	m := s.newTenant(t, "hoff-master", 0, src)
	sub := s.newTenant(t, "hoff-sub", 2, nil)
	ids, tr, _ := s.handedOverLeads(t, m, sub, "hoff-", 1)
	if r := s.do(t, "PATCH", "/v1/orgs/"+m.id, m.ownerToken, map[string]any{"handover_enabled": false}); r.status != 200 {
		t.Fatalf("handover off: %d %s", r.status, r.raw)
	}
	if res := s.handoverEnded(t, workflows.HandoverWorkflowID(ids[0], tr)); res.Status != domain.HandoverWithdrawn {
		t.Fatalf("after handover_enabled off: %+v, want withdrawn", res)
	}

	m2 := s.newTenant(t, "hoff-master2", 0, src)
	sub2 := s.newTenant(t, "hoff-sub2", 2, nil)
	ids2, tr2, _ := s.handedOverLeads(t, m2, sub2, "hoff2-", 1)
	s.settings(t, m2, false, false)
	if _, err := app.Reconcile(context.Background(), s.deps, time.Hour); err != nil {
		t.Fatal(err)
	}
	if res := s.handoverEnded(t, workflows.HandoverWorkflowID(ids2[0], tr2)); res.Status != domain.HandoverWithdrawn {
		t.Fatalf("after the reconciler's pass: %+v, want withdrawn", res)
	}
	if l := s.do(t, "GET", "/v1/leads/"+ids2[0], m2.ownerToken, nil); l.status != 200 || l.body["location"] != nil {
		t.Fatalf("back with the sender: %d %s", l.status, l.raw)
	}
}
