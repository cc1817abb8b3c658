package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/internal/app"
	"github.com/leadrelay/leadrelay/internal/bench"
	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/workflows"
)

// lockWaits counts the e2e database's sessions waiting for a row lock.
func (s *stack) lockWaits(t *testing.T) int {
	t.Helper()
	return s.count(t, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`)
}

// stopMidRun sends a 1,000-lead transfer (two batches of 500) and, while its
// first batch is under way, makes change (the request that unlinks the orgs
// or turns a setting off). The first batch is held on its first lead (a
// lock the test takes), so it is mid-transaction when change is sent; the
// rest of that batch is agent-owned, so it moves one lead and starts at
// most one review run. It returns the leads and the sender's final view.
func (s *stack) stopMidRun(t *testing.T, from, to tenant, mode, token string, change func() resp) ([]string, resp) {
	t.Helper()
	ctx := context.Background()
	ids, err := bench.BulkLeads(ctx, s.deps.Pool, from.id, from.sourceID, "everquote", "stop-"+from.id[:8]+"-", from.ownerID, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.deps.Pool.Exec(ctx, `UPDATE leads SET owner_user_id = $2 WHERE id = ANY($1)`, ids[1:500], from.ownerID); err != nil {
		t.Fatal(err)
	}
	hold, err := s.deps.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = hold.Rollback(ctx) }()
	if _, err := hold.Exec(ctx, `SELECT 1 FROM leads WHERE id = $1 FOR UPDATE`, ids[0]); err != nil {
		t.Fatal(err)
	}
	r := s.do(t, "POST", "/v1/orgs/"+from.id+"/transfers", token, map[string]any{"to_org": to.id, "lead_ids": ids, "mode": mode})
	if r.status != 202 {
		t.Fatalf("transfer: %d %s", r.status, r.raw)
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("after a minute, still not: %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("the first batch waiting for its first lead", func() bool { return s.lockWaits(t) >= 1 })
	changed := make(chan resp, 1)
	go func() { changed <- change() }()
	// The change waits for the batch's org row locks (or, without them,
	// is made at once while the batch still goes on to move its lead).
	waitFor("the change waiting for the batch, or made", func() bool { return len(changed) > 0 || s.lockWaits(t) >= 2 })
	if err := hold.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if c := <-changed; c.status != 200 {
		t.Fatalf("the change: %d %s", c.status, c.raw)
	}
	return ids, s.waitTransfer(t, from.id, token, r.str("id"), 2*time.Minute)
}

// assertStoppedMidRun checks what the sender and the receiver read: the
// lead the first batch moved before the change, its agent-owned leads, the
// whole second batch failed with reason and still in the sending org with
// no transfer event, and the transfer partial. The receiving org sees the
// counts only.
//
// firstAt is where the lead the first batch moved is now: the receiving org,
// or the sending one when the change also withdrew its pending handover.
func (s *stack) assertStoppedMidRun(t *testing.T, from, to, firstAt tenant, ids []string, done resp, reason string) {
	t.Helper()
	failed, _ := done.body["failed"].([]any)
	if done.str("status") != "partial" || done.body["transferred"] != float64(1) || done.body["failed_count"] != float64(999) || len(failed) != 999 {
		t.Fatalf("the sender's view: %s", done.raw)
	}
	for i, f := range failed {
		f := f.(map[string]any)
		want := "agent-owned"
		if i >= 499 {
			want = reason
		}
		if f["lead_id"] != ids[1+i] || !strings.Contains(f["error"].(string), want) {
			t.Fatalf("failed[%d] = %v, want lead %s failed with %q", i, f, ids[1+i], want)
		}
	}
	if got := s.count(t, `SELECT count(*) FROM leads WHERE id = ANY($1) AND org_id = $2`, ids[500:], from.id); got != 500 {
		t.Fatalf("%d of the second batch's 500 leads stayed in the sending org", got)
	}
	if got := s.count(t, `SELECT count(*) FROM timeline_events WHERE lead_id = ANY($1) AND kind = 'transferred'`, ids[500:]); got != 0 {
		t.Fatalf("%d leads moved after the change", got)
	}
	if got := s.count(t, `SELECT count(*) FROM leads WHERE id = $1 AND org_id = $2`, ids[0], firstAt.id); got != 1 {
		t.Fatal("the lead the first batch held is not where the change left it")
	}
	seen := s.do(t, "GET", "/v1/orgs/"+to.id+"/transfers/"+done.str("id"), to.ownerToken, nil)
	if _, shown := seen.body["failed"]; seen.status != 200 || shown || seen.body["failed_count"] != float64(999) ||
		seen.str("status") != "partial" || strings.Contains(seen.raw2(), "agent-owned") {
		t.Fatalf("the receiving org's view: %d %s", seen.status, seen.raw)
	}
}

// TestTransferStopsWhenUnlinked: the sending master's owner unlinks the
// sub-agency while a 1,000-lead transfer to it runs. The batch under way
// finishes first (the unlink waits for it); the next batch moves nothing,
// its leads fail "orgs no longer linked", and the transfer ends partial.
func TestTransferStopsWhenUnlinked(t *testing.T) {
	s := up(t)
	src := map[string]any{"name": "EverQuote", "routing": map[string]any{"mode": "owner"}}
	m := s.newTenant(t, "stop-unlink-m", 0, src)
	sub := s.newTenant(t, "stop-unlink-s", 2, nil)
	s.link(t, m, sub)
	ids, done := s.stopMidRun(t, m, sub, "staff_evenly", m.ownerToken, func() resp {
		return s.do(t, "DELETE", "/v1/orgs/"+m.id+"/sub-agencies/"+sub.id, m.ownerToken, nil)
	})
	s.assertStoppedMidRun(t, m, sub, sub, ids, done, "orgs no longer linked")
}

// TestTransferStopsWhenHandoverTurnedOff: a manager hands 1,000 leads over
// to the sub-agency; the master's owner turns handover_enabled off mid-way.
func TestTransferStopsWhenHandoverTurnedOff(t *testing.T) {
	s := up(t)
	src := map[string]any{"name": "EverQuote", "routing": map[string]any{"mode": "owner"}}
	m := s.newTenant(t, "stop-handover-m", 0, src)
	sub := s.newTenant(t, "stop-handover-s", 2, nil)
	s.link(t, m, sub)
	s.settings(t, m, true, false)
	_, manager := s.user(t, m, "manager")
	ids, done := s.stopMidRun(t, m, sub, "manager_review", manager, func() resp {
		return s.do(t, "PATCH", "/v1/orgs/"+m.id, m.ownerToken, map[string]any{"handover_enabled": false})
	})
	// The first batch's lead was waiting for the sub-agency's answer: turning
	// handover off withdrew that handover too, so the lead is back with m.
	s.assertStoppedMidRun(t, m, sub, m, ids, done, "handover turned off")
	if got := s.count(t, `SELECT count(*) FROM handovers WHERE lead_id = $1 AND status = 'withdrawn'`, ids[0]); got != 1 {
		t.Fatal("the first batch's pending handover was not withdrawn")
	}
}

// TestTransferStopsWhenCrossSiloTurnedOff: one sub-agency sends 1,000 leads
// to another; their master's owner turns cross_silo off mid-way.
func TestTransferStopsWhenCrossSiloTurnedOff(t *testing.T) {
	s := up(t)
	src := map[string]any{"name": "EverQuote", "routing": map[string]any{"mode": "owner"}}
	m := s.newTenant(t, "stop-silo-m", 0, nil)
	a := s.newTenant(t, "stop-silo-a", 0, src)
	b := s.newTenant(t, "stop-silo-b", 2, nil)
	s.link(t, m, a)
	s.link(t, m, b)
	s.settings(t, m, false, true)
	ids, done := s.stopMidRun(t, a, b, "owner", a.ownerToken, func() resp {
		return s.do(t, "PATCH", "/v1/orgs/"+m.id, m.ownerToken, map[string]any{"cross_silo": false})
	})
	s.assertStoppedMidRun(t, a, b, b, ids, done, "cross_silo turned off")
}

// TestTransferFailureReasonsOnlyForTheSender: the leads a transfer could not
// move are listed with their reasons to the sending org; the receiving org
// reads how many failed, not which or why (that an agent owns a lead, that
// it was returned, says how the sender works its leads).
func TestTransferFailureReasonsOnlyForTheSender(t *testing.T) {
	s := up(t)
	ctx := context.Background()
	src := map[string]any{"name": "EverQuote", "routing": map[string]any{"mode": "owner"}}
	m := s.newTenant(t, "reasons-m", 0, src)
	sub := s.newTenant(t, "reasons-s", 1, nil)
	s.link(t, m, sub)
	ids, err := bench.BulkLeads(ctx, s.deps.Pool, m.id, m.sourceID, "everquote", "reasons-", m.ownerID, 3)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.deps.Pool.Exec(ctx, `UPDATE leads SET owner_user_id = $2 WHERE id = $1`, ids[1], m.ownerID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.deps.Pool.Exec(ctx, `UPDATE leads SET status = 'returned', assigned_to = NULL WHERE id = $1`, ids[2]); err != nil {
		t.Fatal(err)
	}
	r := s.do(t, "POST", "/v1/orgs/"+m.id+"/transfers", m.ownerToken, map[string]any{"to_org": sub.id, "lead_ids": ids, "mode": "owner"})
	if r.status != 202 {
		t.Fatalf("transfer: %d %s", r.status, r.raw)
	}
	sent := s.waitTransfer(t, m.id, m.ownerToken, r.str("id"), time.Minute)
	failed, _ := sent.body["failed"].([]any)
	if sent.str("status") != "completed" || sent.body["failed_count"] != float64(2) || len(failed) != 2 ||
		!strings.Contains(sent.raw2(), "agent-owned") || !strings.Contains(sent.raw2(), "returned to its vendor") {
		t.Fatalf("the sender sees each failed lead and why: %s", sent.raw)
	}
	got := s.do(t, "GET", "/v1/orgs/"+sub.id+"/transfers/"+r.str("id"), sub.ownerToken, nil)
	if got.status != 200 || got.body["failed_count"] != float64(2) || got.body["transferred"] != float64(1) {
		t.Fatalf("the receiving org's view: %d %s", got.status, got.raw)
	}
	if _, shown := got.body["failed"]; shown || strings.Contains(got.raw2(), ids[1]) || strings.Contains(got.raw2(), ids[2]) ||
		strings.Contains(got.raw2(), "agent-owned") || strings.Contains(got.raw2(), "returned") {
		t.Fatalf("the receiving org must not learn which leads failed or why: %s", got.raw)
	}
}

// TestReconcilerRestartsAStalledTransferThroughTheLinkCheck: a transfer whose
// run moved its first batch and was then lost, and whose orgs were unlinked
// since, is restarted by the reconciler. The new run goes through the same
// check: the second batch's leads fail "orgs no longer linked", none moves,
// and the transfer ends partial.
func TestReconcilerRestartsAStalledTransferThroughTheLinkCheck(t *testing.T) {
	s := up(t)
	ctx := context.Background()
	src := map[string]any{"name": "EverQuote", "routing": map[string]any{"mode": "owner"}}
	m := s.newTenant(t, "stall-m", 0, src)
	sub := s.newTenant(t, "stall-s", 2, nil)
	s.link(t, m, sub)
	const n = workflows.TransferBatchSize + 100
	ids, err := bench.BulkLeads(ctx, s.deps.Pool, m.id, m.sourceID, "everquote", "stall-", m.ownerID, n)
	if err != nil {
		t.Fatal(err)
	}
	// Recorded as the API records it; its run moved the first batch and
	// was lost (nothing runs it now).
	id := domain.NewID()
	tr, _, err := s.store().CreateTransfer(ctx, store.NewTransfer{ID: id, OrgID: m.id, ToOrgID: sub.id, Mode: domain.TransferOwner,
		RequestedBy: m.ownerID, RequestHash: []byte(id), WorkflowID: workflows.TransferWorkflowID(id), LeadIDs: ids})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.store().MoveTransferBatch(ctx, store.TransferBatch{TransferID: tr.ID, Index: 0, Size: workflows.TransferBatchSize}); err != nil {
		t.Fatal(err)
	}
	if u := s.do(t, "DELETE", "/v1/orgs/"+m.id+"/sub-agencies/"+sub.id, m.ownerToken, nil); u.status != 200 {
		t.Fatalf("unlink: %d %s", u.status, u.raw)
	}
	if _, err := app.Reconcile(ctx, s.deps, 0); err != nil {
		t.Fatal(err)
	}
	done := s.waitTransfer(t, m.id, m.ownerToken, tr.ID, time.Minute)
	failed, _ := done.body["failed"].([]any)
	if done.str("status") != "partial" || done.body["transferred"] != float64(workflows.TransferBatchSize) || len(failed) != 100 {
		t.Fatalf("after the restart: %s", done.raw)
	}
	for i, f := range failed {
		f := f.(map[string]any)
		if f["lead_id"] != ids[workflows.TransferBatchSize+i] || !strings.Contains(f["error"].(string), "orgs no longer linked") {
			t.Fatalf("failed[%d] = %v", i, f)
		}
	}
	if got := s.count(t, `SELECT count(*) FROM leads WHERE id = ANY($1) AND org_id = $2`, ids[workflows.TransferBatchSize:], m.id); got != 100 {
		t.Fatalf("%d of the 100 leads left stayed in the sending org", got)
	}
}
