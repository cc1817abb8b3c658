package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestConsoleTwoRepsRequestingAtOnceGetDifferentLeads: a queue source
// without delay holds a few leads; two reps in two Chromium windows click
// "Request a lead" at the same moment. Each sees a different lead on their
// queue page, counting down; through the API each lead is assigned to
// exactly one of them.
func TestConsoleTwoRepsRequestingAtOnceGetDifferentLeads(t *testing.T) {
	s := up(t)
	tn := s.newTenant(t, "ConsoleQueue", 0, map[string]any{"name": "Queue", "routing": map[string]any{"mode": "queue", "queue_delay": "0s"}})
	names := []string{"Ada", "Bea", "Cy", "Dot"}
	for i, n := range names {
		body := map[string]any{"external_id": fmt.Sprintf("console-q-%d", i), "first_name": n, "last_name": "Queued",
			"email": strings.ToLower(n) + "@queued.example"}
		if status, out := postAsync(s.api.URL+"/v1/leads", tn.vendorKey, body); status != 202 {
			t.Fatalf("post %s: %d %v", n, status, out)
		}
	}
	s.waitRouted(t, tn.sourceID, len(names))

	type rep struct {
		id, email, token string
		p                *visitor
	}
	var reps []*rep
	for _, n := range []string{"Rita Rep", "Ron Rep"} {
		r := s.claimRep(t, tn, n)
		reps = append(reps, &rep{id: r.id, email: r.email, token: r.token, p: s.signedInAs(t, r.id, r.email)})
	}
	for _, r := range reps {
		r.p.open("/app/queue")
		if txt := r.p.text("main"); !strings.Contains(txt, "You hold no claimed lead.") {
			t.Fatalf("%s's queue before claiming: %q", r.email, txt)
		}
	}
	reps[0].p.accessible()

	// Both click at once: two goroutines, released together.
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, len(reps))
	for i, r := range reps {
		wg.Go(func() {
			<-start
			ctx, cancel := context.WithTimeout(r.p.ctx, 30*time.Second)
			defer cancel()
			errs[i] = chromedp.Do(ctx, chromedp.Click("#request-lead"), chromedp.WaitVisible(".claims li"))
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("%s requesting a lead: %v", reps[i].email, err)
		}
	}

	got := map[string]string{} // lead id → rep
	for _, r := range reps {
		if f := r.p.text(".flash"); !strings.Contains(f, "A lead is yours") {
			t.Errorf("%s's page says %q", r.email, f)
		}
		attrs, err := chromedp.Run(r.p.ctx, chromedp.AttributesAll(".claims li"))
		if err != nil || len(attrs) != 1 {
			t.Fatalf("%s holds %d claimed leads (%v), want 1", r.email, len(attrs), err)
		}
		id := strings.TrimPrefix(attrs[0]["id"], "claim-")
		if prev, ok := got[id]; ok {
			t.Fatalf("both reps got lead %s (%s and %s)", id, prev, r.email)
		}
		got[id] = r.id
		cd := r.p.text(".claims time[data-countdown]")
		if !strings.HasSuffix(cd, " left") {
			t.Errorf("%s's claim window reads %q, want a countdown", r.email, cd)
		}
	}
	reps[0].p.accessible()
	reps[0].p.shot("queue")

	// Through the API: each lead is assigned to exactly the rep who saw it.
	for id, repID := range got {
		l := s.do(t, "GET", "/v1/leads/"+id, tn.ownerToken, nil)
		if l.status != 200 || l.body["assigned_to"] != repID {
			t.Errorf("lead %s: %d assigned to %v, want %s", id, l.status, l.body["assigned_to"], repID)
		}
	}
	var assigned int
	if err := s.deps.Pool.QueryRow(context.Background(), `SELECT count(*) FROM leads WHERE org_id = $1 AND assigned_to IS NOT NULL`, tn.id).Scan(&assigned); err != nil {
		t.Fatal(err)
	}
	if assigned != len(reps) {
		t.Errorf("%d of the org's leads are assigned, want %d (one per rep)", assigned, len(reps))
	}
}
