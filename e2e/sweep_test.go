package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/internal/app"
	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/workflows"
)

// TestSweepRoutesALeadWhoseWorkflowNeverStarted: the API recorded a lead and
// died before starting its workflow; the worker's sweep starts it.
func TestSweepRoutesALeadWhoseWorkflowNeverStarted(t *testing.T) {
	s := up(t)
	tn := s.newTenant(t, "sweep", 2, map[string]any{"name": "EverQuote", "routing": map[string]any{"mode": "staff_evenly"}})
	ctx := context.Background()
	in, err := s.store().InsertLead(ctx, store.NewLead{SourceID: tn.sourceID, OrgID: tn.id, Slug: "everquote",
		WorkflowID: workflows.LeadWorkflowID(tn.id, "everquote", "orphan-1"), ReceivedAt: time.Now(),
		In: domain.LeadInput{ExternalID: "orphan-1", Email: "orphan@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.deps.Temporal.DescribeWorkflowExecution(ctx, in.WorkflowID, ""); err == nil {
		t.Fatal("the workflow exists before the sweep")
	}
	n, err := app.SweepOnce(ctx, s.deps, 0)
	if err != nil || n < 1 {
		t.Fatalf("sweep saw %d leads: %v", n, err)
	}
	s.waitRouted(t, tn.sourceID, 1)
	l, err := s.store().GetLead(ctx, tn.id, in.LeadID)
	if err != nil || l.AssignedTo == nil {
		t.Fatalf("after the sweep: %+v %v", l, err)
	}
	// A second sweep finds nothing left to do for it.
	if left, _ := s.store().Unrouted(ctx, time.Now(), 500); containsLead(left, in.LeadID) {
		t.Fatal("the lead is still unrouted")
	}
}

func containsLead(ls []store.UnroutedLead, id string) bool {
	for _, l := range ls {
		if l.LeadID == id {
			return true
		}
	}
	return false
}
