package metrics_test

import (
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/internal/metrics"
)

// scrape answers what a Prometheus server would read from m's endpoint.
func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("scrape: %d %s", rec.Code, rec.Body)
	}
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

// Each instrument shows under its documented name and labels, with the
// counts given, and the SDK's metrics come out of the same registry with
// Prometheus names (counters _total, timers _seconds on second buckets).
func TestScrapeShowsOursAndTheSDKs(t *testing.T) {
	m, err := metrics.New()
	if err != nil {
		t.Fatal(err)
	}
	m.LeadReceived("new")
	m.LeadReceived("new")
	m.LeadReceived("duplicate")
	m.LeadRouted("staff_evenly", "assigned")
	m.LeadRouted("sub_agencies_evenly", "owner_fallback")
	m.SpeedToLead(30 * time.Millisecond)
	m.SpeedToLead(90 * time.Second)
	m.EmailSent("purchase")
	m.EmailRetried("purchase")
	m.EmailFailed("return", "refused")
	m.ReconcilePass(true, 3)
	m.ReconcilePass(false, 99) // a failed pass counted nothing: the gauge keeps 3
	m.Reconciled("lead", 2)
	m.Reconciled("transfer", 0)
	m.Invitation("accepted")
	m.TransferLeads(500, 2)
	m.TransferLeads(0, 0)
	m.Handover("rejected")
	m.Claimed()
	m.ClaimClosed("expired")
	m.SLAStep("escalated")
	m.Returned()
	m.HTTPRequest("POST /v1/leads", 202, 12*time.Millisecond)
	m.HTTPRequest("", 429, time.Millisecond)

	sdk := m.Temporal(func(err error) { t.Errorf("meter: %v", err) })
	sdk.WithTags(map[string]string{"operation": "StartWorkflowExecution"}).Counter("temporal_request").Inc(1)
	sdk.Timer("temporal_request_latency").Record(40 * time.Millisecond)
	sdk.Gauge("temporal_worker_task_slots_available").Update(200)

	out := scrape(t, m)
	for _, want := range []string{
		`leadrelay_leads_received_total{outcome="new"} 2`,
		`leadrelay_leads_received_total{outcome="duplicate"} 1`,
		`leadrelay_leads_routed_total{mode="staff_evenly",outcome="assigned"} 1`,
		`leadrelay_leads_routed_total{mode="sub_agencies_evenly",outcome="owner_fallback"} 1`,
		`leadrelay_speed_to_lead_seconds_bucket{le="0.05"} 1`,
		`leadrelay_speed_to_lead_seconds_bucket{le="60"} 1`,
		`leadrelay_speed_to_lead_seconds_bucket{le="120"} 2`,
		`leadrelay_speed_to_lead_seconds_count 2`,
		`leadrelay_emails_sent_total{kind="purchase"} 1`,
		`leadrelay_email_retries_total{kind="purchase"} 1`,
		`leadrelay_emails_failed_total{kind="return",reason="refused"} 1`,
		`leadrelay_unrouted_leads 3`,
		`leadrelay_reconcile_passes_total{result="ok"} 1`,
		`leadrelay_reconcile_passes_total{result="failed"} 1`,
		`leadrelay_reconciled_total{kind="lead"} 2`,
		`leadrelay_invitations_total{outcome="accepted"} 1`,
		`leadrelay_transfer_leads_total{result="moved"} 500`,
		`leadrelay_transfer_leads_total{result="failed"} 2`,
		`leadrelay_handovers_total{outcome="rejected"} 1`,
		`leadrelay_claims_total 1`,
		`leadrelay_claims_closed_total{outcome="expired"} 1`,
		`leadrelay_sla_steps_total{outcome="escalated"} 1`,
		`leadrelay_returns_total 1`,
		`leadrelay_http_requests_total{code="202",route="POST /v1/leads"} 1`,
		`leadrelay_http_requests_total{code="429",route="none"} 1`,
		`leadrelay_http_request_duration_seconds_count{route="POST /v1/leads"} 1`,
		`temporal_request_total{operation="StartWorkflowExecution"} 1`,
		`temporal_request_latency_seconds_bucket{le="0.05"} 1`,
		`temporal_request_latency_seconds_bucket{le="0.025"} 0`,
		`temporal_worker_task_slots_available 200`,
		`go_goroutines `,
		`process_resident_memory_bytes `,
	} {
		if !hasLine(out, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
	for _, never := range []string{`leadrelay_reconciled_total{kind="transfer"}`, "otel_scope", "target_info"} {
		if strings.Contains(out, never) {
			t.Errorf("scrape has %q", never)
		}
	}
	if t.Failed() {
		t.Log(out)
	}
	if err := m.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// Series appear with their first event: a process that never routes shows
// no routing series, and the backlog gauge is absent until a pass finished
// (an API process never runs one), rather than a 0 that reads as "healthy".
func TestSeriesAppearWithTheirFirstEvent(t *testing.T) {
	m, err := metrics.New()
	if err != nil {
		t.Fatal(err)
	}
	out := scrape(t, m)
	for _, absent := range []string{"leadrelay_leads_routed_total{", "leadrelay_unrouted_leads "} {
		if strings.Contains(out, absent) {
			t.Errorf("fresh registry shows %q", absent)
		}
	}
}

// hasLine: a line of the scrape is want, or starts with it when want ends
// in a space (a sample whose value varies).
func hasLine(out, want string) bool {
	for _, l := range strings.Split(out, "\n") {
		if l == want || (strings.HasSuffix(want, " ") && strings.HasPrefix(l, want)) {
			return true
		}
	}
	return false
}

// A nil *Metrics is "metrics off": every method does nothing and the
// handler serves an empty page.
func TestNilMetricsIsOff(t *testing.T) {
	var m *metrics.Metrics
	m.LeadReceived("new")
	m.LeadRouted("owner", "assigned")
	m.SpeedToLead(time.Second)
	m.EmailSent("purchase")
	m.EmailRetried("purchase")
	m.EmailFailed("purchase", "gave_up")
	m.ReconcilePass(true, 1)
	m.Reconciled("lead", 1)
	m.Invitation("created")
	m.TransferLeads(1, 1)
	m.Handover("accepted")
	m.Claimed()
	m.ClaimClosed("worked")
	m.Returned()
	m.HTTPRequest("GET /healthz", 200, time.Millisecond)
	m.Temporal(func(error) {}).Counter("x").Inc(1)
	if err := m.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if out := scrape(t, m); strings.Contains(out, "leadrelay_") {
		t.Fatalf("nil metrics served %q", out)
	}
}

// Two registries in one process (the e2e stack's extra API processes) do not
// collide: each is its own.
func TestRegistriesAreIndependent(t *testing.T) {
	a, err := metrics.New()
	if err != nil {
		t.Fatal(err)
	}
	b, err := metrics.New()
	if err != nil {
		t.Fatal(errors.Join(err, a.Close(t.Context())))
	}
	a.Returned()
	if !strings.Contains(scrape(t, a), "leadrelay_returns_total 1") {
		t.Fatal("a does not show its own count")
	}
	if strings.Contains(scrape(t, b), "leadrelay_returns_total 1") {
		t.Fatal("b shows a's count")
	}
}
