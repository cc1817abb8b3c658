package store

import "context"

// ListLeadsPlanForTest is PostgreSQL's plan of the statement ListLeads
// sends for f, run and measured: EXPLAIN (ANALYZE, FORMAT JSON), sent the
// way ListLeads sends it, so it is planned with the same values.
func (s *Store) ListLeadsPlanForTest(ctx context.Context, orgID string, f LeadFilter) ([]byte, error) {
	sql, args, err := listLeadsQuery(orgID, &f)
	if err != nil {
		return nil, err
	}
	var plan []byte
	err = s.db.QueryRow(ctx, `EXPLAIN (ANALYZE, FORMAT JSON) `+sql, args...).Scan(&plan)
	return plan, err
}
