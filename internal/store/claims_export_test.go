package store

import "context"

// ClaimStatusForTest reads one claim's status, which no caller needs but
// tests inside a rolled-back transaction cannot read any other way.
func (s *Store) ClaimStatusForTest(ctx context.Context, leadID string, seq int) (string, error) {
	var st string
	err := s.db.QueryRow(ctx, `SELECT status FROM lead_claims WHERE lead_id = $1 AND seq = $2`, leadID, seq).Scan(&st)
	return st, err
}

// ExpireWindowForTest moves a claim's window into the past, as if its
// deadline had passed and its run not fired yet: a test inside a
// transaction cannot wait for the clock.
func (s *Store) ExpireWindowForTest(ctx context.Context, leadID string, seq int) error {
	_, err := s.db.Exec(ctx, `WITH n AS (SELECT clock_timestamp() - interval '1 second' AS t)
		UPDATE lead_claims SET claimed_at = n.t - (expires_at - claimed_at), expires_at = n.t FROM n
		WHERE lead_id = $1 AND seq = $2`, leadID, seq)
	return err
}

// LeaveLeadForTest puts a lead where code older than the routing guards
// could leave it (assigned to userID, "" for nobody, and in location, ""
// for none) without the timeline or any check: the state a guard must
// refuse or skip.
func (s *Store) LeaveLeadForTest(ctx context.Context, leadID, userID, location string) error {
	_, err := s.db.Exec(ctx, `UPDATE leads SET assigned_to = nullif($2, '')::uuid, location = nullif($3, ''), available_at = NULL
		WHERE id = $1`, leadID, userID, location)
	return err
}
