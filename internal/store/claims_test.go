package store_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/internal/testenv"
)

// queueSource puts a queue-routed source with priority and delay in f's org.
func queueSource(t *testing.T, s *store.Store, f fixture, slug, priority, delay string) fixture {
	t.Helper()
	cfg := domain.SourceConfig{Name: slug, Priority: priority, Routing: domain.Routing{Mode: domain.RouteQueue, QueueDelay: delay}}
	d, err := cfg.Validate()
	must(t, err)
	f.source, _, _, err = s.PutSource(ctx, f.org.ID, slug, cfg, d)
	must(t, err)
	return f
}

// queued posts a lead through f's source and routes it into the queue.
func queued(t *testing.T, s *store.Store, f fixture, ext string) string {
	t.Helper()
	in, err := s.InsertLead(ctx, store.NewLead{SourceID: f.source.ID, OrgID: f.org.ID, Slug: f.source.Slug, WorkflowID: "wf-" + ext,
		ReceivedAt: time.Now(), In: domain.LeadInput{ExternalID: ext, Email: ext + "@example.com"}})
	must(t, err)
	d, err := route(s, in.LeadID)
	must(t, err)
	if d.Location != domain.LocationQueue {
		t.Fatalf("lead %s routed to %+v, want the queue", ext, d)
	}
	return in.LeadID
}

// claimFixture is an org with n rotating users and a queue source without
// delay, in a transaction rolled back at the end.
func claimFixture(t *testing.T, n int) (*store.Store, fixture) {
	t.Helper()
	s := testenv.Tx(t)
	return s, queueSource(t, s, seed(t, s, n, domain.SourceConfig{}), "q", "normal", "")
}

func claim(t *testing.T, s *store.Store, f fixture, u store.User) (store.Claim, bool) {
	t.Helper()
	c, ok, err := s.ClaimNext(ctx, f.org.ID, u.ID)
	must(t, err)
	return c, ok
}

func claimStatus(t *testing.T, s *store.Store, leadID string, seq int) string {
	t.Helper()
	st, err := s.ClaimStatusForTest(ctx, leadID, seq)
	must(t, err)
	return st
}

// Claims take the highest priority first, then the oldest lead; a lead
// whose queue delay has not passed, and another org's queue, are not
// claimable. Each claim assigns the lead, takes it out of the queue, sets
// the org's window and says so on the timeline.
func TestClaimTakesHighestPriorityThenOldest(t *testing.T) {
	t.Parallel()
	s := testenv.Tx(t)
	f := seed(t, s, 2, domain.SourceConfig{})
	normal := queueSource(t, s, f, "normal", "normal", "")
	medium := queueSource(t, s, f, "medium", "medium", "")
	high := queueSource(t, s, f, "high", "high", "")
	later := queueSource(t, s, f, "later", "high", "15m")
	oldNormal := queued(t, s, normal, "n-old")
	oldHigh := queued(t, s, high, "h-old")
	queued(t, s, later, "h-later")
	mid := queued(t, s, medium, "m")
	newHigh := queued(t, s, high, "h-new")
	newNormal := queued(t, s, normal, "n-new")
	other := queueSource(t, s, seed(t, s, 1, domain.SourceConfig{}), "q", "high", "")
	queued(t, s, other, "elsewhere")
	hour := time.Hour
	_, _, err := s.UpdateOrg(ctx, f.org.ID, store.OrgPatch{ClaimWindow: &hour})
	must(t, err)

	rep := f.staff[0]
	var got []string
	for {
		c, ok := claim(t, s, f, rep)
		if !ok {
			break
		}
		got = append(got, c.LeadID)
		if c.Seq != 1 || c.UserID != rep.ID || c.ExpiresAt.Sub(c.ClaimedAt) != time.Hour {
			t.Fatalf("claim %+v", c)
		}
		l, err := s.GetLead(ctx, f.org.ID, c.LeadID)
		must(t, err)
		e := l.Timeline[len(l.Timeline)-1]
		if l.AssignedTo == nil || *l.AssignedTo != rep.ID || l.Location != nil || e.Kind != "claimed" || e.Actor != rep.ID ||
			e.Message != "claimed from the queue by User 0: back in the queue unless worked within 1h" {
			t.Fatalf("claimed lead: assigned %v location %v event %+v", l.AssignedTo, l.Location, e)
		}
	}
	want := []string{oldHigh, newHigh, mid, oldNormal, newNormal}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("claimed in order %v, want %v", got, want)
	}
}

// Twenty claimers racing over a hundred queued leads, each until the queue
// answers "none": every lead is claimed exactly once. And no claimer waits
// for another: with the first lead held by a claim still in progress, a
// second claim takes the next lead at once (SKIP LOCKED) instead of queueing
// behind the first, as a plain FOR UPDATE would make every claimer do.
func TestConcurrentClaimsTakeEachLeadOnce(t *testing.T) {
	t.Parallel()
	pool, _ := testenv.DB(t)
	s := store.New(pool) // committed transactions: the race is between them
	f := queueSource(t, s, seed(t, s, 20, domain.SourceConfig{}), "race", "normal", "")
	const leads = 100
	for i := range leads {
		queued(t, s, f, fmt.Sprint("race-", i))
	}
	var mu sync.Mutex
	byLead := map[string]string{}
	var wg sync.WaitGroup
	errs := make(chan error, len(f.staff))
	for _, u := range f.staff {
		wg.Go(func() {
			for {
				c, ok, err := s.ClaimNext(ctx, f.org.ID, u.ID)
				if err != nil {
					errs <- err
					return
				}
				if !ok {
					return
				}
				mu.Lock()
				if prev, dup := byLead[c.LeadID]; dup {
					errs <- fmt.Errorf("lead %s claimed by %s and %s", c.LeadID, prev, u.ID)
				}
				byLead[c.LeadID] = u.ID
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if len(byLead) != leads {
		t.Fatalf("%d distinct leads claimed, want %d", len(byLead), leads)
	}
	if n := count(t, pool, `SELECT count(*) FROM lead_claims WHERE org_id = $1`, f.org.ID); n != leads {
		t.Fatalf("%d claims recorded", n)
	}
	if n := count(t, pool, `SELECT count(*) FROM leads WHERE org_id = $1 AND location = 'queue'`, f.org.ID); n != 0 {
		t.Fatalf("%d leads left in the queue", n)
	}
	for lead, u := range byLead {
		if n := count(t, pool, `SELECT count(*) FROM leads WHERE id = $1 AND assigned_to = $2`, lead, u); n != 1 {
			t.Fatalf("lead %s is not assigned to its claimer %s", lead, u)
		}
	}

	held, next := queued(t, s, f, "held"), queued(t, s, f, "next")
	tx, err := pool.Begin(ctx)
	must(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `SELECT 1 FROM leads WHERE id = $1 FOR UPDATE`, held); err != nil {
		t.Fatal(err)
	}
	wait, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	start := time.Now()
	c, ok, err := s.ClaimNext(wait, f.org.ID, f.staff[0].ID)
	if err != nil || !ok || c.LeadID != next || time.Since(start) > 2*time.Second {
		t.Fatalf("a claim beside one in progress: %+v %v %v after %s, want %s at once", c, ok, err, time.Since(start), next)
	}
}

// Release puts the assignee's lead back in the queue, claimable at once;
// worked keeps a claim past its window; a window that passes unworked sends
// the lead back once, however often the expiry runs; a lead that changed
// hands meanwhile stays where it is.
func TestReleaseWorkedAndExpiry(t *testing.T) {
	t.Parallel()
	s, f := claimFixture(t, 3)
	a, b, manager := f.staff[0], f.staff[1], f.staff[2]
	first := queued(t, s, f, "first")

	c, _ := claim(t, s, f, a)
	wantCode(t, "release by another rep", s.ReleaseLead(ctx, f.org.ID, b.ID, first), domain.EForbidden)
	wantCode(t, "another org's user", s.ReleaseLead(ctx, seed(t, s, 1, domain.SourceConfig{}).org.ID, a.ID, first), domain.ENotFound)
	must(t, s.ReleaseLead(ctx, f.org.ID, a.ID, first))
	l, err := s.GetLead(ctx, f.org.ID, first)
	must(t, err)
	if l.Location == nil || *l.Location != "queue" || l.AssignedTo != nil || l.AvailableAt == nil {
		t.Fatalf("released lead: location %v assigned %v available %v", l.Location, l.AssignedTo, l.AvailableAt)
	}
	if e := lastEvent(t, s, f.org.ID, first); e.Kind != "released" || e.Actor != a.ID || e.Message != "released back to the queue by User 0" {
		t.Fatalf("event %+v", e)
	}
	if st := claimStatus(t, s, first, c.Seq); st != domain.ClaimReleased {
		t.Fatalf("claim after release: %s", st)
	}

	// claimed again: a new claim, worked in time, kept past its window
	c, ok := claim(t, s, f, a)
	if !ok || c.LeadID != first || c.Seq != 2 {
		t.Fatalf("re-claim: %+v %v", c, ok)
	}
	if _, err := s.MarkWorked(ctx, f.org.ID, b.ID, first); domain.ErrorCode(err) != domain.EForbidden {
		t.Fatalf("worked by another rep: %v", err)
	}
	changed, err := s.MarkWorked(ctx, f.org.ID, a.ID, first)
	must(t, err)
	if e := lastEvent(t, s, f.org.ID, first); !changed || e.Kind != "worked" || !strings.HasPrefix(e.Message, "worked by User 0 ") {
		t.Fatalf("worked: %v %+v", changed, e)
	}
	if changed, err := s.MarkWorked(ctx, f.org.ID, a.ID, first); err != nil || changed {
		t.Fatalf("worked twice: %v %v", changed, err)
	}
	if out, err := s.ExpireClaim(ctx, first, 2); err != nil || out != domain.ClaimWorked {
		t.Fatalf("expiry of a worked claim: %q %v", out, err)
	}
	if l, _ := s.GetLead(ctx, f.org.ID, first); l.AssignedTo == nil || *l.AssignedTo != a.ID {
		t.Fatalf("a worked lead stays with its claimer: %v", l.AssignedTo)
	}

	// not worked: back in the queue once
	second := queued(t, s, f, "second")
	c, _ = claim(t, s, f, b)
	for range 2 {
		out, err := s.ExpireClaim(ctx, second, c.Seq)
		if err != nil || out != domain.ClaimExpired {
			t.Fatalf("expiry: %q %v", out, err)
		}
	}
	l, err = s.GetLead(ctx, f.org.ID, second)
	must(t, err)
	var expired []store.Event
	for _, e := range l.Timeline {
		if e.Kind == "claim_expired" {
			expired = append(expired, e)
		}
	}
	if l.Location == nil || *l.Location != "queue" || l.AssignedTo != nil || len(expired) != 1 ||
		expired[0].Message != "not worked within 30m: back in the queue (claimed by User 1)" {
		t.Fatalf("expired lead: location %v assigned %v events %+v", l.Location, l.AssignedTo, expired)
	}
	if _, err := s.MarkWorked(ctx, f.org.ID, b.ID, second); domain.ErrorCode(err) != domain.EConflict {
		t.Fatalf("worked after the window: %v, want a conflict", err)
	}
	wantCode(t, "release after the window", s.ReleaseLead(ctx, f.org.ID, b.ID, second), domain.EConflict)

	// reassigned by a manager before the window ends: the claim just ends
	c, _ = claim(t, s, f, b)
	must(t, s.AssignLead(ctx, f.org.ID, changer(manager), second, a.ID))
	if out, err := s.ExpireClaim(ctx, second, c.Seq); err != nil || out != domain.ClaimEnded {
		t.Fatalf("expiry after a reassignment: %q %v", out, err)
	}
	if l, _ := s.GetLead(ctx, f.org.ID, second); *l.AssignedTo != a.ID || l.Location != nil {
		t.Fatalf("the reassigned lead moved: %v %v", l.AssignedTo, l.Location)
	}
	// its new assignee works it without a claim (what stops an SLA)
	if changed, err := s.MarkWorked(ctx, f.org.ID, a.ID, second); err != nil || !changed {
		t.Fatalf("worked by the assignee of a lead given to them by hand: %v %v", changed, err)
	}
	// an agent-owned lead is not released to the queue by its owner
	must(t, s.TransferOwnership(ctx, f.org.ID, changer(manager), second, &a.ID))
	wantCode(t, "release of an agent-owned lead", s.ReleaseLead(ctx, f.org.ID, a.ID, second), domain.EConflict)
	if _, err := s.ExpireClaim(ctx, second, 99); domain.ErrorCode(err) != domain.ENotFound {
		t.Fatalf("no such claim: %v", err)
	}
}

// Invalid: the assignee, or the owner, an admin or a manager of the org, or
// the operator on a team-owned lead; the reason goes on the timeline, the
// lead is assigned to nobody, waits nowhere and its claim closes.
func TestMarkInvalid(t *testing.T) {
	t.Parallel()
	s, f := claimFixture(t, 3)
	rep, pro, manager := f.staff[0], f.staff[1], f.staff[2]
	lead := queued(t, s, f, "junk")
	c, _ := claim(t, s, f, rep)

	wantCode(t, "another rep", s.MarkInvalid(ctx, f.org.ID, changer(pro), lead, "junk"), domain.EForbidden)
	wantCode(t, "another org", s.MarkInvalid(ctx, seed(t, s, 1, domain.SourceConfig{}).org.ID, changer(manager), lead, "junk"), domain.ENotFound)
	must(t, s.MarkInvalid(ctx, f.org.ID, changer(rep), lead, "number disconnected"))
	l, err := s.GetLead(ctx, f.org.ID, lead)
	must(t, err)
	e := l.Timeline[len(l.Timeline)-1]
	if l.Status != domain.StatusInvalid || l.AssignedTo != nil || l.Location != nil || e.Kind != "invalid" ||
		e.Message != "marked invalid by User 0: number disconnected" || e.Data["reason"] != "number disconnected" {
		t.Fatalf("invalid lead: %s %v %v %+v", l.Status, l.AssignedTo, l.Location, e)
	}
	if st := claimStatus(t, s, lead, c.Seq); st != domain.ClaimInvalid {
		t.Fatalf("claim: %s", st)
	}
	wantCode(t, "twice", s.MarkInvalid(ctx, f.org.ID, changer(manager), lead, "again"), domain.EConflict)

	// a manager and the operator may mark any team-owned lead of the org
	for i, by := range []domain.Changer{changer(manager), {}} {
		id := queued(t, s, f, fmt.Sprint("m", i))
		must(t, s.MarkInvalid(ctx, f.org.ID, by, id, "duplicate"))
	}
	// an agent-owned lead: only its owner (who is also its assignee here)
	id := queued(t, s, f, "mine")
	claim(t, s, f, rep)
	must(t, s.TransferOwnership(ctx, f.org.ID, changer(manager), id, &pro.ID))
	wantCode(t, "a manager on an agent-owned lead", s.MarkInvalid(ctx, f.org.ID, changer(manager), id, "x"), domain.EForbidden)
	wantCode(t, "the operator on an agent-owned lead", s.MarkInvalid(ctx, "", domain.Changer{}, id, "x"), domain.EForbidden)
	must(t, s.MarkInvalid(ctx, f.org.ID, changer(pro), id, "x"))
	// a lead still being routed waits
	unrouted := post(t, s, f, "unrouted", "").LeadID
	wantCode(t, "unrouted", s.MarkInvalid(ctx, f.org.ID, changer(manager), unrouted, "x"), domain.EConflict)
}

// The reconciler's list: open claims made before the cutoff whose run was
// never recorded as started, and open claims whose window ended before it.
func TestStrandedClaims(t *testing.T) {
	t.Parallel()
	s, f := claimFixture(t, 1)
	lead := queued(t, s, f, "stranded")
	c, _ := claim(t, s, f, f.staff[0])
	mine := func(cutoff time.Time) int {
		t.Helper()
		all, err := s.StrandedClaims(ctx, cutoff, "", 1000)
		must(t, err)
		n := 0
		for _, x := range all {
			if x.LeadID == lead {
				n++
				if x.Seq != c.Seq || x.OrgID != f.org.ID || !x.ExpiresAt.Equal(c.ExpiresAt) {
					t.Fatalf("stranded claim %+v, want %+v", x, c)
				}
			}
		}
		return n
	}
	if mine(c.ClaimedAt) != 0 || mine(c.ClaimedAt.Add(time.Second)) != 1 {
		t.Fatal("a claim whose run never started is listed once past the cutoff")
	}
	must(t, s.ClaimRunStarted(ctx, lead, c.Seq))
	if mine(c.ClaimedAt.Add(time.Minute)) != 0 || mine(c.ExpiresAt.Add(time.Second)) != 1 {
		t.Fatal("a started claim is listed only once its window has ended")
	}
	_, err := s.MarkWorked(ctx, f.org.ID, f.staff[0].ID, lead)
	must(t, err)
	if mine(c.ExpiresAt.Add(time.Hour)) != 0 {
		t.Fatal("a settled claim is never listed")
	}
}
