package e2e

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// samples is one scrape: "name{labels}" → value.
type samples map[string]float64

// scrapeMetrics reads a Prometheus text page the way a scraper would.
func scrapeMetrics(t *testing.T, url string) (samples, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET %s: %d %s", url, res.StatusCode, res.Header.Get("Content-Type"))
	}
	out := samples{}
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		// A label value may hold a space (route="POST /v1/leads"): the
		// value is after the last one.
		i := strings.LastIndex(line, " ")
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("GET %s: unreadable line %q", url, line)
		}
		out[line[:i]] = v
	}
	return out, string(b)
}

// ours is the leadrelay_ counters that say what the product did, without the
// HTTP ones (every scrape of the API's page is itself a request).
func (s samples) ours() string {
	var keys []string
	for k, v := range s {
		if strings.HasPrefix(k, "leadrelay_") && !strings.HasPrefix(k, "leadrelay_http_") &&
			!strings.HasPrefix(k, "leadrelay_unrouted_leads") && !strings.HasPrefix(k, "leadrelay_reconcile") {
			keys = append(keys, fmt.Sprintf("%s=%g", k, v))
		}
	}
	sort.Strings(keys)
	return strings.Join(keys, "\n")
}

// settle waits until the counters stop moving (work other tests left in
// flight — an email, a hop — has finished), so deltas measured from here are
// this test's own.
func settle(t *testing.T, url string) samples {
	t.Helper()
	prev, _ := scrapeMetrics(t, url)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		time.Sleep(1500 * time.Millisecond)
		cur, _ := scrapeMetrics(t, url)
		if cur.ours() == prev.ours() {
			return cur
		}
		prev = cur
	}
	t.Log("counters still moving after 30 s: deltas may include other work")
	return prev
}

// TestMetricsCountRealTraffic posts real leads (new, a duplicate, a refused
// one), lets them route and email, moves some by a transfer, and scrapes both
// endpoints: the API's GET /metrics and the worker's METRICS_ADDR. The
// counts are exact; the SDK's own metrics are there; no id or address is.
func TestMetricsCountRealTraffic(t *testing.T) {
	s := up(t)
	apiURL := s.api.URL + "/metrics"
	workerURL := "http://" + s.deps.Cfg.MetricsAddr + "/metrics"
	buyer := fmt.Sprintf("metrics-%d@agency.example", time.Now().UnixNano())
	tn := s.newTenant(t, "metrics", 3, map[string]any{"name": "EverQuote", "routing": map[string]any{"mode": "staff_evenly"},
		"purchase_notification_emails": []string{buyer}})
	sub := s.newTenant(t, "metricsub", 1, nil)
	s.link(t, tn, sub)
	before := settle(t, workerURL)

	const n = 6
	var ids []string
	for i := 0; i < n; i++ {
		r := s.do(t, "POST", "/v1/leads", tn.vendorKey, lead(fmt.Sprintf("met-%d", i)))
		if r.status != 202 {
			t.Fatalf("post %d: %d %s", i, r.status, r.raw)
		}
		ids = append(ids, r.str("lead_id"))
	}
	if r := s.do(t, "POST", "/v1/leads", tn.vendorKey, lead("met-0")); r.status != 200 {
		t.Fatalf("duplicate: %d %s", r.status, r.raw)
	}
	if r := s.do(t, "POST", "/v1/leads", tn.vendorKey, map[string]any{"external_id": "met-bad"}); r.status != 422 {
		t.Fatalf("no email or phone: %d %s", r.status, r.raw)
	}
	s.waitRouted(t, tn.sourceID, n)
	for deadline := time.Now().Add(60 * time.Second); len(s.mailsFor(buyer)) < n; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d purchase emails after 60 s", len(s.mailsFor(buyer)), n)
		}
	}
	// Two leads move down to the sub-agency; an id of no lead fails.
	r := s.do(t, "POST", "/v1/orgs/"+tn.id+"/transfers", tn.ownerToken, map[string]any{"to_org": sub.id,
		"lead_ids": []string{ids[0], ids[1], "00000000-0000-4000-8000-000000000000"}, "mode": "owner"})
	if r.status != 202 {
		t.Fatalf("transfer: %d %s", r.status, r.raw)
	}
	s.waitTransfer(t, tn.id, tn.ownerToken, r.str("id"), time.Minute)

	// Activities report after they commit: give the last one a moment.
	var after samples
	var page string
	want := map[string]float64{
		`leadrelay_leads_received_total{outcome="new"}`:                                   n,
		`leadrelay_leads_received_total{outcome="duplicate"}`:                             1,
		`leadrelay_leads_received_total{outcome="refused"}`:                               1,
		`leadrelay_leads_routed_total{mode="staff_evenly",outcome="assigned"}`:            n,
		`leadrelay_speed_to_lead_seconds_count`:                                           n,
		`leadrelay_emails_sent_total{kind="purchase"}`:                                    n,
		`leadrelay_transfer_leads_total{result="moved"}`:                                  2,
		`leadrelay_transfer_leads_total{result="failed"}`:                                 1,
		`leadrelay_http_requests_total{code="202",route="POST /v1/leads"}`:                n,
		`leadrelay_http_requests_total{code="202",route="POST /v1/orgs/{org}/transfers"}`: 1,
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		after, page = scrapeMetrics(t, workerURL)
		if delta(before, after, `leadrelay_transfer_leads_total{result="failed"}`) >= 1 || time.Now().After(deadline) {
			break
		}
	}
	for k, v := range want {
		if got := delta(before, after, k); got != v {
			t.Errorf("%s grew by %g, want %g", k, got, v)
		}
	}
	// Speed-to-lead is a histogram of seconds: these leads took well under
	// a minute each, from post to assignment.
	if under := delta(before, after, `leadrelay_speed_to_lead_seconds_bucket{le="60"}`); under != n {
		t.Errorf("%g of %d leads placed within 60 s", under, n)
	}

	// One process, one registry: the API's page shows what the worker's does,
	// and both carry the Temporal SDK's own metrics.
	api, apiPage := scrapeMetrics(t, apiURL)
	for _, page := range []samples{after, api} {
		for _, name := range []string{"temporal_request_total", "temporal_workflow_completed_total",
			"temporal_local_activity_execution_latency_seconds_bucket", "temporal_activity_execution_latency_seconds_bucket",
			"temporal_worker_task_slots_available", "go_goroutines", "process_resident_memory_bytes"} {
			if !page.has(name) {
				t.Errorf("no %s in a scrape", name)
			}
		}
	}
	if api[`leadrelay_leads_received_total{outcome="new"}`] != after[`leadrelay_leads_received_total{outcome="new"}`] {
		t.Errorf("the API's and the worker's pages differ in one process")
	}
	// The backlog gauge comes with the worker's first finished reconcile
	// pass (every 30 s).
	for deadline := time.Now().Add(40 * time.Second); !after.has("leadrelay_unrouted_leads"); time.Sleep(time.Second) {
		if time.Now().After(deadline) {
			t.Fatal("no leadrelay_unrouted_leads 40 s after the worker started")
		}
		after, page = scrapeMetrics(t, workerURL)
	}
	if after[`leadrelay_reconcile_passes_total{result="ok"}`] < 1 {
		t.Errorf("a backlog without a finished pass")
	}
	for _, secret := range append(ids, tn.id, sub.id, tn.vendorKey, buyer, "met-1", "Lovelace") {
		if strings.Contains(page, secret) || strings.Contains(apiPage, secret) {
			t.Errorf("a scrape names %q", secret)
		}
	}
	if t.Failed() {
		t.Log(page)
	}
}

// delta is how much a sample grew between two scrapes (absent counts 0).
func delta(before, after samples, key string) float64 { return after[key] - before[key] }

// has says whether any series of the metric name is in the scrape.
func (s samples) has(name string) bool {
	for k := range s {
		if k == name || strings.HasPrefix(k, name+"{") {
			return true
		}
	}
	return false
}
