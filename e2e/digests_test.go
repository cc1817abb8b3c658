package e2e

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"

	"github.com/leadrelay/leadrelay/internal/app"
	"github.com/leadrelay/leadrelay/internal/bench"
	"github.com/leadrelay/leadrelay/internal/mailcatcher"
	"github.com/leadrelay/leadrelay/workflows"
)

// digestRig is a fault rig (real worker processes, private PostgreSQL and
// Temporal) whose worker sends each digest batch `delay` after its first
// lead (NEW_LEAD_DIGEST_DELAY), so a test sees digests in seconds. The rig's
// first worker registers the search attributes the API waits for (on the
// production-shaped server nothing else does); before any lead exists it is
// replaced by one with the delay in its environment.
func digestRig(t *testing.T, delay string) (*rig, *stack) {
	t.Helper()
	r := newRig(t, 1, 1)
	r.mu.Lock()
	r.env = append(r.env, "NEW_LEAD_DIGEST_DELAY="+delay)
	r.mu.Unlock()
	r.killWorker(t)
	r.waitWorkers(t, 2)
	return r, r.apis[0]
}

// sweep runs a reconciler pass from the test with the rig's digest delay,
// so the digest runs start now and wait on their timers (the worker's own
// pass comes every 30 s, possibly after a short delay has passed).
func sweep(t *testing.T, s *stack, delay time.Duration) {
	t.Helper()
	cfg := *s.deps.Cfg
	cfg.DigestDelay = delay
	d := *s.deps
	d.Cfg = &cfg
	if _, err := app.Reconcile(context.Background(), &d, time.Hour); err != nil {
		t.Fatal(err)
	}
}

// subscriber is a user who asked for new-lead digests.
type subscriber struct{ id, email, name string }

// subscribe adds to tn the users a digest goes to — an admin and a staff
// user with notify_new_leads — and two it does not: a subscribed manager
// and an unsubscribed staff user. It returns the first two, then the other
// two.
func (s *stack) subscribe(t *testing.T, tn tenant) (mailed, not []subscriber) {
	t.Helper()
	for i, u := range []struct {
		role   string
		notify bool
	}{{"admin", true}, {"staff", true}, {"manager", true}, {"staff", false}} {
		name := fmt.Sprintf("Digest %s %d %s", u.role, i, tn.id[:8])
		email := fmt.Sprintf("digest-%s-%d-%s@people.example", u.role, i, tn.id[:8])
		r := s.do(t, "POST", "/v1/orgs/"+tn.id+"/users", tn.ownerToken, map[string]any{"email": email, "name": name,
			"role": u.role, "notify_new_leads": u.notify})
		if r.status != 201 {
			t.Fatalf("create %s: %d %s", u.role, r.status, r.raw)
		}
		if i < 2 {
			mailed = append(mailed, subscriber{r.str("id"), email, name})
		} else {
			not = append(not, subscriber{r.str("id"), email, name})
		}
	}
	return mailed, not
}

// digestLead is a lead body whose personal data the history scan looks for.
func digestLead(ext string) map[string]any {
	return map[string]any{"external_id": ext, "first_name": "Dora", "last_name": "Digestova",
		"email": "dora.digestova@example.com", "phone": "+1 312 555 0199"}
}

// postDigestLeads posts n leads with key and returns their ids.
func (s *stack) postDigestLeads(t *testing.T, key, prefix string, n int) []string {
	t.Helper()
	var ids []string
	for i := 0; i < n; i++ {
		r := s.do(t, "POST", "/v1/leads", key, digestLead(fmt.Sprintf("%s-%d", prefix, i)))
		if r.status != 202 {
			t.Fatalf("post: %d %s", r.status, r.raw)
		}
		ids = append(ids, r.str("lead_id"))
	}
	return ids
}

// digests returns the sink's digest emails.
func digests(sink *mailcatcher.Catcher) []mailcatcher.Message {
	var out []mailcatcher.Message
	for _, m := range sink.Messages() {
		if strings.HasPrefix(m.Key, "digest:") {
			out = append(out, m)
		}
	}
	return out
}

// waitDigests waits until n distinct digest emails arrived and the orgs'
// digest batches are all finished.
func (s *stack) waitDigests(t *testing.T, sink *mailcatcher.Catcher, orgs []string, n int, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		ids := map[string]bool{}
		for _, m := range digests(sink) {
			ids[m.MessageID] = true
		}
		pending := s.count(t, `SELECT count(*) FROM digests WHERE org_id = ANY($1) AND status = 'pending'`, orgs)
		if len(ids) >= n && pending == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %d of %d digests delivered, %d batches pending", limit, len(ids), n, pending)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

var digestCount = regexp.MustCompile(`^(\d+) new leads? for `)

// TestDigestOncePerSubscriberPerOrg: 50 leads over three orgs — a lone org,
// a master and its sub-agency, which gets the master's fanned-out leads and
// five it transfers down — plus 10,000 leads recorded at once in a fourth
// org. With NEW_LEAD_DIGEST_DELAY=20s each subscribed admin and staff user
// gets exactly one digest per org, counting what that org holds: a lead
// passed down counts for the sub-agency, a transferred one for the org it
// moved to. The 10,000-lead digest lists 500 and says how many more, and its
// run stays under 100 events. The fresh histories hold no personal data.
func TestDigestOncePerSubscriberPerOrg(t *testing.T) {
	r, s := digestRig(t, "20s")
	ctx := context.Background()
	a := s.newTenant(t, "DigestAlone", 2, map[string]any{"name": "EverQuote", "routing": map[string]any{"mode": "staff_evenly"}})
	b := s.newTenant(t, "DigestMaster", 0, map[string]any{"name": "EverQuote", "routing": map[string]any{"mode": "owner"}})
	c := s.newTenant(t, "DigestSub", 1, map[string]any{"name": "EverQuote", "routing": map[string]any{"mode": "staff_evenly"}})
	bulk := s.newTenant(t, "DigestBulk", 0, map[string]any{"name": "EverQuote", "routing": map[string]any{"mode": "owner"}})
	s.link(t, b, c)
	fan := s.do(t, "PUT", "/v1/orgs/"+b.id+"/sources/fan", b.ownerToken, map[string]any{"name": "Fan",
		"routing": map[string]any{"mode": "sub_agencies_evenly", "sub_agencies": []string{c.id}}})
	if fan.status != 201 {
		t.Fatalf("fan source: %d %s", fan.status, fan.raw)
	}
	orgs := []tenant{a, b, c, bulk}
	mailed := map[string][]subscriber{}
	var quiet []subscriber
	for _, tn := range orgs[:3] {
		m, n := s.subscribe(t, tn)
		mailed[tn.id] = m
		quiet = append(quiet, n...)
	}
	bulkAdmin, _ := s.subscribe(t, bulk)
	mailed[bulk.id] = bulkAdmin

	const many = 10_000
	if _, err := bench.BulkLeads(ctx, s.deps.Pool, bulk.id, bulk.sourceID, "everquote", "digest-bulk-", bulk.ownerID, many); err != nil {
		t.Fatal(err)
	}
	s.postDigestLeads(t, a.vendorKey, "dg-a", 20)
	direct := s.postDigestLeads(t, b.vendorKey, "dg-b", 15)
	s.postDigestLeads(t, fan.str("api_key"), "dg-fan", 15)
	s.waitRouted(t, a.sourceID, 20)
	s.waitRouted(t, b.sourceID, 15)
	s.waitRouted(t, fan.str("id"), 15)
	sweep(t, s, 20*time.Second)
	tr := s.do(t, "POST", "/v1/orgs/"+b.id+"/transfers", b.ownerToken, map[string]any{"to_org": c.id, "lead_ids": direct[:5], "mode": "owner"})
	if tr.status != 202 {
		t.Fatalf("transfer: %d %s", tr.status, tr.raw)
	}
	s.waitTransfer(t, b.id, b.ownerToken, tr.str("id"), time.Minute)

	ids := []string{a.id, b.id, c.id, bulk.id}
	s.waitDigests(t, r.sink, ids, 8, 3*time.Minute)
	time.Sleep(3 * time.Second) // anything doubled would arrive by now
	want := map[string]int{a.id: 20, b.id: 10, c.id: 20, bulk.id: many}
	names := map[string]string{a.id: "DigestAlone", b.id: "DigestMaster", c.id: "DigestSub", bulk.id: "DigestBulk"}
	got := map[string]int{}
	for _, m := range digests(r.sink) {
		got[m.To[0]]++
	}
	for _, tn := range orgs {
		for _, u := range mailed[tn.id] {
			ms := r.sink.Messages()
			var mine []mailcatcher.Message
			for _, m := range ms {
				if m.To[0] == u.email && strings.HasPrefix(m.Key, "digest:") {
					mine = append(mine, m)
				}
			}
			if len(mine) != 1 {
				t.Errorf("%s of %s got %d digests, want 1", u.name, names[tn.id], len(mine))
				continue
			}
			sub := digestCount.FindStringSubmatch(mine[0].Subject)
			if sub == nil || sub[1] != fmt.Sprint(want[tn.id]) || !strings.Contains(mine[0].Subject, names[tn.id]) {
				t.Errorf("%s's digest for %s: %q, want %d leads", u.name, names[tn.id], mine[0].Subject, want[tn.id])
			}
			if !strings.HasPrefix(mine[0].Key, "digest:"+tn.id+":") || !strings.HasSuffix(mine[0].Key, ":"+u.id) {
				t.Errorf("digest key %s", mine[0].Key)
			}
		}
	}
	for _, u := range quiet {
		if got[u.email] != 0 {
			t.Errorf("%s got a digest: not an admin or staff subscriber", u.name)
		}
	}
	if n := len(digests(r.sink)); n != 8 {
		t.Errorf("%d digest emails, want 8", n)
	}
	if n := s.count(t, `SELECT count(*) FROM digests WHERE org_id = ANY($1) AND status = 'sent' AND batch = 0`, ids); n != 4 {
		t.Errorf("%d sent batches, want one per org", n)
	}
	for _, m := range digests(r.sink) {
		if m.To[0] != bulkAdmin[0].email {
			continue
		}
		if !strings.Contains(m.Text, fmt.Sprintf("and %d more", many-500)) || strings.Count(m.Text, "/v1/leads/") != 500 {
			t.Errorf("the 10,000-lead digest lists %d leads; its text ends %q", strings.Count(m.Text, "/v1/leads/"), m.Text[len(m.Text)-200:])
		}
	}

	var day string
	if err := s.deps.Pool.QueryRow(ctx, `SELECT to_char(day, 'YYYY-MM-DD') FROM digests WHERE org_id = $1`, c.id).Scan(&day); err != nil {
		t.Fatal(err)
	}
	var bulkDay string
	if err := s.deps.Pool.QueryRow(ctx, `SELECT to_char(day, 'YYYY-MM-DD') FROM digests WHERE org_id = $1`, bulk.id).Scan(&bulkDay); err != nil {
		t.Fatal(err)
	}
	bulkRun := workflows.DigestWorkflowID(bulk.id, bulkDay, 0)
	timer := false
	for _, e := range history(t, s, workflows.DigestWorkflowID(c.id, day, 0)).Events {
		timer = timer || e.GetEventType() == enums.EVENT_TYPE_TIMER_FIRED
	}
	if !timer {
		t.Error("the sub-agency's digest run, started at once, did not wait on its timer")
	}
	if n := len(history(t, s, bulkRun).Events); n >= 100 {
		t.Errorf("the 10,000-lead digest's run has %d events, want under 100", n)
	} else {
		t.Logf("the 10,000-lead digest's run has %d events", n)
	}
	secrets := []string{"Dora", "Digestova", "dora.digestova@example.com", "312 555 0199", "Bulk", "bulk1@example.com",
		a.vendorKey, b.vendorKey, fan.str("api_key"), a.ownerToken, b.ownerToken, c.ownerToken, s.admin}
	for _, us := range mailed {
		for _, u := range us {
			secrets = append(secrets, u.email, u.name)
		}
	}
	checkHistories(t, s, map[string]string{"digest_history.json": workflows.DigestWorkflowID(c.id, day, 0),
		"digest_bulk_history.json": bulkRun}, secrets)
}

// TestDigestSurvivesSIGKILL: the only worker is SIGKILLed while two orgs'
// digests wait for their time, and again while the mail server is down and
// the digests are being retried. Each subscriber still gets exactly one
// digest per org: one email, one Message-ID, once.
func TestDigestSurvivesSIGKILL(t *testing.T) {
	r, s := digestRig(t, "40s")
	a := s.newTenant(t, "KillDigestA", 2, map[string]any{"name": "EverQuote", "routing": map[string]any{"mode": "staff_evenly"}})
	b := s.newTenant(t, "KillDigestB", 0, map[string]any{"name": "EverQuote", "routing": map[string]any{"mode": "owner"}})
	am, _ := s.subscribe(t, a)
	bm, _ := s.subscribe(t, b)
	s.postDigestLeads(t, a.vendorKey, "kill-a", 10)
	s.postDigestLeads(t, b.vendorKey, "kill-b", 10)
	s.waitRouted(t, a.sourceID, 10)
	s.waitRouted(t, b.sourceID, 10)
	ids := []string{a.id, b.id}
	deadline := time.Now().Add(2 * time.Minute)
	for s.count(t, `SELECT count(*) FROM digests WHERE org_id = ANY($1) AND started_at IS NOT NULL`, ids) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the sweep started no digest run in 2 minutes")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if n := s.count(t, `SELECT count(*) FROM digests WHERE org_id = ANY($1) AND status = 'pending' AND fire_at > now()`, ids); n != 2 {
		t.Fatalf("%d digests still waiting for their time at the first kill, want 2", n)
	}
	t.Log("killing the worker while both digests wait for their time")
	r.killWorker(t)
	if err := r.sink.Stop(); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(2 * time.Minute)
	for s.count(t, `SELECT count(*) FROM email_deliveries WHERE kind = 'digest' AND org_id = ANY($1) AND last_error IS NOT NULL`, ids) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("no digest attempted within 2 minutes of the first kill")
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Log("killing the worker again while the mail server refuses the digests")
	r.killWorker(t)
	time.Sleep(2 * time.Second)
	if err := r.sink.Resume(); err != nil {
		t.Fatal(err)
	}
	s.waitDigests(t, r.sink, ids, 4, 4*time.Minute)
	time.Sleep(3 * time.Second) // anything doubled would arrive by now
	perUser := map[string]int{}
	for _, m := range digests(r.sink) {
		perUser[m.To[0]]++
	}
	for _, u := range append(am, bm...) {
		if perUser[u.email] != 1 {
			t.Errorf("%s got %d digests, want 1", u.name, perUser[u.email])
		}
	}
	if n := len(digests(r.sink)); n != 4 {
		t.Errorf("%d digest emails, want 4", n)
	}
}

// TestReconcilerStartsALostDigest: a digest batch recorded without a run (a
// crash between the row and the start) and one whose run an operator
// terminated while it waited are both started by the reconciler, and each
// subscriber gets each digest once. Their leads arrived three days ago, out
// of the sweep's sight, so only these rows speak for them.
func TestReconcilerStartsALostDigest(t *testing.T) {
	s := up(t)
	ctx := context.Background()
	var runs []string
	var subs []subscriber
	for i, name := range []string{"LostDigest", "TerminatedDigest"} {
		tn := s.newTenant(t, name, 1, map[string]any{"name": "EverQuote", "routing": map[string]any{"mode": "staff_evenly"}})
		m, _ := s.subscribe(t, tn)
		subs = append(subs, m...)
		ids := s.postDigestLeads(t, tn.vendorKey, fmt.Sprintf("lost-%d-%d", i, time.Now().UnixNano()), 2)
		s.waitRouted(t, tn.sourceID, 2)
		if _, err := s.deps.Pool.Exec(ctx, `UPDATE leads SET routed_at = now() - interval '3 days' WHERE id = ANY($1)`, ids); err != nil {
			t.Fatal(err)
		}
		day := time.Now().Add(-72 * time.Hour).UTC()
		from := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC).Add(-24 * time.Hour)
		fire := time.Now().Add(-time.Second)
		if i == 1 {
			fire = time.Now().Add(time.Hour) // its run will wait, and be terminated
		}
		dayS := day.Format(time.DateOnly)
		runs = append(runs, workflows.DigestWorkflowID(tn.id, dayS, 0))
		if _, err := s.deps.Pool.Exec(ctx, `INSERT INTO digests (org_id, day, from_at, until_at, fire_at, workflow_id)
			VALUES ($1, $2, $3, $4, $5, $6)`, tn.id, dayS, from, from.Add(72*time.Hour), fire, runs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := app.Reconcile(ctx, s.deps, time.Hour); err != nil {
		t.Fatal(err)
	}
	s.waitMail(t, subs[0].email, 1, time.Minute)
	if err := s.deps.Temporal.TerminateWorkflow(ctx, runs[1], "", "an operator's mistake"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.deps.Pool.Exec(ctx, `UPDATE digests SET fire_at = now(), started_at = now() - interval '11 minutes'
		WHERE workflow_id = $1`, runs[1]); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Reconcile(ctx, s.deps, time.Hour); err != nil {
		t.Fatal(err)
	}
	s.waitMail(t, subs[2].email, 1, time.Minute)
	time.Sleep(2 * time.Second)
	for _, u := range subs {
		if n := len(s.mailsFor(u.email)); n != 1 {
			t.Errorf("%s got %d digests, want 1", u.name, n)
		}
	}
	if n := s.count(t, `SELECT count(*) FROM digests WHERE workflow_id = ANY($1) AND status = 'sent' AND leads = 2`, runs); n != 2 {
		t.Errorf("%d of 2 lost digests sent with their two leads", n)
	}
}
