package store

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Instant alerts (issue 18): whoever a lead is assigned to gets one email
// about it at once. The alert is recorded in the assigning transaction by
// the leads_record_alert trigger (migration 00017), whatever path assigned
// the lead, and only for a user with instant_alerts on; the email itself is
// sent by a run the worker's alert pump starts, so no assignment waits on
// SMTP. One row per (lead, user, assigning transaction): a retried routing
// activity that finds its decision already made assigns nothing and so
// records nothing.

// Alert is a recorded alert still to be dealt with: what starting its run
// needs.
type Alert struct {
	ID     int64
	LeadID string
	OrgID  string
	UserID string
	// Restart says a run was started for it before and did not deal with
	// it (lost or terminated): what the reconciled metric counts.
	Restart bool
}

// AlertNotice is what an alert's email says and whom it goes to, read when
// it is sent: the run carries ids only.
type AlertNotice struct {
	ID            int64
	LeadID, OrgID string
	To, UserName  string
	InstantAlerts bool // the user's setting now: off means the alert is skipped
	StillAssigned bool // the lead is still the user's: else the alert is moot
	LeadName      string
	Source        string
	Phone, Email  string
	Location      string // city, state and postal code, whichever the lead has
	Priority      string
}

// AlertNotice reads an alert with its lead and user as they are now.
func (s *Store) AlertNotice(ctx context.Context, id int64) (AlertNotice, error) {
	n := AlertNotice{ID: id}
	var first, last, city, state, postal string
	err := s.db.QueryRow(ctx, `SELECT a.lead_id, a.org_id, u.email, u.name, u.instant_alerts AND u.active,
			l.assigned_to IS NOT DISTINCT FROM a.user_id AND l.status <> 'returned',
			l.first_name, l.last_name, s.name, l.phone, l.email, l.city, l.state, l.postal_code, l.priority
		FROM alerts a JOIN users u ON u.id = a.user_id JOIN leads l ON l.id = a.lead_id JOIN lead_sources s ON s.id = l.source_id
		WHERE a.id = $1`, id).
		Scan(&n.LeadID, &n.OrgID, &n.To, &n.UserName, &n.InstantAlerts, &n.StillAssigned, &first, &last, &n.Source,
			&n.Phone, &n.Email, &city, &state, &postal, &n.Priority)
	n.LeadName = strings.TrimSpace(first + " " + last)
	n.Location = joinNonEmpty(", ", city, strings.TrimSpace(state+" "+postal))
	return n, notFound(err, "alert")
}

func joinNonEmpty(sep string, parts ...string) string {
	var kept []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, sep)
}

// FinishAlert records how an alert was dealt with (sent, skipped, failed):
// the pump and the reconciler leave it alone from then on. The first
// outcome stays.
func (s *Store) FinishAlert(ctx context.Context, id int64, outcome string) error {
	_, err := s.db.Exec(ctx, `UPDATE alerts SET done_at = now(), outcome = $2 WHERE id = $1 AND done_at IS NULL`, id, outcome)
	return err
}

// AlertsToStart pages, by id after after, through alerts not dealt with
// whose run was never started or last started before restartBefore (a run
// lost or terminated): what the alert pump starts, or finds running.
func (s *Store) AlertsToStart(ctx context.Context, restartBefore time.Time, after int64, limit int) ([]Alert, error) {
	rows, err := s.db.Query(ctx, `SELECT id, lead_id::text, org_id::text, user_id::text, started_at IS NOT NULL FROM alerts
		WHERE done_at IS NULL AND (started_at IS NULL OR started_at < $1) AND id > $2
		ORDER BY id LIMIT $3`, restartBefore, after, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[Alert])
}

// AlertStarted records that the alert's run was started or found running.
func (s *Store) AlertStarted(ctx context.Context, id int64) error {
	_, err := s.db.Exec(ctx, `UPDATE alerts SET started_at = now() WHERE id = $1`, id)
	return err
}

// AlertsFor lists the alerts recorded for a lead, oldest first: what tests
// and support read.
func (s *Store) AlertsFor(ctx context.Context, leadID string) ([]Alert, error) {
	rows, err := s.db.Query(ctx, `SELECT id, lead_id::text, org_id::text, user_id::text, false
		FROM alerts WHERE lead_id = $1 ORDER BY id`, leadID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[Alert])
}
