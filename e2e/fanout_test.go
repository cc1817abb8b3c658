package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/leadrelay/leadrelay/workflows"
)

func TestFanOutOverLinkedSubAgencies(t *testing.T) {
	s := up(t)
	master := s.newTenant(t, "fan-m", 0, nil)
	var subs []tenant
	for i := 0; i < 3; i++ {
		sub := s.newTenant(t, fmt.Sprintf("fan-s%d", i), 2, map[string]any{"name": "EverQuote here", "routing": map[string]any{"mode": "staff_evenly"}})
		if err := s.store().LinkOrgs(context.Background(), master.id, sub.id); err != nil {
			t.Fatal(err)
		}
		subs = append(subs, sub)
	}
	ids := []string{subs[0].id, subs[1].id, subs[2].id}
	r := s.do(t, "PUT", "/v1/orgs/"+master.id+"/sources/everquote", master.ownerToken, map[string]any{"name": "EverQuote",
		"routing": map[string]any{"mode": "sub_agencies_evenly", "sub_agencies": ids}})
	if r.status != 201 {
		t.Fatalf("source: %d %s", r.status, r.raw)
	}
	if bad := s.do(t, "PUT", "/v1/orgs/"+master.id+"/sources/other", master.ownerToken, map[string]any{"name": "X",
		"routing": map[string]any{"mode": "sub_agencies_evenly", "sub_agencies": []string{master.id}}}); bad.status != 422 || bad.errField("routing.sub_agencies") == "" {
		t.Fatalf("an org that is not a linked sub-agency: %d %s", bad.status, bad.raw)
	}
	key, srcID := r.str("api_key"), r.str("id")
	const n = 30
	leadIDs := make([]string, n)
	wfIDs := make([]string, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := s.do(t, "POST", "/v1/leads", key, lead(fmt.Sprintf("fan-%d", i)))
			leadIDs[i], wfIDs[i] = r.str("lead_id"), r.str("workflow_id")
		}()
	}
	wg.Wait()
	s.waitRouted(t, srcID, n)
	perSub := map[string]int{}
	perRep := map[string]int{}
	for i, id := range leadIDs {
		if r := s.do(t, "GET", "/v1/leads/"+id, master.ownerToken, nil); r.status != 404 {
			t.Fatalf("the master still sees a lead it passed down: %d", r.status)
		}
		var holder *tenant
		for j := range subs {
			if r := s.do(t, "GET", "/v1/leads/"+id, subs[j].ownerToken, nil); r.status == 200 {
				holder = &subs[j]
				a, _ := r.body["assigned_to"].(string)
				perRep[a]++
				tl := r.body["timeline"].([]any)
				first := tl[1].(map[string]any)["message"].(string)
				second := tl[2].(map[string]any)["message"].(string)
				if !strings.HasPrefix(first, "sent to sub-agency fan-s") || !strings.HasPrefix(second, "rotated to Staff") {
					t.Fatalf("timeline does not explain both hops: %q, %q", first, second)
				}
			}
		}
		if holder == nil {
			t.Fatalf("lead %s is held by no sub-agency", id)
		}
		perSub[holder.id]++
		// the sub-agency's routing ran as a child run, filterable by its org
		child := workflows.HopWorkflowID(id, holder.id)
		d, err := s.deps.Temporal.DescribeWorkflowExecution(context.Background(), child, "")
		if err != nil {
			t.Fatalf("child run %s: %v", child, err)
		}
		if d.WorkflowExecutionInfo.ParentExecution.GetWorkflowId() != wfIDs[i] {
			t.Fatalf("child %s has parent %v", child, d.WorkflowExecutionInfo.ParentExecution)
		}
	}
	for _, sub := range subs {
		if perSub[sub.id] != n/3 {
			t.Fatalf("per sub-agency %v, want %d each", perSub, n/3)
		}
		for _, rep := range sub.staff {
			if perRep[rep] != n/6 {
				t.Fatalf("per rep %v, want %d each", perRep, n/6)
			}
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		l, err := s.deps.Temporal.WorkflowService().ListWorkflowExecutions(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: "default", Query: fmt.Sprintf("OrgID = '%s' AND LeadSource = 'everquote' AND LeadStatus = 'assigned'", subs[0].id)})
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Executions) == n/3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d runs found by the sub-agency's OrgID, want %d", len(l.Executions), n/3)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
