package store_test

import (
	"encoding/json"
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

// returnsRead is how many rows of lead_returns a plan looked at (kept or
// dropped), and the scans of lead_returns it used.
func (n planNode) returnsRead() (rows float64, scans []string) {
	if n.Relation == "lead_returns" {
		rows = (n.ActualRows + n.RemovedByFilter + n.RemovedByRecheck) * n.Loops
		scans = append(scans, strings.TrimSpace(n.NodeType+" "+n.Index))
	}
	for _, c := range n.Plans {
		r, s := c.returnsRead()
		rows += r
		scans = append(scans, s...)
	}
	return rows, scans
}

// TestVendorReturnsReadAPageNotTheTable: 20,000 returns of two sources,
// statistics fresh. A vendor's first page, its next page and a page after
// a recent since each read about one page of lead_returns, through
// lead_returns_by_source, never a Seq Scan — also for the source with 1%
// of them, where walking returned_at alone would read the other's.
func TestVendorReturnsReadAPageNotTheTable(t *testing.T) {
	t.Parallel()
	s, tx := txStore(t)
	org, _, _, err := s.CreateOrg(ctx, "Returning Agency", "UTC", "owner@"+domainFor(t), "Owner")
	must(t, err)
	big, rare := source(t, s, org.ID, "everquote"), source(t, s, org.ID, "rare")
	_, err = tx.Exec(ctx, `WITH l AS (
			INSERT INTO leads (org_id, intake_org_id, source_id, source_slug, external_id, status, email, workflow_id, received_at, routed_at)
			SELECT $1, $1, CASE WHEN i % 100 = 7 THEN $3::uuid ELSE $2::uuid END, CASE WHEN i % 100 = 7 THEN 'rare' ELSE 'everquote' END,
				'r-' || i, 'returned', 'r' || i || '@mail.example', 'wf-' || i, now() - i * interval '1 minute', now()
			FROM generate_series(1, 20000) i RETURNING id, source_id, received_at)
		INSERT INTO lead_returns (lead_id, org_id, source_id, reason, returned_by, workflow_id, returned_at)
		SELECT id, $1, source_id, 'Duplicate', 'admin', 'return/' || id, received_at + interval '1 hour' FROM l`, org.ID, big.ID, rare.ID)
	must(t, err)
	// As TestLeadListReadsAPageNotTheOrg: keep autovacuum's analyze of a
	// near-empty committed table from replacing these statistics.
	_, err = tx.Exec(ctx, `LOCK TABLE lead_returns IN SHARE UPDATE EXCLUSIVE MODE`)
	must(t, err)
	_, err = tx.Exec(ctx, `ANALYZE lead_returns`)
	must(t, err)

	const limit = 50
	_, next, err := s.VendorReturns(ctx, big.ID, time.Time{}, "", limit)
	must(t, err)
	for _, c := range []struct {
		name, source, cursor string
		since                time.Time
	}{
		{"the first page", big.ID, "", time.Time{}},
		{"the next page", big.ID, next, time.Time{}},
		{"since a day ago", big.ID, "", time.Now().Add(-24 * time.Hour)},
		{"a source of 1%", rare.ID, "", time.Time{}},
	} {
		raw, err := s.VendorReturnsPlanForTest(ctx, c.source, c.since, c.cursor, limit)
		must(t, err)
		var plan []struct{ Plan planNode }
		must(t, json.Unmarshal(raw, &plan))
		read, scans := plan[0].Plan.returnsRead()
		for _, scan := range scans {
			if !strings.Contains(scan, "lead_returns_by_source") {
				t.Errorf("%s: not through lead_returns_by_source (%v)", c.name, scans)
			}
		}
		if read > 2*(limit+1) {
			t.Errorf("%s: read %.0f rows of lead_returns for a page of %d (%v)", c.name, read, limit, scans)
		}
		t.Logf("%s: %v, %.0f rows read", c.name, scans, read)
	}
}
