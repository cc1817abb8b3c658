package store_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/internal/testenv"
)

// TestNewLabelsInAnyOrderNeitherDeadlockNorGetLost: concurrent posts carrying
// the same new labels in different orders used to deadlock (a 500) or lose a
// label (the loser of an insert race saw no row to link).
func TestNewLabelsInAnyOrderNeitherDeadlockNorGetLost(t *testing.T) {
	t.Parallel()
	pool, _ := testenv.DB(t)
	s := store.New(pool) // committed transactions: the race is between them
	f := seed(t, s, 1, domain.SourceConfig{})
	for round := 0; round < 5; round++ {
		labels := []string{}
		for i := 0; i < 6; i++ {
			labels = append(labels, fmt.Sprintf("r%d-l%d", round, i))
		}
		const posts = 16
		var wg sync.WaitGroup
		errs := make(chan error, posts)
		ids := make(chan string, posts)
		for p := 0; p < posts; p++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				mine := append([]string(nil), labels...)
				rand.Shuffle(len(mine), func(i, j int) { mine[i], mine[j] = mine[j], mine[i] })
				mine = append(mine, mine[0]) // a repeat in one post is harmless too
				in, err := s.InsertLead(ctx, store.NewLead{ID: domain.NewID(), SourceID: f.source.ID, OrgID: f.org.ID, Slug: "everquote",
					WorkflowID: "w", In: domain.LeadInput{ExternalID: fmt.Sprintf("lab-%d-%d", round, p), Email: "a@b.example", Labels: mine}})
				errs <- err
				ids <- in.LeadID
			}()
		}
		wg.Wait()
		close(errs)
		close(ids)
		for err := range errs {
			must(t, err)
		}
		for id := range ids {
			l, err := s.GetLead(ctx, f.org.ID, id)
			must(t, err)
			if len(l.Labels) != len(labels) {
				t.Fatalf("round %d: lead %s has labels %v, want all of %v", round, id, l.Labels, labels)
			}
		}
	}
}

// TestConcurrentLinksOverDisjointPairsCannotCloseACycle: with A→B and C→D
// linked, "D over A" and "B over C" lock disjoint org pairs; each alone is
// fine, together they make the cycle A→B→C→D→A.
func TestConcurrentLinksOverDisjointPairsCannotCloseACycle(t *testing.T) {
	t.Parallel()
	pool, _ := testenv.DB(t)
	s := store.New(pool)
	for round := 0; round < 20; round++ {
		var o [4]store.Org
		for i := range o {
			var err error
			o[i], _, _, err = s.CreateOrg(ctx, fmt.Sprintf("Cycle %d-%d", round, i), "UTC",
				fmt.Sprintf("o%d@%s", i, domainFor(t)), "Owner")
			must(t, err)
		}
		must(t, s.LinkOrgs(ctx, o[0].ID, o[1].ID))
		must(t, s.LinkOrgs(ctx, o[2].ID, o[3].ID))
		start := make(chan struct{})
		var wg sync.WaitGroup
		var e1, e2 error
		wg.Add(2)
		go func() { defer wg.Done(); <-start; e1 = s.LinkOrgs(ctx, o[3].ID, o[0].ID) }()
		go func() { defer wg.Done(); <-start; e2 = s.LinkOrgs(ctx, o[1].ID, o[2].ID) }()
		close(start)
		wg.Wait()
		if e1 == nil && e2 == nil {
			t.Fatalf("round %d: both links committed: a cycle of four orgs", round)
		}
		var de *domain.Error
		for _, err := range []error{e1, e2} {
			if err != nil && (!errors.As(err, &de) || de.Code != domain.EConflict) {
				t.Fatalf("round %d: refusal is not a conflict: %v", round, err)
			}
		}
	}
}

// An email failure recorded twice (an activity retried after its commit), or
// for an email never begun, is on the timeline once; a sent email is never
// recorded failed.
func TestEmailFailureIsRecordedOnce(t *testing.T) {
	t.Parallel()
	s := testenv.Tx(t)
	f := seed(t, s, 1, domain.SourceConfig{})
	in := post(t, s, f, "fail-once", "")
	for _, c := range []struct {
		key   string
		begun bool
	}{{"k-begun-" + in.LeadID, true}, {"k-never-" + in.LeadID, false}} {
		key := c.key
		if c.begun {
			_, err := s.BeginDelivery(ctx, store.Delivery{Key: key, MessageID: key + "@x", Kind: "purchase", To: "a@b.example", Subject: "s"})
			must(t, err)
		}
		for i := 0; i < 3; i++ {
			must(t, s.RecordEmailFailure(ctx, key, in.LeadID, f.org.ID, "purchase email to a@b.example failed: 550"))
		}
	}
	sent := "k-sent-" + in.LeadID
	_, err := s.BeginDelivery(ctx, store.Delivery{Key: sent, MessageID: sent + "@x", Kind: "purchase", To: "a@b.example", Subject: "s"})
	must(t, err)
	must(t, s.MarkSent(ctx, sent))
	must(t, s.RecordEmailFailure(ctx, sent, in.LeadID, f.org.ID, "late failure"))
	l, err := s.GetLead(ctx, f.org.ID, in.LeadID)
	must(t, err)
	n := 0
	for _, e := range l.Timeline {
		if e.Kind == "email_failed" {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d email_failed events, want one per failed key", n)
	}
}

func TestUnreachableIsTheDatabaseNotTheCaller(t *testing.T) {
	t.Parallel()
	pool, err := pgxpool.New(ctx, "postgres://nobody@127.0.0.1:1/x?connect_timeout=1")
	must(t, err)
	defer pool.Close()
	if err := pool.Ping(ctx); !store.Unreachable(err) {
		t.Fatalf("a refused connection is not unreachable: %v", err)
	}
	for _, err := range []error{nil, context.DeadlineExceeded, context.Canceled, errors.New("syntax error"),
		&pgconn.PgError{Code: "23505"}} {
		if store.Unreachable(err) {
			t.Fatalf("%v taken for an unreachable database", err)
		}
	}
	if !store.Unreachable(&pgconn.PgError{Code: "57P01"}) {
		t.Fatal("an admin shutdown is unreachable")
	}
}
