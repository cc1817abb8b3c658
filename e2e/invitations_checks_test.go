package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/internal/app"
	"github.com/leadrelay/leadrelay/workflows"
)

// A pending invitation waits days. The reconciler pass that finds it makes
// sure its run exists; the passes after it (every 30 s, in every worker)
// leave it alone until InvitationRecheck has passed, instead of asking
// Temporal again for every pending invitation each time.
func TestReconcilerChecksAPendingInvitationOncePerInterval(t *testing.T) {
	s := up(t)
	ctx := context.Background()
	master := s.newTenant(t, "inv-recheck", 0, nil)
	email := fmt.Sprintf("waiting%d@invitee.example", time.Now().UnixNano())
	inv, err := s.store().CreateInvitation(ctx, master.id, email, workflows.InvitationTTL, workflows.InvitationWorkflowID)
	if err != nil {
		t.Fatal(err)
	}
	first, err := app.Reconcile(ctx, s.deps, 0)
	if err != nil || first.Invitations < 1 {
		t.Fatalf("first pass %+v: %v", first, err)
	}
	if _, err := s.deps.Temporal.DescribeWorkflowExecution(ctx, inv.WorkflowID, ""); err != nil {
		t.Fatalf("invitation run: %v", err)
	}
	second, err := app.Reconcile(ctx, s.deps, 0)
	if err != nil || second.Invitations != 0 {
		t.Fatalf("the next pass checked %d invitations again: %+v %v", second.Invitations, second, err)
	}
	was := app.InvitationRecheck
	app.InvitationRecheck = 0
	defer func() { app.InvitationRecheck = was }()
	third, err := app.Reconcile(ctx, s.deps, 0)
	if err != nil || third.Invitations < 1 {
		t.Fatalf("a pass once the interval has passed found none: %+v %v", third, err)
	}
	s.waitMail(t, email, 1, 30*time.Second)
	if n := len(s.mailsFor(email)); n != 1 {
		t.Fatalf("%d invitation emails after three passes", n)
	}
}
