package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leadrelay/leadrelay/internal/domain"
)

// The rule engine (SPEC §5.6, docs/routing.md "Rules"): which of a source's
// rules takes a lead, and what its action does when its rotation finds
// nobody. decide (routing.go) calls it after a repeat and a placement.

// hopLead is what the rules read of a lead: its facts for the conditions,
// the vendor's location wish, and the open lead it repeats.
type hopLead struct {
	id, requested, repeatOf string
	facts                   domain.LeadFacts
}

// readHopLead reads the lead's facts as they stand at orgID (its priority
// there, its arrival on that org's clock).
func readHopLead(ctx context.Context, tx pgx.Tx, id, orgID, requested string) (hopLead, error) {
	l := hopLead{id: id, requested: requested}
	var attrs []byte
	var tz string
	err := tx.QueryRow(ctx, `SELECT l.state, l.postal_code, l.city, l.attributes, l.rating, l.priority, l.kind, l.received_at,
			coalesce(l.repeat_of::text, ''),
			array(SELECT b.name FROM lead_labels ll JOIN labels b ON b.id = ll.label_id WHERE ll.lead_id = l.id ORDER BY b.name),
			(SELECT timezone FROM orgs WHERE id = $2)
		FROM leads l WHERE l.id = $1`, id, orgID).
		Scan(&l.facts.State, &l.facts.PostalCode, &l.facts.City, &attrs, &l.facts.Rating, &l.facts.Priority, &l.facts.Kind,
			&l.facts.At, &l.repeatOf, &l.facts.Labels, &tz)
	if err != nil {
		return l, notFound(err, "lead")
	}
	if err := json.Unmarshal(attrs, &l.facts.Attributes); err != nil {
		return l, fmt.Errorf("attributes of lead %s: %w", id, err)
	}
	l.facts.Loc = domain.OrgLocation(tz)
	return l, nil
}

// decisionRow is the routing_decisions row of a decision: the rule (its
// index; len(rules) for the default, -1 for a repeat, a placement or a
// distribution), the pool a rotation used, who it chose and whom it skipped.
type decisionRow struct {
	sourceID, ruleName string
	rule               int
	pool, member       string
	skipped            []Skip
}

// insert writes the row for leadID.
func (r *decisionRow) insert(ctx context.Context, tx pgx.Tx, leadID string) error {
	skipped, err := json.Marshal(nonNilSkips(r.skipped))
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO routing_decisions (source_id, lead_id, rule, rule_name, pool, member_id, skipped)
		VALUES ($1, $2, $3, $4, nullif($5, ''), nullif($6, '')::uuid, $7)`,
		r.sourceID, leadID, r.rule, r.ruleName, r.pool, r.member, skipped)
	return err
}

func nonNilSkips(s []Skip) []Skip {
	if s == nil {
		return []Skip{}
	}
	return s
}

// maxNamedSkips bounds the skipped members a reason names; the rest are
// counted ("and 3 more").
const maxNamedSkips = 10

// skipText names the skipped members and why: "Bob (paused), Cy
// (daily_cap)"; byID names them by user id instead, for Decision.Rule.
func skipText(skips []Skip, byID bool) string {
	var parts []string
	for i, s := range skips {
		if i == maxNamedSkips {
			parts = append(parts, fmt.Sprintf("and %d more", len(skips)-maxNamedSkips))
			break
		}
		who := s.Name
		if byID {
			who = "user " + s.UserID
		}
		parts = append(parts, fmt.Sprintf("%s (%s)", who, s.Reason))
	}
	return strings.Join(parts, ", ")
}

// repeatRuling gives a repeat lead to the assignee of the open lead it
// repeats, when that lead is still open and its assignee available; ok is
// false otherwise and the rules decide. skip says why the assignee could
// not take it, for the reason of what comes next.
func repeatRuling(ctx context.Context, tx pgx.Tx, src *hopSource, l hopLead, orgID string, now time.Time) (r ruling, ok bool, note string, err error) {
	var assignee, name string
	err = tx.QueryRow(ctx, `SELECT coalesce(u.id::text, ''), coalesce(u.name, '') FROM leads p LEFT JOIN users u ON u.id = p.assigned_to
		WHERE p.id = $1 AND p.org_id = $2 AND p.worked_at IS NULL AND p.status IN ('new', 'onboarding')`, l.repeatOf, orgID).
		Scan(&assignee, &name)
	if err == pgx.ErrNoRows || err == nil && assignee == "" {
		return r, false, fmt.Sprintf("repeat of lead %s, which is no longer open here", l.repeatOf), nil
	}
	if err != nil {
		return r, false, "", err
	}
	why, err := userAvailability(ctx, tx, assignee, l.facts.Loc, now)
	if err != nil {
		return r, false, "", err
	}
	if why != "" {
		return r, false, fmt.Sprintf("repeat of lead %s, whose assignee %s is unavailable (%s)", l.repeatOf, name, why),
			nil
	}
	if err := countAssigned(ctx, tx, assignee, l.facts.Loc, now); err != nil {
		return r, false, "", err
	}
	return ruling{reason: fmt.Sprintf("repeat of lead %s: assigned to %s", l.repeatOf, name),
		rule:     fmt.Sprintf("repeat of lead %s: assigned to user %s", l.repeatOf, assignee),
		priority: src.priority, assignee: assignee, assigneeName: name,
		row: &decisionRow{sourceID: src.id, rule: -1, ruleName: "repeat", member: assignee}}, true, "", nil
}

// applyRules runs the source's rules in order on the lead: the first whose
// condition matches acts, else the default. When an action's rotation (or
// its one user) has nobody available, the source's when_nobody decides:
// next_rule goes on to the following matching rules (past the default, the
// owner), the others end there.
func applyRules(ctx context.Context, tx pgx.Tx, src *hopSource, l hopLead, orgID string, hop int, now time.Time) (ruling, error) {
	n := len(src.rules)
	var passed, passedIDs []string // what the rules that passed the lead on said
	for i := 0; i <= n; i++ {
		rt, delay := src.defaultRouting(), src.delay
		if i < n {
			if !src.rules[i].When.Matches(l.facts) {
				continue
			}
			rt = src.rules[i].Routing
			delay, _ = time.ParseDuration(rt.QueueDelay) // validated on save
		}
		label := ""
		if n > 0 {
			label = domain.RuleLabel(src.rules, i) + ": "
		}
		r, nobody, err := act(ctx, tx, src, rt, delay, orgID, hop, l.facts.Loc, now)
		if err != nil {
			return ruling{}, err
		}
		if nobody == nil {
			r.reason, r.rule = prefix(passed, label+r.reason), prefix(passedIDs, label+cmpOr(r.rule, r.reason))
			r.row.rule, r.row.ruleName = i, ruleName(src.rules, i)
			return r, nil
		}
		passed = append(passed, label+nobody.reason)
		passedIDs = append(passedIDs, label+nobody.rule)
		if src.whenNobody == domain.NobodyNextRule && i < n {
			continue
		}
		return whenNobody(src, i, nobody, passed, passedIDs), nil
	}
	// Unreachable: the default (i == n) always returns.
	return toOwner("no rule decided: assigned to the org owner", src.priority), nil
}

// nobodyHere is an action that found nobody available: why, with names and
// with ids, and the decision row to write if it ends there.
type nobodyHere struct {
	reason, rule string
	row          decisionRow
}

// whenNobody ends a decision whose last action found nobody: pending,
// queue, or the owner (also next_rule past the default).
func whenNobody(src *hopSource, i int, nobody *nobodyHere, passed, passedIDs []string) ruling {
	row := nobody.row
	row.rule, row.ruleName = i, ruleName(src.rules, i)
	var r ruling
	switch src.whenNobody {
	case domain.NobodyPending:
		r = ruling{reason: "when_nobody pending: waits for someone with permission", location: domain.LocationPending,
			priority: src.priority}
	case domain.NobodyQueue:
		t := time.Now().Add(src.delay)
		r = ruling{reason: fmt.Sprintf("when_nobody queue: claimable after %s", src.delay), location: domain.LocationQueue,
			availableAt: &t, priority: src.priority}
	case domain.NobodyNextRule:
		r = toOwner("no rule left (when_nobody next_rule): assigned to the org owner", src.priority)
	default:
		// when_nobody owner, the default: "…: assigned to the org owner"
		// reads as it did before rules existed.
		r = toOwner("assigned to the org owner", src.priority)
		last := len(passed) - 1
		r.reason = strings.Join(append(passed[:last:last], passed[last]+": "+r.reason), "; ")
		r.rule = strings.Join(append(passedIDs[:last:last], passedIDs[last]+": assigned to the org owner"), "; ")
		r.row = &row
		return r
	}
	r.reason, r.rule = strings.Join(append(passed, r.reason), "; "), strings.Join(append(passedIDs, r.reason), "; ")
	r.row = &row
	return r
}

func prefix(passed []string, s string) string {
	return strings.Join(append(passed[:len(passed):len(passed)], s), "; ")
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// ruleName is what routing_decisions calls rule i.
func ruleName(rules []domain.Rule, i int) string {
	if i < len(rules) {
		return rules[i].Name
	}
	return "default"
}

// act carries out one rule's action. A rotation or a user with nobody
// available returns a nobodyHere instead of a ruling.
func act(ctx context.Context, tx pgx.Tx, src *hopSource, rt domain.Routing, delay time.Duration, orgID string, hop int,
	loc *time.Location, now time.Time) (ruling, *nobodyHere, error) {
	row := &decisionRow{sourceID: src.id}
	switch rt.Mode {
	case domain.RoutePending, domain.RouteQueue:
		p := domain.Place(rt.Mode, "", "", delay)
		r := ruling{reason: p.Reason, priority: src.priority, location: p.Location, row: row}
		if p.Location == domain.LocationQueue {
			t := now.Add(delay)
			r.availableAt = &t
		}
		return r, nil, nil
	case domain.RouteSubAgencies:
		sub := *src
		sub.subs = rt.SubAgencies
		r, err := subAgenciesEvenly(ctx, tx, &sub, orgID, hop)
		r.row = row
		return r, nil, err
	case domain.RouteStaffEvenly:
		return rotateRule(ctx, tx, src, Pool{Key: PoolStaff, SourceID: src.id, OrgID: orgID, Loc: loc}, "active staff (staff_evenly)", now)
	case domain.RouteGroup:
		var id string
		err := tx.QueryRow(ctx, `SELECT id FROM groups WHERE org_id = $1 AND name = $2`, orgID, rt.Group).Scan(&id)
		if err == pgx.ErrNoRows {
			why := fmt.Sprintf("group %s no longer exists", rt.Group)
			return ruling{}, &nobodyHere{reason: why, rule: why, row: *row}, nil
		}
		if err != nil {
			return ruling{}, nil, err
		}
		return rotateRule(ctx, tx, src, Pool{Key: "group:" + id, SourceID: src.id, OrgID: orgID, Loc: loc},
			"in group "+rt.Group, now)
	case domain.RouteUser:
		return oneUser(ctx, tx, src, rt.User, loc, now)
	}
	return ruling{reason: "source routing is owner: assigned to the org owner", priority: src.priority, row: row}, nil, nil
}

// rotateRule rotates the pool and says so: whom it chose, at which place
// of how many, and whom it skipped and why.
func rotateRule(ctx context.Context, tx pgx.Tx, src *hopSource, p Pool, what string, now time.Time) (ruling, *nobodyHere, error) {
	pick, skips, err := rotatePool(ctx, tx, p, now)
	if err != nil {
		return ruling{}, nil, err
	}
	row := decisionRow{sourceID: src.id, pool: p.Key, skipped: skips}
	skipped, skippedIDs := "", ""
	if len(skips) > 0 {
		skipped, skippedIDs = "; skipped "+skipText(skips, false), "; skipped "+skipText(skips, true)
	}
	if pick == nil {
		if len(skips) == 0 && p.Key == PoolStaff {
			why := "no active staff to rotate over (staff_evenly)"
			return ruling{}, &nobodyHere{reason: why, rule: why, row: row}, nil
		}
		why := "nobody available " + strings.TrimPrefix(what, "active staff ")
		if len(skips) == 0 {
			why = "nobody to rotate over " + strings.TrimPrefix(what, "active staff ")
		}
		return ruling{}, &nobodyHere{reason: why + skipped, rule: why + skippedIDs, row: row}, nil
	}
	row.member = pick.ID
	weight := ""
	if p.Key != PoolStaff {
		weight = fmt.Sprintf(" (weight %d)", pick.Weight)
	}
	return ruling{reason: fmt.Sprintf("rotated to %s: position %d of %d %s%s%s", pick.Name, pick.Pos, pick.N, what, weight, skipped),
		rule:     fmt.Sprintf("rotated to user %s: position %d of %d %s%s%s", pick.ID, pick.Pos, pick.N, what, weight, skippedIDs),
		priority: src.priority, assignee: pick.ID, assigneeName: pick.Name, row: &row}, nil, nil
}

// oneUser (mode user) gives the lead to the rule's user when available.
func oneUser(ctx context.Context, tx pgx.Tx, src *hopSource, userID string, loc *time.Location, now time.Time) (ruling, *nobodyHere, error) {
	var name string
	if err := tx.QueryRow(ctx, `SELECT name FROM users WHERE id = $1`, userID).Scan(&name); err != nil {
		return ruling{}, nil, notFound(err, "user")
	}
	why, err := userAvailability(ctx, tx, userID, loc, now)
	if err != nil {
		return ruling{}, nil, err
	}
	row := decisionRow{sourceID: src.id}
	if why != "" {
		row.skipped = []Skip{{UserID: userID, Name: name, Reason: why}}
		return ruling{}, &nobodyHere{reason: fmt.Sprintf("%s is unavailable (%s)", name, why),
			rule: fmt.Sprintf("user %s is unavailable (%s)", userID, why), row: row}, nil
	}
	if err := countAssigned(ctx, tx, userID, loc, now); err != nil {
		return ruling{}, nil, err
	}
	row.member = userID
	return ruling{reason: "assigned to " + name + " (mode user)", rule: "assigned to user " + userID + " (mode user)",
		priority: src.priority, assignee: userID, assigneeName: name, row: &row}, nil, nil
}

// errPreviewDone ends the preview's transaction with a rollback.
var errPreviewDone = errors.New("route preview: rolled back")

// PreviewRoute runs the org's rules for slug on the lead as if it arrived
// at at: the same decide as RouteLead, in a transaction that is rolled
// back, so no rotation moves, no count changes and nothing is written.
// Unknown source: not found.
func (s *Store) PreviewRoute(ctx context.Context, orgID, slug string, in domain.LeadInput, at time.Time) (RoutePreview, error) {
	var p RoutePreview
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		src, err := sourceBySlug(ctx, tx, orgID, slug)
		if err != nil {
			return err
		}
		if src == nil {
			return domain.Errorf(domain.ENotFound, "source not found")
		}
		var tz string
		var lookback int
		if err := tx.QueryRow(ctx, `SELECT timezone, repeat_lookback_days FROM orgs WHERE id = $1`, orgID).Scan(&tz, &lookback); err != nil {
			return err
		}
		l := hopLead{requested: in.Location, facts: domain.FactsOf(in, src.priority, at, domain.OrgLocation(tz))}
		if l.repeatOf, err = repeatCandidate(ctx, tx, orgID, in, at, lookback); err != nil {
			return err
		}
		r, err := decide(ctx, tx, src, l, slug, orgID, 0, at)
		if err != nil {
			return err
		}
		p, err = previewOf(ctx, tx, orgID, src, r)
		if err != nil {
			return err
		}
		p.RepeatOf = l.repeatOf
		return errPreviewDone
	})
	if errors.Is(err, errPreviewDone) {
		err = nil
	}
	return p, err
}

// previewOf says what r would do, naming the owner where assign would.
func previewOf(ctx context.Context, tx pgx.Tx, orgID string, src *hopSource, r ruling) (RoutePreview, error) {
	p := RoutePreview{Rule: -1, Reason: r.reason, Location: r.location, SubAgency: r.fanOutTo, SubAgencyName: r.fanOutName,
		AssignedTo: r.assignee, AssigneeName: r.assigneeName, Skipped: []Skip{}}
	if r.row != nil {
		p.Rule, p.RuleName, p.Skipped = r.row.rule, r.row.ruleName, nonNilSkips(r.row.skipped)
		p.Default = r.row.rule == len(src.rules)
	}
	if r.location == "" && r.fanOutTo == "" && r.assignee == "" {
		var err error
		if p.AssignedTo, p.AssigneeName, err = orgOwner(ctx, tx, orgID); err != nil {
			return p, err
		}
		p.Reason += " " + p.AssigneeName
	}
	return p, nil
}

// repeatCandidate is the newest open lead of the org (assigned, not worked,
// neither returned nor invalid) with the same email (any case) or phone
// digits within the lookback before at: what intake would store in
// leads.repeat_of. "" when there is none or lookback is 0.
func repeatCandidate(ctx context.Context, tx pgx.Tx, orgID string, in domain.LeadInput, at time.Time, lookback int) (string, error) {
	email := strings.TrimSpace(in.Email)
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, in.Phone)
	if lookback == 0 || email == "" && digits == "" {
		return "", nil
	}
	var id string
	err := tx.QueryRow(ctx, `SELECT id FROM leads WHERE org_id = $1 AND assigned_to IS NOT NULL AND worked_at IS NULL
			AND status IN ('new', 'onboarding') AND received_at >= $4::timestamptz - make_interval(days => $5) AND received_at <= $4
			AND (($2 <> '' AND email <> '' AND lower(email) = lower($2)) OR ($3 <> '' AND phone <> '' AND phone_digits = $3))
		ORDER BY received_at DESC, id LIMIT 1`, orgID, email, digits, at, lookback).Scan(&id)
	if err == pgx.ErrNoRows {
		return "", nil
	}
	return id, err
}
