package store

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leadrelay/leadrelay/internal/domain"
)

// The rule engine (SPEC §5.6, docs/routing.md "Rules"): a source's rules
// in order, first match first, then its default; a rotation or a user with
// nobody available hands the lead to the source's when_nobody. It runs
// inside RouteLead's transaction, so a decision and the rotation it moves
// commit together or not at all.

// routeInput is what decide reads of the lead at one hop.
type routeInput struct {
	slug, requested string
	repeatOf        string // the open lead this one repeats, found at intake
	facts           domain.LeadFacts
	intake          bool // the hop of the org whose source received it
	noFanOut        bool // a reroute: never pass the lead down again
	now             time.Time
}

// decisionLog is one routing_decisions row: which rule decided (-1 for a
// repeat or a placement), the rotation's pool and pick, and who it skipped.
type decisionLog struct {
	rule   int
	name   string
	pool   string
	member string
	skips  []Skip
}

// logDecision writes the ruling's routing_decisions row, what the fairness
// report reads.
func logDecision(ctx context.Context, tx pgx.Tx, leadID string, r ruling) error {
	if r.log == nil || r.sourceID == "" {
		return nil
	}
	// Ids only: a name changes, and the report reads today's.
	skips := make([]Skip, len(r.log.skips))
	for i, k := range r.log.skips {
		skips[i] = Skip{UserID: k.UserID, Reason: k.Reason}
	}
	_, err := tx.Exec(ctx, `INSERT INTO routing_decisions (source_id, lead_id, rule, rule_name, pool, member_id, skipped)
		VALUES ($1, $2, $3, $4, nullif($5, ''), nullif($6, '')::uuid, $7)`,
		r.sourceID, leadID, r.log.rule, r.log.name, r.log.pool, r.log.member, skips)
	return err
}

// applyRules runs the source's rules and default on the lead.
func applyRules(ctx context.Context, tx pgx.Tx, src *hopSource, orgID string, in routeInput, hop int) (ruling, error) {
	n := len(src.rules)
	var last *decisionLog
	for i := 0; i <= n; i++ {
		rule := domain.Rule{Name: "default", Routing: domain.Routing{Mode: src.mode, SubAgencies: src.subs, Group: src.group, User: src.user}}
		if i < n {
			rule = src.rules[i]
			if !rule.When.Matches(in.facts, src.loc) {
				continue
			}
		}
		label := ruleLabel(i, n, rule.Name)
		r, ok, err := act(ctx, tx, src, orgID, rule.Routing, i == n, in, hop)
		if err != nil {
			return r, err
		}
		if r.log == nil {
			r.log = &decisionLog{}
		}
		r.log.rule, r.log.name = i, rule.Name
		r.sourceID = src.id
		if ok {
			r.reason, r.rule = label+r.reason, label+r.rule
			if r.rule == label {
				r.rule = ""
			}
			return r, nil
		}
		last = r.log
		if src.whenNobody == domain.NobodyNextRule && i < n {
			continue
		}
		return nobody(src, label, r.reason, r.rule, last), nil
	}
	return nobody(src, "", "", "", last), nil // unreachable: the default always answers
}

// ruleLabel names the rule that decided, for the timeline: nothing when the
// source has only its default (its reasons read as before rules existed).
func ruleLabel(i, n int, name string) string {
	switch {
	case n == 0:
		return ""
	case i == n:
		return "default rule: "
	}
	return fmt.Sprintf("rule %d %q: ", i+1, name)
}

// nobody is when_nobody's answer for a rule whose rotation (or user) had
// nobody available; why says who was not and why. next_rule past the
// default ends with the owner.
func nobody(src *hopSource, label, why, whyByID string, log *decisionLog) ruling {
	why, whyByID = label+why, label+cmp.Or(whyByID, why)
	var r ruling
	switch src.whenNobody {
	case domain.NobodyPending:
		r, _ = placeBy(domain.Placement{Location: domain.LocationPending, Reason: why + ": waits in pending (when_nobody)"}, src.priority, src.delay)
	case domain.NobodyQueue:
		r, _ = placeBy(domain.Placement{Location: domain.LocationQueue, Reason: why + ": waits in the queue (when_nobody)"}, src.priority, src.delay)
	default:
		r = toOwner(why+": assigned to the org owner", src.priority)
		r.rule = whyByID + ": assigned to the org owner"
	}
	r.log, r.sourceID = log, src.id
	return r
}

// act carries out one rule's routing. ok false: a rotation or a user with
// nobody available, the reason saying who was skipped and why.
func act(ctx context.Context, tx pgx.Tx, src *hopSource, orgID string, rt domain.Routing, isDefault bool, in routeInput, hop int) (ruling, bool, error) {
	delay := src.delay
	if !isDefault {
		delay, _ = time.ParseDuration(rt.QueueDelay)
	}
	switch rt.Mode {
	case domain.RoutePending, domain.RouteQueue:
		r, _ := placeBy(domain.Place(rt.Mode, "", "", delay), src.priority, delay)
		return r, true, nil
	case domain.RouteStaffEvenly:
		return rotateRuling(ctx, tx, src, Pool{Key: PoolStaff, SourceID: src.id, OrgID: orgID, Loc: src.loc}, in.now)
	case domain.RouteGroup:
		var id string
		err := tx.QueryRow(ctx, `SELECT id FROM groups WHERE org_id = $1 AND name = $2`, orgID, rt.Group).Scan(&id)
		if err == pgx.ErrNoRows {
			return ruling{reason: "group " + rt.Group + " no longer exists", log: &decisionLog{}}, false, nil
		}
		if err != nil {
			return ruling{}, false, err
		}
		return rotateRuling(ctx, tx, src, Pool{Key: "group:" + id, SourceID: src.id, OrgID: orgID, Loc: src.loc}, in.now)
	case domain.RouteUser:
		return userRuling(ctx, tx, src, orgID, rt.User, in.now)
	case domain.RouteSubAgencies:
		if in.noFanOut {
			return toOwner("a reroute does not pass a lead down to a sub-agency again (sub_agencies_evenly): assigned to the org owner",
				src.priority), true, nil
		}
		s := *src
		if !isDefault {
			s.subs = rt.SubAgencies
		}
		r, err := subAgenciesEvenly(ctx, tx, &s, orgID, hop)
		return r, true, err
	}
	return ownerMode(src), true, nil
}

// rotateRuling takes the next available member of the pool.
func rotateRuling(ctx context.Context, tx pgx.Tx, src *hopSource, p Pool, now time.Time) (ruling, bool, error) {
	pick, skips, err := rotatePool(ctx, tx, p, now)
	if err != nil {
		return ruling{}, false, err
	}
	log := &decisionLog{pool: p.Key, skips: skips}
	what, empty := "active staff (staff_evenly)", "no active staff to rotate over (staff_evenly)"
	if group, ok := strings.CutPrefix(p.Key, "group:"); ok {
		if err := tx.QueryRow(ctx, `SELECT 'group ' || name FROM groups WHERE id = $1`, group).Scan(&what); err != nil {
			return ruling{}, false, err
		}
		empty = "nobody in " + what + " to rotate over"
	}
	if pick == nil && len(skips) == 0 {
		return ruling{reason: empty, log: log}, false, nil
	}
	if pick == nil {
		return ruling{reason: "nobody available in " + what + skipsText(skips, false),
			rule: "nobody available in " + what + skipsText(skips, true), log: log}, false, nil
	}
	log.member = pick.ID
	weight := ""
	if pick.Weight != 1 {
		weight = fmt.Sprintf(", weight %d", pick.Weight)
	}
	return ruling{
		reason:   fmt.Sprintf("rotated to %s: position %d of %d %s%s", pick.Name, pick.Pos, pick.N, what, weight) + skipsText(skips, false),
		rule:     fmt.Sprintf("rotated to user %s: position %d of %d %s%s", pick.ID, pick.Pos, pick.N, what, weight) + skipsText(skips, true),
		priority: src.priority, assignee: pick.ID, assigneeName: pick.Name, log: log}, true, nil
}

// userRuling gives the lead to one user (mode user) when they are available.
func userRuling(ctx context.Context, tx pgx.Tx, src *hopSource, orgID, userID string, now time.Time) (ruling, bool, error) {
	var name string
	err := tx.QueryRow(ctx, `SELECT name FROM users WHERE id = $1 AND org_id = $2`, userID, orgID).Scan(&name)
	if err == pgx.ErrNoRows {
		return ruling{reason: "the rule's user is no longer in this org", log: &decisionLog{}}, false, nil
	}
	if err != nil {
		return ruling{}, false, err
	}
	why, err := userAvailability(ctx, tx, userID, src.loc, now)
	if err != nil {
		return ruling{}, false, err
	}
	skips := []Skip{{UserID: userID, Name: name, Reason: why}}
	if why != "" {
		return ruling{reason: "nobody available" + skipsText(skips, false), rule: "nobody available" + skipsText(skips, true),
			log: &decisionLog{skips: skips}}, false, nil
	}
	if err := countAssigned(ctx, tx, userID, src.loc, now); err != nil {
		return ruling{}, false, err
	}
	return ruling{reason: "assigned to " + name + " (user)", rule: "assigned to user " + userID + " (user)",
		priority: src.priority, assignee: userID, assigneeName: name, log: &decisionLog{member: userID}}, true, nil
}

// repeatRuling sends a repeat lead to the person who has the lead it
// repeats, when that lead is still open and that person available. When
// not, note says why, for the reason of the decision the rules then make.
func repeatRuling(ctx context.Context, tx pgx.Tx, src *hopSource, orgID string, in routeInput) (ruling, bool, string, error) {
	if in.repeatOf == "" {
		return ruling{}, false, "", nil
	}
	var userID, name string
	err := tx.QueryRow(ctx, `SELECT u.id, u.name FROM leads l JOIN users u ON u.id = l.assigned_to
		WHERE l.id = $1 AND l.org_id = $2 AND l.worked_at IS NULL AND l.status NOT IN ('returned', 'invalid')`,
		in.repeatOf, orgID).Scan(&userID, &name)
	if err == pgx.ErrNoRows {
		return ruling{}, false, fmt.Sprintf("repeat of lead %s, which is no longer open here: ", in.repeatOf), nil
	}
	if err != nil {
		return ruling{}, false, "", err
	}
	why, err := userAvailability(ctx, tx, userID, src.loc, in.now)
	if err != nil {
		return ruling{}, false, "", err
	}
	if why != "" {
		return ruling{}, false, fmt.Sprintf("repeat of lead %s, but %s is %s: ", in.repeatOf, name, skipWords(why)), nil
	}
	if err := countAssigned(ctx, tx, userID, src.loc, in.now); err != nil {
		return ruling{}, false, "", err
	}
	return ruling{reason: fmt.Sprintf("repeat of lead %s: assigned to %s, who has it", in.repeatOf, name),
		rule:     fmt.Sprintf("repeat of lead %s: assigned to user %s, who has it", in.repeatOf, userID),
		priority: src.priority, assignee: userID, assigneeName: name, sourceID: src.id,
		log: &decisionLog{rule: -1, name: "repeat", member: userID}}, true, "", nil
}

// skipWords is a skip reason as the timeline says it.
func skipWords(reason string) string {
	switch reason {
	case domain.SkipPaused:
		return "paused"
	case domain.SkipOutOfHours:
		return "out of hours"
	case domain.SkipDailyCap:
		return "at their daily cap"
	case domain.SkipOpenCap:
		return "at their open-lead cap"
	case domain.SkipInactive:
		return "inactive"
	}
	return reason
}

// maxSkipNames bounds the names a reason lists: a 200-member group with
// most away must not make a reason of kilobytes.
const maxSkipNames = 10

// skipsText is " (skipped: Ann: paused, Bob: out of hours)", or "" with no
// skips; byID names users by id, for what the Temporal UI may show.
func skipsText(skips []Skip, byID bool) string {
	if len(skips) == 0 {
		return ""
	}
	parts := make([]string, 0, min(len(skips), maxSkipNames)+1)
	for i, s := range skips {
		if i == maxSkipNames {
			parts = append(parts, fmt.Sprintf("and %d more", len(skips)-maxSkipNames))
			break
		}
		who := s.Name
		if byID {
			who = "user " + s.UserID
		}
		parts = append(parts, who+": "+skipWords(s.Reason))
	}
	return " (skipped " + strings.Join(parts, ", ") + ")"
}
