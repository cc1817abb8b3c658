package store

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// Delivery is one email's record.
type Delivery struct {
	Key, MessageID, Kind string
	OrgID, LeadID        *string
	To, Subject          string
}

// BeginDelivery records an email by its key before it is sent and reports
// whether it was already sent; a repeat of the key never sends again.
func (s *Store) BeginDelivery(ctx context.Context, d Delivery) (alreadySent bool, err error) {
	var status string
	err = s.db.QueryRow(ctx, `INSERT INTO email_deliveries (key, message_id, kind, org_id, lead_id, to_addr, subject, attempts)
		VALUES ($1,$2,$3,$4,$5,$6,$7,1)
		ON CONFLICT (key) DO UPDATE SET attempts = email_deliveries.attempts + 1
		RETURNING status`, d.Key, d.MessageID, d.Kind, d.OrgID, d.LeadID, d.To, d.Subject).Scan(&status)
	return status == "sent", err
}

// MarkSent records that the email went out: a repeat of its key sends nothing.
func (s *Store) MarkSent(ctx context.Context, key string) error {
	_, err := s.db.Exec(ctx, `UPDATE email_deliveries SET status = 'sent', sent_at = now(), last_error = NULL WHERE key = $1`, key)
	return err
}

// MarkFailed notes why an attempt failed without changing the delivery's
// status, so a retry may still send it; RecordEmailFailure is the verdict
// for good.
func (s *Store) MarkFailed(ctx context.Context, key, why string) error {
	_, err := s.db.Exec(ctx, `UPDATE email_deliveries SET last_error = $2 WHERE key = $1`, key, why)
	return err
}

// RecordEmailFailure marks an email failed for good and, for an email about a
// lead, says so on the lead's timeline — once, however often it is called
// (an activity retry after a commit), and not at all if it was sent after all.
func (s *Store) RecordEmailFailure(ctx context.Context, key, leadID, orgID, msg string) error {
	_, err := s.MarkEmailFailed(ctx, key, leadID, orgID, msg)
	return err
}

// MarkEmailFailed is RecordEmailFailure that also reports whether this call
// was the one that gave the email up (not sent, not recorded failed before),
// so the metrics count each failed email once.
func (s *Store) MarkEmailFailed(ctx context.Context, key, leadID, orgID, msg string) (recorded bool, err error) {
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		// Serialises the check and the write per key, also for an email that
		// was never begun (no row to lock).
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, key); err != nil {
			return err
		}
		var status string
		if err := tx.QueryRow(ctx, `SELECT coalesce((SELECT status FROM email_deliveries WHERE key = $1), '')`, key).Scan(&status); err != nil {
			return err
		}
		if status == "sent" {
			return nil
		}
		recorded = status != "failed"
		if _, err := tx.Exec(ctx, `UPDATE email_deliveries SET status = 'failed', last_error = coalesce(last_error, $2) WHERE key = $1`,
			key, msg); err != nil {
			return err
		}
		if leadID == "" {
			return nil
		}
		var onTimeline bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM timeline_events WHERE lead_id = $1 AND kind = 'email_failed' AND data->>'key' = $2)`,
			leadID, key).Scan(&onTimeline); err != nil || onTimeline {
			return err
		}
		return addEvent(ctx, tx, leadID, orgID, "email_failed", "leadrelay", msg, map[string]any{"key": key})
	})
	return recorded && err == nil, err
}

// AddLeadEvent appends to a lead's timeline outside a routing decision.
func (s *Store) AddLeadEvent(ctx context.Context, leadID, orgID, kind, actor, msg string) error {
	_, err := s.db.Exec(ctx, `INSERT INTO timeline_events (lead_id, org_id, kind, actor, message) VALUES ($1,$2,$3,$4,$5)`,
		leadID, orgID, kind, actor, msg)
	return err
}

// DeliverySent reports whether the email with this key was sent.
func (s *Store) DeliverySent(ctx context.Context, key string) (bool, error) {
	var sent bool
	err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM email_deliveries WHERE key = $1 AND status = 'sent')`, key).Scan(&sent)
	return sent, err
}
