package store_test

import (
	"strings"
	"testing"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/internal/testenv"
)

// wantConflict checks a refusal is a 409 whose message says why.
func wantConflict(t *testing.T, what string, err error, says string) {
	t.Helper()
	wantCode(t, what, err, domain.EConflict)
	if !strings.Contains(err.Error(), says) {
		t.Fatalf("%s: %q does not say %q", what, err.Error(), says)
	}
}

// leadAsIs is what a refused change must leave as it was.
type leadAsIs struct {
	status          string
	assigned, owner string
	location        string
	timeline        int
}

func snapshot(t *testing.T, s *store.Store, orgID, id string) leadAsIs {
	t.Helper()
	l, err := s.GetLead(ctx, orgID, id)
	must(t, err)
	a := leadAsIs{status: l.Status, timeline: len(l.Timeline)}
	if l.AssignedTo != nil {
		a.assigned = *l.AssignedTo
	}
	a.owner = l.Owner.Type + ":" + l.Owner.ID
	if l.Location != nil {
		a.location = *l.Location
	}
	return a
}

// A lead handed over for a manager's review is held by the receiving org
// but is not yet theirs to work: assign (one or in bulk), transfer-ownership,
// release and invalid answer 409 as return does, a claim passes it by even
// where older code left it queued, and nothing changes, so the
// accept, reject or expiry that follows decides from the state the sender
// left (SPEC §1: an agent's ownership is never overridden).
func TestPendingHandoverRefusesAssignTransferOwnershipReleaseInvalid(t *testing.T) {
	s := testenv.Tx(t)
	m, sub := linkedPair(t, s)
	id := routed(t, s, m, "h1")
	tr := newTransfer(t, s, m.org.ID, sub.org.ID, domain.TransferManagerReview, []string{id})
	_, err := s.MoveTransferBatch(ctx, store.TransferBatch{TransferID: tr.ID, Index: 0, Size: 500})
	must(t, err)
	manager, rep := sub.staff[2], sub.staff[0]
	before := snapshot(t, s, sub.org.ID, id)
	const says = "waiting for a handover decision"

	wantConflict(t, "assign", s.AssignLead(ctx, sub.org.ID, changer(manager), id, rep.ID), says)
	_, err = s.AssignLeads(ctx, sub.org.ID, changer(manager), rep.ID, []string{id})
	wantConflict(t, "bulk assign", err, "cannot be assigned")
	if f := err.(*domain.Error).Fields["lead_ids[0]"]; f != says {
		t.Fatalf("bulk assign names lead_ids[0] %q", f)
	}
	wantConflict(t, "transfer-ownership", s.TransferOwnership(ctx, sub.org.ID, changer(manager), id, &rep.ID), says)
	wantConflict(t, "transfer-ownership by the operator", s.TransferOwnership(ctx, "", domain.Changer{}, id, &rep.ID), says)
	wantConflict(t, "invalid", s.MarkInvalid(ctx, sub.org.ID, changer(manager), id, "junk"), says)
	// An assignee the lead got before this guard (nothing lets it get one now).
	must(t, s.LeaveLeadForTest(ctx, id, rep.ID, ""))
	before.assigned, before.location = rep.ID, ""
	wantConflict(t, "release", s.ReleaseLead(ctx, sub.org.ID, rep.ID, id), says)

	if got := snapshot(t, s, sub.org.ID, id); got != before {
		t.Fatalf("refusals changed the lead: %+v, was %+v", got, before)
	}
	// Left in the queue: nobody claims it.
	must(t, s.LeaveLeadForTest(ctx, id, "", domain.LocationQueue))
	if c, ok, err := s.ClaimNext(ctx, sub.org.ID, rep.ID); err != nil || ok {
		t.Fatalf("a lead waiting for a handover decision was claimed: %+v %v", c, err)
	}
	if h, err := s.PendingHandover(ctx, id); err != nil || h.TransferID != tr.ID {
		t.Fatalf("the handover is no longer pending: %+v %v", h, err)
	}
}

// Returned is final (SPEC §5.5): the vendor was told, and no routing
// operation takes the lead up again. Assign, bulk assign,
// transfer-ownership, release and invalid answer 409 "returned leads are
// final"; a claim, a distribution and a deactivation's reroute pass it by,
// even where code older than this rule left it assigned, queued or pending.
func TestReturnedLeadIsFinal(t *testing.T) {
	s := testenv.Tx(t)
	f := seed(t, s, 3, domain.SourceConfig{})
	rep, manager := f.staff[0], f.staff[2]
	id := routed(t, s, f, "r1")
	_, err := s.ReturnLead(ctx, f.org.ID, changer(f.owner), id, returnBody("Duplicate", ""), "return/"+id)
	must(t, err)
	if last := lastEvent(t, s, f.org.ID, id); last.Kind != "returned" || !strings.Contains(last.Message, "final") {
		t.Fatalf("the return's event does not say it is final: %+v", last)
	}
	const says = "returned leads are final"

	wantConflict(t, "assign", s.AssignLead(ctx, f.org.ID, changer(manager), id, rep.ID), says)
	_, err = s.AssignLeads(ctx, f.org.ID, changer(manager), rep.ID, []string{id})
	wantConflict(t, "bulk assign", err, "cannot be assigned")
	if got := err.(*domain.Error).Fields["lead_ids[0]"]; !strings.Contains(got, says) {
		t.Fatalf("bulk assign names lead_ids[0] %q", got)
	}
	wantConflict(t, "transfer-ownership", s.TransferOwnership(ctx, f.org.ID, changer(manager), id, &rep.ID), says)
	wantConflict(t, "invalid", s.MarkInvalid(ctx, f.org.ID, changer(manager), id, "junk"), says)
	wantConflict(t, "invalid by the operator", s.MarkInvalid(ctx, "", domain.Changer{}, id, "junk"), says)

	// Left assigned to the rep: they can neither release nor work it, and
	// their deactivation does not reroute it.
	must(t, s.LeaveLeadForTest(ctx, id, rep.ID, ""))
	wantConflict(t, "release", s.ReleaseLead(ctx, f.org.ID, rep.ID, id), says)
	wantConflict(t, "worked", func() error { _, err := s.MarkWorked(ctx, f.org.ID, rep.ID, id); return err }(), says)
	gone := deactivate(t, s, rep)
	if page, err := s.ReroutePage(ctx, gone.ID, "", 10); err != nil || len(page) != 0 {
		t.Fatalf("a deactivation reroutes a returned lead: %v %v", page, err)
	}
	if got := strandedIn(t, s, f, 1); len(got) != 0 {
		t.Fatalf("a returned lead strands its deactivated assignee: %+v", got)
	}
	if _, done, err := s.RerouteLead(ctx, id, gone.ID); err != nil || done {
		t.Fatalf("a returned lead was rerouted: %v %v", done, err)
	}

	// Left in the queue: nobody claims it.
	must(t, s.LeaveLeadForTest(ctx, id, "", domain.LocationQueue))
	if c, ok, err := s.ClaimNext(ctx, f.org.ID, manager.ID); err != nil || ok {
		t.Fatalf("a returned lead was claimed: %+v %v", c, err)
	}

	// Left in pending: a distribution neither counts nor takes it.
	must(t, s.LeaveLeadForTest(ctx, id, "", domain.LocationPending))
	d, err := s.BeginDistribution(ctx, store.DistributionRequest{OrgID: f.org.ID, Slug: "everquote", Mode: domain.RouteStaffEvenly,
		Slot: "on-demand:" + id, WorkflowID: "distribution/" + id})
	must(t, err)
	res, err := s.DistributeBatch(ctx, store.DistributionBatch{DistributionID: d.ID, Size: 10})
	must(t, err)
	if d.Total != 0 || res.Distributed != 0 || res.PassedDown != 0 {
		t.Fatalf("a distribution took a returned lead: total %d, %+v", d.Total, res)
	}

	l, err := s.GetLead(ctx, f.org.ID, id)
	must(t, err)
	if l.Status != domain.StatusReturned || l.AssignedTo != nil || l.Owner.Type != "org" ||
		l.Timeline[len(l.Timeline)-1].Kind != "returned" {
		t.Fatalf("after the refusals: status %s assigned %v owner %v last %+v", l.Status, l.AssignedTo, l.Owner,
			l.Timeline[len(l.Timeline)-1])
	}
}

// SPEC §5.5: a claimed lead not worked within the window goes back to the
// queue. A /worked that arrives after the deadline but before the claim's
// run fires is refused (409, "your claim expired") and puts the lead back
// in the queue at once, by the change the run makes: same claim status,
// same timeline event, and the run then finds nothing left to do.
func TestWorkedPastClaimWindowIs409AndRequeues(t *testing.T) {
	s, f := claimFixture(t, 2)
	rep := f.staff[0]
	id := queued(t, s, f, "late")
	c, ok := claim(t, s, f, rep)
	if !ok || c.LeadID != id {
		t.Fatalf("claim %+v %v", c, ok)
	}
	must(t, s.ExpireWindowForTest(ctx, id, c.Seq))

	changed, err := s.MarkWorked(ctx, f.org.ID, rep.ID, id)
	wantConflict(t, "worked past the window", err, "your claim expired")
	if changed {
		t.Fatal("a late worked reports a change")
	}
	l, err := s.GetLead(ctx, f.org.ID, id)
	must(t, err)
	last := l.Timeline[len(l.Timeline)-1]
	if l.AssignedTo != nil || l.Location == nil || *l.Location != domain.LocationQueue || last.Kind != "claim_expired" ||
		!strings.HasPrefix(last.Message, "not worked within 30m: back in the queue") {
		t.Fatalf("after a late worked: assigned %v location %v last %+v", l.AssignedTo, l.Location, last)
	}
	if st := claimStatus(t, s, id, c.Seq); st != domain.ClaimExpired {
		t.Fatalf("claim %s, want expired", st)
	}
	// The claim's run fires later: same outcome, nothing written twice.
	if out, err := s.ExpireClaim(ctx, id, c.Seq); err != nil || out != domain.ClaimExpired {
		t.Fatalf("the run's expiry: %q %v", out, err)
	}
	if n := len(snapshotTimeline(t, s, f.org.ID, id)); n != len(l.Timeline) {
		t.Fatalf("the run wrote %d more events", n-len(l.Timeline))
	}
	// Asking again is the same 409, and the lead is claimable at once.
	_, err = s.MarkWorked(ctx, f.org.ID, rep.ID, id)
	wantConflict(t, "worked again", err, "your claim expired")
	if again, ok := claim(t, s, f, f.staff[1]); !ok || again.LeadID != id || again.Seq != c.Seq+1 {
		t.Fatalf("the requeued lead is not claimable: %+v %v", again, ok)
	}
}

func snapshotTimeline(t *testing.T, s *store.Store, orgID, id string) []store.Event {
	t.Helper()
	l, err := s.GetLead(ctx, orgID, id)
	must(t, err)
	return l.Timeline
}
