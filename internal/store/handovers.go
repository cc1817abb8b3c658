package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leadrelay/leadrelay/internal/domain"
)

// Handover is a handed-over lead waiting in (or decided by) the receiving
// org's manager pipeline.
type Handover struct {
	LeadID, TransferID string
	FromOrgID, ToOrgID string
	Status             string // pending, accepted, rejected, expired, withdrawn
	// Deadline is when nobody answering sends it back: HandoverTTL after
	// the lead was handed over, whichever run waits for it.
	Deadline time.Time
}

// PendingHandover is the lead's handover waiting for a decision.
func (s *Store) PendingHandover(ctx context.Context, leadID string) (Handover, error) {
	h, err := scanHandover(s.db.QueryRow(ctx, `SELECT `+handoverCols+` FROM handovers
		WHERE lead_id = $1 AND status = 'pending'`, leadID))
	return h, notFound(err, "pending handover")
}

const handoverCols = `lead_id, transfer_id, from_org_id, to_org_id, status, created_at`

func scanHandover(r pgx.Row) (Handover, error) {
	var h Handover
	var created time.Time
	err := r.Scan(&h.LeadID, &h.TransferID, &h.FromOrgID, &h.ToOrgID, &h.Status, &created)
	h.Deadline = created.Add(domain.HandoverTTL)
	return h, err
}

// LastHandoverTo is the lead's latest handover to org, whatever became of
// it: an answer that comes after the handover was decided (expired,
// withdrawn) is told so, not that the lead does not exist.
func (s *Store) LastHandoverTo(ctx context.Context, leadID, orgID string) (Handover, error) {
	h, err := scanHandover(s.db.QueryRow(ctx, `SELECT `+handoverCols+` FROM handovers
		WHERE lead_id = $1 AND to_org_id = $2 ORDER BY created_at DESC LIMIT 1`, leadID, orgID))
	return h, notFound(err, "handover")
}

// HandoverStatus is what PostgreSQL decided of one handover (or pending).
func (s *Store) HandoverStatus(ctx context.Context, leadID, transferID string) (string, error) {
	var status string
	err := s.db.QueryRow(ctx, `SELECT status FROM handovers WHERE lead_id = $1 AND transfer_id = $2`, leadID, transferID).Scan(&status)
	return status, notFound(err, "handover")
}

// PendingHandovers pages through the handovers waiting for a decision, by
// lead id after after ("" for the first page): the reconciler's list of
// runs that must be waiting.
func (s *Store) PendingHandovers(ctx context.Context, after string, limit int) ([]Handover, error) {
	if after == "" {
		after = "00000000-0000-0000-0000-000000000000"
	}
	rows, err := s.db.Query(ctx, `SELECT `+handoverCols+` FROM handovers
		WHERE status = 'pending' AND lead_id > $1 ORDER BY lead_id LIMIT $2`, after, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Handover, error) { return scanHandover(r) })
}

// HandoverAnswer is a manager's accept or reject, recorded before the
// handover's workflow applies it.
type HandoverAnswer struct {
	ID, LeadID, TransferID string
	Kind                   string // accept, reject
	Actor                  string // user id
	AssignTo               string // accept: the user who works the lead
	Reason                 string // reject: why, shown to the sender
}

// RecordHandoverAnswer stores an answer; its id is all the workflow carries.
func (s *Store) RecordHandoverAnswer(ctx context.Context, a HandoverAnswer) error {
	_, err := s.db.Exec(ctx, `INSERT INTO handover_answers (id, lead_id, transfer_id, kind, actor, assign_to, reason)
		VALUES ($1,$2,$3,$4,$5,nullif($6,'')::uuid,nullif($7,''))`, a.ID, a.LeadID, a.TransferID, a.Kind, a.Actor, a.AssignTo, a.Reason)
	return err
}

// ForgetHandoverAnswer takes back an answer the handover's run refused, so
// a refused request leaves no row. An answer that decided a handover stays:
// the handover names it.
func (s *Store) ForgetHandoverAnswer(ctx context.Context, id string) error {
	_, err := s.db.Exec(ctx, `DELETE FROM handover_answers a WHERE a.id = $1
		AND NOT EXISTS (SELECT 1 FROM handovers h WHERE h.answer_id = a.id)`, id)
	return err
}

// ApplyHandoverAnswer decides a pending handover by the recorded answer, in
// one transaction. Accepted, the lead is assigned in the receiving org and
// counts for its digest; rejected, it goes back to the sender as it was
// (assignment and location restored). Both are on the lead's timeline and in
// both orgs' feeds. Run again after it committed, it returns the same status
// and changes nothing; a handover decided by another answer is a conflict.
func (s *Store) ApplyHandoverAnswer(ctx context.Context, answerID string) (string, error) {
	var status string
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var a HandoverAnswer
		var assignTo, reason *string
		err := tx.QueryRow(ctx, `SELECT id, lead_id, transfer_id, kind, actor, assign_to, reason FROM handover_answers WHERE id = $1`, answerID).
			Scan(&a.ID, &a.LeadID, &a.TransferID, &a.Kind, &a.Actor, &assignTo, &reason)
		if err == pgx.ErrNoRows {
			// A withdrawal deletes the answers it overtook.
			return domain.Errorf(domain.EConflict, "this handover is no longer open to answers")
		}
		if err != nil {
			return err
		}
		a.AssignTo, a.Reason = deref(assignTo), deref(reason)
		h, err := lockHandover(ctx, tx, a.LeadID, a.TransferID)
		if err != nil {
			return err
		}
		if h.status != domain.HandoverPending {
			if h.answerID == a.ID {
				status = h.status
				return nil
			}
			return domain.Errorf(domain.EConflict, "this handover was already %s", h.status)
		}
		if a.Kind == "accept" {
			status = domain.HandoverAccepted
			return h.accept(ctx, tx, a)
		}
		status = domain.HandoverRejected
		return h.reject(ctx, tx, a.ID, a.Actor, "rejected by "+userName(ctx, tx, a.Actor)+": "+a.Reason, domain.HandoverRejected)
	})
	return status, err
}

// ExpireHandover sends a lead nobody reviewed in time back to the sender.
// It returns what PostgreSQL decided, which is not expired when an answer
// or a withdrawal committed first, and whether this call decided it.
func (s *Store) ExpireHandover(ctx context.Context, leadID, transferID string) (status string, decided bool, err error) {
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		h, err := lockHandover(ctx, tx, leadID, transferID)
		if err != nil {
			return err
		}
		if status = h.status; status != domain.HandoverPending {
			return nil
		}
		status, decided = domain.HandoverExpired, true
		return h.reject(ctx, tx, "", "leadrelay", fmt.Sprintf("not reviewed within %s", domain.HandoverTTL), domain.HandoverExpired)
	})
	if err != nil {
		return "", false, err
	}
	return status, decided, nil
}

// WithdrawStrandedHandovers withdraws every pending handover the orgs'
// links and settings no longer allow (see withdrawStranded); the
// reconciler's sweep for any a change did not catch.
func (s *Store) WithdrawStrandedHandovers(ctx context.Context) ([]Handover, error) {
	var out []Handover
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = withdrawStranded(ctx, tx, nil)
		return err
	})
	return out, err
}

// withdrawStranded sends back, as withdrawn, each pending handover that
// touches orgs (any when nil: the org, its sub-agencies, their parents)
// and that the link and settings no longer allow (domain.CheckTransfer's
// rules for manager_review): master to sub-agency with the master's
// handover_enabled, sub-agency up likewise, between sub-agencies only with
// their master's cross_silo too. The lead goes back to the sender as it
// was, and answers recorded but not applied are deleted: nobody in the
// receiving org may decide it any more. Run in the transaction that
// changed the link or setting, so no answer or batch sees the gap.
func withdrawStranded(ctx context.Context, tx pgx.Tx, orgs []string) ([]Handover, error) {
	rows, err := tx.Query(ctx, `SELECT h.lead_id, h.transfer_id, h.from_org_id, h.to_org_id, h.status, h.created_at
		FROM handovers h JOIN orgs f ON f.id = h.from_org_id JOIN orgs t ON t.id = h.to_org_id
		LEFT JOIN orgs p ON p.id = f.parent_id
		WHERE h.status = 'pending'
		  AND ($1::uuid[] IS NULL OR f.id = ANY($1) OR t.id = ANY($1) OR f.parent_id = ANY($1) OR t.parent_id = ANY($1))
		  AND NOT coalesce((t.parent_id = f.id AND f.handover_enabled)
		      OR (f.parent_id = t.id AND t.handover_enabled)
		      OR (f.parent_id = t.parent_id AND p.cross_silo AND p.handover_enabled), false)
		ORDER BY h.lead_id`, orgs)
	if err != nil {
		return nil, err
	}
	stranded, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Handover, error) { return scanHandover(r) })
	if err != nil {
		return nil, err
	}
	out := stranded[:0]
	for _, sh := range stranded {
		h, err := lockHandover(ctx, tx, sh.LeadID, sh.TransferID)
		if err != nil {
			return nil, err
		}
		if h.status != domain.HandoverPending {
			continue
		}
		if err := h.reject(ctx, tx, "", "leadrelay", "withdrawn: the orgs' link or handover setting no longer allows it", domain.HandoverWithdrawn); err != nil {
			return nil, err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM handover_answers WHERE lead_id = $1 AND transfer_id = $2`, sh.LeadID, sh.TransferID); err != nil {
			return nil, err
		}
		sh.Status = domain.HandoverWithdrawn
		out = append(out, sh)
	}
	return out, nil
}

type lockedHandover struct {
	leadID, transferID, from, to string
	fromName, toName             string
	prevAssigned, prevLocation   *string
	status, answerID             string
}

func lockHandover(ctx context.Context, tx pgx.Tx, leadID, transferID string) (lockedHandover, error) {
	h := lockedHandover{leadID: leadID, transferID: transferID}
	var answer *string
	// The lead first, then the handover: the order a transfer batch locks in.
	if _, err := tx.Exec(ctx, `SELECT 1 FROM leads WHERE id = $1 FOR UPDATE`, leadID); err != nil {
		return h, err
	}
	err := tx.QueryRow(ctx, `SELECT h.from_org_id, h.to_org_id, f.name, t.name, h.prev_assigned_to, h.prev_location, h.status, h.answer_id
		FROM handovers h JOIN orgs f ON f.id = h.from_org_id JOIN orgs t ON t.id = h.to_org_id
		WHERE h.lead_id = $1 AND h.transfer_id = $2 FOR UPDATE OF h`, leadID, transferID).
		Scan(&h.from, &h.to, &h.fromName, &h.toName, &h.prevAssigned, &h.prevLocation, &h.status, &answer)
	h.answerID = deref(answer)
	return h, notFound(err, "handover")
}

func (h lockedHandover) accept(ctx context.Context, tx pgx.Tx, a HandoverAnswer) error {
	var active bool
	err := tx.QueryRow(ctx, `SELECT active FROM users WHERE id = $1 AND org_id = $2`, a.AssignTo, h.to).Scan(&active)
	if err == pgx.ErrNoRows || (err == nil && !active) {
		return &domain.Error{Code: domain.EInvalid, Message: "invalid assign_to",
			Fields: map[string]string{"assign_to": "not an active user of the receiving org"}}
	}
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE leads SET assigned_to = $2, location = NULL, updated_at = now() WHERE id = $1`, h.leadID, a.AssignTo); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO lead_arrivals (org_id, lead_id, transfer_id)
		SELECT $1, id, $3 FROM leads WHERE id = $2 AND kind <> 'team_member' ON CONFLICT DO NOTHING`, h.to, h.leadID, h.transferID); err != nil {
		return err
	}
	msg := fmt.Sprintf("handover from %s accepted by %s: assigned to %s", h.fromName, userName(ctx, tx, a.Actor), userName(ctx, tx, a.AssignTo))
	return h.decided(ctx, tx, a.ID, a.Actor, domain.HandoverAccepted, msg)
}

// reject puts the lead back with the sender as it was before the handover.
func (h lockedHandover) reject(ctx context.Context, tx pgx.Tx, answerID, actor, why, status string) error {
	if _, err := tx.Exec(ctx, `UPDATE leads SET org_id = $2, assigned_to = $3, location = $4, owner_user_id = NULL, updated_at = now() WHERE id = $1`,
		h.leadID, h.from, h.prevAssigned, h.prevLocation); err != nil {
		return err
	}
	msg := fmt.Sprintf("handover to %s %s; back with %s", h.toName, why, h.fromName)
	return h.decided(ctx, tx, answerID, actor, status, msg)
}

// decided closes the handover and tells the lead's timeline and both feeds.
func (h lockedHandover) decided(ctx context.Context, tx pgx.Tx, answerID, actor, status, msg string) error {
	if _, err := tx.Exec(ctx, `UPDATE handovers SET status = $3, answer_id = nullif($4,'')::uuid, decided_at = now()
		WHERE lead_id = $1 AND transfer_id = $2`, h.leadID, h.transferID, status, answerID); err != nil {
		return err
	}
	holder := h.to
	if status != domain.HandoverAccepted {
		holder = h.from
	}
	if err := addEvent(ctx, tx, h.leadID, holder, "handover_"+status, actor, msg,
		map[string]any{"transfer_id": h.transferID, "from_org": h.from, "to_org": h.to}); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `INSERT INTO feed_events (org_id, kind, lead_id, other_org_id, transfer_id, actor, message)
		VALUES ($1, $5, $3, $2, $4, $6, $7), ($2, $5, $3, $1, $4, $6, $7)`,
		h.from, h.to, h.leadID, h.transferID, "handover_"+status, actor, msg)
	return err
}

// userName is a user's name for a timeline line, or their id if unknown.
func userName(ctx context.Context, tx pgx.Tx, id string) string {
	var n string
	if err := tx.QueryRow(ctx, `SELECT name FROM users WHERE id = $1`, id).Scan(&n); err != nil {
		return id
	}
	return n
}

// OrgRef names an org.
type OrgRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// UserRef names a user.
type UserRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// PipelineItem is a handed-over lead waiting in an org's manager pipeline.
type PipelineItem struct {
	LeadID string `json:"lead_id"`
	// Name is the lead's "first last", or its email or phone when it has
	// no name: what a manager recognises it by.
	Name    string    `json:"name"`
	FromOrg OrgRef    `json:"from_org"`
	SentBy  *UserRef  `json:"sent_by"` // nil: the operator's admin token sent it
	SentAt  time.Time `json:"sent_at"`
	// ExpiresAt is when it goes back to the sender unanswered.
	ExpiresAt time.Time `json:"expires_at"`
}

// Pipeline pages through the handovers waiting for a decision at orgID,
// oldest first, after the cursor of a previous page ("" for the first).
// Only a lead the org holds is listed: the one its managers may answer.
func (s *Store) Pipeline(ctx context.Context, orgID, cursor string, limit int) ([]PipelineItem, string, error) {
	args := []any{orgID, limit + 1}
	after := ""
	if cursor != "" {
		t, id, err := decodeCursor(cursor)
		if err != nil {
			return nil, "", err
		}
		// Its own statement, not "$3 IS NULL OR …": the row comparison
		// is then a bound of handovers_pipeline's range in every plan.
		after = ` AND (h.created_at, h.lead_id) > ($3::timestamptz, $4::uuid)`
		args = append(args, t, id)
	}
	// requested_by is a user id or "admin"; the CASE keeps "admin" from
	// the uuid cast.
	rows, err := s.db.Query(ctx, `SELECT h.lead_id,
			coalesce(nullif(trim(l.first_name || ' ' || l.last_name), ''), nullif(l.email, ''), l.phone),
			f.id, f.name, u.id, u.name, h.created_at
		FROM handovers h JOIN leads l ON l.id = h.lead_id AND l.org_id = h.to_org_id
			JOIN orgs f ON f.id = h.from_org_id JOIN transfers t ON t.id = h.transfer_id
			LEFT JOIN users u ON u.id = CASE WHEN t.requested_by <> 'admin' THEN t.requested_by::uuid END
		WHERE h.to_org_id = $1 AND h.status = 'pending'`+after+`
		ORDER BY h.created_at, h.lead_id LIMIT $2`, args...)
	if err != nil {
		return nil, "", err
	}
	items, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (PipelineItem, error) {
		var p PipelineItem
		var userID, userName *string
		err := r.Scan(&p.LeadID, &p.Name, &p.FromOrg.ID, &p.FromOrg.Name, &userID, &userName, &p.SentAt)
		if userID != nil {
			p.SentBy = &UserRef{ID: *userID, Name: deref(userName)}
		}
		p.ExpiresAt = p.SentAt.Add(domain.HandoverTTL)
		return p, err
	})
	if err != nil {
		return nil, "", err
	}
	items, next := page(items, limit, func(p PipelineItem) (time.Time, string) { return p.SentAt, p.LeadID })
	return items, next, nil
}
