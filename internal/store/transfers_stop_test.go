package store_test

import (
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/internal/testenv"
)

// moveBatches moves batches [from, to) of tr, two leads each.
func moveBatches(t *testing.T, s *store.Store, tr store.Transfer, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if _, err := s.MoveTransferBatch(ctx, store.TransferBatch{TransferID: tr.ID, Index: i, Size: 2}); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
	}
}

// assertStopped checks what the sender reads once the run finishes: the
// first batch's two leads moved, the four after the change failed with
// reason and still in the sending org, and the transfer partial.
func assertStopped(t *testing.T, p *pgxpool.Pool, s *store.Store, tr store.Transfer, ids []string, reason string) {
	t.Helper()
	must(t, s.FinishTransfer(ctx, tr.ID))
	st, err := s.GetTransfer(ctx, tr.OrgID, tr.ID)
	must(t, err)
	if st.Status != "partial" || st.Transferred != 2 || st.FailedCount != 4 || len(st.Failed) != 4 {
		t.Fatalf("status: %+v, want partial with 2 moved and 4 failed", st)
	}
	for i, f := range st.Failed {
		if f.LeadID != ids[2+i] || !strings.Contains(f.Error, reason) {
			t.Errorf("failed[%d] = %+v, want lead %s failed with %q", i, f, ids[2+i], reason)
		}
	}
	if n := count(t, p, `SELECT count(*) FROM leads WHERE id = ANY($1) AND org_id = $2`, ids[2:], tr.OrgID); n != 4 {
		t.Errorf("%d of the 4 leads left stayed in the sending org", n)
	}
	if n := count(t, p, `SELECT count(*) FROM timeline_events WHERE lead_id = ANY($1) AND kind = 'transferred'`, ids[2:]); n != 0 {
		t.Errorf("%d transfer events after the change", n)
	}
}

// TestTransferStopsWhenUnlinked: a transfer's first batch moves, then the
// orgs are unlinked. Every later batch — the run's next one, and the
// reconciler's restart after the orgs linked again — fails its leads with
// the reason and moves none; the transfer ends partial.
func TestTransferStopsWhenUnlinked(t *testing.T) {
	p, _ := testenv.DB(t)
	s := store.New(p)
	m, sub := linkedPair(t, s)
	ids := routedLeads(t, s, m, "unlink-", 6)
	tr := newTransfer(t, s, m.org.ID, sub.org.ID, domain.TransferStaffEvenly, ids)
	moveBatches(t, s, tr, 0, 1)
	_, err := s.Unlink(ctx, m.org.ID, sub.org.ID)
	must(t, err)
	moveBatches(t, s, tr, 1, 2)
	// Linked again before a stalled run is restarted: the transfer its
	// sender saw stop stays stopped.
	must(t, s.LinkOrgs(ctx, m.org.ID, sub.org.ID))
	moveBatches(t, s, tr, 2, 3)
	assertStopped(t, p, s, tr, ids, "orgs no longer linked")
}

// TestTransferStopsWhenHandoverTurnedOff: a handover (manager_review) stops
// when the master turns handover_enabled off.
func TestTransferStopsWhenHandoverTurnedOff(t *testing.T) {
	p, _ := testenv.DB(t)
	s := store.New(p)
	m, sub := linkedPair(t, s)
	off := false
	ids := routedLeads(t, s, m, "hoff-", 6)
	tr := newTransfer(t, s, m.org.ID, sub.org.ID, domain.TransferManagerReview, ids)
	moveBatches(t, s, tr, 0, 1)
	_, _, err := s.UpdateOrg(ctx, m.org.ID, store.OrgPatch{HandoverEnabled: &off})
	must(t, err)
	moveBatches(t, s, tr, 1, 3)
	assertStopped(t, p, s, tr, ids, "handover turned off")
	if n := count(t, p, `SELECT count(*) FROM handovers WHERE transfer_id = $1`, tr.ID); n != 2 {
		t.Errorf("%d leads wait for a handover decision, want the 2 moved before", n)
	}
}

// TestTransferStopsWhenCrossSiloTurnedOff: a move between two sub-agencies
// stops when their master turns cross_silo off.
func TestTransferStopsWhenCrossSiloTurnedOff(t *testing.T) {
	p, _ := testenv.DB(t)
	s := store.New(p)
	m, sub := linkedPair(t, s)
	sib := seed(t, s, 2, domain.SourceConfig{})
	must(t, s.LinkOrgs(ctx, m.org.ID, sib.org.ID))
	on, off := true, false
	_, _, err := s.UpdateOrg(ctx, m.org.ID, store.OrgPatch{CrossSilo: &on})
	must(t, err)
	ids := routedLeads(t, s, sub, "xsilo-", 6)
	tr := newTransfer(t, s, sub.org.ID, sib.org.ID, domain.TransferOwner, ids)
	moveBatches(t, s, tr, 0, 1)
	_, _, err = s.UpdateOrg(ctx, m.org.ID, store.OrgPatch{CrossSilo: &off})
	must(t, err)
	moveBatches(t, s, tr, 1, 3)
	assertStopped(t, p, s, tr, ids, "cross_silo turned off")
}

// TestTransferBatchWaitsForARacingUnlink: an unlink not yet committed when a
// batch starts holds the batch until it commits, and the batch then moves
// nothing: no lead crosses a link that was being ended.
func TestTransferBatchWaitsForARacingUnlink(t *testing.T) {
	p, _ := testenv.DB(t)
	s := store.New(p)
	m, sub := linkedPair(t, s)
	ids := routedLeads(t, s, m, "race-", 2)
	tr := newTransfer(t, s, m.org.ID, sub.org.ID, domain.TransferOwner, ids)

	unlink, err := p.Begin(ctx)
	must(t, err)
	defer func() { _ = unlink.Rollback(ctx) }()
	_, err = unlink.Exec(ctx, `UPDATE orgs SET parent_id = NULL, linked_at = NULL WHERE id = $1`, sub.org.ID)
	must(t, err)

	type result struct {
		out store.BatchOutcome
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := s.MoveTransferBatch(ctx, store.TransferBatch{TransferID: tr.ID, Index: 0, Size: 500})
		done <- result{out, err}
	}()
	// Wait until the batch is queued behind the unlink's row lock, or has
	// finished without waiting (what it did before the lock: it moved the
	// leads across the link being ended).
	deadline := time.Now().Add(30 * time.Second)
	for count(t, p, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`) == 0 && len(done) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the batch neither waited for the unlink nor finished")
		}
		time.Sleep(5 * time.Millisecond)
	}
	must(t, unlink.Commit(ctx))
	r := <-done
	must(t, r.err)
	if r.out.Moved != 0 || r.out.Failed != 2 {
		t.Fatalf("batch during the unlink: %+v, want nothing moved and both failed", r.out)
	}
	if n := count(t, p, `SELECT count(*) FROM leads WHERE id = ANY($1) AND org_id = $2`, ids, m.org.ID); n != 2 {
		t.Fatalf("%d of 2 leads stayed in the sending org", n)
	}
}
