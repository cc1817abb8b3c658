package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/workflows"
)

// alertsOff turns instant alerts off for every current user of the orgs:
// for tests whose point is volume (a 10,000-lead transfer), where an alert
// per moved lead would be thousands of runs beside the ones measured.
func (s *stack) alertsOff(t *testing.T, orgs ...tenant) {
	t.Helper()
	for _, tn := range orgs {
		if _, err := s.deps.Pool.Exec(context.Background(), `UPDATE users SET instant_alerts = false WHERE org_id = $1`, tn.id); err != nil {
			t.Fatal(err)
		}
	}
}

// alertSubject starts the subject of every instant alert.
const alertSubject = "Lead assigned to you: "

// alertsTo is the instant alerts the sink holds for addr.
func (s *stack) alertsTo(addr string) []string {
	var out []string
	for _, m := range s.sink.Messages() {
		if len(m.To) == 1 && m.To[0] == addr && strings.HasPrefix(m.Key, "alert:") && strings.HasPrefix(m.Subject, alertSubject) {
			out = append(out, m.Text)
		}
	}
	return out
}

// waitAlerts waits until addr has n alerts, then a moment more so a
// duplicate would show, and returns their texts.
func (s *stack) waitAlerts(t *testing.T, addr string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for len(s.alertsTo(addr)) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%s has %d alerts, want %d", addr, len(s.alertsTo(addr)), n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	return s.alertsTo(addr)
}

// TestInstantAlertsEndToEnd: a lead routed by rotation and a lead claimed
// from the queue each email their assignee one alert with the lead's link
// in the console, sent by an alert run under alert/<lead>/<alert id>; a rep
// who turned instant alerts off gets a lead and no email.
func TestInstantAlertsEndToEnd(t *testing.T) {
	s := up(t)
	ctx := context.Background()
	routed := s.newTenant(t, "alerts-routed", 0, map[string]any{"name": "Rotation", "routing": map[string]any{"mode": "staff_evenly"}})
	rep, quiet := s.claimRep(t, routed, "Ana Alerted"), s.claimRep(t, routed, "Quinn Quiet")
	if _, err := s.deps.Pool.Exec(ctx, `UPDATE users SET instant_alerts = false WHERE id = $1`, quiet.id); err != nil {
		t.Fatal(err)
	}
	ids := s.postRouted(t, routed, "alert", 2)

	queued := s.newTenant(t, "alerts-claimed", 0, claimQueueSource)
	claimer := s.claimRep(t, queued, "Cleo Claimer")
	s.queueClaimLeads(t, queued, fmt.Sprintf("alert-q-%d-", time.Now().UnixNano()), 1)
	c := s.do(t, "POST", "/v1/orgs/"+queued.id+"/queue/claim", claimer.token, nil)
	if c.status != 200 {
		t.Fatalf("claim: %d %s", c.status, c.raw)
	}
	claimed := c.str("id")

	got := s.waitAlerts(t, rep.email, 1)
	repLead := ids[0]
	if !strings.Contains(got[0], "/app/leads/"+repLead) {
		repLead = ids[1]
	}
	if len(got) != 1 || !strings.Contains(got[0], s.api.URL+"/app/leads/"+repLead) || !strings.Contains(got[0], "Source:   Rotation") {
		t.Fatalf("the routed rep's alerts: %q", got)
	}
	if got := s.waitAlerts(t, claimer.email, 1); len(got) != 1 || !strings.Contains(got[0], "/app/leads/"+claimed) ||
		!strings.Contains(got[0], "Priority: high") {
		t.Fatalf("the claimer's alerts: %q", got)
	}
	if got := s.alertsTo(quiet.email); len(got) != 0 {
		t.Fatalf("a rep with alerts off got %q", got)
	}
	quietLead := ids[0]
	if quietLead == repLead {
		quietLead = ids[1]
	}
	if st := s.leadState(t, routed.ownerToken, quietLead); st.assigned != quiet.id {
		t.Fatalf("the quiet rep's lead is assigned to %q, want %s", st.assigned, quiet.id)
	}
	recorded := map[string]string{}
	for name, lead := range map[string]string{"alert_history.json": repLead, "alert_claimed_history.json": claimed} {
		as, err := s.store().AlertsFor(ctx, lead)
		if err != nil || len(as) != 1 {
			t.Fatalf("lead %s alerts %v %v", lead, as, err)
		}
		recorded[name] = workflows.AlertWorkflowID(lead, as[0].ID)
	}
	// The runs carry ids only: no one's name or address, nor the lead's.
	checkHistories(t, s, recorded, []string{rep.email, rep.name, claimer.email, claimer.name, "Ada", "Lovelace"})
	if as, err := s.store().AlertsFor(ctx, quietLead); err != nil || len(as) != 0 {
		t.Fatalf("the quiet rep's lead recorded alerts %v %v", as, err)
	}
}
