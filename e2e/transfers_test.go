package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/internal/bench"
	"github.com/leadrelay/leadrelay/workflows"
)

// user adds a user with role to tn and returns its id and token.
func (s *stack) user(t *testing.T, tn tenant, role string) (id, token string) {
	t.Helper()
	r := s.do(t, "POST", "/v1/orgs/"+tn.id+"/users", tn.ownerToken, map[string]any{
		"email": fmt.Sprintf("%s-%d@%s.example", role, time.Now().UnixNano(), tn.id[:8]), "name": "A " + role, "role": role})
	if r.status != 201 {
		t.Fatalf("create %s: %d %s", role, r.status, r.raw)
	}
	return r.str("id"), r.str("token")
}

// link makes sub a sub-agency of master directly (the invitation flow has
// its own tests).
func (s *stack) link(t *testing.T, master, sub tenant) {
	t.Helper()
	if err := s.store().LinkOrgs(context.Background(), master.id, sub.id); err != nil {
		t.Fatal(err)
	}
}

// settings sets a master's transfer settings.
func (s *stack) settings(t *testing.T, master tenant, handover, crossSilo bool) {
	t.Helper()
	if _, err := s.deps.Pool.Exec(context.Background(), `UPDATE orgs SET handover_enabled = $2, cross_silo = $3 WHERE id = $1`,
		master.id, handover, crossSilo); err != nil {
		t.Fatal(err)
	}
}

// waitTransfer polls GET …/transfers/{id} until it is done: completed, or
// partial.
func (s *stack) waitTransfer(t *testing.T, org, token, id string, limit time.Duration) resp {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		r := s.do(t, "GET", "/v1/orgs/"+org+"/transfers/"+id, token, nil)
		if r.status != 200 {
			t.Fatalf("transfer status: %d %s", r.status, r.raw)
		}
		if st := r.str("status"); st == "completed" || st == "partial" {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("transfer not completed after %s: %s", limit, r.raw)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (s *stack) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := s.deps.Pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestTenThousandLeadTransfer moves 10,000 leads from a master to a
// sub-agency in one request and checks what a user would: the progress,
// the failures with their reasons, every carry-over rule on a sample, the
// rotation's fairness, the feeds, the retention updates, and that no run's
// history came near Temporal's limits (read through the Temporal API).
func TestTenThousandLeadTransfer(t *testing.T) {
	s := up(t)
	ctx := context.Background()
	m := s.newTenant(t, "xfer-master", 0, map[string]any{"name": "EverQuote", "routing": map[string]any{"mode": "owner"}})
	sub := s.newTenant(t, "xfer-sub", 5, nil)
	s.link(t, m, sub)
	s.alertsOff(t, sub) // volume: 10,000 instant alerts are not what this test measures
	const n = 10_000
	ids, err := bench.BulkLeads(ctx, s.deps.Pool, m.id, m.sourceID, "everquote", "xfer-", m.ownerID, n)
	if err != nil {
		t.Fatal(err)
	}
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := s.deps.Pool.Exec(ctx, sql, args...); err != nil {
			t.Fatal(err)
		}
	}
	exec(`INSERT INTO lead_automations (lead_id, org_id, kind, name) SELECT id, $2, 'subscription', 'Newsletter' FROM unnest($1::uuid[]) id`, ids[:10], m.id)
	exec(`UPDATE leads SET kind = 'team_member' WHERE id = ANY($1)`, ids[10:15])
	exec(`UPDATE leads SET owner_user_id = $2 WHERE id = $1`, ids[15], m.ownerID)
	exec(`UPDATE leads SET notes = 'call after 5pm', rating = 'A' WHERE id = $1`, ids[0])

	body := map[string]any{"to_org": sub.id, "lead_ids": ids, "mode": "staff_evenly"}
	key := "xfer-" + m.id
	r := s.doWith(t, "POST", "/v1/orgs/"+m.id+"/transfers", m.ownerToken, map[string]string{"Idempotency-Key": key}, body)
	if r.status != 202 || r.str("workflow_id") != "transfer/"+r.str("id") {
		t.Fatalf("transfer: %d %s", r.status, r.raw)
	}
	again := s.doWith(t, "POST", "/v1/orgs/"+m.id+"/transfers", m.ownerToken, map[string]string{"Idempotency-Key": key}, body)
	if again.status != 200 || again.str("id") != r.str("id") || again.body["duplicate"] != true {
		t.Fatalf("the same request again must find the first transfer: %d %s", again.status, again.raw)
	}
	done := s.waitTransfer(t, m.id, m.ownerToken, r.str("id"), 5*time.Minute)
	failed := done.body["failed"].([]any)
	if done.body["total"] != float64(n) || done.body["transferred"] != float64(n-1) || len(failed) != 1 {
		t.Fatalf("status: %s", done.raw)
	}
	if f := failed[0].(map[string]any); f["lead_id"] != ids[15] || !strings.Contains(f["error"].(string), "agent-owned") {
		t.Fatalf("the failed lead and its reason: %v", f)
	}
	// the receiving org sees the transfer too; a stranger does not
	if g := s.do(t, "GET", "/v1/orgs/"+sub.id+"/transfers/"+r.str("id"), sub.ownerToken, nil); g.status != 200 {
		t.Fatalf("receiving org: %d", g.status)
	}
	if g := s.do(t, "GET", "/v1/orgs/"+m.id+"/transfers/"+r.str("id"), sub.ownerToken, nil); g.status != 404 {
		t.Fatalf("another org's path: %d", g.status)
	}

	wf := r.str("workflow_id")
	d, err := s.deps.Temporal.DescribeWorkflowExecution(ctx, wf, "")
	if err != nil {
		t.Fatal(err)
	}
	if h := d.WorkflowExecutionInfo.GetHistoryLength(); h > 5000 {
		t.Fatalf("the transfer's history has %d events; it must stay far below Temporal's limits", h)
	}
	q, err := s.deps.Temporal.QueryWorkflow(ctx, wf, "", workflows.QueryProgress)
	if err != nil {
		t.Fatal(err)
	}
	var p workflows.TransferProgress
	if err := q.Get(&p); err != nil || !p.Done || p.Transferred != n-1 || p.Failed != 1 {
		t.Fatalf("progress query: %+v %v", p, err)
	}

	// carry-over, on a sample
	l := s.do(t, "GET", "/v1/leads/"+ids[0], sub.ownerToken, nil)
	if l.status != 200 || l.str("org_id") != sub.id || l.str("status") != "new" || l.str("notes") != "call after 5pm" || l.str("rating") != "A" {
		t.Fatalf("moved lead: %d %s", l.status, l.raw)
	}
	if labels := fmt.Sprint(l.body["labels"]); labels != "[bulk]" {
		t.Errorf("labels: %s", labels)
	}
	var kinds []string
	for _, e := range l.body["timeline"].([]any) {
		kinds = append(kinds, e.(map[string]any)["kind"].(string))
	}
	if strings.Join(kinds, ",") != "received,routed,transferred" {
		t.Errorf("timeline: %v", kinds)
	}
	if s.count(t, `SELECT count(*) FROM lead_automations WHERE lead_id = ANY($1)`, ids[:10]) != 0 {
		t.Error("subscriptions must not travel")
	}
	if s.count(t, `SELECT count(*) FROM labels WHERE org_id = $1 AND name = 'bulk'`, sub.id) != 1 {
		t.Error("the label must be created in the receiving org")
	}
	if g := s.do(t, "GET", "/v1/leads/"+ids[0], m.ownerToken, nil); g.status != 404 {
		t.Errorf("the sender no longer sees the lead: %d", g.status)
	}
	if tm := s.do(t, "GET", "/v1/leads/"+ids[10], sub.ownerToken, nil); tm.str("status") != "onboarding" {
		t.Errorf("a team member arrives onboarding: %s", tm.raw)
	}
	per := map[string]int{}
	rows, err := s.deps.Pool.Query(ctx, `SELECT assigned_to::text, count(*) FROM leads WHERE id = ANY($1) GROUP BY 1`, ids)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var u string
		var c int
		if err := rows.Scan(&u, &c); err != nil {
			t.Fatal(err)
		}
		per[u] = c
	}
	lo, hi := n, 0
	for _, u := range sub.staff {
		lo, hi = min(lo, per[u]), max(hi, per[u])
	}
	if hi-lo > 1 || lo == 0 {
		t.Errorf("staff_evenly spread %v", per)
	}
	for _, c := range []struct{ org, kind string }{{m.id, "transfer_out"}, {sub.id, "transfer_in"}} {
		if got := s.count(t, `SELECT count(*) FROM feed_events WHERE org_id = $1 AND kind = $2`, c.org, c.kind); got != n-1 {
			t.Errorf("%s events in the feed: %d", c.kind, got)
		}
	}
	f := s.do(t, "GET", "/v1/orgs/"+sub.id+"/feed?limit=3", sub.ownerToken, nil)
	if f.status != 200 || len(f.body["events"].([]any)) != 3 || f.str("next_cursor") == "" {
		t.Fatalf("feed: %d %s", f.status, f.raw)
	}
	if s.count(t, `SELECT count(*) FROM lead_arrivals WHERE org_id = $1`, sub.id) != n-1-5 {
		t.Error("every moved lead but the team members counts for the receiving org's digest")
	}
	// 5 team members × the sub's active admins and staff (roles staff: 2 of 5)
	deadline := time.Now().Add(time.Minute)
	for s.count(t, `SELECT count(*) FROM email_deliveries WHERE kind = 'retention' AND org_id = $1 AND status = 'sent'`, sub.id) < 10 {
		if time.Now().After(deadline) {
			t.Fatal("retention updates not sent")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestRefusedTransfersMoveNothing: each direction the rules refuse, and bad
// input, is refused with its code and field, and nothing is recorded.
func TestRefusedTransfersMoveNothing(t *testing.T) {
	s := up(t)
	src := map[string]any{"name": "EverQuote", "routing": map[string]any{"mode": "owner"}}
	m := s.newTenant(t, "refuse-master", 0, src)
	a := s.newTenant(t, "refuse-a", 1, src)
	b := s.newTenant(t, "refuse-b", 1, nil)
	stranger := s.newTenant(t, "refuse-x", 1, nil)
	s.link(t, m, a)
	s.link(t, m, b)
	aLeads, err := bench.BulkLeads(context.Background(), s.deps.Pool, a.id, a.sourceID, "everquote", "refuse-", a.ownerID, 2)
	if err != nil {
		t.Fatal(err)
	}
	_, profToken := s.user(t, a, "professional")
	for _, c := range []struct {
		name, token string
		body        map[string]any
		status      int
		field       string
	}{
		{"sub to master by owner mode", a.ownerToken, map[string]any{"to_org": m.id, "lead_ids": aLeads, "mode": "owner"}, 422, "mode"},
		{"sibling without cross_silo", a.ownerToken, map[string]any{"to_org": b.id, "lead_ids": aLeads, "mode": "owner"}, 403, ""},
		{"unlinked org", a.ownerToken, map[string]any{"to_org": stranger.id, "lead_ids": aLeads, "mode": "owner"}, 403, ""},
		{"no such org", a.ownerToken, map[string]any{"to_org": "00000000-0000-4000-8000-000000000000", "lead_ids": aLeads, "mode": "owner"}, 403, ""},
		{"handover not enabled", profToken, map[string]any{"to_org": m.id, "lead_ids": aLeads, "mode": "manager_review"}, 403, ""},
		{"a professional outside handover", profToken, map[string]any{"to_org": b.id, "lead_ids": aLeads, "mode": "owner"}, 403, ""},
		{"bad lead id", a.ownerToken, map[string]any{"to_org": m.id, "lead_ids": []any{aLeads[0], "x"}, "mode": "manager_review"}, 422, "lead_ids[1]"},
		{"duplicate lead id", a.ownerToken, map[string]any{"to_org": m.id, "lead_ids": []any{aLeads[0], aLeads[0]}, "mode": "manager_review"}, 422, "lead_ids[1]"},
		{"no leads", a.ownerToken, map[string]any{"to_org": m.id, "lead_ids": []any{}, "mode": "manager_review"}, 422, "lead_ids"},
		{"bad mode", a.ownerToken, map[string]any{"to_org": m.id, "lead_ids": aLeads, "mode": "fast"}, 422, "mode"},
		{"lead ids of the wrong type", a.ownerToken, map[string]any{"to_org": m.id, "lead_ids": "all", "mode": "owner"}, 422, "lead_ids"},
		{"another org's member", stranger.ownerToken, map[string]any{"to_org": m.id, "lead_ids": aLeads, "mode": "owner"}, 404, ""},
	} {
		r := s.do(t, "POST", "/v1/orgs/"+a.id+"/transfers", c.token, c.body)
		if r.status != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, r.status, r.raw, c.status)
			continue
		}
		if c.field != "" {
			if fields, _ := r.body["error"].(map[string]any)["fields"].(map[string]any); fields[c.field] == nil {
				t.Errorf("%s: the error must name %s: %s", c.name, c.field, r.raw)
			}
		}
	}
	if got := s.count(t, `SELECT count(*) FROM transfers WHERE org_id = $1`, a.id); got != 0 {
		t.Fatalf("%d transfers recorded", got)
	}
	if got := s.count(t, `SELECT count(*) FROM leads WHERE id = ANY($1) AND org_id = $2`, aLeads, a.id); got != 2 {
		t.Fatal("a refused transfer moved leads")
	}
	// opened by the master's settings, the same sibling move goes through
	s.settings(t, m, true, true)
	r := s.do(t, "POST", "/v1/orgs/"+a.id+"/transfers", a.ownerToken, map[string]any{"to_org": b.id, "lead_ids": aLeads, "mode": "owner"})
	if r.status != 202 {
		t.Fatalf("cross_silo sibling transfer: %d %s", r.status, r.raw)
	}
	if done := s.waitTransfer(t, a.id, a.ownerToken, r.str("id"), time.Minute); done.body["transferred"] != float64(2) {
		t.Fatalf("%s", done.raw)
	}
}

// TestHandoverAcceptedAndRejectedInBothFeeds: a licensed user hands two
// leads over; the receiving org's manager accepts one and assigns it, and
// rejects the other, which goes back as it was. Both appear in both orgs'
// feeds; each review was a run an operator could see in the Web UI.
func TestHandoverAcceptedAndRejectedInBothFeeds(t *testing.T) {
	s := up(t)
	ctx := context.Background()
	src := map[string]any{"name": "EverQuote", "routing": map[string]any{"mode": "owner"}}
	m := s.newTenant(t, "ho-master", 0, src)
	sub := s.newTenant(t, "ho-sub", 2, nil)
	s.link(t, m, sub)
	s.settings(t, m, true, false)
	ids, err := bench.BulkLeads(ctx, s.deps.Pool, m.id, m.sourceID, "everquote", "ho-", m.ownerID, 2)
	if err != nil {
		t.Fatal(err)
	}
	_, sender := s.user(t, m, "manager")
	_, reviewer := s.user(t, sub, "manager")
	_, staffToken := s.user(t, sub, "staff")
	r := s.do(t, "POST", "/v1/orgs/"+m.id+"/transfers", sender, map[string]any{"to_org": sub.id, "lead_ids": ids, "mode": "manager_review"})
	if r.status != 202 {
		t.Fatalf("handover: %d %s", r.status, r.raw)
	}
	s.waitTransfer(t, m.id, sender, r.str("id"), time.Minute)
	for _, id := range ids {
		l := s.do(t, "GET", "/v1/leads/"+id, sub.ownerToken, nil)
		if l.str("location") != "pending" || l.body["assigned_to"] != nil {
			t.Fatalf("waiting in the pipeline: %s", l.raw)
		}
		wf := workflows.HandoverWorkflowID(id, r.str("id"))
		deadline := time.Now().Add(30 * time.Second)
		for {
			if _, err := s.deps.Temporal.DescribeWorkflowExecution(ctx, wf, ""); err == nil {
				break
			} else if time.Now().After(deadline) {
				t.Fatalf("no review run %s: %v", wf, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if x := s.do(t, "POST", "/v1/leads/"+ids[0]+"/handover/accept", staffToken, map[string]any{"assign_to": sub.staff[0]}); x.status != 403 {
		t.Fatalf("staff may not answer: %d %s", x.status, x.raw)
	}
	if x := s.do(t, "POST", "/v1/leads/"+ids[0]+"/handover/accept", m.ownerToken, map[string]any{"assign_to": sub.staff[0]}); x.status != 404 {
		t.Fatalf("the sender does not see the lead while it waits: %d %s", x.status, x.raw)
	}
	if x := s.do(t, "POST", "/v1/leads/"+ids[0]+"/handover/accept", reviewer, map[string]any{"assign_to": m.ownerID}); x.status != 422 {
		t.Fatalf("assignee outside the org: %d %s", x.status, x.raw)
	}
	if a := s.do(t, "POST", "/v1/leads/"+ids[0]+"/handover/accept", reviewer, map[string]any{"assign_to": sub.staff[0]}); a.status != 200 || a.str("status") != "accepted" {
		t.Fatalf("accept: %d %s", a.status, a.raw)
	}
	if a := s.do(t, "POST", "/v1/leads/"+ids[0]+"/handover/reject", reviewer, map[string]any{"reason": "late"}); a.status != 409 {
		t.Fatalf("a second answer: %d %s", a.status, a.raw)
	}
	if x := s.do(t, "POST", "/v1/leads/"+ids[1]+"/handover/reject", reviewer, map[string]any{"reason": ""}); x.status != 422 {
		t.Fatalf("a rejection needs a reason: %d %s", x.status, x.raw)
	}
	if x := s.do(t, "POST", "/v1/leads/"+ids[1]+"/handover/reject", reviewer, map[string]any{"reason": "outside our territory"}); x.status != 200 {
		t.Fatalf("reject: %d %s", x.status, x.raw)
	}
	acc := s.do(t, "GET", "/v1/leads/"+ids[0], sub.ownerToken, nil)
	if acc.body["assigned_to"] != sub.staff[0] || acc.body["location"] != nil {
		t.Fatalf("accepted lead: %s", acc.raw)
	}
	back := s.do(t, "GET", "/v1/leads/"+ids[1], m.ownerToken, nil)
	if back.status != 200 || back.body["assigned_to"] != m.ownerID || back.body["location"] != nil {
		t.Fatalf("rejected lead back as it was: %d %s", back.status, back.raw)
	}
	for _, tn := range []tenant{m, sub} {
		f := s.do(t, "GET", "/v1/orgs/"+tn.id+"/feed", tn.ownerToken, nil)
		var kinds []string
		for _, e := range f.body["events"].([]any) {
			kinds = append(kinds, e.(map[string]any)["kind"].(string))
		}
		all := strings.Join(kinds, ",")
		if !strings.Contains(all, "handover_accepted") || !strings.Contains(all, "handover_rejected") || !strings.Contains(f.raw2(), "outside our territory") {
			t.Errorf("%s's feed: %v", tn.id, kinds)
		}
	}
	for _, id := range ids {
		var res workflows.HandoverResult
		if err := s.deps.Temporal.GetWorkflow(ctx, workflows.HandoverWorkflowID(id, r.str("id")), "").Get(ctx, &res); err != nil {
			t.Fatal(err)
		}
	}
}
