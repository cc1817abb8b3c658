package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/leadrelay/leadrelay/internal/app"
	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/workflows"
)

// claimQueueSource is a queue-routed source without delay.
var claimQueueSource = map[string]any{"name": "Queue", "routing": map[string]any{"mode": "queue"}, "priority": "high"}

// claimRep is a user made for the claims tests, with what a history must never show.
type claimRep struct{ id, token, name, email string }

func (s *stack) claimRep(t *testing.T, tn tenant, name string) claimRep {
	t.Helper()
	email := fmt.Sprintf("%s-%d@%s.example", strings.ToLower(strings.ReplaceAll(name, " ", ".")), time.Now().UnixNano(), tn.id[:8])
	r := s.do(t, "POST", "/v1/orgs/"+tn.id+"/users", tn.ownerToken, map[string]any{"email": email, "name": name, "role": "staff"})
	if r.status != 201 {
		t.Fatalf("create %s: %d %s", name, r.status, r.raw)
	}
	return claimRep{r.str("id"), r.str("token"), name, email}
}

// queueClaimLeads posts n leads to tn's queue source, concurrently, and waits
// until all are routed.
func (s *stack) queueClaimLeads(t *testing.T, tn tenant, prefix string, n int) {
	t.Helper()
	var wg sync.WaitGroup
	failed := make(chan string, n)
	for i := range n {
		wg.Go(func() {
			if status, body := postAsync(s.api.URL+"/v1/leads", tn.vendorKey, lead(fmt.Sprint(prefix, i))); status != 202 {
				failed <- fmt.Sprintf("post %d: %d %s", i, status, body)
			}
		})
	}
	wg.Wait()
	close(failed)
	for f := range failed {
		t.Fatal(f)
	}
	s.waitRouted(t, tn.sourceID, n)
}

// postAsync is a POST that goroutines may make: no *testing.T.
func postAsync(url, token string, body any) (int, map[string]any) {
	var rdr io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rdr = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest("POST", url, rdr)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, map[string]any{"error": err.Error()}
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return res.StatusCode, out
}

// claimTimeline is the kinds of a lead answer's timeline events, in order.
func claimTimeline(r resp) []string {
	var out []string
	for _, e := range r.body["timeline"].([]any) {
		out = append(out, e.(map[string]any)["kind"].(string))
	}
	return out
}

// TestQueueClaimsEndToEnd, over the API with the worker running:
//   - in an org with a one-minute claim window, a rep claims a lead and
//     never works it, another claims one and works it, a third releases one
//     and then claims it again and marks it invalid; each claim is a run an
//     operator finds in Temporal;
//   - meanwhile 20 reps of another org claim concurrently from 100 queued
//     leads until the queue is empty: 100 distinct claims, none twice;
//   - a minute later the unworked lead is back in the queue, said on its
//     timeline, and the worked one is still its rep's; the claim runs'
//     fresh histories replay and hold no lead data, name, address or token.
func TestQueueClaimsEndToEnd(t *testing.T) {
	s := up(t)
	ctx := context.Background()
	win := s.newTenant(t, "claims-window", 0, claimQueueSource)
	if r := s.do(t, "PATCH", "/v1/orgs/"+win.id, win.ownerToken, map[string]any{"claim_window": "1m"}); r.status != 200 || r.str("claim_window") != "1m0s" {
		t.Fatalf("claim window: %d %s", r.status, r.raw)
	}
	idle, busy, quitter := s.claimRep(t, win, "Ivy Idle"), s.claimRep(t, win, "Bea Busy"), s.claimRep(t, win, "Quinn Quits")
	s.queueClaimLeads(t, win, "win-", 3)
	claimPath := "/v1/orgs/" + win.id + "/queue/claim"
	claim := func(r claimRep) resp {
		t.Helper()
		c := s.do(t, "POST", claimPath, r.token, nil)
		if c.status != 200 || c.body["assigned_to"] != r.id || c.body["location"] != nil {
			t.Fatalf("claim by %s: %d %s", r.name, c.status, c.raw)
		}
		return c
	}
	claimWF := func(c resp) string { return c.body["claim"].(map[string]any)["workflow_id"].(string) }

	expiring := claim(idle)
	worked := claim(busy)
	if w := s.do(t, "POST", "/v1/leads/"+worked.str("id")+"/worked", busy.token, nil); w.status != 200 {
		t.Fatalf("worked: %d %s", w.status, w.raw)
	}
	released := claim(quitter)
	if r := s.do(t, "POST", "/v1/leads/"+released.str("id")+"/release", idle.token, nil); r.status != 403 {
		t.Fatalf("release by someone else: %d %s", r.status, r.raw)
	}
	if r := s.do(t, "POST", "/v1/leads/"+released.str("id")+"/release", quitter.token, nil); r.status != 200 || r.body["location"] != "queue" {
		t.Fatalf("release: %d %s", r.status, r.raw)
	}
	again := claim(quitter)
	if again.str("id") != released.str("id") || claimWF(again) != workflows.ClaimWorkflowID(released.str("id"), 2) {
		t.Fatalf("the released lead, claimed again, is a second claim: %s", again.raw)
	}
	const reason = "Caller swore at Rita and hung up"
	inv := s.do(t, "POST", "/v1/leads/"+again.str("id")+"/invalid", quitter.token, map[string]any{"reason": reason})
	if inv.status != 200 || inv.str("status") != "invalid" || inv.body["assigned_to"] != nil {
		t.Fatalf("invalid: %d %s", inv.status, inv.raw)
	}
	if k := strings.Join(claimTimeline(inv), ","); k != "received,routed,claimed,released,claimed,invalid" {
		t.Fatalf("timeline of the released and invalidated lead: %s", k)
	}
	if tl := inv.raw2(); !strings.Contains(tl, "released back to the queue by Quinn Quits") || !strings.Contains(tl, "marked invalid by Quinn Quits: "+reason) {
		t.Fatalf("timeline messages: %s", tl)
	}
	if e := s.do(t, "POST", claimPath, idle.token, nil); e.status != 204 {
		t.Fatalf("nothing left to claim: %d %s", e.status, e.raw)
	}
	// every claim is a run, found by its ID and by the lead's search
	// attribute; the API starts it just after answering the claim
	for _, c := range []resp{expiring, worked, released, again} {
		s.waitRunning(t, claimWF(c))
	}
	s.findClaimRuns(t, fmt.Sprintf("LeadID = '%s' AND LeadStatus = 'claimed'", expiring.str("id")), 1)

	s.raceClaims(t)

	// the window passes
	var res workflows.ClaimResult
	if err := s.deps.Temporal.GetWorkflow(ctx, claimWF(expiring), "").Get(ctx, &res); err != nil || res.Outcome != domain.ClaimExpired {
		t.Fatalf("expiring claim's run: %+v %v", res, err)
	}
	back := s.do(t, "GET", "/v1/leads/"+expiring.str("id"), win.ownerToken, nil)
	if back.body["location"] != "queue" || back.body["assigned_to"] != nil || !strings.Contains(back.raw2(), "not worked within 1m: back in the queue (claimed by Ivy Idle)") {
		t.Fatalf("unworked lead after the window: %s", back.raw)
	}
	if w := s.do(t, "POST", "/v1/leads/"+expiring.str("id")+"/worked", idle.token, nil); w.status != 409 {
		t.Fatalf("worked after the window: %d %s", w.status, w.raw)
	}
	if err := s.deps.Temporal.GetWorkflow(ctx, claimWF(worked), "").Get(ctx, &res); err != nil || res.Outcome != domain.ClaimWorked {
		t.Fatalf("worked claim's run: %+v %v", res, err)
	}
	kept := s.do(t, "GET", "/v1/leads/"+worked.str("id"), win.ownerToken, nil)
	if kept.body["assigned_to"] != busy.id || strings.Contains(kept.raw2(), "claim_expired") {
		t.Fatalf("worked lead after the window: %s", kept.raw)
	}
	if reclaimed := claim(busy); reclaimed.str("id") != expiring.str("id") {
		t.Fatalf("the expired lead is claimable again: %s", reclaimed.raw)
	}
	secrets := []string{"Ada", "Lovelace", "ada@example.com", "312 555 0100", "3125550100", reason, s.admin, win.ownerToken,
		win.vendorKey, ownerEmail(t, s, win)}
	for _, r := range []claimRep{idle, busy, quitter} {
		secrets = append(secrets, r.name, r.email, r.token)
	}
	checkHistories(t, s, map[string]string{"claim_expired_history.json": claimWF(expiring), "claim_worked_history.json": claimWF(worked),
		"claim_released_history.json": claimWF(released), "claim_invalid_history.json": claimWF(again)}, secrets)
}

// raceClaims: 20 reps claim concurrently over the API from 100 queued
// leads, each until the queue answers 204: every lead claimed exactly once,
// each by the rep it was answered to.
func (s *stack) raceClaims(t *testing.T) {
	t.Helper()
	race := s.newTenant(t, "claims-race", 0, claimQueueSource)
	var reps []claimRep
	for i := range 20 {
		reps = append(reps, s.claimRep(t, race, fmt.Sprint("Racer ", i)))
	}
	const n = 100
	s.queueClaimLeads(t, race, "race-", n)
	var mu sync.Mutex
	byLead := map[string]string{}
	var problems []string
	var wg sync.WaitGroup
	for _, r := range reps {
		wg.Go(func() {
			for {
				status, body := postAsync(s.api.URL+"/v1/orgs/"+race.id+"/queue/claim", r.token, nil)
				mu.Lock()
				id, _ := body["id"].(string)
				switch {
				case status == 204:
				case status != 200 || body["assigned_to"] != r.id:
					problems = append(problems, fmt.Sprintf("%s: %d %v", r.name, status, body))
				case byLead[id] != "":
					problems = append(problems, fmt.Sprintf("lead %s claimed by %s and %s", id, byLead[id], r.id))
				default:
					byLead[id] = r.id
				}
				mu.Unlock()
				if status != 200 {
					return
				}
			}
		})
	}
	wg.Wait()
	if len(problems) > 0 {
		t.Fatalf("concurrent claims: %v", problems)
	}
	if len(byLead) != n {
		t.Fatalf("%d distinct leads claimed, want %d", len(byLead), n)
	}
	if got := s.count(t, `SELECT count(*) FROM lead_claims WHERE org_id = $1`, race.id); got != n {
		t.Fatalf("%d claims recorded, want %d", got, n)
	}
	if got := s.count(t, `SELECT count(*) FROM leads WHERE org_id = $1 AND (location IS NOT NULL OR assigned_to IS NULL)`, race.id); got != 0 {
		t.Fatalf("%d leads not claimed", got)
	}
}

// findClaimRuns waits until query finds want runs in Temporal's visibility store.
func (s *stack) findClaimRuns(t *testing.T, query string, want int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		l, err := s.deps.Temporal.WorkflowService().ListWorkflowExecutions(context.Background(),
			&workflowservice.ListWorkflowExecutionsRequest{Namespace: "default", Query: query})
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Executions) == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d runs found by %s, want %d", len(l.Executions), query, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestReconcilerStartsAMissingClaimRun: a claim recorded without its run
// (Temporal refused the API's start) gets it from the reconciler.
func TestReconcilerStartsAMissingClaimRun(t *testing.T) {
	s := up(t)
	ctx := context.Background()
	tn := s.newTenant(t, "claims-reconcile", 0, claimQueueSource)
	r := s.claimRep(t, tn, "Otto Orphan")
	s.queueClaimLeads(t, tn, "orphan-", 1)
	c, ok, err := s.store().ClaimNext(ctx, tn.id, r.id) // as the API does, but without the start
	if err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	wf := workflows.ClaimWorkflowID(c.LeadID, c.Seq)
	if _, err := s.deps.Temporal.DescribeWorkflowExecution(ctx, wf, ""); err == nil {
		t.Fatal("the claim's run exists before the reconciler ran")
	}
	pass, err := app.Reconcile(ctx, s.deps, 0)
	if err != nil || pass.Claims < 1 {
		t.Fatalf("reconcile: %+v %v", pass, err)
	}
	if _, err := s.deps.Temporal.DescribeWorkflowExecution(ctx, wf, ""); err != nil {
		t.Fatalf("the reconciler started no run %s: %v", wf, err)
	}
	if got := s.count(t, `SELECT count(*) FROM lead_claims WHERE lead_id = $1 AND run_started_at IS NOT NULL`, c.LeadID); got != 1 {
		t.Fatal("the started run is recorded")
	}
	again, err := app.Reconcile(ctx, s.deps, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.count(t, `SELECT count(*) FROM lead_claims WHERE lead_id = $1 AND status = 'open'`, c.LeadID); got != 1 || again.Failed != 0 {
		t.Fatalf("a second pass: %+v", again)
	}
}
