package store_test

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/internal/testenv"
)

// makeGroup puts the users in a new group of the org with the weights.
func makeGroup(t *testing.T, db *pgxpool.Pool, orgID, name string, users []store.User, weights []int) string {
	t.Helper()
	var id string
	must(t, db.QueryRow(ctx, `INSERT INTO groups (org_id, name) VALUES ($1, $2) RETURNING id`, orgID, name).Scan(&id))
	for i, u := range users {
		_, err := db.Exec(ctx, `INSERT INTO group_members (group_id, user_id, weight) VALUES ($1, $2, $3)`, id, u.ID, weights[i])
		must(t, err)
	}
	return id
}

// rotateConcurrently makes n decisions of the pool from 8 goroutines at
// once and returns the picks in the order the pool made them.
func rotateConcurrently(t *testing.T, s *store.Store, p store.Pool, n int) []store.Pick {
	t.Helper()
	var mu sync.Mutex
	var picks []store.Pick
	var wg sync.WaitGroup
	errs := make(chan error, n)
	work := make(chan struct{}, n)
	for range n {
		work <- struct{}{}
	}
	close(work)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				pick, _, err := s.RotateForTest(ctx, p, time.Now())
				if err != nil {
					errs <- err
					return
				}
				if pick != nil {
					mu.Lock()
					picks = append(picks, *pick)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, err)
	}
	slices.SortFunc(picks, func(a, b store.Pick) int { return int(a.Seq - b.Seq) })
	return picks
}

// withinOne checks every prefix of picks: each member's count is within 1
// of its weighted share of the prefix.
func withinOne(t *testing.T, phase string, picks []store.Pick, weights map[string]int) map[string]int {
	t.Helper()
	total := 0
	for _, w := range weights {
		total += w
	}
	counts := map[string]int{}
	for n, p := range picks {
		if _, ok := weights[p.ID]; !ok {
			t.Fatalf("%s: lead %d went to %s, who is not available", phase, n, p.Name)
		}
		counts[p.ID]++
		for id, w := range weights {
			share := float64((n+1)*w) / float64(total)
			if math.Abs(float64(counts[id])-share) >= 1 {
				t.Fatalf("%s: after %d leads a member of weight %d/%d has %d, share %.2f", phase, n+1, w, total, counts[id], share)
			}
		}
	}
	return counts
}

// TestWeightedRotationIsFairUnderConcurrencyWithPausesAndNoCatchUp: a group
// weighted 1, 2, 3, 4 takes 200 leads decided 8 at a time; then its
// heaviest member pauses for 120 leads and returns for 200 more. In each
// phase every member stays within 1 of its weighted share of that phase
// after every lead, the paused member gets none, and on its return it gets
// its share of what comes next, not what it missed.
func TestWeightedRotationIsFairUnderConcurrencyWithPausesAndNoCatchUp(t *testing.T) {
	t.Parallel()
	db, _ := testenv.DB(t)
	s := store.New(db)
	f := seed(t, s, 4, domain.SourceConfig{})
	ws := []int{1, 2, 3, 4}
	group := makeGroup(t, db, f.org.ID, "weighted", f.staff, ws)
	p := store.Pool{Key: "group:" + group, SourceID: f.source.ID, OrgID: f.org.ID, Loc: time.UTC}
	weights := map[string]int{}
	for i, u := range f.staff {
		weights[u.ID] = ws[i]
	}
	withinOne(t, "all four", rotateConcurrently(t, s, p, 200), weights)

	heavy := f.staff[3]
	_, err := db.Exec(ctx, `UPDATE users SET paused = true WHERE id = $1`, heavy.ID)
	must(t, err)
	pick, skips, err := s.RotateForTest(ctx, p, time.Now())
	must(t, err)
	if len(skips) != 1 || skips[0].UserID != heavy.ID || skips[0].Reason != domain.SkipPaused || pick == nil || pick.ID == heavy.ID {
		t.Fatalf("with the heavy member paused: pick %+v, skips %+v; want it skipped as paused", pick, skips)
	}
	delete(weights, heavy.ID)
	withinOne(t, "paused", append([]store.Pick{*pick}, rotateConcurrently(t, s, p, 119)...), weights)

	_, err = db.Exec(ctx, `UPDATE users SET paused = false WHERE id = $1`, heavy.ID)
	must(t, err)
	weights[heavy.ID] = 4
	back := withinOne(t, "returned", rotateConcurrently(t, s, p, 200), weights)
	if back[heavy.ID] > 81 {
		t.Fatalf("the returning member got %d of 200 leads: a catch-up (its share is 80)", back[heavy.ID])
	}
}

// TestDailyCapHoldsAcrossSourcesUnderConcurrency: a user with a daily cap of
// 5 is in two sources' rotations; 60 concurrent decisions over both give
// them exactly 5, and the others are told why they were passed over.
func TestDailyCapHoldsAcrossSourcesUnderConcurrency(t *testing.T) {
	t.Parallel()
	db, _ := testenv.DB(t)
	s := store.New(db)
	f := seed(t, s, 3, domain.SourceConfig{})
	other, _, _, err := s.PutSource(ctx, f.org.ID, "other", domain.SourceConfig{Name: "Other", Priority: "normal",
		Routing: domain.Routing{Mode: domain.RouteStaffEvenly}}, 0)
	must(t, err)
	capped := f.staff[0]
	_, err = db.Exec(ctx, `UPDATE users SET daily_cap = 5 WHERE id = $1`, capped.ID)
	must(t, err)
	var mu sync.Mutex
	got := 0
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			src := f.source.ID
			if g%2 == 1 {
				src = other.ID
			}
			for range 10 {
				pick, _, err := s.RotateForTest(ctx, store.Pool{Key: store.PoolStaff, SourceID: src, OrgID: f.org.ID, Loc: time.UTC}, time.Now())
				if err != nil {
					t.Error(err)
					return
				}
				if pick != nil && pick.ID == capped.ID {
					mu.Lock()
					got++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if got != 5 {
		t.Fatalf("the user capped at 5 a day got %d leads", got)
	}
	_, skips, err := s.RotateForTest(ctx, store.Pool{Key: store.PoolStaff, SourceID: f.source.ID, OrgID: f.org.ID, Loc: time.UTC}, time.Now())
	must(t, err)
	if !slices.Contains(skips, store.Skip{UserID: capped.ID, Name: capped.Name, Reason: domain.SkipDailyCap}) {
		t.Fatalf("skips %+v do not say the capped user is at the daily cap", skips)
	}
	// The cap is per org-local day: tomorrow they are back in the rotation.
	_, skips, err = s.RotateForTest(ctx, store.Pool{Key: store.PoolStaff, SourceID: f.source.ID, OrgID: f.org.ID, Loc: time.UTC},
		time.Now().Add(24*time.Hour))
	must(t, err)
	if len(skips) != 0 {
		t.Fatalf("the next day the rotation still skips %+v", skips)
	}
}

// TestFairnessReportCountsSharesAndSkipsInThePeriod: a group weighted 1 and
// 3 got 2 and 6 of 8 rotating decisions in the period, the light member was
// skipped 3 times as paused; a decision before the period is not counted,
// and a source the org does not have is not found.
func TestFairnessReportCountsSharesAndSkipsInThePeriod(t *testing.T) {
	t.Parallel()
	db, _ := testenv.DB(t)
	s := store.New(db)
	f := seed(t, s, 2, domain.SourceConfig{})
	light, heavy := f.staff[0], f.staff[1]
	group := makeGroup(t, db, f.org.ID, "pair", []store.User{light, heavy}, []int{1, 3})
	pool := "group:" + group
	start := time.Now().Add(-time.Hour)
	decide := func(i int, member store.User, at time.Time, skipped string) {
		lead := post(t, s, f, fmt.Sprintf("fair-%d", i), "")
		_, err := db.Exec(ctx, `INSERT INTO routing_decisions (source_id, lead_id, at, rule, rule_name, pool, member_id, skipped)
			VALUES ($1, $2, $3, 0, 'west', $4, $5, $6)`, f.source.ID, lead.LeadID, at, pool, member.ID, skipped)
		must(t, err)
	}
	decide(0, light, start.Add(-time.Minute), `[]`) // before the period
	for i := 1; i <= 8; i++ {
		who, skipped := heavy, `[]`
		if i <= 2 {
			who = light
		} else if i <= 5 {
			skipped = fmt.Sprintf(`[{"user_id": %q, "reason": "paused"}]`, light.ID)
		}
		decide(i, who, start.Add(time.Duration(i)*time.Minute), skipped)
	}
	rep, err := s.Fairness(ctx, f.org.ID, "everquote", start, time.Now())
	must(t, err)
	if rep.Decisions != 8 || len(rep.Pools) != 1 || rep.Pools[0].Group != "pair" || rep.Pools[0].Decisions != 8 {
		t.Fatalf("report %+v: want 8 decisions of group pair", rep)
	}
	want := []store.FairnessMember{
		{UserID: light.ID, Name: light.Name, Weight: 1, Assigned: 2, Share: 0.25, Expected: 2, Skips: map[string]int{"paused": 3}},
		{UserID: heavy.ID, Name: heavy.Name, Weight: 3, Assigned: 6, Share: 0.75, Expected: 6, Skips: map[string]int{}},
	}
	if fmt.Sprint(rep.Pools[0].Members) != fmt.Sprint(want) {
		t.Fatalf("members\n %+v\nwant\n %+v", rep.Pools[0].Members, want)
	}
	other := seed(t, s, 1, domain.SourceConfig{})
	if _, err := s.Fairness(ctx, other.org.ID, "nope", start, time.Now()); domain.ErrorCode(err) != domain.ENotFound {
		t.Fatalf("an unknown source answered %v, want not found", err)
	}
}

// TestOpenCapCountsLeadsNotYetClosed: a member holding as many open leads as
// their open cap is skipped as open_cap; once one of them is returned they
// take leads again.
func TestOpenCapCountsLeadsNotYetClosed(t *testing.T) {
	t.Parallel()
	db, _ := testenv.DB(t)
	s := store.New(db)
	f := seed(t, s, 1, domain.SourceConfig{})
	rep := f.staff[0]
	_, err := db.Exec(ctx, `UPDATE users SET open_cap = 2 WHERE id = $1`, rep.ID)
	must(t, err)
	var leads []string
	for i := range 2 {
		l := post(t, s, f, fmt.Sprintf("open-%d", i), "")
		must(t, s.LeaveLeadForTest(ctx, l.LeadID, rep.ID, ""))
		leads = append(leads, l.LeadID)
	}
	p := store.Pool{Key: store.PoolStaff, SourceID: f.source.ID, OrgID: f.org.ID, Loc: time.UTC}
	pick, skips, err := s.RotateForTest(ctx, p, time.Now())
	must(t, err)
	if pick != nil || len(skips) != 1 || skips[0].Reason != domain.SkipOpenCap {
		t.Fatalf("at the open cap: pick %+v, skips %+v; want nobody, skipped for open_cap", pick, skips)
	}
	_, err = db.Exec(ctx, `UPDATE leads SET status = 'returned' WHERE id = $1`, leads[0])
	must(t, err)
	pick, _, err = s.RotateForTest(ctx, p, time.Now())
	must(t, err)
	if pick == nil || pick.ID != rep.ID {
		t.Fatalf("with one lead returned the rep was not given the next: %+v", pick)
	}
}
