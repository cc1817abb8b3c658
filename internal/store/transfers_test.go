package store_test

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/internal/testenv"
)

// linkedPair is a master and one sub-agency, each with rotating staff.
func linkedPair(t *testing.T, s *store.Store) (master, sub fixture) {
	t.Helper()
	master = seed(t, s, 3, domain.SourceConfig{})
	sub = seed(t, s, 3, domain.SourceConfig{})
	must(t, s.LinkOrgs(ctx, master.org.ID, sub.org.ID))
	return master, sub
}

// routedLeads posts and routes n leads at f (labels auto and hot).
func routedLeads(t *testing.T, s *store.Store, f fixture, prefix string, n int) []string {
	t.Helper()
	var ids []string
	for i := 0; i < n; i++ {
		in := post(t, s, f, prefix+string(rune('a'+i)), "")
		_, err := route(s, in.LeadID)
		must(t, err)
		ids = append(ids, in.LeadID)
	}
	return ids
}

// newTransfer records a transfer as the API accepts it: a handover only
// with handover_enabled at the master (either org of a direct link here),
// which every batch checks again.
func newTransfer(t *testing.T, s *store.Store, from, to string, mode domain.TransferMode, ids []string) store.Transfer {
	t.Helper()
	if mode == domain.TransferManagerReview {
		on := true
		for _, org := range []string{from, to} {
			_, _, err := s.UpdateOrg(ctx, org, store.OrgPatch{HandoverEnabled: &on})
			must(t, err)
		}
	}
	id := domain.NewID()
	tr, created, err := s.CreateTransfer(ctx, store.NewTransfer{ID: id, OrgID: from, ToOrgID: to, Mode: mode, RequestedBy: "admin",
		RequestHash: []byte(id), WorkflowID: "transfer/" + id, LeadIDs: ids})
	must(t, err)
	if !created {
		t.Fatal("a new transfer was not created")
	}
	return tr
}

func count(t *testing.T, p *pgxpool.Pool, sql string, args ...any) int {
	t.Helper()
	var n int
	must(t, p.QueryRow(ctx, sql, args...).Scan(&n))
	return n
}

// TestTransferCarriesOverExactlyAsSpecified checks every rule of SPEC §5.3 on
// one batch, then runs the batch again: nothing moves twice.
func TestTransferCarriesOverExactlyAsSpecified(t *testing.T) {
	t.Parallel()
	p, _ := testenv.DB(t)
	s := store.New(p)
	m, sub := linkedPair(t, s)
	ids := routedLeads(t, s, m, "carry-", 6)
	// a team member, an agent-owned lead, a lead of another org, an id of no lead
	_, err := p.Exec(ctx, `UPDATE leads SET kind = 'team_member' WHERE id = $1`, ids[4])
	must(t, err)
	_, err = p.Exec(ctx, `UPDATE leads SET owner_user_id = assigned_to WHERE id = $1`, ids[5])
	must(t, err)
	returned := routedLeads(t, s, m, "returned-", 1)[0]
	_, err = p.Exec(ctx, `UPDATE leads SET status = 'returned' WHERE id = $1`, returned)
	must(t, err)
	other := seed(t, s, 1, domain.SourceConfig{})
	foreign := routedLeads(t, s, other, "foreign-", 1)[0]
	nobody := domain.NewID()
	_, err = p.Exec(ctx, `INSERT INTO lead_automations (lead_id, org_id, kind, name) VALUES ($1,$2,'campaign','Spring'), ($1,$2,'trigger','no-answer')`,
		ids[0], m.org.ID)
	must(t, err)
	all := append(append([]string{}, ids...), foreign, nobody, returned)
	tr := newTransfer(t, s, m.org.ID, sub.org.ID, domain.TransferStaffEvenly, all)

	for round := 0; round < 2; round++ {
		out, err := s.MoveTransferBatch(ctx, store.TransferBatch{TransferID: tr.ID, Index: 0, Size: 500})
		must(t, err)
		if out.Moved != 5 || out.Failed != 4 || out.TeamMembers != 1 {
			t.Fatalf("round %d: %+v, want 5 moved (one team member), 4 failed", round, out)
		}
	}

	perStaff := map[string]int{}
	for i, id := range ids[:5] {
		l, err := s.GetLead(ctx, sub.org.ID, id)
		must(t, err)
		want := domain.StatusNew
		if i == 4 {
			want = domain.StatusOnboarding
		}
		if l.Status != want || l.Owner.Type != "org" || l.Owner.ID != sub.org.ID || l.AssignedTo == nil {
			t.Fatalf("lead %d in the receiving org: %+v", i, l)
		}
		perStaff[*l.AssignedTo]++
		if strings.Join(l.Labels, ",") != "auto,hot" {
			t.Errorf("labels: %v", l.Labels)
		}
		var kinds []string
		var transferred []store.Event
		for _, e := range l.Timeline {
			kinds = append(kinds, e.Kind)
			if e.Kind == "transferred" {
				transferred = append(transferred, e)
			}
		}
		if kinds[0] != "received" || kinds[1] != "routed" || len(transferred) != 1 {
			t.Fatalf("the timeline is kept and gets one transfer event: %v", kinds)
		}
		msg := transferred[0].Message
		if !strings.Contains(msg, "from Org "+t.Name()) || !strings.Contains(msg, "previous owner: Org "+t.Name()) || transferred[0].At.IsZero() {
			t.Errorf("the transfer event names the sending org and previous owner: %q", msg)
		}
	}
	assertSpread(t, perStaff, sub.staff, 1)
	if n := count(t, p, `SELECT count(*) FROM labels b JOIN lead_labels ll ON ll.label_id = b.id WHERE ll.lead_id = ANY($1) AND b.org_id = $2`,
		ids[:5], sub.org.ID); n != 10 {
		t.Errorf("labels must be the receiving org's own: %d links", n)
	}
	if n := count(t, p, `SELECT count(*) FROM lead_automations WHERE lead_id = $1`, ids[0]); n != 0 {
		t.Errorf("campaigns and triggers must not travel: %d left", n)
	}
	for _, c := range []struct {
		org, kind string
	}{{m.org.ID, "transfer_out"}, {sub.org.ID, "transfer_in"}} {
		if n := count(t, p, `SELECT count(*) FROM feed_events WHERE org_id = $1 AND kind = $2 AND transfer_id = $3`, c.org, c.kind, tr.ID); n != 5 {
			t.Errorf("%s feed events in %s: %d, want 5 (once each)", c.kind, c.org, n)
		}
	}
	if n := count(t, p, `SELECT count(*) FROM lead_arrivals WHERE org_id = $1 AND transfer_id = $2`, sub.org.ID, tr.ID); n != 4 {
		t.Errorf("digest arrivals: %d, want 4 (not the team member)", n)
	}
	st, err := s.GetTransfer(ctx, m.org.ID, tr.ID)
	must(t, err)
	if st.Total != 9 || st.Transferred != 5 || st.FailedCount != 4 || len(st.Failed) != 4 {
		t.Fatalf("status: %+v", st)
	}
	reasons := map[string]string{}
	for _, f := range st.Failed {
		reasons[f.LeadID] = f.Error
	}
	if !strings.Contains(reasons[ids[5]], "agent-owned") || !strings.Contains(reasons[foreign], "not found") || !strings.Contains(reasons[nobody], "not found") ||
		!strings.Contains(reasons[returned], "returned") {
		t.Errorf("reasons: %v", reasons)
	}
	if l, err := s.GetLead(ctx, other.org.ID, foreign); err != nil || l.OrgID != other.org.ID {
		t.Errorf("another org's lead must stay: %v %v", l.OrgID, err)
	}
	if _, err := s.GetTransfer(ctx, other.org.ID, tr.ID); domain.ErrorCode(err) != domain.ENotFound {
		t.Errorf("a third org must not see the transfer: %v", err)
	}
}

// TestIdempotencyKeyFindsTheFirstTransfer: the same key and body records
// nothing new; the same key with another body is refused.
func TestIdempotencyKeyFindsTheFirstTransfer(t *testing.T) {
	t.Parallel()
	p, _ := testenv.DB(t)
	s := store.New(p)
	m, sub := linkedPair(t, s)
	ids := routedLeads(t, s, m, "idem-", 2)
	key := "k-" + t.Name()
	create := func(hash string) (store.Transfer, bool, error) {
		id := domain.NewID()
		return s.CreateTransfer(ctx, store.NewTransfer{ID: id, OrgID: m.org.ID, ToOrgID: sub.org.ID, Mode: domain.TransferOwner,
			RequestedBy: "admin", IdempotencyKey: key, RequestHash: []byte(hash), WorkflowID: "transfer/" + id, LeadIDs: ids})
	}
	first, created, err := create("a")
	must(t, err)
	again, createdAgain, err := create("a")
	must(t, err)
	if !created || createdAgain || again.ID != first.ID || again.WorkflowID != first.WorkflowID {
		t.Fatalf("first %v %+v, again %v %+v", created, first, createdAgain, again)
	}
	if _, _, err := create("b"); domain.ErrorCode(err) != domain.EConflict {
		t.Fatalf("another body under the same key: %v", err)
	}
	if n := count(t, p, `SELECT count(*) FROM transfer_items WHERE transfer_id = $1`, first.ID); n != 2 {
		t.Fatalf("items: %d", n)
	}
}

// TestHandoverAcceptedAndRejected: accepted, the lead is assigned in the
// receiving org; rejected, it is back with the sender as it was; both in
// both orgs' feeds, and an answer applied twice decides once.
func TestHandoverAcceptedAndRejected(t *testing.T) {
	t.Parallel()
	p, _ := testenv.DB(t)
	s := store.New(p)
	m, sub := linkedPair(t, s)
	ids := routedLeads(t, s, m, "hand-", 2)
	before, err := s.GetLead(ctx, m.org.ID, ids[1])
	must(t, err)
	tr := newTransfer(t, s, m.org.ID, sub.org.ID, domain.TransferManagerReview, ids)
	out, err := s.MoveTransferBatch(ctx, store.TransferBatch{TransferID: tr.ID, Index: 0, Size: 500})
	must(t, err)
	if out.Moved != 2 {
		t.Fatalf("%+v", out)
	}
	for _, id := range ids {
		l, err := s.GetLead(ctx, sub.org.ID, id)
		must(t, err)
		if l.AssignedTo != nil || l.Location == nil || *l.Location != domain.LocationPending {
			t.Fatalf("a handed-over lead waits unassigned in the pipeline: %+v", l)
		}
		if arrivals := count(t, p, `SELECT count(*) FROM lead_arrivals WHERE lead_id = $1`, id); arrivals != 0 {
			t.Fatalf("a handover counts for the digest only once accepted")
		}
	}
	manager := sub.staff[2] // roles cycle staff, professional, manager
	accept := store.HandoverAnswer{ID: domain.NewID(), LeadID: ids[0], TransferID: tr.ID, Kind: "accept", Actor: manager.ID, AssignTo: sub.staff[0].ID}
	must(t, s.RecordHandoverAnswer(ctx, accept))
	for i := 0; i < 2; i++ {
		st, err := s.ApplyHandoverAnswer(ctx, accept.ID)
		if err != nil || st != domain.HandoverAccepted {
			t.Fatalf("accept %d: %q %v", i, st, err)
		}
	}
	l, err := s.GetLead(ctx, sub.org.ID, ids[0])
	must(t, err)
	if l.AssignedTo == nil || *l.AssignedTo != sub.staff[0].ID || l.Location != nil {
		t.Fatalf("accepted: %+v", l)
	}
	reject := store.HandoverAnswer{ID: domain.NewID(), LeadID: ids[1], TransferID: tr.ID, Kind: "reject", Actor: manager.ID, Reason: "not our county"}
	must(t, s.RecordHandoverAnswer(ctx, reject))
	st, err := s.ApplyHandoverAnswer(ctx, reject.ID)
	if err != nil || st != domain.HandoverRejected {
		t.Fatalf("reject: %q %v", st, err)
	}
	back, err := s.GetLead(ctx, m.org.ID, ids[1])
	must(t, err)
	if back.AssignedTo == nil || *back.AssignedTo != *before.AssignedTo || back.Location != nil {
		t.Fatalf("rejected: back with the sender as it was, got %+v", back)
	}
	if last := back.Timeline[len(back.Timeline)-1]; !strings.Contains(last.Message, "not our county") {
		t.Errorf("the reason is on the timeline: %q", last.Message)
	}
	late := store.HandoverAnswer{ID: domain.NewID(), LeadID: ids[1], TransferID: tr.ID, Kind: "accept", Actor: manager.ID, AssignTo: sub.staff[0].ID}
	must(t, s.RecordHandoverAnswer(ctx, late))
	if _, err := s.ApplyHandoverAnswer(ctx, late.ID); domain.ErrorCode(err) != domain.EConflict {
		t.Fatalf("a second answer: %v", err)
	}
	for _, org := range []string{m.org.ID, sub.org.ID} {
		for _, kind := range []string{"handover_accepted", "handover_rejected"} {
			if n := count(t, p, `SELECT count(*) FROM feed_events WHERE org_id = $1 AND kind = $2`, org, kind); n != 1 {
				t.Errorf("%s in %s's feed: %d", kind, org, n)
			}
		}
	}
	events, next, err := s.Feed(ctx, m.org.ID, "", 2)
	must(t, err)
	if len(events) != 2 || next == "" || events[0].Kind != "handover_rejected" {
		t.Fatalf("feed page: %+v next %q", events, next)
	}
	rest, next2, err := s.Feed(ctx, m.org.ID, next, 10)
	must(t, err)
	if len(rest) != 2 || next2 != "" { // handover_sent x2 before
		t.Fatalf("second page: %+v %q", rest, next2)
	}
}

// TestOwnerModeAssignsTheReceivingOwner: mode owner gives every moved lead
// to the receiving org's owner, team-owned by that org.
func TestOwnerModeAssignsTheReceivingOwner(t *testing.T) {
	t.Parallel()
	p, _ := testenv.DB(t)
	s := store.New(p)
	m, sub := linkedPair(t, s)
	ids := routedLeads(t, s, m, "own-", 3)
	tr := newTransfer(t, s, m.org.ID, sub.org.ID, domain.TransferOwner, ids)
	out, err := s.MoveTransferBatch(ctx, store.TransferBatch{TransferID: tr.ID, Size: 2})
	must(t, err)
	if out.Moved != 2 {
		t.Fatalf("the first batch of two: %+v", out)
	}
	out, err = s.MoveTransferBatch(ctx, store.TransferBatch{TransferID: tr.ID, Index: 1, Size: 2})
	must(t, err)
	if out.Moved != 1 {
		t.Fatalf("the second batch of one: %+v", out)
	}
	for _, id := range ids {
		l, err := s.GetLead(ctx, sub.org.ID, id)
		must(t, err)
		if l.AssignedTo == nil || *l.AssignedTo != sub.owner.ID || l.Owner.Type != "org" || l.Location != nil {
			t.Fatalf("%+v", l)
		}
	}
}
