package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// The weighted rotation with availability and caps (SPEC §5.6). This file
// is the seam between the rule engine (routing.go), which decides which
// pool a lead rotates over, and the rotation, which decides who in it.
// STUB: the signatures are the contract; the bodies come with the rotation.

// PoolStaff is the pool of staff_evenly: the org's active staff,
// professionals and managers, each with weight 1. A group's pool is
// "group:<group id>".
const PoolStaff = "staff"

// Pool is one rotation of one source.
type Pool struct {
	Key      string // PoolStaff or "group:<id>"
	SourceID string
	OrgID    string
	Loc      *time.Location // the org's timezone: working hours and day caps
}

// Pick is the member a rotation chose: its place in the pool's stable order
// (position Pos of N) and its weight, for the reason on the timeline.
type Pick struct {
	ID, Name string
	Pos, N   int
	Weight   int
}

// Skip is a member the rotation passed over, and why (domain.Skip*).
type Skip struct {
	UserID string `json:"user_id"`
	Name   string `json:"-"`
	Reason string `json:"reason"`
}

var errRotationStub = errors.New("weighted rotation not built yet")

// rotatePool chooses the next available member of the pool at now and
// records it (the pool's clock, the member's count, its day count); nil
// when nobody is available. Callers hold the source's row lock
// (lockSourceRotation), which serialises decisions for one source.
func rotatePool(ctx context.Context, tx pgx.Tx, p Pool, now time.Time) (*Pick, []Skip, error) {
	return nil, nil, errRotationStub
}

// userAvailability says why userID cannot take a lead at now ("" : it can):
// inactive, paused, out of hours, or at a cap. Mode user and repeat leads
// ask it.
func userAvailability(ctx context.Context, tx pgx.Tx, userID string, loc *time.Location, now time.Time) (string, error) {
	return "", errRotationStub
}

// countAssigned adds one to userID's routed leads on now's org-local day,
// for the daily cap; rotatePool does it for its picks, the rule engine for
// assignments it makes itself (mode user, repeat leads).
func countAssigned(ctx context.Context, tx pgx.Tx, userID string, loc *time.Location, now time.Time) error {
	return errRotationStub
}

// FairnessMember is one member's line in a source's fairness report for a
// period: what it was given, its weight, its share of its pool (weight ÷
// the pool's total weight), what that share of the pool's decisions comes
// to, and how often it was skipped, by reason (domain.Skip*).
type FairnessMember struct {
	UserID   string         `json:"user_id"`
	Name     string         `json:"name"`
	Weight   int            `json:"weight"`
	Assigned int            `json:"assigned"`
	Share    float64        `json:"share"`
	Expected float64        `json:"expected"`
	Skips    map[string]int `json:"skips"`
}

// FairnessPool is one rotation of the source (staff, or one group).
type FairnessPool struct {
	Pool      string           `json:"pool"`
	Group     string           `json:"group,omitempty"` // the group's name, for a group's pool
	Decisions int              `json:"decisions"`
	Members   []FairnessMember `json:"members"`
}

// FairnessReport is a source's rotations over [From, To).
type FairnessReport struct {
	Source    string         `json:"source"`
	From      time.Time      `json:"from"`
	To        time.Time      `json:"to"`
	Decisions int            `json:"decisions"` // every decision of the source, rotating or not
	Pools     []FairnessPool `json:"pools"`
}

// Fairness reports the org's source (slug) over [from, to). STUB.
func (s *Store) Fairness(ctx context.Context, orgID, slug string, from, to time.Time) (FairnessReport, error) {
	return FairnessReport{}, errRotationStub
}
