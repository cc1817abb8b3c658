package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// hookReceiver is an org's system on the other end: it verifies every
// request with the Standard Webhooks Go library, answers 500 to the first
// failFirst attempts, then 204, and logs what it accepted.
type hookReceiver struct {
	t         *testing.T
	verify    *standardwebhooks.Webhook
	failFirst int
	srv       *httptest.Server

	mu       sync.Mutex
	attempts int
	bad      []string
	accepted []hookEvent
}

// hookEvent is one accepted delivery as the receiver read it.
type hookEvent struct {
	ID      string // webhook-id
	Type    string
	LeadID  string
	EventID int64
}

func newHookReceiver(t *testing.T, failFirst int) *hookReceiver {
	r := &hookReceiver{t: t, failFirst: failFirst}
	r.srv = httptest.NewServer(r)
	t.Cleanup(r.srv.Close)
	return r
}

func (r *hookReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts++
	if r.verify == nil {
		r.bad = append(r.bad, "a request before the secret was known")
		w.WriteHeader(400)
		return
	}
	if err := r.verify.Verify(body, req.Header); err != nil {
		r.bad = append(r.bad, "signature: "+err.Error())
		w.WriteHeader(400)
		return
	}
	var ev struct {
		Type string `json:"type"`
		Data struct {
			SchemaVersion int   `json:"schema_version"`
			EventID       int64 `json:"event_id"`
			Lead          struct {
				ID string `json:"id"`
			} `json:"lead"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &ev); err != nil || ev.Data.SchemaVersion != 1 || ev.Data.Lead.ID == "" {
		r.bad = append(r.bad, fmt.Sprintf("body %s: %v", body, err))
	}
	if r.attempts <= r.failFirst {
		w.WriteHeader(500)
		return
	}
	r.accepted = append(r.accepted, hookEvent{ID: req.Header.Get("webhook-id"), Type: ev.Type, LeadID: ev.Data.Lead.ID, EventID: ev.Data.EventID})
	w.WriteHeader(204)
}

func (r *hookReceiver) log() ([]hookEvent, []string, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]hookEvent(nil), r.accepted...), append([]string(nil), r.bad...), r.attempts
}

// An org's endpoint hears every subscribed event of its leads — received,
// assigned, returned — each signed so the Standard Webhooks library
// verifies it, retried through the receiver's first 500s, delivered
// exactly once, and in the order of each lead's timeline; the delivery
// log shows it.
func TestWebhooksDeliverSignedEventsOnceInOrder(t *testing.T) {
	s := up(t)
	tn := s.newTenant(t, "Hooks", 2, map[string]any{"name": "EverQuote", "routing": map[string]any{"mode": "staff_evenly"}})
	rcv := newHookReceiver(t, 3)
	r := s.do(t, "POST", "/v1/orgs/"+tn.id+"/webhooks", tn.ownerToken, map[string]any{
		"url": rcv.srv.URL + "/leadrelay", "events": []string{"lead.received", "lead.assigned", "lead.returned"}})
	if r.status != 201 {
		t.Fatalf("create webhook: %d %s", r.status, r.raw)
	}
	hookID, secret := r.str("id"), r.str("secret")
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	rcv.mu.Lock()
	rcv.verify = wh
	rcv.mu.Unlock()

	const n = 12
	bodies := make([]map[string]any, n)
	for i := range bodies {
		bodies[i] = lead(fmt.Sprintf("hook-%d-%d", time.Now().UnixNano(), i))
	}
	ids := s.postLeads(t, tn.vendorKey, bodies)
	s.waitRouted(t, tn.sourceID, n)
	for _, id := range ids[:4] {
		if r := s.do(t, "POST", "/v1/leads/"+id+"/return", tn.ownerToken, map[string]any{"reason": "duplicate"}); r.status != 200 {
			t.Fatalf("return: %d %s", r.status, r.raw)
		}
	}
	want := 2*n + 4

	deadline := time.Now().Add(2 * time.Minute)
	for {
		got, bad, _ := rcv.log()
		if len(bad) > 0 {
			t.Fatalf("the receiver refused: %v", bad)
		}
		if len(got) >= want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d deliveries accepted after 2 minutes", len(got), want)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Anything sent twice would arrive within a pump pass or two.
	time.Sleep(2 * time.Second)
	got, _, attempts := rcv.log()
	if len(got) != want || attempts != want+3 {
		t.Fatalf("accepted %d (want %d) in %d attempts (want %d): %+v", len(got), want, attempts, want+3, got)
	}
	seen := map[string]bool{}
	last := map[string]int64{}
	types := map[string][]string{}
	for _, e := range got {
		if seen[e.ID] {
			t.Fatalf("%s delivered twice", e.ID)
		}
		seen[e.ID] = true
		if e.EventID <= last[e.LeadID] {
			t.Fatalf("lead %s: event %d arrived after %d", e.LeadID, e.EventID, last[e.LeadID])
		}
		last[e.LeadID] = e.EventID
		types[e.LeadID] = append(types[e.LeadID], e.Type)
	}
	for i, id := range ids {
		w := []string{"lead.received", "lead.assigned"}
		if i < 4 {
			w = append(w, "lead.returned")
		}
		if fmt.Sprint(types[id]) != fmt.Sprint(w) {
			t.Fatalf("lead %s got %v, want %v", id, types[id], w)
		}
	}

	// The delivery log: every one delivered, the retried one with its
	// attempts; the secret masked.
	r = s.do(t, "GET", "/v1/orgs/"+tn.id+"/webhooks/"+hookID, tn.ownerToken, nil)
	if r.status != 200 || r.str("secret") == secret {
		t.Fatalf("get webhook: %d %s", r.status, r.raw)
	}
	log, _ := r.body["deliveries"].([]any)
	retried := 0
	for _, d := range log {
		d := d.(map[string]any)
		if d["status"] != "delivered" || d["last_status"] != float64(204) {
			t.Fatalf("delivery %v", d)
		}
		if d["attempts"].(float64) > 1 {
			retried++
		}
	}
	if len(log) != want || retried == 0 {
		t.Fatalf("log of %d deliveries, %d retried", len(log), retried)
	}

	// A resend sends the same webhook-id again, once.
	first := log[len(log)-1].(map[string]any)
	path := fmt.Sprintf("/v1/orgs/%s/webhooks/%s/deliveries/%.0f/resend", tn.id, hookID, first["id"])
	if r := s.do(t, "POST", path, tn.ownerToken, nil); r.status != 202 {
		t.Fatalf("resend: %d %s", r.status, r.raw)
	}
	waitFor(t, 30*time.Second, "the resent delivery", func() bool { g, _, _ := rcv.log(); return len(g) == want+1 })
	g, _, _ := rcv.log()
	if g[want].ID != first["webhook_id"] {
		t.Fatalf("resent %s, want %s", g[want].ID, first["webhook_id"])
	}
}

// stormReceiver accepts every verified delivery and counts, per
// webhook-id, the 2xx it answered, in the order it answered them.
type stormReceiver struct {
	verify *standardwebhooks.Webhook
	mu     sync.Mutex
	bad    int
	count  map[string]int
	order  []hookEvent
}

func (r *stormReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	var ev struct {
		Type string `json:"type"`
		Data struct {
			EventID int64 `json:"event_id"`
			Lead    struct {
				ID string `json:"id"`
			} `json:"lead"`
		} `json:"data"`
	}
	err := r.verify.Verify(body, req.Header)
	if err == nil {
		err = json.Unmarshal(body, &ev)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.bad++
		w.WriteHeader(400)
		return
	}
	id := req.Header.Get("webhook-id")
	r.count[id]++
	r.order = append(r.order, hookEvent{ID: id, Type: ev.Type, LeadID: ev.Data.Lead.ID, EventID: ev.Data.EventID})
	w.WriteHeader(204)
}

// TestWebhooksSurviveWorkerKills: two worker processes, one SIGKILLed and
// replaced every five seconds while 1,000 leads make 2,000 events
// (received, assigned) for one endpoint. Every event is delivered, in
// order per lead; none is sent again after its 2xx was recorded (a kill
// between the receiver's 2xx and that record may resend one, with the
// same webhook-id: at most one per kill).
func TestWebhooksSurviveWorkerKills(t *testing.T) {
	r := newRig(t, 2, 1)
	s := r.apis[0]
	tn := s.newTenant(t, "storm", 0, map[string]any{"name": "EverQuote", "routing": map[string]any{"mode": "owner"}})
	rcv := &stormReceiver{count: map[string]int{}}
	srv := httptest.NewServer(rcv)
	t.Cleanup(srv.Close)
	res := s.do(t, "POST", "/v1/orgs/"+tn.id+"/webhooks", tn.ownerToken, map[string]any{
		"url": srv.URL + "/storm", "events": []string{"lead.received", "lead.assigned"}})
	if res.status != 201 {
		t.Fatalf("create webhook: %d %s", res.status, res.raw)
	}
	wh, err := standardwebhooks.NewWebhook(res.str("secret"))
	if err != nil {
		t.Fatal(err)
	}
	rcv.verify = wh

	stop := make(chan struct{})
	var kills int
	var killsMu sync.Mutex
	go every(5*time.Second, stop, func() {
		r.killWorker(t)
		killsMu.Lock()
		kills++
		killsMu.Unlock()
	})
	const leads = 1000
	bodies := make([]map[string]any, leads)
	stamp := time.Now().UnixNano()
	for i := range bodies {
		bodies[i] = lead(fmt.Sprintf("storm-%d-%d", stamp, i))
	}
	ids := s.postLeads(t, tn.vendorKey, bodies)
	const want = 2 * leads
	deadline := time.Now().Add(8 * time.Minute)
	for {
		var pending int
		if err := s.deps.Pool.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE status <> 'delivered')
			FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE e.org_id = $1`, tn.id).Scan(&pending); err != nil {
			t.Fatal(err)
		}
		rcv.mu.Lock()
		got := len(rcv.count)
		rcv.mu.Unlock()
		if got >= want && pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 8 minutes: %d of %d events accepted, %d deliveries not recorded delivered", got, want, pending)
		}
		time.Sleep(500 * time.Millisecond)
	}
	close(stop)
	time.Sleep(2 * time.Second) // a copy still in flight would arrive now
	killsMu.Lock()
	k := kills
	killsMu.Unlock()

	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if rcv.bad != 0 {
		t.Fatalf("%d requests did not verify", rcv.bad)
	}
	copies := 0
	for _, n := range rcv.count {
		copies += n - 1
	}
	var recorded int
	if err := s.deps.Pool.QueryRow(context.Background(), `SELECT count(*) FROM webhook_deliveries d
		JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE e.org_id = $1 AND d.status = 'delivered'`, tn.id).Scan(&recorded); err != nil {
		t.Fatal(err)
	}
	if len(rcv.count) != want || recorded != want {
		t.Fatalf("%d distinct events accepted, %d recorded delivered, want %d", len(rcv.count), recorded, want)
	}
	if copies > k {
		t.Fatalf("%d copies for %d kills", copies, k)
	}
	// In order per lead: each lead's received was accepted before its assigned.
	first := map[string]string{}
	for _, e := range rcv.order {
		if _, ok := first[e.LeadID]; !ok {
			first[e.LeadID] = e.Type
		}
	}
	for _, id := range ids {
		if first[id] != "lead.received" {
			t.Fatalf("lead %s: first accepted %q", id, first[id])
		}
	}
	t.Logf("SIGKILL x%d over %d events: %d copies after a 2xx not yet recorded", k, want, copies)
}
