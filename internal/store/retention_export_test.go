package store

import (
	"context"
	"time"
)

// AgeLeadForTest moves a lead's last change and every one of its timeline
// and feed events back by age, as if it had happened that long ago: a test
// inside a transaction cannot wait for the retention period.
func (s *Store) AgeLeadForTest(ctx context.Context, leadID string, age time.Duration) error {
	for _, q := range []string{`UPDATE leads SET updated_at = updated_at - $2::interval WHERE id = $1`,
		`UPDATE timeline_events SET at = at - $2::interval WHERE lead_id = $1`,
		`UPDATE feed_events SET at = at - $2::interval WHERE lead_id = $1`} {
		if _, err := s.db.Exec(ctx, q, leadID, age); err != nil {
			return err
		}
	}
	return nil
}

// AddEventsForTest writes n timeline events of kind and one feed event on
// the lead in orgID, as the claim, release and handover paths write them.
func (s *Store) AddEventsForTest(ctx context.Context, leadID, orgID, kind string, n int) error {
	for range n {
		if _, err := s.db.Exec(ctx, `INSERT INTO timeline_events (lead_id, org_id, kind, actor, message) VALUES ($1, $2, $3, 'test', $3)`,
			leadID, orgID, kind); err != nil {
			return err
		}
	}
	_, err := s.db.Exec(ctx, `INSERT INTO feed_events (org_id, kind, lead_id, actor, message) VALUES ($1, $2, $3, 'test', $2)`,
		orgID, kind, leadID)
	return err
}
