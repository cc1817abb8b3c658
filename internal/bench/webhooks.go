package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/leadrelay/leadrelay/internal/apiclient"
)

// webhookWait is how long the webhook row waits for the first delivery: a
// worker that refuses private addresses never sends one to this process's
// receiver, and the row then says so instead of failing the run.
const webhookWait = 30 * time.Second

// webhookRow measures outbound webhooks (issue 19): one org with an
// endpoint subscribed to lead.received on a receiver in this process
// (127.0.0.1: the worker needs WEBHOOK_ALLOW_PRIVATE=true), o.WebhookEvents
// leads posted as fast as the API takes them, and, per event, the time
// from the event (its timeline time, in the body) to the receiver's first
// attempt; the rate is events over the time from the first event to the
// last one's first attempt. The receiver answers 204 at once.
func webhookRow(ctx context.Context, o Options, run string, r *Result) error {
	admin := o.client()
	org, owner, err := orgWithStaff(ctx, admin, "bench webhooks "+run, 0)
	if err != nil {
		return err
	}
	src, err := owner.PutSource(ctx, org.ID, "hooks", map[string]any{"name": "Hooks", "routing": map[string]string{"mode": "owner"}})
	if err != nil {
		return err
	}
	rcv := &benchReceiver{first: map[string]time.Time{}}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	if err := createWebhook(ctx, owner, org.ID, srv.URL+"/bench", []string{"lead.received"}); err != nil {
		return err
	}
	t := &tenant{api: admin, keys: []string{src.APIKey}, sourceIDs: []string{src.ID}}
	o.logf("webhooks: %d events to a receiver on 127.0.0.1…", o.WebhookEvents)
	if _, err := t.post(ctx, o, "w", o.WebhookEvents, 0, &r.RateLimited); err != nil {
		return err
	}
	deadline := time.Now().Add(webhookWait)
	for {
		n := rcv.count()
		if n >= o.WebhookEvents {
			break
		}
		if n == 0 && time.Now().After(deadline) {
			o.logf("webhooks: nothing arrived in %s: is the worker's WEBHOOK_ALLOW_PRIVATE=true? (row not measured)", webhookWait)
			return nil
		}
		if time.Now().After(deadline.Add(5 * time.Minute)) {
			return fmt.Errorf("webhooks: %d of %d events arrived", n, o.WebhookEvents)
		}
		time.Sleep(100 * time.Millisecond)
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	var lags []time.Duration
	var firstEvent, lastArrival time.Time
	for _, d := range rcv.lags {
		lags = append(lags, d.arrived.Sub(d.event))
		if firstEvent.IsZero() || d.event.Before(firstEvent) {
			firstEvent = d.event
		}
		if d.arrived.After(lastArrival) {
			lastArrival = d.arrived
		}
	}
	r.WebhookN = len(lags)
	r.WebhookRate = float64(len(lags)) / lastArrival.Sub(firstEvent).Seconds()
	r.WebhookFirstP50, r.WebhookFirstP99 = pct(lags, 50), pct(lags, 99)
	return nil
}

// benchReceiver keeps, per webhook-id, when its first attempt arrived and
// when its event happened.
type benchReceiver struct {
	mu    sync.Mutex
	first map[string]time.Time
	lags  []arrival
}

type arrival struct{ event, arrived time.Time }

func (b *benchReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	now := time.Now()
	var ev struct {
		Data struct {
			At time.Time `json:"at"`
		} `json:"data"`
	}
	_ = json.NewDecoder(req.Body).Decode(&ev) // a body without a time counts from zero: visibly wrong
	b.mu.Lock()
	defer b.mu.Unlock()
	if id := req.Header.Get("webhook-id"); b.first[id].IsZero() {
		b.first[id] = now
		b.lags = append(b.lags, arrival{event: ev.Data.At, arrived: now})
	}
	w.WriteHeader(http.StatusNoContent)
}

func (b *benchReceiver) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.lags)
}

// createWebhook registers an endpoint through the API (POST
// /v1/orgs/{org}/webhooks).
func createWebhook(ctx context.Context, c *apiclient.Client, org, url string, events []string) error {
	err := sendJSON(ctx, c, "POST", "/v1/orgs/"+org+"/webhooks", map[string]any{"url": url, "events": events})
	if err != nil {
		return fmt.Errorf("%w (a receiver on 127.0.0.1 needs WEBHOOK_ALLOW_PRIVATE=true)", err)
	}
	return nil
}
