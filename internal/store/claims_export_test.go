package store

import "context"

// ClaimStatusForTest reads one claim's status, which no caller needs but
// tests inside a rolled-back transaction cannot read any other way.
func (s *Store) ClaimStatusForTest(ctx context.Context, leadID string, seq int) (string, error) {
	var st string
	err := s.db.QueryRow(ctx, `SELECT status FROM lead_claims WHERE lead_id = $1 AND seq = $2`, leadID, seq).Scan(&st)
	return st, err
}
