package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leadrelay/leadrelay/internal/domain"
)

// Claim is one claim of a queued lead by a user (SPEC §5.5): the lead is
// theirs until ExpiresAt unless they work it by then.
type Claim struct {
	LeadID    string
	OrgID     string
	UserID    string
	Seq       int // the lead's n-th claim: the last part of the claim's run ID
	ClaimedAt time.Time
	ExpiresAt time.Time
}

// claimOrderSQL picks the next claimable lead of an org ($1): highest
// priority, then the oldest lead, skipping rows other claimers hold locked
// so that concurrent claims each take a different lead without queueing on
// one row. The order is the leads_claim_order index's. A queued lead
// without available_at (put back by a rejected handover) is claimable now.
// "Now" is the clock's, not the transaction's start. A lead closed as
// invalid or returned, or waiting for a handover decision, is never handed
// out, whatever its location says (older code could leave one queued).
const claimOrderSQL = `SELECT l.id FROM leads l
	WHERE l.org_id = $1 AND l.location = 'queue' AND (l.available_at IS NULL OR l.available_at <= clock_timestamp())
		AND l.status NOT IN ('invalid', 'returned') AND NOT ` + pendingHandoverSQL + `
	ORDER BY (CASE l.priority WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END), l.received_at, l.id
	LIMIT 1 FOR UPDATE OF l SKIP LOCKED`

// newClaimSQL records lead $1's next claim, by user $3 of org $2, open
// for the org's claim window.
const newClaimSQL = `INSERT INTO lead_claims (lead_id, seq, org_id, user_id, claimed_at, expires_at)
	SELECT $1, coalesce(max(c.seq), 0) + 1, $2, $3, now(), now() + (SELECT claim_window FROM orgs WHERE id = $2)
	FROM lead_claims c WHERE c.lead_id = $1
	RETURNING seq, claimed_at, expires_at`

// ClaimNext assigns the org's next claimable lead to userID, an active user
// of the org, in one transaction: the lead leaves the queue, a claim is
// recorded with the org's claim window, and the timeline says who claimed
// it. It reports false when no lead is claimable.
func (s *Store) ClaimNext(ctx context.Context, orgID, userID string) (Claim, bool, error) {
	c := Claim{OrgID: orgID, UserID: userID}
	found := false
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// FOR SHARE: a deactivation of the claimer waits for the claim, and
		// the reroute it starts then finds the lead assigned to them.
		var name string
		err := tx.QueryRow(ctx, `SELECT name FROM users WHERE id = $1 AND org_id = $2 AND active FOR SHARE`, userID, orgID).Scan(&name)
		if err == pgx.ErrNoRows {
			return domain.Errorf(domain.EForbidden, "only an active user of the org claims its leads")
		}
		if err != nil {
			return err
		}
		err = tx.QueryRow(ctx, claimOrderSQL, orgID).Scan(&c.LeadID)
		if err == pgx.ErrNoRows {
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		if _, err := tx.Exec(ctx, `UPDATE leads SET assigned_to = $2, location = NULL, available_at = NULL, updated_at = now()
			WHERE id = $1`, c.LeadID, userID); err != nil {
			return err
		}
		// A claim left open by a path that put the lead back without closing
		// it (a reroute of the claimer's leads) ends here.
		if err := closeClaim(ctx, tx, c.LeadID, domain.ClaimEnded); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, newClaimSQL, c.LeadID, orgID, userID).Scan(&c.Seq, &c.ClaimedAt, &c.ExpiresAt); err != nil {
			return err
		}
		window := domain.ShortDuration(c.ExpiresAt.Sub(c.ClaimedAt))
		return addEvent(ctx, tx, c.LeadID, orgID, "claimed", userID,
			fmt.Sprintf("claimed from the queue by %s: back in the queue unless worked within %s", name, window),
			map[string]any{"claim_seq": c.Seq, "expires_at": c.ExpiresAt})
	})
	return c, found, err
}

// closeClaim closes the lead's open claim, if it has one, as status.
func closeClaim(ctx context.Context, tx pgx.Tx, leadID, status string) error {
	_, err := tx.Exec(ctx, `UPDATE lead_claims SET status = $2, closed_at = now() WHERE lead_id = $1 AND status = 'open'`, leadID, status)
	return err
}

// claimedLead is a lead locked for a claim's change, with its latest claim
// (lastSeq 0: never claimed).
type claimedLead struct {
	id, orgID       string
	owner, assigned *string
	routed          bool
	state           leadState
	lastSeq         int
	lastUser        string
	lastStatus      string
	claimedAt       time.Time
	expiresAt       time.Time
}

// lockClaimed locks a lead orgScope holds ("" for any org) and reads its
// latest claim. Every change to a claim happens under this lock.
func lockClaimed(ctx context.Context, tx pgx.Tx, orgScope, leadID string) (claimedLead, error) {
	l := claimedLead{id: leadID}
	if !domain.ValidUUID(leadID) {
		return l, domain.Errorf(domain.ENotFound, "lead not found")
	}
	var seq *int
	var user, status *string
	var claimedAt, expiresAt *time.Time
	err := tx.QueryRow(ctx, lockClaimedSQL, leadID, orgScope).
		Scan(&l.orgID, &l.owner, &l.assigned, &l.routed, &l.state.status, &l.state.handover, &seq, &user, &status, &claimedAt, &expiresAt)
	if err != nil {
		return l, notFound(err, "lead")
	}
	if seq != nil {
		l.lastSeq, l.lastUser, l.lastStatus, l.claimedAt, l.expiresAt = *seq, *user, *status, *claimedAt, *expiresAt
	}
	return l, nil
}

// lockClaimedSQL locks lead $1 if org $2 ("" for any) holds it, with its
// latest claim.
const lockClaimedSQL = `SELECT l.org_id, l.owner_user_id, l.assigned_to, l.routed_at IS NOT NULL, ` + leadStateCols + `,
		c.seq, c.user_id, c.status, c.claimed_at, c.expires_at
	FROM leads l LEFT JOIN LATERAL (SELECT seq, user_id::text, status, claimed_at, expires_at FROM lead_claims
		WHERE lead_id = l.id ORDER BY seq DESC LIMIT 1) c ON true
	WHERE l.id = $1 AND ($2 = '' OR l.org_id::text = $2) FOR UPDATE OF l`

// notAssignee is the refusal for a user who is not the lead's assignee. A
// user whose own claim just expired is told so (409): they did nothing
// wrong but arrive late, and retrying will not help.
func (l claimedLead) notAssignee(userID, verb string) error {
	if l.lastUser == userID && l.lastStatus == domain.ClaimExpired {
		return domain.Errorf(domain.EConflict, "your claim expired: the lead was not worked within %s and is back in the queue",
			domain.ShortDuration(l.expiresAt.Sub(l.claimedAt)))
	}
	return domain.Errorf(domain.EForbidden, "only the lead's assignee may %s it", verb)
}

// stillTheClaims reports whether the lead is still as the claim left it:
// assigned to the claimer, in the org they claimed it in, team-owned and
// neither invalid nor returned. Anything else ended the claim another way.
func (l claimedLead) stillTheClaims(userID, orgID string) bool {
	return deref(l.assigned) == userID && l.orgID == orgID && l.owner == nil &&
		l.state.status != domain.StatusInvalid && l.state.status != domain.StatusReturned
}

// ReleaseLead puts a lead its assignee (userID) gives up back in the queue,
// claimable at once, and closes their claim if it is open. Only the
// assignee may; an agent-owned lead is given back to the team first, since
// a queued lead is the team's to hand out.
func (s *Store) ReleaseLead(ctx context.Context, orgScope, userID, leadID string) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		l, err := lockClaimed(ctx, tx, orgScope, leadID)
		if err != nil {
			return err
		}
		// Before the assignee check: a returned lead has no assignee, and
		// "only the assignee may" would hide why nobody may.
		if err := l.state.routingRefusal("released"); err != nil {
			return err
		}
		switch {
		case deref(l.assigned) != userID:
			return l.notAssignee(userID, "release")
		case !l.routed:
			return domain.Errorf(domain.EConflict, "the lead is still being routed: try again in a moment")
		case l.owner != nil:
			return domain.Errorf(domain.EConflict, "the lead is agent-owned: give it back to the team before releasing it to the queue")
		}
		if _, err := tx.Exec(ctx, `UPDATE leads SET location = 'queue', available_at = now(), assigned_to = NULL, updated_at = now()
			WHERE id = $1`, leadID); err != nil {
			return err
		}
		// Another user's claim (a manager assigned the lead on) ended when
		// it left them; the assignee's own claim is released.
		closed := domain.ClaimReleased
		if l.lastUser != userID {
			closed = domain.ClaimEnded
		}
		if err := closeClaim(ctx, tx, leadID, closed); err != nil {
			return err
		}
		name, err := nameOf(ctx, tx, userID)
		if err != nil {
			return err
		}
		return addEvent(ctx, tx, leadID, l.orgID, "released", userID, fmt.Sprintf("released back to the queue by %s", name),
			map[string]any{"previous": userID})
	})
}

// MarkInvalid marks a lead invalid for reason: its status becomes invalid,
// it is assigned to nobody and waits nowhere, and its open claim closes.
// Its assignee may, and whoever may change the lead (domain.Changer.MayMarkInvalid).
func (s *Store) MarkInvalid(ctx context.Context, orgScope string, by domain.Changer, leadID, reason string) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		l, err := lockClaimed(ctx, tx, orgScope, leadID)
		if err != nil {
			return err
		}
		if err := by.MayMarkInvalid(deref(l.owner), deref(l.assigned)); err != nil {
			return err
		}
		if err := l.state.routingRefusal("marked invalid"); err != nil {
			return err
		}
		switch {
		case !l.routed:
			return domain.Errorf(domain.EConflict, "the lead is still being routed: try again in a moment")
		case l.state.status == domain.StatusInvalid:
			return domain.Errorf(domain.EConflict, "the lead is already invalid")
		}
		if _, err := tx.Exec(ctx, `UPDATE leads SET status = 'invalid', assigned_to = NULL, location = NULL, available_at = NULL,
			updated_at = now() WHERE id = $1`, leadID); err != nil {
			return err
		}
		if err := closeClaim(ctx, tx, leadID, domain.ClaimInvalid); err != nil {
			return err
		}
		name, err := nameOf(ctx, tx, by.UserID)
		if err != nil {
			return err
		}
		return addEvent(ctx, tx, leadID, l.orgID, "invalid", by.Actor(), fmt.Sprintf("marked invalid by %s: %s", name, reason),
			map[string]any{"reason": reason, "previous": l.assigned})
	})
}

// MarkWorked records the assignee's first action on a lead: on a lead they
// claimed, the claim is kept and its window no longer runs; on one routed
// to them, its SLA stops. Marking it again changes nothing (false). A
// claim of theirs whose window has passed though its run has not fired yet
// (SPEC §5.5: not worked within the window, back in the queue) is a
// conflict: the lead goes back to the queue in the same
// transaction, by the very change the claim's run makes, and the 409 says
// so. The run then finds the claim expired and changes nothing.
func (s *Store) MarkWorked(ctx context.Context, orgScope, userID, leadID string) (bool, error) {
	changed := false
	var lapsed error
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		l, err := lockClaimed(ctx, tx, orgScope, leadID)
		if err != nil {
			return err
		}
		if err := l.state.routingRefusal("marked as worked"); err != nil {
			return err
		}
		switch {
		case deref(l.assigned) != userID:
			return l.notAssignee(userID, "mark as worked")
		case l.lastUser != userID || (l.lastStatus != domain.ClaimOpen && l.lastStatus != domain.ClaimWorked):
			// Routed to them, not claimed: worked stops the lead's SLA
			// (SPEC §5.7) and frees a place under their open cap.
			changed, err = markRoutedWorked(ctx, tx, l, userID)
			return err
		case l.lastStatus == domain.ClaimWorked:
			return nil
		case !time.Now().Before(l.expiresAt):
			outcome, err := expireLocked(ctx, tx, l, l.lastSeq)
			if err != nil {
				return err
			}
			// The requeue commits; the caller is told they came too late.
			l.lastStatus = outcome
			lapsed = l.notAssignee(userID, "mark as worked")
			if outcome != domain.ClaimExpired {
				lapsed = domain.Errorf(domain.EConflict, "this lead is not under a claim of yours: it has no claim window to stop")
			}
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE lead_claims SET status = 'worked', worked_at = now(), closed_at = now()
			WHERE lead_id = $1 AND seq = $2`, leadID, l.lastSeq); err != nil {
			return err
		}
		// A worked lead no longer counts against its assignee's open cap.
		if _, err := tx.Exec(ctx, `UPDATE leads SET worked_at = now() WHERE id = $1`, leadID); err != nil {
			return err
		}
		changed = true
		name, err := nameOf(ctx, tx, userID)
		if err != nil {
			return err
		}
		after := time.Since(l.claimedAt).Round(time.Second)
		return addEvent(ctx, tx, leadID, l.orgID, "worked", userID,
			fmt.Sprintf("worked by %s %s after claiming: the claim is kept", name, domain.ShortDuration(max(after, 0))),
			map[string]any{"claim_seq": l.lastSeq})
	})
	if err == nil {
		err = lapsed
	}
	return changed, err
}

// markRoutedWorked records the first action of the assignee of a lead
// that is not under a claim of theirs; false when it was marked before.
func markRoutedWorked(ctx context.Context, tx pgx.Tx, l claimedLead, userID string) (bool, error) {
	tag, err := tx.Exec(ctx, `UPDATE leads SET worked_at = now(), updated_at = now() WHERE id = $1 AND worked_at IS NULL`, l.id)
	if err != nil || tag.RowsAffected() == 0 {
		return false, err
	}
	name, err := nameOf(ctx, tx, userID)
	if err != nil {
		return false, err
	}
	return true, addEvent(ctx, tx, l.id, l.orgID, "worked", userID, "worked by "+name, map[string]any{})
}

// ExpireClaim is what a claim's run does when the window has passed: in one
// transaction, if the claim is still open and the lead still as the claim
// left it, the lead goes back to the queue (claimable now) and the timeline
// says why. It returns how the claim ended; run again, it changes nothing
// and returns the same. A claim whose lead changed hands meanwhile closes as
// ended and the lead stays where it is.
func (s *Store) ExpireClaim(ctx context.Context, leadID string, seq int) (string, error) {
	outcome := ""
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		l, err := lockClaimed(ctx, tx, "", leadID)
		if err != nil {
			return err
		}
		outcome, err = expireLocked(ctx, tx, l, seq)
		return err
	})
	return outcome, err
}

// expireLocked ends claim seq of the locked lead l whose window has passed:
// ExpireClaim's change, shared with a /worked that arrives too late so
// that both leave the same timeline and claim rows.
func expireLocked(ctx context.Context, tx pgx.Tx, l claimedLead, seq int) (string, error) {
	var c Claim
	var outcome string
	err := tx.QueryRow(ctx, `SELECT org_id, user_id, status, claimed_at, expires_at FROM lead_claims WHERE lead_id = $1 AND seq = $2`,
		l.id, seq).Scan(&c.OrgID, &c.UserID, &outcome, &c.ClaimedAt, &c.ExpiresAt)
	if err != nil {
		return "", notFound(err, "claim")
	}
	if outcome != domain.ClaimOpen {
		return outcome, nil
	}
	if !l.stillTheClaims(c.UserID, c.OrgID) {
		_, err := tx.Exec(ctx, `UPDATE lead_claims SET status = 'ended', closed_at = now() WHERE lead_id = $1 AND seq = $2`, l.id, seq)
		return domain.ClaimEnded, err
	}
	if _, err := tx.Exec(ctx, `UPDATE leads SET location = 'queue', available_at = now(), assigned_to = NULL, updated_at = now()
		WHERE id = $1`, l.id); err != nil {
		return "", err
	}
	if _, err := tx.Exec(ctx, `UPDATE lead_claims SET status = 'expired', closed_at = now() WHERE lead_id = $1 AND seq = $2`,
		l.id, seq); err != nil {
		return "", err
	}
	name, err := nameOf(ctx, tx, c.UserID)
	if err != nil {
		return "", err
	}
	return domain.ClaimExpired, addEvent(ctx, tx, l.id, l.orgID, "claim_expired", "leadrelay",
		fmt.Sprintf("not worked within %s: back in the queue (claimed by %s)", domain.ShortDuration(c.ExpiresAt.Sub(c.ClaimedAt)), name),
		map[string]any{"claim_seq": seq, "previous": c.UserID})
}

// ClaimRunStarted records that Temporal took the claim's run, so the
// reconciler leaves the claim alone until its window has passed.
func (s *Store) ClaimRunStarted(ctx context.Context, leadID string, seq int) error {
	_, err := s.db.Exec(ctx, `UPDATE lead_claims SET run_started_at = coalesce(run_started_at, now()) WHERE lead_id = $1 AND seq = $2`,
		leadID, seq)
	return err
}

// StrandedClaims pages, in lead id order after afterLead ("" from the
// start), through open claims whose run may be missing: made before cutoff
// and never recorded as started (Temporal refused the API's start), or
// still open though their window ended before cutoff (the run was lost, or
// failed). The reconciler starts their runs; a run still going is found.
func (s *Store) StrandedClaims(ctx context.Context, cutoff time.Time, afterLead string, limit int) ([]Claim, error) {
	var after *string
	if afterLead != "" {
		after = &afterLead
	}
	rows, err := s.db.Query(ctx, `SELECT lead_id, org_id, user_id, seq, claimed_at, expires_at FROM lead_claims
		WHERE status = 'open' AND ((run_started_at IS NULL AND claimed_at < $1) OR expires_at < $1)
			AND ($2::uuid IS NULL OR lead_id > $2)
		ORDER BY lead_id LIMIT $3`, cutoff, after, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[Claim])
}

// OpenClaims are userID's open claims in orgID, the soonest to run out
// first: the leads the console's queue page counts down. A claim is only
// the user's own, so this read needs no permission of its own. Open claims
// are few (each runs out within the claim window), so lead_claims_one_open
// holds them all and the read never walks the closed ones.
func (s *Store) OpenClaims(ctx context.Context, orgID, userID string) ([]Claim, error) {
	rows, err := s.db.Query(ctx, `SELECT lead_id, org_id, user_id, seq, claimed_at, expires_at FROM lead_claims
		WHERE org_id = $1 AND user_id = $2 AND status = 'open' ORDER BY expires_at, lead_id LIMIT 200`, orgID, userID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Claim, error) {
		var c Claim
		err := r.Scan(&c.LeadID, &c.OrgID, &c.UserID, &c.Seq, &c.ClaimedAt, &c.ExpiresAt)
		return c, err
	})
}
