package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/leadrelay/leadrelay/internal/apiclient"
)

// tenant is where a phase posts: vendor keys to spread over, their sources.
type tenant struct {
	api       *apiclient.Client
	keys      []string
	sourceIDs []string
}

// newTenant makes an org with 7 staff and o.Sources staff_evenly sources:
// the posts spread over their vendor keys.
func newTenant(ctx context.Context, o Options, run string) (*tenant, error) {
	admin := o.client()
	org, owner, err := orgWithStaff(ctx, admin, "bench "+run, 7)
	if err != nil {
		return nil, err
	}
	if !o.Alerts {
		if err := alertsOff(ctx, o.DB, org.ID); err != nil {
			return nil, err
		}
	}
	t := &tenant{api: admin}
	for i := 0; i < max(1, o.Sources); i++ {
		src, err := owner.PutSource(ctx, org.ID, fmt.Sprintf("bench%d", i), map[string]any{"name": "Bench", "routing": map[string]string{"mode": "staff_evenly"}})
		if err != nil {
			return nil, err
		}
		t.keys, t.sourceIDs = append(t.keys, src.APIKey), append(t.sourceIDs, src.ID)
	}
	return t, nil
}

type phase struct {
	sent        []time.Time // when each post (external id prefix<i>) went out
	stl, answer []time.Duration
	rate        float64 // leads/s from the first post to the last assignment
}

// post sends n leads (external ids prefix0..), each with its own email so
// none is a repeat of another (which would skip the rotation), at rate per second or, with
// rate 0, as fast as o.Concurrency posters go; then waits until Postgres shows
// every one routed and measures post → routed_at.
func (t *tenant) post(ctx context.Context, o Options, prefix string, n int, rate float64, limited *int64) (phase, error) {
	var p phase
	sent := make([]time.Time, n)
	answer := make([]time.Duration, n)
	start := time.Now()
	err := paced(n, rate, o.Concurrency, func(i int) error {
		body := map[string]any{"external_id": fmt.Sprintf("%s%d", prefix, i), "first_name": "Bench", "email": fmt.Sprintf("b%s%d@example.com", prefix, i)}
		vendor := t.api.As(t.keys[i%len(t.keys)])
		for {
			t0 := time.Now()
			_, err := vendor.PostLead(ctx, body)
			var ae *apiclient.Error
			if errors.As(err, &ae) && ae.Status == http.StatusTooManyRequests {
				atomic.AddInt64(limited, 1)
				time.Sleep(200 * time.Millisecond)
				continue
			}
			if err != nil {
				return err
			}
			sent[i], answer[i] = t0, time.Since(t0)
			return nil
		}
	})
	if err != nil {
		return p, err
	}
	var routed map[string]time.Time
	deadline := time.Now().Add(10 * time.Minute)
	for {
		all, err := RoutedTimes(ctx, o.DB, t.sourceIDs)
		if err != nil {
			return p, err
		}
		routed = map[string]time.Time{}
		for k, v := range all {
			if strings.HasPrefix(k, prefix) {
				routed[k] = v
			}
		}
		if len(routed) >= n {
			break
		}
		if time.Now().After(deadline) {
			return p, fmt.Errorf("only %d of %d leads routed after 10 minutes", len(routed), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var last time.Time
	for i := range sent {
		at := routed[fmt.Sprintf("%s%d", prefix, i)]
		if at.After(last) {
			last = at
		}
		p.stl = append(p.stl, at.Sub(sent[i]))
	}
	p.sent, p.answer = sent, answer
	p.rate = float64(n) / last.Sub(start).Seconds()
	return p, nil
}

// latency posts n leads at rate (below capacity: no backlog) and returns
// speed-to-lead's p50/p95/p99, the HTTP answer's p50/p99 and the phase.
func (t *tenant) latency(ctx context.Context, o Options, prefix string, n int, rate float64, limited *int64) (
	stl [3]time.Duration, answer [2]time.Duration, p phase, err error) {
	o.logf("speed-to-lead: %d leads at %.1f/s…", n, rate)
	p, err = t.post(ctx, o, prefix, n, rate, limited)
	return [3]time.Duration{pct(p.stl, 50), pct(p.stl, 95), pct(p.stl, 99)}, [2]time.Duration{pct(p.answer, 50), pct(p.answer, 99)}, p, err
}
