package e2e

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"
)

// putSource creates (201) the source slug of tn with body and returns its
// vendor key and id.
func (s *stack) putSource(t *testing.T, tn tenant, slug string, body map[string]any) (key, id string) {
	t.Helper()
	r := s.do(t, "PUT", "/v1/orgs/"+tn.id+"/sources/"+slug, tn.ownerToken, body)
	if r.status != 201 {
		t.Fatalf("put source %s: %d %s", slug, r.status, r.raw)
	}
	return r.str("api_key"), r.str("id")
}

// member is a user made for the routing tests: its id, name and token.
type member struct{ id, name, token string }

func (s *stack) member(t *testing.T, tn tenant, name, role string) member {
	t.Helper()
	email := fmt.Sprintf("%s-%d@%s.example", strings.ToLower(strings.ReplaceAll(name, " ", ".")), time.Now().UnixNano(), tn.id[:8])
	r := s.do(t, "POST", "/v1/orgs/"+tn.id+"/users", tn.ownerToken, map[string]any{"email": email, "name": name, "role": role})
	if r.status != 201 {
		t.Fatalf("create %s: %d %s", name, r.status, r.raw)
	}
	return member{r.str("id"), name, r.str("token")}
}

// putGroup creates the group with members at their weights.
func (s *stack) putGroup(t *testing.T, tn tenant, name string, weights map[member]int) {
	t.Helper()
	var ms []map[string]any
	for m, w := range weights {
		ms = append(ms, map[string]any{"user_id": m.id, "weight": w})
	}
	if r := s.do(t, "PUT", "/v1/orgs/"+tn.id+"/groups/"+name, tn.ownerToken, map[string]any{"members": ms}); r.status != 201 {
		t.Fatalf("put group %s: %d %s", name, r.status, r.raw)
	}
}

// postLeads posts bodies with the vendor key, 16 at a time, and returns
// each one's lead id in order.
func (s *stack) postLeads(t *testing.T, key string, bodies []map[string]any) []string {
	t.Helper()
	ids := make([]string, len(bodies))
	fails := make([]string, len(bodies))
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i, b := range bodies {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			status, body := postAsync(s.api.URL+"/v1/leads", key, b)
			if status != 202 {
				fails[i] = fmt.Sprintf("post %d: %d %v", i, status, body)
				return
			}
			ids[i], _ = body["lead_id"].(string)
		})
	}
	wg.Wait()
	for _, f := range fails {
		if f != "" {
			t.Fatal(f)
		}
	}
	return ids
}

// decision is a lead's routing_decisions row as the test reads it.
type decision struct {
	rule     int
	ruleName string
}

func (s *stack) decisions(t *testing.T, sourceID string) map[string]decision {
	t.Helper()
	rows, err := s.deps.Pool.Query(context.Background(), `SELECT lead_id, rule, rule_name FROM routing_decisions WHERE source_id = $1`, sourceID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]decision{}
	for rows.Next() {
		var id string
		var d decision
		if err := rows.Scan(&id, &d.rule, &d.ruleName); err != nil {
			t.Fatal(err)
		}
		if _, twice := out[id]; twice {
			t.Fatalf("lead %s has two routing decisions", id)
		}
		out[id] = d
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// withinOne fails unless each member's count is within 1 of its weighted
// share of the pool's total.
func withinOne(t *testing.T, pool string, counts map[string]int, weights map[string]int) {
	t.Helper()
	total, wsum := 0, 0
	for id, w := range weights {
		total += counts[id]
		wsum += w
	}
	for id, w := range weights {
		share := float64(total) * float64(w) / float64(wsum)
		if math.Abs(float64(counts[id])-share) > 1 {
			t.Errorf("pool %s: member %s got %d of %d, its share is %.2f", pool, id, counts[id], total, share)
		}
	}
}

const nycCap = 10

// TestRulesRouteThreeHundredLeadsByTheirData posts 300 leads with varied
// data to a source of three rules (Texas → a 2:1:1 group; postal codes
// 100* → the nyc group, in which one member is paused and one has a daily
// cap; label vip → one user) and a staff_evenly default, then checks each
// lead against the rules: the decision's rule, the timeline naming it, the
// assignee in that rule's pool, never the paused member, the capped one
// never past its cap; every pool's counts within 1 of its weighted shares;
// skipped members named with why; the fairness report agreeing.
//
// Group members are admins, so the default's staff rotation (staff,
// professionals, managers) is only the three default reps: each pool's
// epoch is then known (the paused member is absent throughout; the capped
// one leaves the nyc pool once, at its cap).
func TestRulesRouteThreeHundredLeadsByTheirData(t *testing.T) {
	s := up(t)
	tn := s.newTenant(t, "rules", 0, nil)
	t1, t2, t3 := s.member(t, tn, "Tex One", "admin"), s.member(t, tn, "Tex Two", "admin"), s.member(t, tn, "Tex Three", "admin")
	capped, paused, n3 := s.member(t, tn, "Nina Capped", "admin"), s.member(t, tn, "Ned Paused", "admin"), s.member(t, tn, "Nora York", "admin")
	vip := s.member(t, tn, "Vic Vip", "admin")
	d1, d2, d3 := s.member(t, tn, "Dee One", "staff"), s.member(t, tn, "Dee Two", "professional"), s.member(t, tn, "Dee Three", "manager")
	s.putGroup(t, tn, "texas", map[member]int{t1: 2, t2: 1, t3: 1})
	s.putGroup(t, tn, "nyc", map[member]int{capped: 1, paused: 1, n3: 1})
	if r := s.do(t, "PATCH", "/v1/orgs/"+tn.id+"/users/"+capped.id, tn.ownerToken, map[string]any{"daily_cap": nycCap}); r.status != 200 {
		t.Fatalf("daily cap: %d %s", r.status, r.raw)
	}
	if r := s.do(t, "POST", "/v1/orgs/"+tn.id+"/users/"+paused.id+"/pause", tn.ownerToken, map[string]any{}); r.status != 200 || r.body["paused"] != true {
		t.Fatalf("pause: %d %s", r.status, r.raw)
	}
	key, sourceID := s.putSource(t, tn, "everquote", map[string]any{"name": "EverQuote",
		"rules": []map[string]any{
			{"name": "Texas", "when": map[string]any{"state": []string{"TX"}}, "routing": map[string]any{"mode": "group", "group": "texas"}},
			{"name": "NYC", "when": map[string]any{"postal_code": []string{"100*"}}, "routing": map[string]any{"mode": "group", "group": "nyc"}},
			{"name": "VIP", "when": map[string]any{"label": []string{"vip"}}, "routing": map[string]any{"mode": "user", "user": vip.id}},
		},
		"routing": map[string]any{"mode": "staff_evenly"}})

	// Lead i: i%5 == 0 Texas (every other one also with a 100* postal
	// code: the first matching rule wins), 1 NYC, 2 VIP, 3 and 4 none.
	// Every lead has its own email and phone: no lead repeats another.
	const n = 300
	want := make([]int, n) // the rule index each lead must take; 3 = default
	bodies := make([]map[string]any, n)
	for i := range n {
		b := map[string]any{"external_id": fmt.Sprintf("r-%d", i), "first_name": "Lee", "last_name": fmt.Sprint("Number", i),
			"email": fmt.Sprintf("lead%d@rules.example", i), "phone": fmt.Sprintf("+1 512 555 %04d", i)}
		addr := map[string]any{"state": "CA", "postal_code": "90210", "city": "Beverly Hills"}
		switch i % 5 {
		case 0:
			addr["state"], addr["postal_code"] = "tx", "78701"
			if i%10 == 0 {
				addr["postal_code"] = "10001"
			}
		case 1:
			addr["state"], addr["postal_code"] = "NY", fmt.Sprintf("100%02d", i%100)
		case 2:
			b["labels"] = []string{"auto", "VIP"}
		}
		want[i] = min(i%5, 3)
		b["address"] = addr
		bodies[i] = b
	}
	ids := s.postLeads(t, key, bodies)
	s.waitRouted(t, sourceID, n)

	pools := []map[string]int{{t1.id: 2, t2.id: 1, t3.id: 1}, {capped.id: 1, n3.id: 1}, {vip.id: 1}, {d1.id: 1, d2.id: 1, d3.id: 1}}
	names := []string{`rule 1 "Texas"`, `rule 2 "NYC"`, `rule 3 "VIP"`, "default rule"}
	counts := make([]map[string]int, 4)
	for i := range counts {
		counts[i] = map[string]int{}
	}
	decs := s.decisions(t, sourceID)
	sawCapSkip := false
	for i, id := range ids {
		rule := want[i]
		if d, ok := decs[id]; !ok || d.rule != rule {
			t.Errorf("lead %d (%v): decision %+v, want rule %d", i, bodies[i]["address"], d, rule)
		}
		who, msgs := s.timeline(t, tn, id)
		text := strings.Join(msgs, "\n")
		if _, ok := pools[rule][who]; !ok {
			t.Errorf("lead %d: assigned to %q, not in the pool of %s; timeline:\n%s", i, who, names[rule], text)
		}
		if !strings.Contains(text, names[rule]) {
			t.Errorf("lead %d: timeline does not name %s:\n%s", i, names[rule], text)
		}
		counts[rule][who]++
		if rule == 1 {
			// The paused member is skipped on every nyc decision, by name.
			if !strings.Contains(text, paused.name) || !strings.Contains(text, "paused") {
				t.Errorf("lead %d: the timeline does not say %s was skipped as paused:\n%s", i, paused.name, text)
			}
			sawCapSkip = sawCapSkip || strings.Contains(text, capped.name) && strings.Contains(text, "daily_cap")
		}
	}
	// Texas: one epoch, 2:1:1. VIP: one person. Default: three at 1.
	for _, rule := range []int{0, 2, 3} {
		withinOne(t, names[rule], counts[rule], pools[rule])
	}
	// NYC: 60 leads; the first epoch shares them 1:1 between the capped
	// member and Nora until the cap, the second gives Nora all the rest.
	if got := counts[1][capped.id]; got != nycCap || counts[1][n3.id] != n/5-nycCap || counts[1][paused.id] != 0 {
		t.Errorf("nyc pool: capped %d (cap %d), Nora %d, paused %d", got, nycCap, counts[1][n3.id], counts[1][paused.id])
	}
	if !sawCapSkip {
		t.Errorf("no nyc lead's timeline says %s was skipped at her daily_cap", capped.name)
	}

	// The fairness report counts what the leads show.
	r := s.do(t, "GET", "/v1/orgs/"+tn.id+"/sources/everquote/fairness", tn.ownerToken, nil)
	if r.status != 200 {
		t.Fatalf("fairness: %d %s", r.status, r.raw)
	}
	if r.body["decisions"] != float64(n) {
		t.Errorf("fairness: %v decisions, want %d", r.body["decisions"], n)
	}
	reported := map[string]int{}
	skips := map[string]map[string]any{}
	for _, p := range r.body["pools"].([]any) {
		for _, m := range p.(map[string]any)["members"].([]any) {
			mm := m.(map[string]any)
			id := mm["user_id"].(string)
			reported[id] += int(mm["assigned"].(float64))
			if sk, ok := mm["skips"].(map[string]any); ok {
				skips[id] = sk
			}
		}
	}
	for rule, c := range counts {
		if rule == 2 {
			continue // one user, no rotation: not a pool of the report
		}
		for id, k := range c {
			if reported[id] != k {
				t.Errorf("fairness: %s assigned %d, the leads show %d (%s)", id, reported[id], k, names[rule])
			}
		}
	}
	if skips[paused.id]["paused"] != float64(n/5) {
		t.Errorf("fairness: %s skipped as paused %v times, want %d (%s)", paused.name, skips[paused.id], n/5, r.raw)
	}
}

// TestRoutePreviewAgreesWithWhatHappens previews a lead twice (the same
// rule and person both times: a preview moves no rotation), posts it, and
// finds it went where the preview said, by the rule it named.
func TestRoutePreviewAgreesWithWhatHappens(t *testing.T) {
	s := up(t)
	tn := s.newTenant(t, "preview", 0, nil)
	a, b, c := s.member(t, tn, "Pia A", "staff"), s.member(t, tn, "Pia B", "staff"), s.member(t, tn, "Pia C", "staff")
	s.putGroup(t, tn, "texas", map[member]int{a: 1, b: 3})
	key, sourceID := s.putSource(t, tn, "everquote", map[string]any{"name": "EverQuote",
		"rules":   []map[string]any{{"name": "Texas", "when": map[string]any{"state": []string{"TX"}}, "routing": map[string]any{"mode": "group", "group": "texas"}}},
		"routing": map[string]any{"mode": "user", "user": c.id}})
	path := "/v1/orgs/" + tn.id + "/sources/everquote/route-preview"
	texan := map[string]any{"first_name": "Tex", "email": "tex@preview.example", "address": map[string]any{"state": "TX", "postal_code": "78701"}}

	// Move the group's rotation first, so the preview's pick is not just
	// the pool's first member.
	s.postLeads(t, key, []map[string]any{{"external_id": "warm-1", "email": "w1@preview.example", "address": map[string]any{"state": "TX"}}})
	s.waitRouted(t, sourceID, 1)

	first := s.do(t, "POST", path, tn.ownerToken, texan)
	if first.status != 200 || first.str("rule_name") != "Texas" || first.body["default"] != false {
		t.Fatalf("preview: %d %s", first.status, first.raw)
	}
	who := first.str("assigned_to")
	if who != a.id && who != b.id {
		t.Fatalf("preview names %q, not a texas member: %s", who, first.raw)
	}
	second := s.do(t, "POST", path, tn.ownerToken, texan)
	if second.status != 200 || second.str("assigned_to") != who || second.str("rule_name") != "Texas" {
		t.Fatalf("a second preview answers otherwise (a preview moved the rotation?): %s then %s", first.raw, second.raw)
	}
	if n := s.countLeads(t, tn.id); n != 1 {
		t.Fatalf("previews stored leads: %d leads", n)
	}
	other := s.do(t, "POST", path, tn.ownerToken, map[string]any{"email": "ca@preview.example", "address": map[string]any{"state": "CA"}})
	if other.status != 200 || other.body["default"] != true || other.str("assigned_to") != c.id {
		t.Fatalf("preview of a lead no rule matches: %d %s", other.status, other.raw)
	}
	if bad := s.do(t, "POST", path, tn.ownerToken, map[string]any{"email": "not-an-email"}); bad.status != 422 || bad.errField("email") == "" {
		t.Fatalf("preview of a bad lead: %d %s", bad.status, bad.raw)
	}
	if r := s.do(t, "POST", path, b.token, texan); r.status != 403 {
		t.Fatalf("preview by a staff member: %d %s", r.status, r.raw)
	}

	texan["external_id"] = "tex-1"
	id := s.postLeads(t, key, []map[string]any{texan})[0]
	s.waitRouted(t, sourceID, 2)
	got, msgs := s.timeline(t, tn, id)
	if got != who || !strings.Contains(strings.Join(msgs, "\n"), `rule 1 "Texas"`) {
		t.Fatalf("previewed %s by rule Texas; the lead went to %s:\n%s", who, got, strings.Join(msgs, "\n"))
	}
}

// countLeads counts the org's stored leads.
func (s *stack) countLeads(t *testing.T, orgID string) int {
	t.Helper()
	var n int
	if err := s.deps.Pool.QueryRow(context.Background(), `SELECT count(*) FROM leads WHERE org_id = $1`, orgID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
