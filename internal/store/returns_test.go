package store_test

import (
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/internal/testenv"
)

func returnBody(reason, comments string) domain.ReturnInput {
	in := domain.ReturnInput{Reason: reason}
	if comments != "" {
		in.Comments = &comments
	}
	return in
}

// unnotified lists the lead ids of returns whose emails are not dealt with.
func unnotified(t *testing.T, s *store.Store) []string {
	t.Helper()
	rs, err := s.UnnotifiedReturns(ctx, time.Now().Add(time.Minute), "", 100)
	must(t, err)
	var ids []string
	for _, r := range rs {
		ids = append(ids, r.LeadID)
	}
	return ids
}

// A return makes the lead `returned`, unassigned and out of the queue, says
// who and why on the timeline, keeps the comments for the email run (which
// reads the source's addresses, its comments setting and its template), and
// happens once: a second return is a conflict that writes nothing.
func TestReturnLeadOnceWithItsComments(t *testing.T) {
	t.Parallel()
	s := testenv.Tx(t)
	tmpl := "Subject: {{.Reason}}\n{{.LeadName}}"
	f := seed(t, s, 3, domain.SourceConfig{Name: "EverQuote", Routing: domain.Routing{Mode: domain.RouteQueue},
		ReturnNotificationEmails: []string{"vendor@eq.example", "ops@eq.example"}, IncludeCommentsOnReturn: true, ReturnTemplate: &tmpl})
	manager := f.staff[2]
	queued, assigned := routed(t, s, f, "r1"), routed(t, s, f, "r2")
	must(t, s.AssignLead(ctx, f.org.ID, changer(manager), assigned, f.staff[0].ID))
	if l, err := s.GetLead(ctx, f.org.ID, queued); err != nil || l.Location == nil || *l.Location != domain.LocationQueue {
		t.Fatalf("not queued: %+v %v", l.Location, err)
	}

	for _, id := range []string{queued, assigned} {
		ret, err := s.ReturnLead(ctx, f.org.ID, changer(manager), id, returnBody("Duplicate", "Same phone.\nCredit please."), "return/"+id)
		must(t, err)
		if ret != (store.Returned{LeadID: id, OrgID: f.org.ID, Slug: "everquote", WorkflowID: "return/" + id}) {
			t.Fatalf("returned %+v", ret)
		}
		l, err := s.GetLead(ctx, f.org.ID, id)
		must(t, err)
		last := l.Timeline[len(l.Timeline)-1]
		if l.Status != domain.StatusReturned || l.AssignedTo != nil || l.Location != nil || last.Kind != "returned" ||
			last.Actor != manager.ID || last.Message != "returned (final: no one assigns, claims or distributes it again)"+
			" to the vendor of source EverQuote by User 2: Duplicate" ||
			last.Data["reason"] != "Duplicate" || last.Data["comments"] != true {
			t.Fatalf("after return: status %s assigned %v location %v event %+v", l.Status, l.AssignedTo, l.Location, last)
		}
	}
	n, err := s.ReturnNotice(ctx, queued)
	must(t, err)
	if n.OrgID != f.org.ID || len(n.To) != 2 || !n.IncludeComments || n.Template == nil || *n.Template != tmpl ||
		n.Fields.Reason != "Duplicate" || n.Fields.Comments != "Same phone.\nCredit please." || n.Fields.ReturnedBy != "User 2" ||
		n.Fields.ExternalID != "r1" || n.Fields.LeadEmail != "r1@example.com" || n.Fields.OrgName != f.org.Name ||
		n.Fields.Source != "EverQuote" || n.Fields.SourceSlug != "everquote" || n.Timezone != "UTC" || n.ReturnedAt.IsZero() {
		t.Fatalf("notice %+v", n)
	}

	before, err := s.GetLead(ctx, f.org.ID, queued)
	must(t, err)
	for _, by := range []domain.Changer{changer(manager), changer(f.owner), {}} {
		_, err := s.ReturnLead(ctx, "", by, queued, returnBody("again", ""), "return/"+queued)
		wantCode(t, "second return", err, domain.EConflict)
	}
	after, err := s.GetLead(ctx, f.org.ID, queued)
	must(t, err)
	if len(after.Timeline) != len(before.Timeline) {
		t.Fatal("a refused return wrote an event")
	}

	// The reconciler sees both until their runs say every address was dealt with.
	if got := unnotified(t, s); len(got) != 2 {
		t.Fatalf("unnotified %v", got)
	}
	must(t, s.FinishReturn(ctx, queued))
	if got := unnotified(t, s); len(got) != 1 || got[0] != assigned {
		t.Fatalf("unnotified after one finished: %v", got)
	}
}

// Who may: another org's user does not see the lead (404); staff may not
// (403); no comments are stored as none. A lead still being routed or
// waiting for a handover decision cannot be returned yet (409).
func TestReturnLeadRefusals(t *testing.T) {
	t.Parallel()
	s := testenv.Tx(t)
	m, sub := linkedPair(t, s)
	id := routed(t, s, m, "x1")
	other := seed(t, s, 1, domain.SourceConfig{})
	_, err := s.ReturnLead(ctx, other.org.ID, changer(other.owner), id, returnBody("dup", ""), "return/"+id)
	wantCode(t, "another org", err, domain.ENotFound)
	_, err = s.ReturnLead(ctx, m.org.ID, changer(m.staff[0]), id, returnBody("dup", ""), "return/"+id)
	wantCode(t, "staff", err, domain.EForbidden)
	_, err = s.ReturnLead(ctx, m.org.ID, changer(m.owner), "nope", returnBody("dup", ""), "return/nope")
	wantCode(t, "a malformed id", err, domain.ENotFound)

	unrouted := post(t, s, m, "x2", "").LeadID
	_, err = s.ReturnLead(ctx, m.org.ID, changer(m.owner), unrouted, returnBody("dup", ""), "return/"+unrouted)
	wantCode(t, "an unrouted lead", err, domain.EConflict)

	handed := routed(t, s, m, "x3")
	tr := newTransfer(t, s, m.org.ID, sub.org.ID, domain.TransferManagerReview, []string{handed})
	_, err = s.MoveTransferBatch(ctx, store.TransferBatch{TransferID: tr.ID, Index: 0, Size: 500})
	must(t, err)
	_, err = s.ReturnLead(ctx, sub.org.ID, changer(sub.owner), handed, returnBody("dup", ""), "return/"+handed)
	wantCode(t, "a lead waiting for a handover decision", err, domain.EConflict)

	_, err = s.ReturnLead(ctx, m.org.ID, changer(m.owner), id, returnBody("dup", ""), "return/"+id)
	must(t, err)
	n, err := s.ReturnNotice(ctx, id)
	must(t, err)
	if n.Fields.Comments != "" || len(n.To) != 0 || n.Template != nil || n.Fields.ReturnedBy != "Owner" {
		t.Fatalf("a return without comments, addresses or template: %+v", n)
	}
}

// A lead moved down to a sub-agency is returned there, and the vendor that
// is told is the one of the source that received it: the master's.
func TestReturnFromASubAgencyTellsTheReceivingSource(t *testing.T) {
	t.Parallel()
	s := testenv.Tx(t)
	master := seed(t, s, 1, domain.SourceConfig{Name: "EverQuote", Routing: domain.Routing{Mode: domain.RouteOwner},
		ReturnNotificationEmails: []string{"vendor@eq.example"}})
	sub := seed(t, s, 1, domain.SourceConfig{})
	must(t, s.LinkOrgs(ctx, master.org.ID, sub.org.ID))
	id := routed(t, s, master, "s1")
	tr := newTransfer(t, s, master.org.ID, sub.org.ID, domain.TransferOwner, []string{id})
	_, err := s.MoveTransferBatch(ctx, store.TransferBatch{TransferID: tr.ID, Index: 0, Size: 500})
	must(t, err)
	_, err = s.ReturnLead(ctx, master.org.ID, changer(master.owner), id, returnBody("dup", ""), "return/"+id)
	wantCode(t, "the master after the move", err, domain.ENotFound)
	ret, err := s.ReturnLead(ctx, sub.org.ID, changer(sub.owner), id, returnBody("dup", ""), "return/"+id)
	must(t, err)
	n, err := s.ReturnNotice(ctx, id)
	must(t, err)
	if ret.OrgID != sub.org.ID || n.OrgID != sub.org.ID || len(n.To) != 1 || n.To[0] != "vendor@eq.example" || n.Fields.OrgName != master.org.Name {
		t.Fatalf("returned %+v, notice %+v", ret, n)
	}
}
