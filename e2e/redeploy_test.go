package e2e

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/internal/app"
	"github.com/leadrelay/leadrelay/internal/bench"
)

// TestWorkerRedeployLosesAndDoublesNothing: leads posted while no worker runs
// wait; a worker stopped mid-stream and started again finishes the work. Each
// lead ends routed exactly once, the rotation stays fair, each email arrives once.
func TestWorkerRedeployLosesAndDoublesNothing(t *testing.T) {
	s := up(t)
	// A private task queue, so only the worker this test controls serves it.
	cfg := *s.deps.Cfg
	cfg.TaskQueue = fmt.Sprintf("redeploy-%d", time.Now().UnixNano())
	cfg.MetricsAddr = "" // the shared worker serves this process's metrics
	d := *s.deps
	d.Cfg = &cfg
	api := &stack{deps: &d, api: newServer(t, app.APIHandler(&d)), admin: s.admin, sink: s.sink}
	buyer := fmt.Sprintf("redeploy-%d@agency.example", time.Now().UnixNano())
	tn := api.newTenant(t, "redeploy", 4, map[string]any{"name": "EverQuote", "routing": map[string]any{"mode": "staff_evenly"},
		"purchase_notification_emails": []string{buyer}})

	var ids []string
	var mu sync.Mutex
	postN := func(prefix string, n int) {
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := api.do(t, "POST", "/v1/leads", tn.vendorKey, lead(fmt.Sprintf("%s-%d", prefix, i)))
				if r.status != 202 {
					t.Errorf("post: %d %s", r.status, r.raw)
				}
				mu.Lock()
				ids = append(ids, r.str("lead_id"))
				mu.Unlock()
			}()
		}
		wg.Wait()
	}
	startWorker := func() (stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = app.RunWorker(ctx, &d) }()
		return func() { cancel(); <-done }
	}
	routed := func() int {
		got, err := bench.RoutedTimes(context.Background(), s.deps.Pool, []string{tn.sourceID})
		if err != nil {
			t.Fatal(err)
		}
		return len(got)
	}

	postN("before", 20) // no worker: recorded and accepted, nothing routed
	time.Sleep(time.Second)
	if n := routed(); n != 0 {
		t.Fatalf("%d leads routed with no worker running", n)
	}
	stop := startWorker()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); postN("during", 40) }()
	for routed() < 25 {
		time.Sleep(20 * time.Millisecond)
	}
	stop() // the redeploy: the worker goes away mid-stream
	wg.Wait()
	stopped := routed()
	postN("after", 20)
	stop = startWorker()
	defer stop()
	s.waitRouted(t, tn.sourceID, 80)
	t.Logf("routed before the stop: %d of 80", stopped)

	counts := map[string]int{}
	var decisions int
	for _, id := range ids {
		r := api.do(t, "GET", "/v1/leads/"+id, tn.ownerToken, nil)
		a, _ := r.body["assigned_to"].(string)
		counts[a]++
		for _, e := range r.body["timeline"].([]any) {
			if e.(map[string]any)["kind"] == "routed" {
				decisions++
			}
		}
	}
	if decisions != 80 {
		t.Fatalf("%d routing decisions for 80 leads", decisions)
	}
	for _, u := range tn.staff {
		if counts[u] != 20 {
			t.Fatalf("assignments %v, want 20 each over 4 staff", counts)
		}
	}
	s.waitMail(t, buyer, 80, 60*time.Second)
}
