package store

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leadrelay/leadrelay/internal/domain"
)

// The weighted rotation with availability and caps (SPEC §5.6). This file
// is the seam between the rule engine (routing.go), which decides which
// pool a lead rotates over, and the rotation, which decides who in it.
//
// Fairness (docs/routing.md, "Weights"): while the pool's available members
// and their weights stay the same (an epoch), each is owed weight ÷ (their
// total weight) of every decision — its "due" — and the rotation gives the
// next lead as a one-processor Pfair scheduler does: among the members
// whose due has passed their count (released), the one whose next lead
// falls due earliest. Earliest-deadline-first meets every deadline when the
// shares sum to one, which keeps each member's count within 1 of its due
// after every decision of the epoch (TestPfairKeepsEveryCountWithinOneOfItsShare).
// A pause, a shift's end, a cap or a weight change starts a new epoch with
// every member owed its count: a returning member gets no catch-up, and
// nobody is more than one lead from the share of the members present.
// Decisions of one pool are serialised by its rotation_pools row, so this
// holds under concurrency.

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
	Seq      int64 // the pool's decision number: the order decisions were made in
}

// Skip is a member the rotation passed over, and why (domain.Skip*).
type Skip struct {
	UserID string `json:"user_id"`
	Name   string `json:"-"`
	Reason string `json:"reason"`
}

// rotationEps absorbs float64 rounding in the pool's clock (a sum of 1/W
// terms): far below the 1/200 a share can be, far above a million
// additions' error.
const rotationEps = 1e-9

// poolMember is one member of a pool as a decision reads it.
type poolMember struct {
	id, name            string
	weight              int
	active, paused      bool
	hours               []domain.WorkingSpan
	dailyCap, openCap   *int
	dayCount, openCount int
	// the member's rotation row (known: it has one)
	known, wasAvailable bool
	rowWeight           int
	given               int64
	due, mark           float64

	skip      string  // why it cannot take this lead ("" : it can)
	dueBefore float64 // owed before this decision
	p         float64 // its share of this decision
}

// unavailable says why m cannot take a lead at now ("" : it can).
func (m *poolMember) unavailable(now time.Time, loc *time.Location) string {
	switch {
	case !m.active:
		return domain.SkipInactive
	case m.paused:
		return domain.SkipPaused
	case !domain.Working(m.hours, now, loc):
		return domain.SkipOutOfHours
	case m.dailyCap != nil && m.dayCount >= *m.dailyCap:
		return domain.SkipDailyCap
	case m.openCap != nil && m.openCount >= *m.openCap:
		return domain.SkipOpenCap
	}
	return ""
}

// choosePfair picks, from the members with skip == "", the next to get a
// lead, given each one's dueBefore and share p (summing to 1): released
// members (count below what they are owed after this decision) by earliest
// deadline, then largest lag, then pool order; -1 when none can take it.
func choosePfair(ms []*poolMember) int {
	best, bestDeadline, bestLag := -1, 0.0, 0.0
	released := false
	for i, m := range ms {
		if m.skip != "" {
			continue
		}
		g := float64(m.given)
		lag := m.dueBefore + m.p - g
		rel := lag > rotationEps
		deadline := math.Ceil((g+1-m.dueBefore)/m.p - rotationEps)
		better := best < 0 || rel && !released ||
			rel == released && (deadline < bestDeadline || deadline == bestDeadline && lag > bestLag+rotationEps)
		if better {
			best, bestDeadline, bestLag, released = i, deadline, lag, rel
		}
	}
	return best
}

func countWhere(ms []*poolMember, f func(*poolMember) bool) int {
	n := 0
	for _, m := range ms {
		if f(m) {
			n++
		}
	}
	return n
}

// availabilityChanged reports whether the pool's available members or
// their weights differ from the last decision's.
func availabilityChanged(ms []*poolMember) bool {
	for _, m := range ms {
		if m.skip == "" && (!m.known || !m.wasAvailable || m.rowWeight != m.weight) || m.skip != "" && m.known && m.wasAvailable {
			return true
		}
	}
	return false
}

// shares sets each available member's dueBefore and share at clock c and
// returns the pool's total available weight. A new epoch (fresh set of
// available members or weights) starts every member at its count: shares
// are owed among the members present, and a returning one is owed nothing
// for its time away.
func shares(ms []*poolMember, c float64, epoch bool) int {
	total := 0
	for _, m := range ms {
		if m.skip == "" {
			total += m.weight
		}
	}
	for _, m := range ms {
		if m.skip != "" {
			continue
		}
		m.p = float64(m.weight) / float64(total)
		if epoch {
			m.dueBefore = float64(m.given)
		} else {
			m.dueBefore = m.due + float64(m.weight)*(c-m.mark)
		}
	}
	return total
}

// rotatePool chooses the next available member of the pool at now and
// records it: the pool's clock, the member's count and day count, and the
// rows of members whose availability or weight changed. It takes the
// pool's row lock first, so decisions of one pool go one at a time and each
// reads the last one's state. nil when nobody is available; the skips say
// who was passed over and why.
func rotatePool(ctx context.Context, tx pgx.Tx, p Pool, now time.Time) (*Pick, []Skip, error) {
	var clock float64
	var decisions int64
	if err := tx.QueryRow(ctx, `INSERT INTO rotation_pools (source_id, pool) VALUES ($1, $2)
		ON CONFLICT (source_id, pool) DO UPDATE SET decisions = rotation_pools.decisions RETURNING clock, decisions`,
		p.SourceID, p.Key).Scan(&clock, &decisions); err != nil {
		return nil, nil, err
	}
	ms, err := readPool(ctx, tx, p, now)
	if err != nil {
		return nil, nil, err
	}
	// A member who left the pool (deactivated, another role, out of the
	// group) is not read, but the pool's rows still count it available.
	var availableRows int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM rotation_members WHERE source_id = $1 AND pool = $2 AND available`,
		p.SourceID, p.Key).Scan(&availableRows); err != nil {
		return nil, nil, err
	}
	left := availableRows != countWhere(ms, func(m *poolMember) bool { return m.known && m.wasAvailable })
	var skips []Skip
	for _, m := range ms {
		if m.skip = m.unavailable(now, p.Loc); m.skip != "" {
			skips = append(skips, Skip{UserID: m.id, Name: m.name, Reason: m.skip})
		}
	}
	for {
		epoch := left || availabilityChanged(ms)
		total := shares(ms, clock, epoch)
		i := choosePfair(ms)
		if i < 0 {
			return nil, skips, nil
		}
		m := ms[i]
		// A capped member's count may have moved since the read (another
		// source's decision): count again under its row lock.
		if reason, err := recheckCaps(ctx, tx, m, p.Loc, now); err != nil {
			return nil, nil, err
		} else if reason != "" {
			m.skip = reason
			skips = append(skips, Skip{UserID: m.id, Name: m.name, Reason: reason})
			continue
		}
		next := clock + 1/float64(total)
		if err := recordPick(ctx, tx, p, ms, m, next, epoch); err != nil {
			return nil, nil, err
		}
		if err := countAssigned(ctx, tx, m.id, p.Loc, now); err != nil {
			return nil, nil, err
		}
		return &Pick{ID: m.id, Name: m.name, Pos: i + 1, N: len(ms), Weight: m.weight, Seq: decisions + 1}, skips, nil
	}
}

// poolMembersSQL reads a pool's members ($2: the org for staff, the group
// for a group) with their availability, day count ($4: the org-local day),
// and rotation rows, in the pool's stable order.
const poolMembersSQL = ` SELECT u.id, u.name, c.weight, u.active, u.paused AND (u.paused_until IS NULL OR u.paused_until > $5),
		u.working_hours, u.daily_cap, u.open_cap, coalesce(d.n, 0),
		r.member_id IS NOT NULL, coalesce(r.available, false), coalesce(r.weight, 0), coalesce(r.given, 0),
		coalesce(r.due, 0), coalesce(r.mark, 0)
	FROM c JOIN users u ON u.id = c.id
	LEFT JOIN rotation_members r ON r.source_id = $1 AND r.pool = $3 AND r.member_id = u.id
	LEFT JOIN user_day_counts d ON d.user_id = u.id AND d.day = $4
	ORDER BY u.created_at, u.id`

const (
	staffMembersSQL = `WITH c AS (SELECT id, 1 AS weight FROM users WHERE org_id = $2 AND active AND role = ANY($6))` + poolMembersSQL
	groupMembersSQL = `WITH c AS (SELECT user_id AS id, weight FROM group_members WHERE group_id = $2)` + poolMembersSQL
)

// readPool reads the pool's members as they stand at now.
func readPool(ctx context.Context, tx pgx.Tx, p Pool, now time.Time) ([]*poolMember, error) {
	day := now.In(p.Loc).Format(time.DateOnly)
	var rows pgx.Rows
	var err error
	if group, ok := strings.CutPrefix(p.Key, "group:"); ok {
		rows, err = tx.Query(ctx, groupMembersSQL, p.SourceID, group, p.Key, day, now)
	} else {
		rows, err = tx.Query(ctx, staffMembersSQL, p.SourceID, p.OrgID, p.Key, day, now, domain.RotatingRoles)
	}
	if err != nil {
		return nil, err
	}
	var ms []*poolMember
	var capped []string
	for rows.Next() {
		m := &poolMember{}
		var hours []byte
		if err := rows.Scan(&m.id, &m.name, &m.weight, &m.active, &m.paused, &hours, &m.dailyCap, &m.openCap, &m.dayCount,
			&m.known, &m.wasAvailable, &m.rowWeight, &m.given, &m.due, &m.mark); err != nil {
			rows.Close()
			return nil, err
		}
		if len(hours) > 0 {
			if err := json.Unmarshal(hours, &m.hours); err != nil {
				rows.Close()
				return nil, fmt.Errorf("working hours of user %s: %w", m.id, err)
			}
		}
		if m.openCap != nil {
			capped = append(capped, m.id)
		}
		ms = append(ms, m)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(capped) == 0 {
		return ms, nil
	}
	open, err := openLeads(ctx, tx, capped)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		m.openCount = open[m.id]
	}
	return ms, nil
}

// openLeadsSQL counts the open leads — assigned, not worked, neither
// returned nor invalid — of the users $1, each up to the user's open_cap:
// the cap is all the count is held against, and a rep who never marks a
// lead worked holds thousands, which every routing decision through them
// would read (issue 20: nothing on a lead's path grows with the org).
const openLeadsSQL = `SELECT u.id::text, (SELECT count(*) FROM (SELECT FROM leads l
		WHERE l.assigned_to = u.id AND l.worked_at IS NULL AND l.status IN ('new', 'onboarding') LIMIT u.open_cap) o)
	FROM users u WHERE u.id = ANY($1::uuid[]) AND u.open_cap IS NOT NULL`

func openLeads(ctx context.Context, tx pgx.Tx, users []string) (map[string]int, error) {
	rows, err := tx.Query(ctx, openLeadsSQL, users)
	if err != nil {
		return nil, err
	}
	open := map[string]int{}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			rows.Close()
			return nil, err
		}
		open[id] = n
	}
	return open, rows.Err()
}

// recheckCaps locks a capped member's user row and counts again, so two
// sources' decisions cannot both give the last lead under a cap; a member
// without caps needs neither.
func recheckCaps(ctx context.Context, tx pgx.Tx, m *poolMember, loc *time.Location, now time.Time) (string, error) {
	if m.dailyCap == nil && m.openCap == nil {
		return "", nil
	}
	return userAvailability(ctx, tx, m.id, loc, now)
}

// advance moves the members' state past a decision at clock next that
// gave chosen the lead, and returns the members whose rows change: the
// chosen one, and in a new epoch every member (the available ones rebased,
// the others marked away). Between epochs that is one row whatever the
// pool's size.
func advance(ms []*poolMember, chosen *poolMember, next float64, epoch bool) []*poolMember {
	var changed []*poolMember
	for _, m := range ms {
		switch {
		case m == chosen:
			m.given++
		case !epoch:
			continue
		case m.skip != "":
			if m.known {
				m.wasAvailable = false
				changed = append(changed, m)
			}
			continue
		}
		m.due, m.mark, m.known, m.wasAvailable, m.rowWeight = m.dueBefore+m.p, next, true, true, m.weight
		changed = append(changed, m)
	}
	return changed
}

// recordPick writes the decision: the pool's clock and the rows advance
// changed; in a new epoch, members who left the pool are marked away.
func recordPick(ctx context.Context, tx pgx.Tx, p Pool, ms []*poolMember, chosen *poolMember, next float64, epoch bool) error {
	if _, err := tx.Exec(ctx, `UPDATE rotation_pools SET clock = $3, decisions = decisions + 1 WHERE source_id = $1 AND pool = $2`,
		p.SourceID, p.Key, next); err != nil {
		return err
	}
	if epoch {
		all := make([]string, len(ms))
		for i, m := range ms {
			all[i] = m.id
		}
		if _, err := tx.Exec(ctx, `UPDATE rotation_members SET available = false
			WHERE source_id = $1 AND pool = $2 AND available AND member_id <> ALL($3::uuid[])`, p.SourceID, p.Key, all); err != nil {
			return err
		}
	}
	changed := advance(ms, chosen, next, epoch)
	ids, weights, given := make([]string, len(changed)), make([]int, len(changed)), make([]int64, len(changed))
	due, mark, avail := make([]float64, len(changed)), make([]float64, len(changed)), make([]bool, len(changed))
	for i, m := range changed {
		ids[i], weights[i], given[i], due[i], mark[i], avail[i] = m.id, m.rowWeight, m.given, m.due, m.mark, m.wasAvailable
	}
	_, err := tx.Exec(ctx, `INSERT INTO rotation_members (source_id, pool, member_id, weight, given, due, mark, available)
		SELECT $1, $2, u.* FROM unnest($3::uuid[], $4::int[], $5::bigint[], $6::float8[], $7::float8[], $8::bool[]) AS u
		ON CONFLICT (source_id, pool, member_id) DO UPDATE SET weight = excluded.weight, given = excluded.given,
			due = excluded.due, mark = excluded.mark, available = excluded.available`,
		p.SourceID, p.Key, ids, weights, given, due, mark, avail)
	return err
}

// userAvailability says why userID cannot take a lead at now ("" : it can):
// inactive, paused, out of hours, or at a cap. A capped user's row is locked
// first, so what it counts stays true until this transaction commits. Mode
// user and repeat leads ask it; rotations ask it again of a capped pick.
func userAvailability(ctx context.Context, tx pgx.Tx, userID string, loc *time.Location, now time.Time) (string, error) {
	m := &poolMember{id: userID}
	var hours []byte
	err := tx.QueryRow(ctx, `SELECT active, paused AND (paused_until IS NULL OR paused_until > $2), working_hours, daily_cap, open_cap,
			coalesce((SELECT n FROM user_day_counts WHERE user_id = users.id AND day = $3), 0)
		FROM users WHERE id = $1`, userID, now, now.In(loc).Format(time.DateOnly)).
		Scan(&m.active, &m.paused, &hours, &m.dailyCap, &m.openCap, &m.dayCount)
	if err != nil {
		return "", notFound(err, "user")
	}
	if m.dailyCap != nil || m.openCap != nil {
		// Lock, then count in fresh statements: a concurrent assignment to
		// this user commits before the lock is ours, and is counted. Two
		// statements, because one that waits for a row lock still reads
		// other tables as of its start: the count in the locking statement
		// missed the assignment it waited for, and a user capped at 5 got 6.
		if _, err := tx.Exec(ctx, `SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE`, userID); err != nil {
			return "", err
		}
		if err := tx.QueryRow(ctx, `SELECT coalesce((SELECT n FROM user_day_counts WHERE user_id = $1 AND day = $2), 0)`,
			userID, now.In(loc).Format(time.DateOnly)).Scan(&m.dayCount); err != nil {
			return "", err
		}
		if m.openCap != nil {
			open, err := openLeads(ctx, tx, []string{userID})
			if err != nil {
				return "", err
			}
			m.openCount = open[userID]
		}
	}
	if len(hours) > 0 {
		if err := json.Unmarshal(hours, &m.hours); err != nil {
			return "", fmt.Errorf("working hours of user %s: %w", userID, err)
		}
	}
	return m.unavailable(now, loc), nil
}

// countAssigned adds one to userID's routed leads on now's org-local day,
// for the daily cap; rotatePool does it for its picks, the rule engine for
// assignments it makes itself (mode user, repeat leads).
func countAssigned(ctx context.Context, tx pgx.Tx, userID string, loc *time.Location, now time.Time) error {
	_, err := tx.Exec(ctx, `INSERT INTO user_day_counts (user_id, day, n) VALUES ($1, $2, 1)
		ON CONFLICT (user_id, day) DO UPDATE SET n = user_day_counts.n + 1`, userID, now.In(loc).Format(time.DateOnly))
	return err
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

// Fairness reports the org's source (slug) over [from, to): per rotation
// of the source (its staff, each group a rule rotates over), each member's
// leads, weight, share and skips, read from routing_decisions. Shares use
// today's members and weights; a former member still shows what it got,
// with weight 0. Unknown source: not found.
func (s *Store) Fairness(ctx context.Context, orgID, slug string, from, to time.Time) (FairnessReport, error) {
	rep := FairnessReport{Source: slug, From: from, To: to, Pools: []FairnessPool{}}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var sourceID string
		if err := tx.QueryRow(ctx, `SELECT id FROM lead_sources WHERE org_id = $1 AND slug = $2`, orgID, slug).Scan(&sourceID); err != nil {
			return notFound(err, "source")
		}
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM routing_decisions WHERE source_id = $1 AND at >= $2 AND at < $3`,
			sourceID, from, to).Scan(&rep.Decisions); err != nil {
			return err
		}
		pools, err := fairnessPools(ctx, tx, sourceID, from, to)
		if err != nil {
			return err
		}
		for _, key := range pools {
			fp, err := fairnessPool(ctx, tx, sourceID, orgID, key, from, to)
			if err != nil {
				return err
			}
			rep.Pools = append(rep.Pools, fp)
		}
		return nil
	})
	return rep, err
}

// fairnessPools lists the source's rotations: those that decided in the
// period and those that ever did, staff first, then groups.
func fairnessPools(ctx context.Context, tx pgx.Tx, sourceID string, from, to time.Time) ([]string, error) {
	rows, err := tx.Query(ctx, `SELECT pool FROM rotation_pools WHERE source_id = $1
		UNION SELECT DISTINCT pool FROM routing_decisions WHERE source_id = $1 AND at >= $2 AND at < $3 AND pool IS NOT NULL
		ORDER BY 1 DESC`, sourceID, from, to)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// fairnessMembersSQL is the pool's members today with their weight
// ($2: org for staff, group for a group), then whoever got or was skipped
// in the period and is no longer one, with weight 0.
const fairnessMembersSQL = ` , seen AS (SELECT member_id AS id FROM routing_decisions
			WHERE source_id = $1 AND pool = $3 AND at >= $4 AND at < $5 AND member_id IS NOT NULL
		UNION SELECT (s->>'user_id')::uuid FROM routing_decisions, jsonb_array_elements(skipped) s
			WHERE source_id = $1 AND pool = $3 AND at >= $4 AND at < $5),
	m AS (SELECT id, weight FROM c UNION ALL SELECT id, 0 FROM seen WHERE id NOT IN (SELECT id FROM c))
	SELECT u.id, u.name, m.weight FROM m JOIN users u ON u.id = m.id ORDER BY m.weight = 0, u.created_at, u.id`

const (
	staffFairnessSQL = `WITH c AS (SELECT id, 1 AS weight FROM users WHERE org_id = $2 AND active AND role = ANY($6))` + fairnessMembersSQL
	groupFairnessSQL = `WITH c AS (SELECT user_id AS id, weight FROM group_members WHERE group_id = $2)` + fairnessMembersSQL
)

func fairnessPool(ctx context.Context, tx pgx.Tx, sourceID, orgID, key string, from, to time.Time) (FairnessPool, error) {
	fp := FairnessPool{Pool: key, Members: []FairnessMember{}}
	var rows pgx.Rows
	var err error
	if group, ok := strings.CutPrefix(key, "group:"); ok {
		// A deleted group's decisions still report, under its id.
		if err := tx.QueryRow(ctx, `SELECT coalesce((SELECT name FROM groups WHERE id::text = $1), $1)`, group).Scan(&fp.Group); err != nil {
			return fp, err
		}
		rows, err = tx.Query(ctx, groupFairnessSQL, sourceID, group, key, from, to)
	} else {
		rows, err = tx.Query(ctx, staffFairnessSQL, sourceID, orgID, key, from, to, domain.RotatingRoles)
	}
	if err != nil {
		return fp, err
	}
	index := map[string]int{}
	total := 0
	for rows.Next() {
		var m FairnessMember
		if err := rows.Scan(&m.UserID, &m.Name, &m.Weight); err != nil {
			rows.Close()
			return fp, err
		}
		m.Skips = map[string]int{}
		index[m.UserID] = len(fp.Members)
		total += m.Weight
		fp.Members = append(fp.Members, m)
	}
	if err := rows.Err(); err != nil {
		return fp, err
	}
	rows, err = tx.Query(ctx, `SELECT member_id::text, '' AS reason, count(*) FROM routing_decisions
			WHERE source_id = $1 AND pool = $2 AND at >= $3 AND at < $4 AND member_id IS NOT NULL GROUP BY 1
		UNION ALL SELECT s->>'user_id', s->>'reason', count(*) FROM routing_decisions, jsonb_array_elements(skipped) s
			WHERE source_id = $1 AND pool = $2 AND at >= $3 AND at < $4 GROUP BY 1, 2`, sourceID, key, from, to)
	if err != nil {
		return fp, err
	}
	for rows.Next() {
		var id, reason string
		var n int
		if err := rows.Scan(&id, &reason, &n); err != nil {
			rows.Close()
			return fp, err
		}
		i, ok := index[id]
		if !ok {
			continue // a user deleted since: nothing to name
		}
		if reason == "" {
			fp.Members[i].Assigned += n
			fp.Decisions += n
		} else {
			fp.Members[i].Skips[reason] += n
		}
	}
	if err := rows.Err(); err != nil {
		return fp, err
	}
	for i := range fp.Members {
		m := &fp.Members[i]
		if total > 0 {
			m.Share = float64(m.Weight) / float64(total)
		}
		m.Expected = m.Share * float64(fp.Decisions)
	}
	return fp, nil
}
