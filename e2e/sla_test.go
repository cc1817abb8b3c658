package e2e

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/workflows"
)

// slaKinds is the SLA steps and the worked event of a lead's timeline, in
// order, with whom each escalation went to.
func slaSteps(r resp) (kinds []string, to []string) {
	tl, _ := r.body["timeline"].([]any)
	for _, e := range tl {
		ev, _ := e.(map[string]any)
		k, _ := ev["kind"].(string)
		switch k {
		case "sla_breached", "worked":
			kinds = append(kinds, k)
		case "sla_escalated":
			kinds = append(kinds, k)
			data, _ := ev["data"].(map[string]any)
			to = append(to, fmt.Sprint(data["to"]))
		}
	}
	return kinds, to
}

// waitSLA waits for the lead's SLA run to end and returns its result.
func (s *stack) waitSLA(t *testing.T, leadID string) (workflows.SLAResult, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var id int64
	for id == 0 {
		_ = s.deps.Pool.QueryRow(ctx, `SELECT id FROM lead_slas WHERE lead_id = $1 AND started_at IS NOT NULL`, leadID).Scan(&id)
		if ctx.Err() != nil {
			t.Fatalf("the SLA of lead %s never started", leadID)
		}
		time.Sleep(100 * time.Millisecond)
	}
	wfID := workflows.SLAWorkflowID(leadID, id)
	var res workflows.SLAResult
	if err := s.deps.Temporal.GetWorkflow(ctx, wfID, "").Get(ctx, &res); err != nil {
		t.Fatalf("SLA run %s: %v", wfID, err)
	}
	return res, wfID
}

// TestSLAEscalatesTwiceThenTheLeadIsWorked: a source whose SLA is 4
// seconds, two escalations, then the owner. One lead nobody works goes to
// two more reps, each alerted, then to the owner; another is worked by the
// second rep it reaches, which ends its SLA run at once. The timeline says
// each step; the runs replay and hold no one's name or address.
func TestSLAEscalatesTwiceThenTheLeadIsWorked(t *testing.T) {
	s := up(t)
	tn := s.newTenant(t, "sla", 0, map[string]any{"name": "Rotation", "routing": map[string]any{"mode": "staff_evenly"},
		"sla": map[string]any{"within": "4s", "max_escalations": 2, "fallback": "owner"}})
	workerMetrics := "http://" + s.deps.Cfg.MetricsAddr + "/metrics"
	before, _ := scrapeMetrics(t, workerMetrics)
	reps := map[string]claimRep{}
	var names []string
	for _, n := range []string{"Sam Slow", "Rita Ready", "Tom Third"} {
		r := s.claimRep(t, tn, n)
		reps[r.id] = r
		names = append(names, r.name, r.email)
	}
	ids := s.postRouted(t, tn, "sla", 2)
	ignored, worked := ids[0], ids[1]

	// The second lead: worked by whoever has it after the first escalation.
	deadline := time.Now().Add(time.Minute)
	for {
		st := s.leadState(t, tn.ownerToken, worked)
		if st.last != nil && st.last["kind"] == "sla_escalated" {
			if r := s.do(t, "POST", "/v1/leads/"+worked+"/worked", reps[st.assigned].token, nil); r.status != 200 {
				t.Fatalf("the second rep marks the lead worked: %d %s", r.status, r.raw)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("lead %s never escalated: %+v", worked, st)
		}
		time.Sleep(100 * time.Millisecond)
	}
	res, workedRun := s.waitSLA(t, worked)
	if res.Status != "stopped" || res.Outcome != "worked" || res.Escalations != 1 {
		t.Fatalf("the worked lead's SLA run: %+v", res)
	}
	r := s.do(t, "GET", "/v1/leads/"+worked, tn.ownerToken, nil)
	if kinds, _ := slaSteps(r); !slices.Equal(kinds, []string{"sla_breached", "sla_escalated", "worked"}) {
		t.Fatalf("the worked lead's timeline: %v", kinds)
	}

	res, ignoredRun := s.waitSLA(t, ignored)
	if res.Status != "done" || res.Outcome != "owner" || res.Escalations != 2 {
		t.Fatalf("the ignored lead's SLA run: %+v", res)
	}
	r = s.do(t, "GET", "/v1/leads/"+ignored, tn.ownerToken, nil)
	kinds, to := slaSteps(r)
	want := []string{"sla_breached", "sla_escalated", "sla_breached", "sla_escalated", "sla_breached", "sla_escalated"}
	if !slices.Equal(kinds, want) || len(to) != 3 || to[2] != tn.ownerID || r.str("assigned_to") != tn.ownerID {
		t.Fatalf("the ignored lead: timeline %v to %v, assigned to %s", kinds, to, r.str("assigned_to"))
	}
	first := r.body["timeline"].([]any)[1].(map[string]any)["data"].(map[string]any)["assigned_to"]
	tried := []string{fmt.Sprint(first), to[0], to[1]}
	slices.Sort(tried)
	if tried = slices.Compact(tried); len(tried) != 3 || reps[to[0]].id == "" || reps[to[1]].id == "" {
		t.Fatalf("the escalations went to %v after %v: want the two other reps", to, first)
	}
	// The worker counted the three escalations and the one fallback (at
	// least: the package's other tests share the worker).
	after, _ := scrapeMetrics(t, workerMetrics)
	if d := delta(before, after, `leadrelay_sla_steps_total{outcome="escalated"}`); d < 3 {
		t.Errorf("leadrelay_sla_steps_total{outcome=\"escalated\"} rose by %v, want at least 3", d)
	}
	if d := delta(before, after, `leadrelay_sla_steps_total{outcome="fallback"}`); d < 1 {
		t.Errorf("leadrelay_sla_steps_total{outcome=\"fallback\"} rose by %v, want at least 1", d)
	}
	// Each escalation alerted its new assignee.
	for _, id := range to[:2] {
		s.waitAlerts(t, reps[id].email, 1) // fails the test if none comes
	}
	checkHistories(t, s, map[string]string{"sla_worked_history.json": workedRun, "sla_fallback_history.json": ignoredRun},
		append(names, "Ada", "Lovelace"))
}
