package store_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/internal/testenv"
)

// rulesSource is a source that rotates over its staff, with a 72-hour
// return window and three reasons.
func rulesSource(comments bool) domain.SourceConfig {
	return domain.SourceConfig{Name: "EverQuote", Routing: domain.Routing{Mode: domain.RouteStaffEvenly},
		ReturnWindow: " 72h ", ReturnReasons: []string{" Duplicate", "Wrong number", "Out of area "}, IncludeCommentsOnReturn: comments}
}

// routedAt posts a lead that arrived at received and routes it.
func routedAt(t *testing.T, s *store.Store, f fixture, ext string, received time.Time) string {
	t.Helper()
	in, err := s.InsertLead(ctx, store.NewLead{SourceID: f.source.ID, OrgID: f.org.ID, Slug: "everquote",
		WorkflowID: "wf-" + ext, ReceivedAt: received, In: domain.LeadInput{ExternalID: ext, Email: ext + "@example.com"}})
	must(t, err)
	_, err = route(s, in.LeadID)
	must(t, err)
	return in.LeadID
}

// A source keeps its return rules as sent, trimmed, and answers them; a
// source saved without them has none, and a later save without them
// clears them (PUT replaces the source).
func TestSourceKeepsItsReturnRules(t *testing.T) {
	t.Parallel()
	s := testenv.Tx(t)
	f := seed(t, s, 1, rulesSource(false))
	if f.source.ReturnWindow == nil || *f.source.ReturnWindow != "72h0m0s" ||
		strings.Join(f.source.ReturnReasons, "|") != "Duplicate|Wrong number|Out of area" {
		t.Fatalf("saved rules: %v %q", f.source.ReturnWindow, f.source.ReturnReasons)
	}
	got, err := s.GetSourceBySlug(ctx, f.org.ID, "everquote")
	must(t, err)
	if got.ReturnWindow == nil || *got.ReturnWindow != "72h0m0s" || len(got.ReturnReasons) != 3 {
		t.Fatalf("read rules: %v %q", got.ReturnWindow, got.ReturnReasons)
	}
	plain := domain.SourceConfig{Name: "EverQuote", Routing: domain.Routing{Mode: domain.RouteOwner}}
	delay, err := plain.Validate()
	must(t, err)
	src, _, _, err := s.PutSource(ctx, f.org.ID, "everquote", plain, delay)
	must(t, err)
	if src.ReturnWindow != nil || src.ReturnReasons == nil || len(src.ReturnReasons) != 0 {
		t.Fatalf("a source saved without rules: %v %#v", src.ReturnWindow, src.ReturnReasons)
	}
}

// The window is measured from the lead's arrival, to the return's time: a
// lead just inside it is returned, one just past it is refused with a 409
// naming the window, and the refusal writes nothing. A reason is matched
// without case and recorded in the list's spelling; one outside the list
// is a 422 naming the reason and listing the allowed ones.
func TestReturnRulesWindowAndReasons(t *testing.T) {
	t.Parallel()
	s := testenv.Tx(t)
	f := seed(t, s, 3, rulesSource(false))
	manager := f.staff[2]
	inside := routedAt(t, s, f, "in", time.Now().Add(-72*time.Hour+time.Minute))
	past := routedAt(t, s, f, "past", time.Now().Add(-72*time.Hour-time.Minute))

	before, err := s.GetLead(ctx, f.org.ID, past)
	must(t, err)
	_, err = s.ReturnLead(ctx, f.org.ID, changer(manager), past, returnBody("Duplicate", ""), "return/"+past)
	wantCode(t, "past the window", err, domain.EConflict)
	var e *domain.Error
	if !errors.As(err, &e) || e.Fields["return_window"] == "" || !strings.Contains(e.Message, "return window of 72h0m0s") {
		t.Fatalf("the refusal does not name the window: %#v", err)
	}
	_, err = s.ReturnLead(ctx, f.org.ID, changer(manager), inside, returnBody("Bad lead", ""), "return/"+inside)
	wantCode(t, "a reason outside the list", err, domain.EInvalid)
	if !errors.As(err, &e) || e.Fields["reason"] != "not one of this source's return reasons: Duplicate; Wrong number; Out of area" {
		t.Fatalf("the refusal does not list the reasons: %#v", err)
	}
	for _, id := range []string{past, inside} {
		after, err := s.GetLead(ctx, f.org.ID, id)
		must(t, err)
		if after.Status == domain.StatusReturned || (id == past && len(after.Timeline) != len(before.Timeline)) {
			t.Fatalf("a refused return changed the lead: %s %d events", after.Status, len(after.Timeline))
		}
	}
	if got := unnotified(t, s); len(got) != 0 {
		t.Fatalf("a refused return was recorded: %v", got)
	}

	_, err = s.ReturnLead(ctx, f.org.ID, changer(manager), inside, returnBody("wrong NUMBER", ""), "return/"+inside)
	must(t, err)
	n, err := s.ReturnNotice(ctx, inside)
	must(t, err)
	if n.Fields.Reason != "Wrong number" || lastEvent(t, s, f.org.ID, inside).Data["reason"] != "Wrong number" {
		t.Fatalf("the reason is not recorded in the list's spelling: %q", n.Fields.Reason)
	}

	// Without rules, any reason at any age, as before.
	plain := seed(t, s, 1, domain.SourceConfig{})
	old := routedAt(t, s, plain, "old", time.Now().Add(-365*24*time.Hour))
	_, err = s.ReturnLead(ctx, plain.org.ID, changer(plain.owner), old, returnBody("anything at all", ""), "return/"+old)
	must(t, err)
}

// The rules are those of the source that received the lead, whichever org
// holds it now: a lead moved to a sub-agency is refused there by the
// master's source's reasons, though the sub-agency's own source of the same
// slug has none.
func TestReturnRulesFollowTheReceivingSource(t *testing.T) {
	t.Parallel()
	s := testenv.Tx(t)
	cfg := rulesSource(false)
	cfg.Routing = domain.Routing{Mode: domain.RouteOwner}
	master := seed(t, s, 1, cfg)
	sub := seed(t, s, 1, domain.SourceConfig{})
	must(t, s.LinkOrgs(ctx, master.org.ID, sub.org.ID))
	id := routed(t, s, master, "t1")
	tr := newTransfer(t, s, master.org.ID, sub.org.ID, domain.TransferOwner, []string{id})
	_, err := s.MoveTransferBatch(ctx, store.TransferBatch{TransferID: tr.ID, Index: 0, Size: 500})
	must(t, err)
	rr, err := s.LeadReturnRules(ctx, sub.org.ID, id)
	must(t, err)
	if rr.Window == nil || *rr.Window != "72h0m0s" || rr.Until == nil || len(rr.Reasons) != 3 {
		t.Fatalf("the rules the sub-agency reads: %+v", rr)
	}
	_, err = s.LeadReturnRules(ctx, master.org.ID, id)
	wantCode(t, "the master after the move", err, domain.ENotFound)
	_, err = s.ReturnLead(ctx, sub.org.ID, changer(sub.owner), id, returnBody("not on the list", ""), "return/"+id)
	wantCode(t, "a reason outside the receiving source's list", err, domain.EInvalid)
	_, err = s.ReturnLead(ctx, sub.org.ID, changer(sub.owner), id, returnBody("Out of area", ""), "return/"+id)
	must(t, err)
	list, _, err := s.VendorReturns(ctx, master.source.ID, time.Time{}, "", 10)
	must(t, err)
	if len(list) != 1 || list[0].LeadID != id || list[0].Reason != "Out of area" {
		t.Fatalf("the master's vendor does not see the sub-agency's return: %+v", list)
	}
}

// A vendor's list holds its source's returns only, oldest first, in pages
// whose cursors neither skip nor repeat (returns of one transaction share
// a time: the lead id breaks the tie); since bounds it; comments go along
// only when the source sends them with its returns.
func TestVendorReturnsPagesOneSourcesReturns(t *testing.T) {
	t.Parallel()
	s := testenv.Tx(t)
	f := seed(t, s, 3, rulesSource(true))
	other := seed(t, s, 1, domain.SourceConfig{})
	want := map[string]bool{}
	for _, ext := range []string{"a", "b", "c", "d", "e"} {
		id := routed(t, s, f, ext)
		_, err := s.ReturnLead(ctx, f.org.ID, changer(f.owner), id, returnBody("Duplicate", "call was "+ext), "return/"+id)
		must(t, err)
		want[id] = true
	}
	notThis := routed(t, s, other, "z")
	_, err := s.ReturnLead(ctx, other.org.ID, changer(other.owner), notThis, returnBody("nope", "secret"), "return/"+notThis)
	must(t, err)

	seen := map[string]bool{}
	var prev store.VendorReturn
	cursor, pages := "", 0
	for {
		list, next, err := s.VendorReturns(ctx, f.source.ID, time.Time{}, cursor, 2)
		must(t, err)
		pages++
		for _, r := range list {
			if !want[r.LeadID] || seen[r.LeadID] {
				t.Fatalf("page %d: %+v not of this source or seen twice", pages, r)
			}
			if r.ReturnedAt.Before(prev.ReturnedAt) || (r.ReturnedAt.Equal(prev.ReturnedAt) && r.LeadID < prev.LeadID) {
				t.Fatalf("not oldest first: %+v after %+v", r, prev)
			}
			if r.Comments == nil || !strings.HasPrefix(*r.Comments, "call was ") || r.Reason != "Duplicate" || r.ExternalID == "" {
				t.Fatalf("a return without its comments or fields: %+v", r)
			}
			seen[r.LeadID], prev = true, r
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if len(seen) != 5 || pages != 3 {
		t.Fatalf("saw %d returns in %d pages", len(seen), pages)
	}

	list, next, err := s.VendorReturns(ctx, f.source.ID, time.Now().Add(time.Hour), "", 10)
	must(t, err)
	if len(list) != 0 || next != "" {
		t.Fatalf("since after every return: %+v", list)
	}
	list, _, err = s.VendorReturns(ctx, other.source.ID, time.Time{}, "", 10)
	must(t, err)
	if len(list) != 1 || list[0].LeadID != notThis || list[0].Comments != nil {
		t.Fatalf("a source without comments on return: %+v", list)
	}
	_, _, err = s.VendorReturns(ctx, f.source.ID, time.Time{}, "not-a-cursor", 10)
	wantCode(t, "a bad cursor", err, domain.EInvalid)
}
