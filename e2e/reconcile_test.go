package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/leadrelay/leadrelay/internal/app"
	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/workflows"
)

// strand records a lead as the API would, without starting its run (an API
// crash between the two), under the given workflow ID ("" = today's).
func (s *stack) strand(t *testing.T, tn tenant, ext, workflowID string) store.Intake {
	t.Helper()
	id := domain.NewID()
	if workflowID == "" {
		workflowID = workflows.LeadWorkflowID(id)
	}
	in, err := s.store().InsertLead(context.Background(), store.NewLead{ID: id, SourceID: tn.sourceID, OrgID: tn.id,
		Slug: "everquote", WorkflowID: workflowID, ReceivedAt: time.Now(),
		In: domain.LeadInput{ExternalID: ext, Email: "orphan@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// lose starts the lead's run on a queue no worker polls and terminates it:
// a run closed without a decision.
func (s *stack) lose(t *testing.T, tn tenant, l store.Intake, ext string) {
	t.Helper()
	ctx := context.Background()
	run, err := s.deps.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: l.WorkflowID, TaskQueue: "nobody-polls"},
		workflows.LeadWorkflow, workflows.LeadInput{LeadID: l.LeadID, OrgID: tn.id, Slug: "everquote", ExternalID: ext})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.deps.Temporal.TerminateWorkflow(ctx, run.GetID(), run.GetRunID(), "test: a run lost before routing"); err != nil {
		t.Fatal(err)
	}
}

func (s *stack) assigned(t *testing.T, tn tenant, leadID string) bool {
	t.Helper()
	l, err := s.store().GetLead(context.Background(), tn.id, leadID)
	if err != nil {
		t.Fatal(err)
	}
	return l.AssignedTo != nil
}

// TestReconcilerRoutesEveryStrandedLead: leads recorded without a run, with a
// run that was terminated before routing, and under a legacy ID that a
// production server refuses, more than one page of them: one pass routes
// them all, and says how many it found.
func TestReconcilerRoutesEveryStrandedLead(t *testing.T) {
	s := up(t)
	ctx := context.Background()
	tn := s.newTenant(t, "reconcile", 2, map[string]any{"name": "EverQuote", "routing": map[string]any{"mode": "staff_evenly"}})
	var stranded []store.Intake
	for i := 0; i < 5; i++ {
		stranded = append(stranded, s.strand(t, tn, fmt.Sprintf("orphan-%d", i), ""))
	}
	// A legacy row whose ID carries the vendor's non-ASCII id.
	legacy := s.strand(t, tn, "ext-é-legacy", "lead/"+tn.id+"/everquote/ext-é-legacy")
	stranded = append(stranded, legacy)
	// A run that started on a queue no worker polls and was terminated: closed
	// without a decision.
	dead := s.strand(t, tn, "orphan-terminated", "")
	s.lose(t, tn, dead, "orphan-terminated")
	stranded = append(stranded, dead)
	for _, l := range stranded {
		if s.assigned(t, tn, l.LeadID) {
			t.Fatalf("lead %s routed before the reconciler ran", l.LeadID)
		}
	}

	page := app.ReconcilePage
	app.ReconcilePage = 2 // seven leads: four pages
	defer func() { app.ReconcilePage = page }()
	r, err := app.Reconcile(ctx, s.deps, 0)
	if err != nil {
		t.Fatal(err)
	}
	if r.Unrouted < len(stranded) || r.Restarted < len(stranded) {
		t.Fatalf("reconcile pass %+v, want at least %d unrouted and restarted", r, len(stranded))
	}
	s.waitRouted(t, tn.sourceID, len(stranded))
	for _, l := range stranded {
		if !s.assigned(t, tn, l.LeadID) {
			t.Fatalf("lead %s still unassigned after the reconciler", l.LeadID)
		}
	}
	got, err := s.store().GetLead(ctx, tn.id, legacy.LeadID)
	if err != nil || got.WorkflowID != workflows.LeadWorkflowID(legacy.LeadID) {
		t.Fatalf("legacy lead's run was not renamed: %q %v", got.WorkflowID, err)
	}
	if n, err := s.store().CountUnrouted(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("CountUnrouted an hour back = %d, %v", n, err)
	}
}

// TestVendorRetryRevivesALeadWhoseRunDied: with REJECT_DUPLICATE a failed or
// terminated run made the retry answer "duplicate" and nothing routed the lead.
func TestVendorRetryRevivesALeadWhoseRunDied(t *testing.T) {
	s := up(t)
	tn := s.newTenant(t, "revive", 1, map[string]any{"name": "EverQuote", "routing": map[string]any{"mode": "staff_evenly"}})
	dead := s.strand(t, tn, "revive-1", "")
	s.lose(t, tn, dead, "revive-1")
	r := s.do(t, "POST", "/v1/leads", tn.vendorKey, map[string]any{"external_id": "revive-1", "email": "orphan@example.com"})
	if r.status != 200 || r.str("lead_id") != dead.LeadID || r.body["duplicate"] != true {
		t.Fatalf("retry: %d %s", r.status, r.raw)
	}
	s.waitRouted(t, tn.sourceID, 1)
}

// TestReconcilerStartsAnInvitationWhoseRunNeverStarted: the API recorded the
// invitation and died; the reconciler starts its run, so the email goes out
// and the invitation can be answered (or expires) instead of blocking
// re-invites for ever.
func TestReconcilerStartsAnInvitationWhoseRunNeverStarted(t *testing.T) {
	s := up(t)
	ctx := context.Background()
	master := s.newTenant(t, "inv-reconcile", 0, nil)
	email := fmt.Sprintf("lost%d@invitee.example", time.Now().UnixNano())
	inv, err := s.store().CreateInvitation(ctx, master.id, email, workflows.InvitationTTL, workflows.InvitationWorkflowID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.Reconcile(ctx, s.deps, 0); err != nil {
		t.Fatal(err)
	}
	s.waitMail(t, email, 1, 30*time.Second)
	if _, err := s.deps.Temporal.DescribeWorkflowExecution(ctx, inv.WorkflowID, ""); err != nil {
		t.Fatalf("invitation run: %v", err)
	}
}

// TestReconcilerClosesAnInvitationPastItsExpiry: an invitation whose run died
// before closing it (e.g. a database outage longer than the close's retries)
// is closed as expired, so it shows expired and never blocks re-inviting.
func TestReconcilerClosesAnInvitationPastItsExpiry(t *testing.T) {
	s := up(t)
	ctx := context.Background()
	master := s.newTenant(t, "inv-expired", 0, nil)
	email := fmt.Sprintf("late%d@invitee.example", time.Now().UnixNano())
	inv, err := s.store().CreateInvitation(ctx, master.id, email, -time.Minute, workflows.InvitationWorkflowID)
	if err != nil {
		t.Fatal(err)
	}
	r, err := app.Reconcile(ctx, s.deps, 0)
	if err != nil || r.Expired < 1 {
		t.Fatalf("reconcile pass %+v: %v", r, err)
	}
	got, err := s.store().GetInvitation(ctx, master.id, inv.ID)
	if err != nil || got.Status != domain.InviteExpired {
		t.Fatalf("invitation %+v: %v", got, err)
	}
	if len(s.mailsFor(email)) != 0 {
		t.Fatal("an expired invitation was emailed")
	}
}
