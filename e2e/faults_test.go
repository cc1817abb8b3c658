package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/leadrelay/leadrelay/internal/app"
	"github.com/leadrelay/leadrelay/internal/config"
	"github.com/leadrelay/leadrelay/internal/devstack"
	"github.com/leadrelay/leadrelay/internal/mail"
	"github.com/leadrelay/leadrelay/internal/mailcatcher"
	"github.com/leadrelay/leadrelay/internal/testenv"
	"github.com/leadrelay/leadrelay/workflows"
)

// The fault tests run leadrelay as production does — workers as separate
// processes that can be killed, API processes, the application's own
// PostgreSQL cluster (restartable without disturbing other packages) and a
// restartable Temporal server — and count afterwards that no lead was lost
// or routed twice and no email sent twice.

// restartable is the Temporal server of a rig.
type restartable interface {
	FrontendHostPort() string
	Restart(ctx context.Context) error
}

// devTemporal is a dev server persisting to a file, so a restart keeps its state.
type devTemporal struct {
	bin, db, log string
	port, ui     int
	proc         *devstack.Proc
}

func (d *devTemporal) FrontendHostPort() string { return fmt.Sprintf("127.0.0.1:%d", d.port) }

func (d *devTemporal) Restart(ctx context.Context) error {
	d.proc.Stop(30 * time.Second)
	return d.start(ctx)
}

func (d *devTemporal) start(ctx context.Context) error {
	p, err := devstack.StartTemporal(d.bin, d.db, d.log, d.port, d.ui, workflows.SearchAttributeNames())
	if err != nil {
		return err
	}
	d.proc = p
	deadline := time.Now().Add(60 * time.Second)
	for !portOpen(d.FrontendHostPort()) {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("dev server on %d did not come up (see %s)", d.port, d.log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

func portOpen(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	_ = c.Close() // a probe: nothing was sent on it
	return true
}

type rig struct {
	dir      string
	pgPort   int
	pg       *devstack.Proc
	dbURL    string
	temporal restartable
	sink     *mailcatcher.Catcher
	env      []string
	bin      string

	mu      sync.Mutex
	workers []*devstack.Proc
	nextLog int
	apis    []*stack
}

var (
	workerBinOnce sync.Once
	workerBin     string
	workerBinErr  error
)

// buildWorker builds ./worker once per test process.
func buildWorker(t *testing.T) string {
	t.Helper()
	workerBinOnce.Do(func() {
		root, err := devstack.Root()
		if err != nil {
			workerBinErr = err
			return
		}
		dir, err := os.MkdirTemp("", "leadrelay-worker-")
		if err != nil {
			workerBinErr = err
			return
		}
		workerBin = filepath.Join(dir, "worker")
		cmd := exec.Command("go", "build", "-o", workerBin, "./worker")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			workerBinErr = fmt.Errorf("go build ./worker: %v\n%s", err, out)
		}
	})
	if workerBinErr != nil {
		t.Fatal(workerBinErr)
	}
	return workerBin
}

// newRig starts a private PostgreSQL cluster, a restartable Temporal server
// (its own dev server on a file, or the package's production-shaped one), an
// SMTP sink, the given number of worker processes and in-process API servers.
func newRig(t *testing.T, workers, apis int) *rig {
	t.Helper()
	ctx := context.Background()
	// Not t.TempDir: its parent is private to us, and as root the cluster
	// runs as "postgres", which must reach its directory.
	dir, err := os.MkdirTemp("", "leadrelay-faults-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			if err := os.RemoveAll(dir); err != nil {
				t.Logf("fault rig logs not removed: %v", err)
			}
		} else {
			t.Logf("fault rig logs kept in %s", dir)
		}
	})
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	r := &rig{dir: dir, bin: buildWorker(t)}
	port, err := devstack.FreePort(0)
	if err != nil {
		t.Fatal(err)
	}
	r.pgPort = port
	r.dbURL, r.pg, err = devstack.StartPostgresOnPort(ctx, filepath.Join(r.dir, "pg"), filepath.Join(r.dir, "pg.log"), port)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.pg.Stop(30 * time.Second) })

	if testenv.TemporalTarget() == "postgres" {
		ts, ok := testenv.Temporal(t).(restartable)
		if !ok {
			t.Fatal("the production-shaped server cannot restart")
		}
		r.temporal = ts
	} else {
		root, _ := devstack.Root()
		bin, err := devstack.TemporalBinary(ctx, root, nil)
		if err != nil {
			t.Fatal(err)
		}
		p1, _ := devstack.FreePort(0)
		p2, _ := devstack.FreePort(0)
		d := &devTemporal{bin: bin, db: filepath.Join(r.dir, "temporal.db"), log: filepath.Join(r.dir, "temporal.log"), port: p1, ui: p2}
		if err := d.start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.proc.Stop(30 * time.Second) })
		r.temporal = d
	}
	r.sink, err = mailcatcher.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.sink.Close() })
	r.env = []string{"DATABASE_URL=" + r.dbURL, "TEMPORAL_ADDRESS=" + r.temporal.FrontendHostPort(),
		"TEMPORAL_TASK_QUEUE=faults-" + strconv.FormatInt(time.Now().UnixNano(), 36), "SMTP_URL=" + r.sink.URL(),
		"MAIL_FROM=leadrelay <noreply@leadrelay.test>", "PUBLIC_BASE_URL=http://api.test", "LOG_LEVEL=info",
		"ADMIN_TOKEN=" + adminToken, "VENDOR_RATE_LIMIT=10000/s,burst=10000", "METRICS_ADDR=127.0.0.1:0",
		"USER_RATE_LIMIT=100000/s,burst=100000", "TRANSFERS_PER_ORG=off", "WEBHOOK_ALLOW_PRIVATE=true",
		"WEBHOOK_SECRET_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}
	for i := 0; i < workers; i++ {
		r.startWorker(t)
	}
	done := make(chan struct{})
	go r.supervise(t, done)
	t.Cleanup(func() {
		close(done)
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, w := range r.workers {
			w.Kill()
		}
	})
	for i := 0; i < apis; i++ {
		r.startAPI(t)
	}
	r.waitWorkers(t, workers)
	return r
}

func (r *rig) startWorker(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.nextLog++
	p, err := devstack.StartProcess("worker", filepath.Join(r.dir, fmt.Sprintf("worker-%d.log", r.nextLog)), r.env, r.bin)
	if err != nil {
		t.Fatal(err)
	}
	r.workers = append(r.workers, p)
}

// supervise restarts a worker that exits by itself, as systemd, Kubernetes
// or compose's restart policy would.
func (r *rig) supervise(t *testing.T, done chan struct{}) {
	every(500*time.Millisecond, done, func() {
		r.mu.Lock()
		var alive []*devstack.Proc
		exited := 0
		for _, w := range r.workers {
			if w.Exited() {
				exited++
			} else {
				alive = append(alive, w)
			}
		}
		r.workers = alive
		r.mu.Unlock()
		for i := 0; i < exited; i++ {
			t.Logf("supervisor: a worker exited; starting another")
			r.startWorker(t)
		}
	})
}

// every calls f every d until done is closed.
func every(d time.Duration, done <-chan struct{}, f func()) {
	tk := time.NewTicker(d)
	defer tk.Stop()
	for {
		select {
		case <-done:
			return
		case <-tk.C:
			f()
		}
	}
}

// waitWorkers waits until n workers have logged that they poll: registered
// the search attributes and started.
func (r *rig) waitWorkers(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		logs, _ := filepath.Glob(filepath.Join(r.dir, "worker-*.log"))
		started := 0
		for _, l := range logs {
			if b, _ := os.ReadFile(l); bytes.Contains(b, []byte("worker started")) {
				started++
			}
		}
		if started >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d workers started after 2 minutes (logs in %s)", started, n, r.dir)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// killWorker SIGKILLs the oldest worker and starts a new one in its place.
func (r *rig) killWorker(t *testing.T) {
	r.mu.Lock()
	w := r.workers[0]
	r.workers = r.workers[1:]
	r.mu.Unlock()
	w.Kill()
	r.startWorker(t)
}

func (r *rig) startAPI(t *testing.T) {
	t.Helper()
	env := map[string]string{}
	for _, kv := range r.env {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	d, err := app.Open(context.Background(), cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(app.APIHandler(d))
	t.Cleanup(func() { srv.Close(); d.Close() })
	waitReady(t, srv.URL+"/readyz", 2*time.Minute)
	r.apis = append(r.apis, &stack{deps: d, api: srv, sink: r.sink, admin: adminToken})
}

// restartPostgres stops the application's cluster (fast shutdown: every
// connection is cut) and starts it again on the same port after down.
func (r *rig) restartPostgres(t *testing.T, down time.Duration) {
	r.pg.Stop(30 * time.Second)
	time.Sleep(down)
	var err error
	r.dbURL, r.pg, err = devstack.StartPostgresOnPort(context.Background(), filepath.Join(r.dir, "pg"), filepath.Join(r.dir, "pg.log"), r.pgPort)
	if err != nil {
		t.Error(err)
	}
}

// scenario is the tenants one run posts to: a rotating org, and a master
// fanning out to two sub-agencies that rotate in turn. Every source notifies
// one purchase address.
type scenario struct {
	solo, master tenant
	subs         []tenant
	buyers       map[string]string // org id → its purchase address
}

func (r *rig) setup(t *testing.T) scenario {
	t.Helper()
	s := r.apis[0]
	sc := scenario{buyers: map[string]string{}}
	stamp := strconv.FormatInt(time.Now().UnixNano(), 36)
	src := func(name string, routing map[string]any) map[string]any {
		addr := name + "-" + stamp + "@buyers.example"
		return map[string]any{"name": "EverQuote", "routing": routing, "purchase_notification_emails": []string{addr}}
	}
	solo := src("solo", map[string]any{"mode": "staff_evenly"})
	sc.solo = s.newTenant(t, "solo", 3, solo)
	sc.buyers[sc.solo.id] = solo["purchase_notification_emails"].([]string)[0]
	sc.master = s.newTenant(t, "master", 0, nil)
	var ids []string
	for i := 0; i < 2; i++ {
		cfg := src(fmt.Sprintf("sub%d", i), map[string]any{"mode": "staff_evenly"})
		sub := s.newTenant(t, fmt.Sprintf("sub%d", i), 2, cfg)
		if err := s.store().LinkOrgs(context.Background(), sc.master.id, sub.id); err != nil {
			t.Fatal(err)
		}
		sc.buyers[sub.id] = cfg["purchase_notification_emails"].([]string)[0]
		sc.subs = append(sc.subs, sub)
		ids = append(ids, sub.id)
	}
	mcfg := src("master", map[string]any{"mode": "sub_agencies_evenly", "sub_agencies": ids})
	res := s.do(t, "PUT", "/v1/orgs/"+sc.master.id+"/sources/everquote", sc.master.ownerToken, mcfg)
	if res.status != 201 {
		t.Fatalf("master source: %d %s", res.status, res.raw)
	}
	sc.master.vendorKey, sc.master.sourceID = res.str("api_key"), res.str("id")
	sc.buyers[sc.master.id] = mcfg["purchase_notification_emails"].([]string)[0]
	return sc
}

// postAll posts n leads, alternating the two intake sources and the API
// processes, 16 at a time, retrying as a vendor does: a transport error, a
// 5xx or a 429 is sent again, with the same external_id, until accepted.
// It returns the lead ids by external id and how many retries were needed.
func (r *rig) postAll(t *testing.T, sc scenario, n int, onProgress func(done int)) (map[string]string, int64) {
	t.Helper()
	var mu sync.Mutex
	ids := map[string]string{}
	var retries, done atomic.Int64
	work := make(chan int)
	var wg sync.WaitGroup
	hc := &http.Client{Timeout: 30 * time.Second}
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				key := sc.solo.vendorKey
				if i%2 == 1 {
					key = sc.master.vendorKey
				}
				ext := fmt.Sprintf("fault-%d", i)
				body, _ := json.Marshal(map[string]any{"external_id": ext, "first_name": "Ada", "email": "ada@example.com"})
				deadline := time.Now().Add(5 * time.Minute)
				for attempt := 0; ; attempt++ {
					api := r.apis[(i+attempt)%len(r.apis)]
					req, _ := http.NewRequest("POST", api.api.URL+"/v1/leads", bytes.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+key)
					res, err := hc.Do(req)
					var out struct {
						LeadID string `json:"lead_id"`
					}
					if err == nil {
						_ = json.NewDecoder(res.Body).Decode(&out)
						res.Body.Close()
						if res.StatusCode == 200 || res.StatusCode == 202 {
							mu.Lock()
							ids[ext] = out.LeadID
							mu.Unlock()
							break
						}
						if res.StatusCode < 429 || res.StatusCode == 501 {
							t.Errorf("post %s: %d", ext, res.StatusCode)
							break
						}
					}
					if time.Now().After(deadline) {
						t.Errorf("post %s not accepted within 5 minutes: %v", ext, err)
						break
					}
					retries.Add(1)
					time.Sleep(time.Duration(min(attempt+1, 10)) * 100 * time.Millisecond)
				}
				if d := done.Add(1); onProgress != nil {
					onProgress(int(d))
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	return ids, retries.Load()
}

// faultCounts is what the checks found; the test logs it for the record.
type faultCounts struct {
	Leads, Routed, RoutedTwice, Unassigned int
	Emails, EmailsMissing, EmailCopies     int
	EmailsUnexpected                       int // to a buyer, with a Message-ID no hop should produce
	SpreadSolo, SpreadSubs, SpreadReps     int
}

// verify waits until every posted lead is routed and every purchase email
// delivered (or the limit passes), then counts what the user would check.
func (r *rig) verify(t *testing.T, sc scenario, ids map[string]string, n int) faultCounts {
	t.Helper()
	ctx := context.Background()
	db := r.apis[0].deps.Pool
	var c faultCounts
	c.Leads = len(ids)
	if len(ids) != n {
		t.Errorf("%d of %d posts accepted", len(ids), n)
	}
	want := map[string]bool{} // Message-IDs every lead's hops must produce
	// Leads whose runs died with a killed worker are routed by the
	// reconciler, which waits domain.UnroutedAfter (2 min) before it acts;
	// on a loaded machine the backlog after that takes minutes more.
	deadline := time.Now().Add(8 * time.Minute)
	for {
		var routed int
		if err := db.QueryRow(ctx, `SELECT count(*) FROM leads WHERE source_id = ANY($1::uuid[]) AND routed_at IS NOT NULL`,
			[]string{sc.solo.sourceID, sc.master.sourceID}).Scan(&routed); err != nil {
			t.Fatal(err)
		}
		c.Routed = routed
		if routed >= n || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	rows, err := db.Query(ctx, `SELECT l.id, l.intake_org_id, l.org_id, l.assigned_to,
			(SELECT count(*) FROM timeline_events e WHERE e.lead_id = l.id AND e.kind = 'routed')
		FROM leads l WHERE l.source_id = ANY($1::uuid[])`, []string{sc.solo.sourceID, sc.master.sourceID})
	if err != nil {
		t.Fatal(err)
	}
	perRep, perSub := map[string]int{}, map[string]int{}
	for rows.Next() {
		var id, intake, holder string
		var assigned *string
		var decisions int
		if err := rows.Scan(&id, &intake, &holder, &assigned, &decisions); err != nil {
			t.Fatal(err)
		}
		hops := 1
		want[mail.MessageID("purchase:"+id+":"+sc.buyers[intake], testenv.MailDomain)] = true
		if intake == sc.master.id {
			hops = 2
			perSub[holder]++
			want[mail.MessageID("purchase:"+id+":"+holder+":"+sc.buyers[holder], testenv.MailDomain)] = true
		}
		if decisions > hops {
			c.RoutedTwice++
		}
		if assigned == nil {
			c.Unassigned++
		} else {
			perRep[*assigned]++
		}
	}
	rows.Close()
	spread := func(members []string, counts map[string]int) int {
		lo, hi := 1<<30, 0
		for _, m := range members {
			lo, hi = min(lo, counts[m]), max(hi, counts[m])
		}
		return hi - lo
	}
	c.SpreadSolo = spread(sc.solo.staff, perRep)
	c.SpreadSubs = spread([]string{sc.subs[0].id, sc.subs[1].id}, perSub)
	c.SpreadReps = max(spread(sc.subs[0].staff, perRep), spread(sc.subs[1].staff, perRep))

	for {
		got := map[string]int{}
		c.EmailsUnexpected = 0
		for _, m := range notAlerts(r.sink.Messages()) { // the assignees' instant alerts are not this count's
			got[m.MessageID]++
			if !want[m.MessageID] {
				c.EmailsUnexpected++
			}
		}
		c.Emails, c.EmailsMissing, c.EmailCopies = 0, 0, 0
		for id := range want {
			switch n := got[id]; {
			case n == 0:
				c.EmailsMissing++
			default:
				c.Emails++
				c.EmailCopies += n - 1
			}
		}
		if c.EmailsMissing == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if c.Routed != n || c.Unassigned != 0 || c.RoutedTwice != 0 || c.EmailsMissing != 0 || c.EmailsUnexpected != 0 {
		t.Errorf("lost or doubled: %+v", c)
	}
	if c.SpreadSolo > 1 || c.SpreadSubs > 1 || c.SpreadReps > 1 {
		t.Errorf("rotation not fair: %+v", c)
	}
	return c
}

// TestWorkersKilledDuringTwoThousandPosts: two workers and two API processes;
// every two seconds one worker is killed with SIGKILL and a new one
// started, while 2,000 leads (half fanned out to sub-agencies, every hop
// emailing) are posted. Nothing is lost, routed twice or emailed twice.
func TestWorkersKilledDuringTwoThousandPosts(t *testing.T) {
	r := newRig(t, 2, 2)
	sc := r.setup(t)
	stop := make(chan struct{})
	var kills atomic.Int64
	go every(2*time.Second, stop, func() {
		r.killWorker(t)
		kills.Add(1)
	})
	const n = 2000
	ids, retries := r.postAll(t, sc, n, nil)
	close(stop)
	c := r.verify(t, sc, ids, n)
	// A kill between the SMTP server's acceptance and the outbox's record
	// resends that email with the same Message-ID (docs/architecture.md, Emails: the one window
	// SMTP cannot close); a recipient's mail system drops such a copy.
	if c.EmailCopies > int(kills.Load()) {
		t.Errorf("%d same-Message-ID copies for %d kills", c.EmailCopies, kills.Load())
	}
	t.Logf("SIGKILL x%d over %d posts (%d vendor retries): %+v", kills.Load(), n, retries, c)
}

// faultMidRun posts 600 leads through one worker and one API process, runs
// fault once a third of them are accepted, and checks that nothing was lost,
// routed twice or emailed twice.
func faultMidRun(t *testing.T, what string, fault func(r *rig)) {
	r := newRig(t, 1, 1)
	sc := r.setup(t)
	const n = 600
	var once sync.Once
	ids, retries := r.postAll(t, sc, n, func(done int) {
		if done == n/3 {
			once.Do(func() { fault(r) })
		}
	})
	c := r.verify(t, sc, ids, n)
	if c.EmailCopies != 0 {
		t.Errorf("%d emails sent twice", c.EmailCopies)
	}
	t.Logf("%s after %d of %d posts (%d vendor retries): %+v", what, n/3, n, retries, c)
}

// TestPostgresRestartMidRun: the application's PostgreSQL is shut down for 5 s
// while leads are posted; the API answers 503 meanwhile (vendors retry),
// routing and emails wait, and afterwards every lead is routed exactly once.
func TestPostgresRestartMidRun(t *testing.T) {
	faultMidRun(t, "PostgreSQL restarted", func(r *rig) { r.restartPostgres(t, 5*time.Second) })
}

// TestTemporalRestartMidRun: the Temporal server restarts while leads are
// posted; starts fail meanwhile (503, the lead is recorded and the vendor's
// retry starts it), workers reconnect, and every lead is routed exactly once.
func TestTemporalRestartMidRun(t *testing.T) {
	faultMidRun(t, "Temporal restarted", func(r *rig) {
		if err := r.temporal.Restart(context.Background()); err != nil {
			t.Error(err)
		}
	})
}

// TestWorkerStopLetsAnEmailInFlightFinish: a deploy stops the worker (SIGTERM)
// while a slow SMTP server is taking a purchase email; the worker lets the
// send finish and record it before it exits, instead of cutting it (which
// leaves the email to a retry on another worker, or a second copy).
func TestWorkerStopLetsAnEmailInFlightFinish(t *testing.T) {
	r := newRig(t, 1, 1)
	sc := r.setup(t)
	r.sink.Delay(4 * time.Second)
	res := r.apis[0].do(t, "POST", "/v1/leads", sc.solo.vendorKey, map[string]any{"external_id": "grace-1", "email": "a@b.example"})
	if res.status != 202 {
		t.Fatalf("post: %d %s", res.status, res.raw)
	}
	key := "purchase:" + res.str("lead_id") + ":" + sc.buyers[sc.solo.id]
	db := r.apis[0].deps.Pool
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		if err := db.QueryRow(context.Background(), `SELECT count(*) FROM email_deliveries WHERE key = $1`, key).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break // the send has begun: the server is holding its data
		}
		if time.Now().After(deadline) {
			t.Fatal("the purchase email never started")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	r.mu.Lock()
	w := r.workers[0]
	r.workers = nil // the supervisor must not replace it: this is a deploy
	r.mu.Unlock()
	w.Stop(60 * time.Second) // SIGTERM, then wait for the worker to exit
	var status string
	var attempts int
	if err := db.QueryRow(context.Background(), `SELECT status, attempts FROM email_deliveries WHERE key = $1`, key).Scan(&status, &attempts); err != nil {
		t.Fatal(err)
	}
	if sent := notAlerts(r.sink.Messages()); status != "sent" || attempts != 1 || len(sent) != 1 {
		t.Fatalf("after the worker stopped: status %s after %d attempts, %d messages; the send was cut", status, attempts, len(sent))
	}
}
