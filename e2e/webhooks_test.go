package e2e

import (
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
