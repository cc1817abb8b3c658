package bench

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
)

// measure reads and moves m's leads as its users would, through the API,
// and returns one row per measure with the figures in Empty (RunScale moves
// the second column's into AtN).
func (s *scaleStack) measure(ctx context.Context, m *measuredOrg, scale int, run string) ([]ScaleRow, error) {
	var rows []ScaleRow
	read := func(name string, bound time.Duration, paths []string) error {
		took, err := s.get(ctx, m, paths)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		rows = append(rows, ScaleRow{Name: name, Bound: bound, Empty: ScaleMeasure{P50: pct(took, 50), P99: pct(took, 99), Samples: len(took)}})
		return nil
	}
	n := s.opts.ConsoleReads
	s.opts.logf("scale: reads of an org of %d leads, %d each…", m.seeded, n)
	ids, err := sample(ctx, s.deps.Pool, `SELECT id::text FROM leads WHERE org_id = $1 ORDER BY id LIMIT $2`, m.ID, n)
	if err != nil {
		return nil, err
	}
	var paths []string
	for _, id := range ids {
		paths = append(paths, "/v1/leads/"+id)
	}
	if err := read("lead read GET /v1/leads/{id}", ScaleGoalRead, paths); err != nil {
		return nil, err
	}
	list := "/v1/orgs/" + m.ID + "/leads"
	rep := m.userIDs[len(m.userIDs)-1]
	filters := []struct{ name, query string }{{"unfiltered", ""}}
	for _, st := range domain.LeadStatuses {
		filters = append(filters, struct{ name, query string }{"status=" + st, "status=" + st})
	}
	filters = append(filters, []struct{ name, query string }{
		{"assigned_to=one rep", "assigned_to=" + rep}, {"source=one of 20", "source=" + m.sources[3].slug},
		{"location=queue", "location=queue"}, {"location=pending", "location=pending"},
		{"owner=one rep", "owner=" + rep}, {"owner=team", "owner=team"},
		{"q=a last name", "q=" + url.QueryEscape(fmt.Sprintf("Last%d", m.seeded/2))}}...)
	for _, f := range filters {
		if err := read("list "+f.name, ScaleGoalRead, slices.Repeat([]string{list + "?" + f.query}, n)); err != nil {
			return nil, err
		}
	}
	page, cursor, err := s.deepPage(ctx, m, list, 1000)
	if err != nil {
		return nil, err
	}
	if err := read("list unfiltered, deep page (page 1,000)", ScaleGoalRead, slices.Repeat([]string{list + "?cursor=" + url.QueryEscape(cursor)}, n)); err != nil {
		return nil, err
	}
	rows[len(rows)-1].Empty.Note = fmt.Sprintf("page %d", page)
	if err := read("feed GET /v1/orgs/{org}/feed", ScaleGoalRead, slices.Repeat([]string{"/v1/orgs/" + m.ID + "/feed"}, n)); err != nil {
		return nil, err
	}
	cp, err := timePage(ctx, s.opts, s.deps.Store, m.userIDs[0], "leads page", "/app/leads")
	if err != nil {
		return nil, err
	}
	rows = append(rows, ScaleRow{Name: "console leads page /app/leads (server time)", Bound: ConsoleGoal,
		Empty: ScaleMeasure{P50: cp.P50, P99: cp.P99, Samples: cp.N}})
	digest, err := s.digest(ctx, m, min(n, 20))
	if err != nil {
		return nil, err
	}
	rows = append(rows, digest)
	s.opts.logf("scale: bulk assign, transfer and claims…")
	bulk, err := s.bulkAssign(ctx, m)
	if err != nil {
		return nil, err
	}
	rows = append(rows, bulk)
	rate, _, err := moveLeads(ctx, s.opts, m.owner, m.org, run, 10000)
	if err != nil {
		return nil, err
	}
	rows = append(rows, ScaleRow{Name: "transfer of 10,000 leads, request → all moved", Rate: true, Empty: ScaleMeasure{Rate: rate, Samples: 10000}})
	claim, err := s.claims(ctx, m, scale, n)
	if err != nil {
		return nil, err
	}
	return append(rows, claim), nil
}

func sample(ctx context.Context, db store.DB, q string, args ...any) ([]string, error) {
	rows, err := db.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// get reads each path in turn as the org's owner and returns how long each
// answer took, from the request to the last byte of its body.
func (s *scaleStack) get(ctx context.Context, m *measuredOrg, paths []string) ([]time.Duration, error) {
	var took []time.Duration
	for _, p := range paths {
		start := time.Now()
		if err := m.owner.Call(ctx, "GET", p, nil, nil); err != nil {
			return took, err
		}
		took = append(took, time.Since(start))
	}
	return took, nil
}

// deepPage follows the unfiltered list's cursor to page want (or the last
// page there is) and returns the page reached and the cursor that reads it.
func (s *scaleStack) deepPage(ctx context.Context, m *measuredOrg, list string, want int) (int, string, error) {
	cursor, page := "", 1
	for page < want {
		var out struct {
			Next string `json:"next_cursor"`
		}
		if err := m.owner.Call(ctx, "GET", list+"?cursor="+url.QueryEscape(cursor), nil, &out); err != nil {
			return page, cursor, err
		}
		if out.Next == "" {
			break
		}
		cursor, page = out.Next, page+1
	}
	return page, cursor, nil
}

// digest seeds 10,000 leads routed in one day, long enough ago that the
// worker's sweep owes no digest for it, and times the digest's read of them:
// 10,000 leads over the median read's time.
func (s *scaleStack) digest(ctx context.Context, m *measuredOrg, n int) (ScaleRow, error) {
	day := time.Now().AddDate(0, 0, -30).Truncate(24 * time.Hour)
	if err := seedLeads(ctx, s.deps.Pool, m.scaleOrg, 10000, day.Add(time.Hour), day.Add(23*time.Hour), allAssigned); err != nil {
		return ScaleRow{}, err
	}
	var took []time.Duration
	for i := 0; i < n; i++ {
		start := time.Now()
		c, err := s.deps.Store.DigestContent(ctx, store.Digest{OrgID: m.ID, Day: day, From: day, Until: day.Add(24 * time.Hour)}, 50)
		if err != nil {
			return ScaleRow{}, err
		}
		took = append(took, time.Since(start))
		if c.Total < 10000 {
			return ScaleRow{}, fmt.Errorf("the digest of a 10,000-lead day lists %d leads", c.Total)
		}
	}
	// The digest is a run's job, read by no one waiting: judged like the
	// bulk moves, by its rate (leads/s of its median read) keeping up at N.
	p50 := pct(took, 50)
	return ScaleRow{Name: "digest of a 10,000-lead day (store.DigestContent)", Rate: true,
		Empty: ScaleMeasure{P50: p50, P99: pct(took, 99), Rate: 10000 / p50.Seconds(), Samples: len(took),
			Note: fmt.Sprintf("median %.0f ms", float64(p50.Microseconds())/1000)}}, nil
}

// bulkAssign moves 5 × 1,000 open team-owned leads (an agent-owned one is
// its owner's to assign) to one rep, 1,000 a request, as the org's owner:
// leads/s.
func (s *scaleStack) bulkAssign(ctx context.Context, m *measuredOrg) (ScaleRow, error) {
	rep := m.userIDs[10]
	ids, err := sample(ctx, s.deps.Pool, `SELECT id::text FROM leads WHERE org_id = $1 AND assigned_to IS NOT NULL AND assigned_to <> $2
		AND worked_at IS NULL AND status = 'new' AND owner_user_id IS NULL ORDER BY id LIMIT 5000`, m.ID, rep)
	if err != nil {
		return ScaleRow{}, err
	}
	start := time.Now()
	for i := 0; i+store.MaxBulkAssign <= len(ids); i += store.MaxBulkAssign {
		if err := m.owner.Call(ctx, "POST", "/v1/orgs/"+m.ID+"/leads/assign",
			map[string]any{"user_id": rep, "lead_ids": ids[i : i+store.MaxBulkAssign]}, nil); err != nil {
			return ScaleRow{}, err
		}
	}
	moved := len(ids) / store.MaxBulkAssign * store.MaxBulkAssign
	if moved == 0 {
		return ScaleRow{}, fmt.Errorf("bulk assign: %d open assigned leads, fewer than %d", len(ids), store.MaxBulkAssign)
	}
	return ScaleRow{Name: "bulk assign, 1,000 leads a request", Rate: true,
		Empty: ScaleMeasure{Rate: float64(moved) / time.Since(start).Seconds(), Samples: moved}}, nil
}

// claims tops the queue up to scaleQueue leads (or a tenth of scale, the
// same in both columns; at least twice what it claims) and has its 20
// claimers claim n leads
// in bursts: all 20 at once, each claim timed, the next burst once the
// last one's runs have started (claimBurstSettled). A burst is the queue's
// worst case, every rep at its head at the same moment; the runs' starts
// are Temporal's work after the answers (api.claimNext), which a rep, who
// then works the lead for minutes, does not claim through. Claims sent
// back to back instead measure the machine's rate of starting runs, not a
// claim: 20 ÷ the median. The leads claimed are released afterwards.
func (s *scaleStack) claims(ctx context.Context, m *measuredOrg, scale, n int) (ScaleRow, error) {
	want := max(min(scaleQueue, scale/10), 2*(n+len(m.claimers)))
	var queued int
	if err := s.deps.Pool.QueryRow(ctx, `SELECT count(*) FROM leads WHERE org_id = $1 AND location = 'queue'`, m.ID).Scan(&queued); err != nil {
		return ScaleRow{}, err
	}
	now := time.Now()
	if err := seedLeads(ctx, s.deps.Pool, m.scaleOrg, want-queued, now.AddDate(0, -6, 0), now.Add(-2*24*time.Hour), allQueued); err != nil {
		return ScaleRow{}, err
	}
	if _, err := s.deps.Pool.Exec(ctx, `ANALYZE leads`); err != nil {
		return ScaleRow{}, err
	}
	// A first burst, not timed, opens the API's database connections, as
	// a running API has them open: its p99 would be their setup.
	c := len(m.claimers)
	all := n + c
	took := make([]time.Duration, all)
	claimed := make([]string, all)
	for first := 0; first < all; first += c {
		burst := min(c, all-first)
		var wg sync.WaitGroup
		errs := make([]error, burst)
		gate := make(chan struct{})
		for j := range burst {
			wg.Go(func() {
				i := first + j
				<-gate
				start := time.Now()
				var out struct {
					ID string `json:"id"`
				}
				err := m.claimers[j].Call(ctx, "POST", "/v1/orgs/"+m.ID+"/queue/claim", nil, &out)
				took[i] = time.Since(start)
				if err == nil && out.ID == "" {
					err = fmt.Errorf("claim %d found the queue empty", i)
				}
				claimed[i], errs[j] = out.ID, err
			})
		}
		close(gate)
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return ScaleRow{}, err
		}
		if err := s.claimBurstSettled(ctx, claimed[first:first+burst]); err != nil {
			return ScaleRow{}, err
		}
	}
	if err := parallel(all, c, func(i int) error {
		return m.claimers[i%c].Call(ctx, "POST", "/v1/leads/"+claimed[i]+"/release", nil, nil)
	}); err != nil {
		return ScaleRow{}, err
	}
	return ScaleRow{Name: fmt.Sprintf("claim, bursts of %d claimers, %d queued", len(m.claimers), want), Bound: ScaleGoalRead,
		Empty: ScaleMeasure{P50: pct(took[c:], 50), P99: pct(took[c:], 99), Samples: n}}, nil
}

// claimBurstSettled waits, for at most 30 s, until the runs of the claims
// of leads have started.
func (s *scaleStack) claimBurstSettled(ctx context.Context, leads []string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		var waiting int
		if err := s.deps.Pool.QueryRow(ctx, `SELECT count(*) FROM lead_claims WHERE lead_id = ANY($1) AND status = 'open' AND run_started_at IS NULL`,
			leads).Scan(&waiting); err != nil {
			return err
		}
		if waiting == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d claims' runs not started after 30 s", waiting)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
