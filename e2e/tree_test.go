package e2e

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestThreeLevelTreeRoutesByEachOrgsOwnRules: a master passes a slug's leads
// evenly to three sub-agencies, each with its own routing for the same slug
// — one passes them on to two sub-sub-agencies of its own (one rotating
// over staff, one holding them pending), one rotates over its staff, one
// passes them on to a sub-sub-agency that queues them and to one with no
// source for the slug (its owner gets them). 600 leads posted to the master
// end where those rules say, siblings within one of each other, none
// orphaned.
func TestThreeLevelTreeRoutesByEachOrgsOwnRules(t *testing.T) {
	s := up(t)
	ctx := context.Background()
	src := func(routing map[string]any) map[string]any {
		return map[string]any{"name": "EverQuote", "routing": routing}
	}
	master := s.newTenant(t, "tree-m", 0, nil)
	a1 := s.newTenant(t, "tree-a1", 3, src(map[string]any{"mode": "staff_evenly"}))
	a2 := s.newTenant(t, "tree-a2", 1, src(map[string]any{"mode": "pending"}))
	c1 := s.newTenant(t, "tree-c1", 1, src(map[string]any{"mode": "queue", "queue_delay": "1h"}))
	c2 := s.newTenant(t, "tree-c2", 1, nil) // no source for the slug: its owner
	b := s.newTenant(t, "tree-b", 4, src(map[string]any{"mode": "staff_evenly"}))
	b1 := s.newTenant(t, "tree-b1", 1, src(map[string]any{"mode": "owner"})) // linked under b, never chosen by b's rule
	a := s.newTenant(t, "tree-a", 0, nil)
	c := s.newTenant(t, "tree-c", 0, nil)
	for _, l := range [][2]tenant{{master, a}, {master, b}, {master, c}, {a, a1}, {a, a2}, {b, b1}, {c, c1}, {c, c2}} {
		s.link(t, l[0], l[1])
	}
	for _, p := range []struct {
		org  tenant
		subs []string
	}{{a, []string{a1.id, a2.id}}, {c, []string{c1.id, c2.id}}, {master, []string{a.id, b.id, c.id}}} {
		r := s.do(t, "PUT", "/v1/orgs/"+p.org.id+"/sources/everquote", p.org.ownerToken,
			src(map[string]any{"mode": "sub_agencies_evenly", "sub_agencies": p.subs}))
		if r.status != 201 {
			t.Fatalf("source: %d %s", r.status, r.raw)
		}
		if p.org.id == master.id {
			master.vendorKey = r.str("api_key")
		}
	}

	const n = 600
	ids := make([]string, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			r := s.do(t, "POST", "/v1/leads", master.vendorKey, lead(fmt.Sprintf("tree-%d", i)))
			if r.status != 202 {
				t.Errorf("post %d: %d %s", i, r.status, r.raw)
			}
			ids[i] = r.str("lead_id")
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	// never orphaned: every lead ends assigned, pending or queued. The
	// bound is for liveness, not speed (`starter bench` measures fan-out):
	// 1,600 runs on the production-shaped server take 100 s alone and
	// more after half an hour of other tests.
	posted := time.Now()
	deadline := posted.Add(5 * time.Minute)
	for s.count(t, `SELECT count(*) FROM leads WHERE id = ANY($1) AND (assigned_to IS NOT NULL OR location IS NOT NULL)`, ids) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d leads placed after 5 minutes", s.count(t, `SELECT count(*) FROM leads WHERE id = ANY($1)
				AND (assigned_to IS NOT NULL OR location IS NOT NULL)`, ids), n)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("all %d leads placed %s after the last post", n, time.Since(posted).Round(time.Second))
	per := map[string]int{}
	rows, err := s.deps.Pool.Query(ctx, `SELECT org_id::text, coalesce(location, assigned_to::text) FROM leads WHERE id = ANY($1)`, ids)
	if err != nil {
		t.Fatal(err)
	}
	perWhere := map[string]int{}
	for rows.Next() {
		var org, where string
		if err := rows.Scan(&org, &where); err != nil {
			t.Fatal(err)
		}
		per[org]++
		perWhere[org+"/"+where]++
	}
	within1 := func(name string, counts ...int) {
		t.Helper()
		lo, hi := n, 0
		for _, c := range counts {
			lo, hi = min(lo, c), max(hi, c)
		}
		if hi-lo > 1 {
			t.Errorf("%s: counts %v differ by more than one", name, counts)
		}
	}
	// level 1: 200 each (a and c pass theirs on, so count their children)
	within1("master's sub-agencies", per[a1.id]+per[a2.id], per[b.id], per[c1.id]+per[c2.id])
	within1("a's sub-agencies", per[a1.id], per[a2.id])
	within1("c's sub-agencies", per[c1.id], per[c2.id])
	if per[master.id]+per[a.id]+per[c.id]+per[b1.id] != 0 {
		t.Errorf("leads left where a rule passes them on, or sent where none does: %v", per)
	}
	var a1Staff, bStaff []int
	for _, u := range a1.staff {
		a1Staff = append(a1Staff, perWhere[a1.id+"/"+u])
	}
	for _, u := range b.staff {
		bStaff = append(bStaff, perWhere[b.id+"/"+u])
	}
	within1("a1's staff", a1Staff...)
	within1("b's staff", bStaff...)
	if perWhere[a2.id+"/pending"] != per[a2.id] || perWhere[c1.id+"/queue"] != per[c1.id] || perWhere[c2.id+"/"+c2.ownerID] != per[c2.id] {
		t.Errorf("a2 holds pending, c1 queues, c2's owner gets its leads: %v", perWhere)
	}
	// the chain is explained on a lead's timeline, hop by hop
	var sample string
	if err := s.deps.Pool.QueryRow(ctx, `SELECT id FROM leads WHERE id = ANY($1) AND org_id = $2 LIMIT 1`, ids, c2.id).Scan(&sample); err != nil {
		t.Fatal(err)
	}
	l := s.do(t, "GET", "/v1/leads/"+sample, c2.ownerToken, nil)
	var routed int
	for _, e := range l.body["timeline"].([]any) {
		if e.(map[string]any)["kind"] == "routed" {
			routed++
		}
	}
	if routed != 3 {
		t.Errorf("three routing decisions on the timeline (master, c, c2): %s", l.raw)
	}
}
