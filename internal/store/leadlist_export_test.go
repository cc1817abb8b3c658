package store

import (
	"context"
	"time"
)

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

// VendorReturnsPlanForTest is PostgreSQL's plan of the statement
// VendorReturns sends, run and measured as ListLeadsPlanForTest's is.
func (s *Store) VendorReturnsPlanForTest(ctx context.Context, sourceID string, since time.Time, cursor string, limit int) ([]byte, error) {
	sql, args, err := vendorReturnsQuery(sourceID, since, cursor, limit)
	if err != nil {
		return nil, err
	}
	var plan []byte
	err = s.db.QueryRow(ctx, `EXPLAIN (ANALYZE, FORMAT JSON) `+sql, args...).Scan(&plan)
	return plan, err
}
