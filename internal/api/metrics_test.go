package api

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/leadrelay/leadrelay/internal/metrics"
)

// Lead posts are counted by what their answer says, every route by its
// pattern; GET /metrics needs no token, is never limited, and names no id.
func TestMetricsCountAnswersWithoutIDs(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true, map[string]string{"AUTH_FAILURE_RATE_LIMIT": "1/s,burst=1"})
	m, err := metrics.New()
	if err != nil {
		t.Fatal(err)
	}
	ts.s.Metrics = m
	ts.h = New(ts.s)
	org, key := tenant(t, ts.s, "Metrics")
	const vendor, stranger = "192.0.2.10:1000", "192.0.2.11:1000"

	first := ts.do(t, "POST", "/v1/leads", key, `{"external_id":"m-1","email":"ada@example.com"}`, vendor)
	if first.status != 202 {
		t.Fatalf("post: %d %s", first.status, first.body)
	}
	var lead struct {
		LeadID string `json:"lead_id"`
	}
	if err := json.Unmarshal([]byte(first.body), &lead); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		body, token, remote string
		status              int
	}{
		{`{"external_id":"m-1","email":"ada@example.com"}`, key, vendor, 200}, // duplicate
		{`{"external_id":"m-2"}`, key, vendor, 422},                           // no email or phone
		{`{"external_id":"m-3","email":"ada@example.com"}`, "", stranger, 401},
		{`{"external_id":"m-3","email":"ada@example.com"}`, "", stranger, 429}, // limited before any route
	} {
		if r := ts.do(t, "POST", "/v1/leads", c.token, c.body, c.remote); r.status != c.status {
			t.Fatalf("post %s: %d %s, want %d", c.body, r.status, r.body, c.status)
		}
	}
	page := ts.do(t, "GET", "/metrics", "", "", stranger) // the limited address: scrapes still pass
	if page.status != 200 || !strings.HasPrefix(page.header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %d %s %s", page.status, page.header.Get("Content-Type"), page.body)
	}
	for _, want := range []string{
		`leadrelay_leads_received_total{outcome="new"} 1`,
		`leadrelay_leads_received_total{outcome="duplicate"} 1`,
		`leadrelay_leads_received_total{outcome="refused"} 2`,
		`leadrelay_http_requests_total{code="202",route="POST /v1/leads"} 1`,
		`leadrelay_http_requests_total{code="422",route="POST /v1/leads"} 1`,
		`leadrelay_http_requests_total{code="429",route="none"} 1`,
	} {
		if !strings.Contains(page.body, want+"\n") {
			t.Errorf("scrape lacks %q", want)
		}
	}
	for _, id := range []string{org, lead.LeadID, key, "m-1"} {
		if strings.Contains(page.body, id) {
			t.Errorf("scrape names %q", id)
		}
	}
	if t.Failed() {
		t.Log(page.body)
	}
}

// Without metrics (a Server built bare, as most tests do) /metrics is an
// empty page and nothing breaks.
func TestMetricsOffServesAnEmptyPage(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, false, nil)
	if r := ts.do(t, "GET", "/metrics", "", "", ""); r.status != 200 || strings.Contains(r.body, "leadrelay_") {
		t.Fatalf("%d %q", r.status, r.body)
	}
}

// The routes whose answers are counted as events exist under exactly those
// patterns: a renamed route would silently stop its count.
func TestAnswerEventsNameRegisteredRoutes(t *testing.T) {
	t.Parallel()
	registered := map[string]bool{}
	for _, r := range (&Server{}).routes() {
		registered[r.method+" "+r.pattern] = true
	}
	for pattern := range answerEvents {
		if !registered[pattern] {
			t.Errorf("%s is counted but no route has that pattern", pattern)
		}
	}
}
