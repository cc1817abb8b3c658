package store

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/leadrelay/leadrelay/internal/domain"
)

// TestPfairKeepsEveryCountWithinOneOfItsShare drives the rotation's choice
// and bookkeeping (shares, choosePfair, advance: what rotatePool runs
// between its reads and writes) through random pools: random weights,
// members paused and resumed, weights changed, over thousands of leads.
// After every decision, every available member's count since the pool's
// membership last changed is within 1 of its weighted share of the
// decisions since then, and a paused member gets nothing.
func TestPfairKeepsEveryCountWithinOneOfItsShare(t *testing.T) {
	r := rand.New(rand.NewPCG(18, 5))
	for trial := range 3000 {
		k := 1 + r.IntN(12)
		ms := make([]*poolMember, k)
		for i := range ms {
			ms[i] = &poolMember{id: fmt.Sprint(i), weight: 1 + r.IntN(10)}
		}
		clock := 0.0
		var since map[*poolMember]int
		decisions := 0
		for n := range 400 {
			if r.IntN(30) == 0 {
				m := ms[r.IntN(k)]
				if m.skip == "" {
					m.skip = domain.SkipPaused
				} else {
					m.skip = ""
				}
			}
			if r.IntN(60) == 0 {
				ms[r.IntN(k)].weight = 1 + r.IntN(10)
			}
			epoch := availabilityChanged(ms)
			if epoch || since == nil {
				since, decisions = map[*poolMember]int{}, 0
			}
			total := shares(ms, clock, epoch)
			i := choosePfair(ms)
			if i < 0 {
				continue // everybody paused: the rule's when_nobody decides
			}
			if ms[i].skip != "" {
				t.Fatalf("trial %d lead %d: chose a paused member", trial, n)
			}
			next := clock + 1/float64(total)
			advance(ms, ms[i], next, epoch)
			clock = next
			since[ms[i]]++
			decisions++
			for _, m := range ms {
				if m.skip != "" {
					continue
				}
				share := float64(decisions*m.weight) / float64(total)
				if math.Abs(float64(since[m])-share) >= 1 {
					t.Fatalf("trial %d lead %d: member %s (weight %d of %d) has %d of %d leads since the pool last changed, share %.3f",
						trial, n, m.id, m.weight, total, since[m], decisions, share)
				}
			}
		}
	}
}
