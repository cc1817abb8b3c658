package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/workflows"
)

// TestEachRunSaysItsOwnOutcome: LeadStatus is the outcome of the run that
// carries it (README: operating). One lead is routed to a queue, claimed
// and worked, handed over and rejected, handed over again and accepted,
// then returned; an operator lists its story with the Temporal CLI
// (`temporal workflow list --query 'LeadID = "…"'`) and each run says how
// it ended, none what the lead was before a later change.
func TestEachRunSaysItsOwnOutcome(t *testing.T) {
	s := up(t)
	ctx := context.Background()
	m := s.newTenant(t, "status-master", 0, claimQueueSource)
	sub := s.newTenant(t, "status-sub", 2, nil)
	s.link(t, m, sub)
	s.settings(t, m, true, false)
	rep := s.claimRep(t, m, "Sam Status")
	_, sender := s.user(t, m, "manager")
	_, reviewer := s.user(t, sub, "manager")

	s.queueClaimLeads(t, m, "status-", 1)
	c := s.do(t, "POST", "/v1/orgs/"+m.id+"/queue/claim", rep.token, nil)
	if c.status != 200 {
		t.Fatalf("claim: %d %s", c.status, c.raw)
	}
	leadID := c.str("id")
	if w := s.do(t, "POST", "/v1/leads/"+leadID+"/worked", rep.token, nil); w.status != 200 {
		t.Fatalf("worked: %d %s", w.status, w.raw)
	}
	// The claim's run ends when its window does; rather than wait for it,
	// the run is terminated and started again past its window, as the
	// reconciler does for a lost one: it reads the claim's outcome.
	claimWF := workflows.ClaimWorkflowID(leadID, 1)
	cli := temporalCLI(t, s)
	s.waitRunning(t, claimWF) // started just after the claim's answer
	cli(t, "workflow", "terminate", "--workflow-id", claimWF, "--reason", "end the window now")
	if err := s.deps.Starter().Claim(ctx,
		store.Claim{LeadID: leadID, OrgID: m.id, Seq: 1, ExpiresAt: time.Now().Add(-time.Second)}); err != nil {
		t.Fatal(err)
	}
	var cr workflows.ClaimResult
	if err := s.deps.Temporal.GetWorkflow(ctx, claimWF, "").Get(ctx, &cr); err != nil || cr.Outcome != "worked" {
		t.Fatalf("claim run: %+v %v", cr, err)
	}

	handover := func(answer string, body map[string]any) string {
		t.Helper()
		r := s.do(t, "POST", "/v1/orgs/"+m.id+"/transfers", sender, map[string]any{"to_org": sub.id, "lead_ids": []string{leadID}, "mode": "manager_review"})
		if r.status != 202 {
			t.Fatalf("handover: %d %s", r.status, r.raw)
		}
		s.waitTransfer(t, m.id, sender, r.str("id"), time.Minute)
		wf := workflows.HandoverWorkflowID(leadID, r.str("id"))
		s.waitRunning(t, wf)
		if a := s.do(t, "POST", "/v1/leads/"+leadID+"/handover/"+answer, reviewer, body); a.status != 200 {
			t.Fatalf("%s: %d %s", answer, a.status, a.raw)
		}
		s.handoverEnded(t, wf)
		return wf
	}
	rejected := handover("reject", map[string]any{"reason": "not our county"})
	accepted := handover("accept", map[string]any{"assign_to": sub.staff[0]})
	if r := s.do(t, "POST", "/v1/leads/"+leadID+"/return", reviewer, map[string]any{"reason": "duplicate"}); r.status != 200 && r.status != 202 {
		t.Fatalf("return: %d %s", r.status, r.raw)
	}

	var routing string
	if err := s.deps.Pool.QueryRow(ctx, `SELECT workflow_id FROM leads WHERE id = $1`, leadID).Scan(&routing); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{routing: "queue", claimWF: "claim_worked", rejected: "handover_rejected",
		accepted: "handover_accepted", workflows.ReturnWorkflowID(leadID): "returned"}
	// The terminated claim run keeps the "claimed" it had: Temporal takes
	// no upsert on a closed run, and its status says it was terminated.
	query := fmt.Sprintf("LeadID = %q AND ExecutionStatus != 'Terminated'", leadID)
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := map[string]string{}
		var runs []struct {
			Execution struct {
				WorkflowID string `json:"workflowId"`
			} `json:"execution"`
			SearchAttributes struct {
				IndexedFields map[string]json.RawMessage `json:"indexedFields"`
			} `json:"searchAttributes"`
		}
		if err := json.Unmarshal(cli(t, "workflow", "list", "--query", query), &runs); err != nil {
			t.Fatal(err)
		}
		for _, r := range runs {
			if st, ok := r.SearchAttributes.IndexedFields["LeadStatus"]; ok {
				got[r.Execution.WorkflowID] = payloadText(t, st)
			}
		}
		if fmt.Sprint(got) == fmt.Sprint(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("LeadStatus of each run listed by %s:\n got %v\nwant %v", query, got, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
	checkHistories(t, s, map[string]string{"claim_outcome_history.json": claimWF, "handover_rejected_by_db_history.json": rejected,
		"handover_accepted_by_db_history.json": accepted}, []string{rep.name, rep.email, rep.token, reviewer, sender, "not our county"})
}
