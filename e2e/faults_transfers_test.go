package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/internal/bench"
)

// TestWorkerKilledMidTransfer: the only worker is SIGKILLed while a
// 10,000-lead transfer is under way (a batch committed, more to go) and a
// new one starts, as a supervisor would. Every lead is moved exactly once —
// one transfer event on its timeline, one event in each feed — and no
// retention update is sent twice.
func TestWorkerKilledMidTransfer(t *testing.T) {
	r := newRig(t, 1, 1)
	s := r.apis[0]
	ctx := context.Background()
	m := s.newTenant(t, "kill-master", 0, map[string]any{"name": "EverQuote", "routing": map[string]any{"mode": "owner"}})
	sub := s.newTenant(t, "kill-sub", 4, nil) // staff, professional, manager, staff: two retention recipients
	s.link(t, m, sub)
	s.alertsOff(t, sub) // volume: 10,000 instant alerts are not what this test checks
	const n, members = 10_000, 20
	ids, err := bench.BulkLeads(ctx, s.deps.Pool, m.id, m.sourceID, "everquote", "kill-", m.ownerID, n)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.deps.Pool.Exec(ctx, `UPDATE leads SET kind = 'team_member' WHERE id = ANY($1)`, ids[n-members:]); err != nil {
		t.Fatal(err)
	}
	tr := s.do(t, "POST", "/v1/orgs/"+m.id+"/transfers", m.ownerToken, map[string]any{"to_org": sub.id, "lead_ids": ids, "mode": "staff_evenly"})
	if tr.status != 202 {
		t.Fatalf("transfer: %d %s", tr.status, tr.raw)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		moved := s.count(t, `SELECT count(*) FROM transfer_items WHERE transfer_id = $1 AND status = 'moved'`, tr.str("id"))
		if moved >= n {
			t.Fatal("the transfer finished before the worker could be killed mid-way")
		}
		if moved > 0 {
			t.Logf("killing the worker with %d of %d leads moved", moved, n)
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no batch moved in 2 minutes")
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.killWorker(t)
	done := s.waitTransfer(t, m.id, m.ownerToken, tr.str("id"), 4*time.Minute)
	if done.body["transferred"] != float64(n) || len(done.body["failed"].([]any)) != 0 {
		t.Fatalf("after the kill: %s", done.raw)
	}
	if got := s.count(t, `SELECT count(*) FROM leads WHERE id = ANY($1) AND org_id = $2`, ids, sub.id); got != n {
		t.Fatalf("%d of %d leads in the receiving org", got, n)
	}
	if got := s.count(t, `SELECT count(*) FROM (SELECT lead_id FROM timeline_events WHERE lead_id = ANY($1) AND kind = 'transferred'
		GROUP BY lead_id HAVING count(*) = 1) x`, ids); got != n {
		t.Fatalf("%d of %d leads have exactly one transfer event", got, n)
	}
	if got := s.count(t, `SELECT count(*) FROM feed_events WHERE transfer_id = $1`, tr.str("id")); got != 2*n {
		t.Fatalf("%d feed events, want %d", got, 2*n)
	}
	want := members * 2
	deadline = time.Now().Add(time.Minute)
	for s.count(t, `SELECT count(*) FROM email_deliveries WHERE kind = 'retention' AND org_id = $1 AND status = 'sent'`, sub.id) < want {
		if time.Now().After(deadline) {
			t.Fatal("retention updates not all sent")
		}
		time.Sleep(200 * time.Millisecond)
	}
	seen := map[string]int{}
	for _, msg := range r.sink.Messages() {
		seen[msg.MessageID]++
	}
	retention := 0
	for _, msg := range r.sink.Messages() {
		if seen[msg.MessageID] > 1 {
			t.Fatalf("email %s sent %d times", msg.MessageID, seen[msg.MessageID])
		}
		if len(msg.Subject) > 17 && msg.Subject[:17] == "Retention update:" {
			retention++
		}
	}
	if retention != want {
		t.Fatalf("%d retention updates delivered, want %d", retention, want)
	}
}
