package bench

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leadrelay/leadrelay/internal/store"
)

// The benchmark and the end-to-end tests read routing outcomes straight from
// PostgreSQL: the product never needs these answers, so they are not store
// methods.

// RoutedTimes maps each routed lead of the sources (by external id) to when
// it was routed, for the benchmark and the tests that wait on routing.
func RoutedTimes(ctx context.Context, db store.DB, sourceIDs []string) (map[string]time.Time, error) {
	rows, err := db.Query(ctx, `SELECT external_id, routed_at FROM leads
		WHERE source_id = ANY($1::uuid[]) AND routed_at IS NOT NULL`, sourceIDs)
	return collectMap[time.Time](rows, err)
}

// leadHolders maps each lead of a source (by lead id) to the org holding it now,
// for the fan-out row.
func leadHolders(ctx context.Context, db store.DB, sourceID string) (map[string]string, error) {
	rows, err := db.Query(ctx, `SELECT id::text, org_id::text FROM leads WHERE source_id = $1`, sourceID)
	return collectMap[string](rows, err)
}

// collectMap reads (key, value) rows, as Query returned them, into a map.
func collectMap[T any](rows pgx.Rows, err error) (map[string]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]T{}
	for rows.Next() {
		var k string
		var v T
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, rows.Err()
}
