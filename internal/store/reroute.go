package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leadrelay/leadrelay/internal/domain"
)

// ReroutePage lists, in id order after the lead id `after` ("" from the
// start), up to limit team-owned leads assigned to userID and held by the
// user's org, returned ones aside (final): what a deactivation of that user
// reroutes. Agent-owned leads
// stay with their owner whatever their state (SPEC §1).
func (s *Store) ReroutePage(ctx context.Context, userID, after string, limit int) ([]string, error) {
	if !domain.ValidUUID(userID) {
		return nil, domain.Errorf(domain.ENotFound, "user not found")
	}
	var afterID *string
	if after != "" {
		afterID = &after
	}
	rows, err := s.db.Query(ctx, `SELECT l.id FROM leads l JOIN users u ON u.id = l.assigned_to
		WHERE l.assigned_to = $1 AND l.owner_user_id IS NULL AND l.org_id = u.org_id AND l.status <> 'returned'
			AND ($2::uuid IS NULL OR l.id > $2)
		ORDER BY l.id LIMIT $3`, userID, afterID, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// UserActive reports whether the user is active: a reroute stops once its
// user has been reactivated.
func (s *Store) UserActive(ctx context.Context, userID string) (bool, error) {
	if !domain.ValidUUID(userID) {
		return false, domain.Errorf(domain.ENotFound, "user not found")
	}
	var active bool
	err := s.db.QueryRow(ctx, `SELECT active FROM users WHERE id = $1`, userID).Scan(&active)
	return active, notFound(err, "user")
}

// RerouteLead takes a team-owned lead from userID, who has been made
// inactive, and sends it through its source's routing again at the org that
// holds it, in one transaction: the same rules as on arrival (a placement,
// the rotation, the owner), with the reason on the timeline prefixed by why
// ("rerouted because Sam Staff was deactivated: rotated to …"). It reports
// false and changes nothing when there is nothing to do: the user is active
// again, or the lead is no longer theirs to lose (agent-owned, assigned to
// someone else, held by another org). So a retry, or a second run for the
// same deactivation, never rotates a lead twice.
func (s *Store) RerouteLead(ctx context.Context, leadID, userID string) (Decision, bool, error) {
	var d Decision
	done := false
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// FOR SHARE: a reactivation waits for this lead's reroute, and a
		// reroute that comes after the reactivation changes nothing.
		var name, userOrg string
		var active bool
		if err := tx.QueryRow(ctx, `SELECT name, org_id, active FROM users WHERE id = $1 FOR SHARE`, userID).
			Scan(&name, &userOrg, &active); err != nil {
			return notFound(err, "user")
		}
		if active {
			return nil
		}
		l, err := lockLead(ctx, tx, leadID)
		if err != nil {
			return err
		}
		var owner, assigned *string
		var status string
		if err := tx.QueryRow(ctx, `SELECT l.owner_user_id, l.assigned_to, l.status FROM leads l WHERE l.id = $1`, leadID).
			Scan(&owner, &assigned, &status); err != nil {
			return err
		}
		// A returned lead is final: a reroute leaves it where it is, even
		// one assigned (by code older than that rule) to the deactivated user.
		if owner != nil || deref(assigned) != userID || l.holder != userOrg || status == domain.StatusReturned {
			return nil
		}
		src, err := l.source(ctx, tx, l.holder)
		if err != nil {
			return err
		}
		hl, err := readHopLead(ctx, tx, l.id, l.holder, deref(l.requested))
		if err != nil {
			return err
		}
		hl.facts.Priority = l.priorityAt(l.holder, src, hl.facts.Priority)
		r, err := redecide(ctx, tx, src, hl, l.slug, l.holder)
		if err != nil {
			return err
		}
		r.reason = fmt.Sprintf("rerouted because %s was deactivated: %s", name, r.reason)
		d = l.decision(l.holder)
		d.ReroutedFrom = userID
		done = true
		return record(ctx, tx, &d, r)
	})
	return d, done, err
}

// redecide is decide for a lead already routed once: the same rules, except
// that it never passes the lead down to a sub-agency again. That hop would
// need a run of its own, and the lead already went through the fan-out that
// brought it here; the org's owner gets it instead, as when no sub-agency is
// left to rotate over.
func redecide(ctx context.Context, tx pgx.Tx, src *hopSource, l hopLead, slug, orgID string) (ruling, error) {
	if src != nil && src.mode == domain.RouteSubAgencies {
		if _, placed := placement(src, l.requested); !placed {
			return toOwner("a reroute does not pass a lead down to a sub-agency again (sub_agencies_evenly): assigned to the org owner",
				src.priority), nil
		}
	}
	r, err := decide(ctx, tx, src, l, slug, orgID, 0, time.Now())
	if err == nil && r.fanOutTo != "" {
		// A rule (not the default) that passes leads down: the owner, as above.
		o := toOwner("a reroute does not pass a lead down to a sub-agency again (sub_agencies_evenly): assigned to the org owner",
			src.priority)
		o.row = r.row
		return o, nil
	}
	return r, err
}

// StrandedDeactivation is a user made inactive whose team-owned leads are
// still assigned to them: the run that reroutes them was never started (a
// crash between the PATCH and the start) or missed a lead.
type StrandedDeactivation struct {
	UserID, OrgID string
	Deactivations int
}

// StrandedDeactivations pages, in user id order after afterUser ("" from the
// start), through users deactivated before cutoff who still have team-owned
// leads of their org assigned to them. The reconciler starts their reroute.
func (s *Store) StrandedDeactivations(ctx context.Context, cutoff time.Time, afterUser string, limit int) ([]StrandedDeactivation, error) {
	var after *string
	if afterUser != "" {
		after = &afterUser
	}
	rows, err := s.db.Query(ctx, `SELECT u.id, u.org_id, u.deactivations FROM users u
		WHERE NOT u.active AND u.deactivated_at < $1 AND ($2::uuid IS NULL OR u.id > $2)
			AND EXISTS (SELECT 1 FROM leads l WHERE l.assigned_to = u.id AND l.owner_user_id IS NULL AND l.org_id = u.org_id
				AND l.status <> 'returned')
		ORDER BY u.id LIMIT $3`, cutoff, after, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[StrandedDeactivation])
}
