package store_test

import (
	"strings"
	"testing"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/internal/testenv"
)

// changer is how a seeded user asks for a change.
func changer(u store.User) domain.Changer { return domain.Changer{UserID: u.ID, Role: u.Role} }

// routed posts and routes a lead through the seeded source.
func routed(t *testing.T, s *store.Store, f fixture, ext string) string {
	t.Helper()
	id := post(t, s, f, ext, "").LeadID
	_, err := route(s, id)
	must(t, err)
	return id
}

// lastEvent is the newest timeline event of the lead.
func lastEvent(t *testing.T, s *store.Store, orgID, leadID string) store.Event {
	t.Helper()
	l, err := s.GetLead(ctx, orgID, leadID)
	must(t, err)
	return l.Timeline[len(l.Timeline)-1]
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if domain.ErrorCode(err) != code {
		t.Fatalf("%s: %v, want %s", what, err, code)
	}
}

// Assigning changes who works a team-owned lead, never who owns it; only
// the org's owner, admins and managers may, the assignee must be an active
// user of the org that holds the lead, and a lead still being routed waits.
func TestAssignKeepsTheOwnerAndSaysWhoDidIt(t *testing.T) {
	t.Parallel()
	s := testenv.Tx(t)
	f := seed(t, s, 3, domain.SourceConfig{}) // staff, professional, manager
	staff, pro, manager := f.staff[0], f.staff[1], f.staff[2]
	id := routed(t, s, f, "a1")
	// Users made in one transaction share created_at, so the rotation's
	// first pick is any of them: assign to one it did not pick.
	l, err := s.GetLead(ctx, f.org.ID, id)
	must(t, err)
	if *l.AssignedTo == pro.ID {
		pro, staff = staff, pro
	}

	must(t, s.AssignLead(ctx, f.org.ID, changer(manager), id, pro.ID))
	l, err = s.GetLead(ctx, f.org.ID, id)
	must(t, err)
	if *l.AssignedTo != pro.ID || l.Owner != (store.Owner{Type: "org", ID: f.org.ID}) {
		t.Fatalf("after assign: assigned %v, owner %+v", *l.AssignedTo, l.Owner)
	}
	e := l.Timeline[len(l.Timeline)-1]
	if e.Kind != "assigned" || e.Actor != manager.ID || e.Message != "assigned to "+pro.Name+" by User 2; the team still owns it" ||
		e.Data["previous"] == nil || e.Data["assigned_to"] != pro.ID {
		t.Fatalf("event %+v", e)
	}

	wantCode(t, "staff assigns", s.AssignLead(ctx, f.org.ID, changer(f.staff[0]), id, manager.ID), domain.EForbidden)
	other := seed(t, s, 1, domain.SourceConfig{})
	wantCode(t, "another org's lead", s.AssignLead(ctx, other.org.ID, changer(other.owner), id, other.staff[0].ID), domain.ENotFound)
	err = s.AssignLead(ctx, f.org.ID, changer(manager), id, other.staff[0].ID)
	if e, ok := err.(*domain.Error); !ok || e.Code != domain.EInvalid || e.Fields["user_id"] == "" {
		t.Fatalf("another org's user: %v, want 422 naming user_id", err)
	}
	off := false
	_, err = s.UpdateUser(ctx, f.org.ID, staff.ID, store.UserPatch{Active: &off})
	must(t, err)
	wantCode(t, "inactive user", s.AssignLead(ctx, f.org.ID, changer(manager), id, staff.ID), domain.EInvalid)
	wantCode(t, "not a uuid", s.AssignLead(ctx, f.org.ID, changer(manager), id, "x"), domain.EInvalid)
	wantCode(t, "unrouted lead", s.AssignLead(ctx, f.org.ID, changer(manager), post(t, s, f, "a2", "").LeadID, pro.ID), domain.EConflict)
	// The operator may assign anywhere; an assignment to the assignee it
	// already has writes nothing.
	must(t, s.AssignLead(ctx, "", domain.Changer{}, id, manager.ID))
	if e := lastEvent(t, s, f.org.ID, id); e.Actor != "admin" || !strings.Contains(e.Message, "by the operator") {
		t.Fatalf("operator's event %+v", e)
	}
	must(t, s.AssignLead(ctx, "", domain.Changer{}, id, manager.ID))
	if l, _ := s.GetLead(ctx, f.org.ID, id); len(l.Timeline) != 4 { // received, routed, assigned twice
		t.Fatalf("a repeated assignment wrote an event: %+v", l.Timeline)
	}
}

// Transferring a lead to a user is final for the org: afterwards only that
// user may assign it or pass it on, and giving it back makes it team-owned.
func TestOwnershipTransferIsFinalForTheOrg(t *testing.T) {
	t.Parallel()
	s := testenv.Tx(t)
	f := seed(t, s, 3, domain.SourceConfig{})
	staff, pro, manager := f.staff[0], f.staff[1], f.staff[2]
	id := routed(t, s, f, "o1")
	to := func(u store.User) *string { return &u.ID }

	wantCode(t, "staff takes a team lead", s.TransferOwnership(ctx, f.org.ID, changer(staff), id, to(staff)), domain.EForbidden)
	must(t, s.TransferOwnership(ctx, f.org.ID, changer(manager), id, to(staff)))
	l, err := s.GetLead(ctx, f.org.ID, id)
	must(t, err)
	if l.Owner != (store.Owner{Type: "user", ID: staff.ID}) || *l.AssignedTo != staff.ID {
		t.Fatalf("after transfer: owner %+v assigned %s", l.Owner, *l.AssignedTo)
	}
	if e := l.Timeline[len(l.Timeline)-1]; e.Kind != "ownership" || e.Actor != manager.ID ||
		e.Message != "ownership transferred from the team to User 0 by User 2, and assigned to User 0: only User 0 may give it back" {
		t.Fatalf("event %+v", e)
	}
	a, _, err := s.CreateUser(ctx, f.org.ID, "admin2@"+domainFor(t), "Second Admin", domain.RoleAdmin, false)
	must(t, err)
	admin := changer(a)
	for name, by := range map[string]domain.Changer{"manager": changer(manager), "owner": changer(f.owner), "admin": admin, "operator": {}} {
		wantCode(t, name+" assigns", s.AssignLead(ctx, "", by, id, pro.ID), domain.EForbidden)
		wantCode(t, name+" transfers", s.TransferOwnership(ctx, "", by, id, to(pro)), domain.EForbidden)
		wantCode(t, name+" gives back", s.TransferOwnership(ctx, "", by, id, nil), domain.EForbidden)
	}
	// The owning user assigns it: they still own it.
	must(t, s.AssignLead(ctx, f.org.ID, changer(staff), id, pro.ID))
	l, _ = s.GetLead(ctx, f.org.ID, id)
	if l.Owner.ID != staff.ID || *l.AssignedTo != pro.ID || !strings.HasSuffix(l.Timeline[len(l.Timeline)-1].Message, "User 0 still owns it") {
		t.Fatalf("owner's assign: %+v %s %+v", l.Owner, *l.AssignedTo, l.Timeline[len(l.Timeline)-1])
	}
	// ... passes it on, and the new owner gives it back to the team.
	must(t, s.TransferOwnership(ctx, f.org.ID, changer(staff), id, to(pro)))
	wantCode(t, "the former owner", s.TransferOwnership(ctx, f.org.ID, changer(staff), id, nil), domain.EForbidden)
	must(t, s.TransferOwnership(ctx, f.org.ID, changer(pro), id, nil))
	l, _ = s.GetLead(ctx, f.org.ID, id)
	e := l.Timeline[len(l.Timeline)-1]
	if l.Owner.Type != "org" || *l.AssignedTo != pro.ID || e.Actor != pro.ID || e.Message != "given back to the team by User 1: the org owns it again" {
		t.Fatalf("given back: %+v %s %+v", l.Owner, *l.AssignedTo, e)
	}
	// Team-owned again: the manager decides, and asking for what is writes nothing.
	n := len(l.Timeline)
	must(t, s.TransferOwnership(ctx, f.org.ID, changer(manager), id, nil))
	if l, _ = s.GetLead(ctx, f.org.ID, id); len(l.Timeline) != n {
		t.Fatalf("a no-op transfer wrote an event")
	}
}

// Bulk assignment is all or nothing: one lead the caller may not assign,
// or one the org does not hold, and no lead changes.
func TestBulkAssignIsAllOrNothing(t *testing.T) {
	t.Parallel()
	s := testenv.Tx(t)
	f := seed(t, s, 3, domain.SourceConfig{})
	staff, pro, manager := f.staff[0], f.staff[1], f.staff[2]
	ids := []string{routed(t, s, f, "b1"), routed(t, s, f, "b2"), routed(t, s, f, "b3")}
	mine := routed(t, s, f, "b4")
	must(t, s.TransferOwnership(ctx, f.org.ID, changer(manager), mine, &staff.ID))
	other := seed(t, s, 1, domain.SourceConfig{})
	foreign := routed(t, s, other, "x1")
	before := assignees(t, s, f, append(ids, mine))

	_, err := s.AssignLeads(ctx, f.org.ID, changer(manager), pro.ID, append(ids, mine))
	if e, ok := err.(*domain.Error); !ok || e.Code != domain.EForbidden || e.Fields["lead_ids[3]"] == "" || len(e.Fields) != 1 {
		t.Fatalf("with an agent-owned lead: %v, want 403 naming lead_ids[3]", err)
	}
	_, err = s.AssignLeads(ctx, f.org.ID, changer(manager), pro.ID, []string{ids[0], foreign, ids[1]})
	if e, ok := err.(*domain.Error); !ok || e.Code != domain.EInvalid || e.Fields["lead_ids[1]"] == "" {
		t.Fatalf("with another org's lead: %v, want 422 naming lead_ids[1]", err)
	}
	_, err = s.AssignLeads(ctx, f.org.ID, changer(staff), pro.ID, ids)
	wantCode(t, "staff assigns team leads", err, domain.EForbidden)
	if after := assignees(t, s, f, append(ids, mine)); after != before {
		t.Fatalf("refused bulk assignments changed leads: %s -> %s", before, after)
	}
	// staff_evenly gave one of the three to User 1 already: two change.
	n, err := s.AssignLeads(ctx, f.org.ID, changer(manager), pro.ID, ids)
	must(t, err)
	if n != 2 || assignees(t, s, f, ids) != strings.Repeat(pro.ID+" ", 3) {
		t.Fatalf("changed %d, assignees %s", n, assignees(t, s, f, ids))
	}
	// The owning user may bulk-assign their own lead.
	n, err = s.AssignLeads(ctx, f.org.ID, changer(staff), pro.ID, []string{mine})
	if err != nil || n != 1 {
		t.Fatalf("owner's bulk assign: %d %v", n, err)
	}
}

func assignees(t *testing.T, s *store.Store, f fixture, ids []string) string {
	t.Helper()
	var b strings.Builder
	for _, id := range ids {
		l, err := s.GetLead(ctx, f.org.ID, id)
		must(t, err)
		b.WriteString(*l.AssignedTo + " ")
	}
	return b.String()
}
