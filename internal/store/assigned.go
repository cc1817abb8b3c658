package store

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// NotAssignedTo returns the ids among ids that are not leads of orgID
// assigned to userID: what a professional may not hand over (README, roles).
func (s *Store) NotAssignedTo(ctx context.Context, orgID, userID string, ids []string) (map[string]bool, error) {
	rows, err := s.db.Query(ctx, `SELECT i::text FROM unnest($3::uuid[]) AS i
		EXCEPT SELECT id::text FROM leads WHERE id = ANY($3::uuid[]) AND org_id = $1 AND assigned_to = $2`, orgID, userID, ids)
	if err != nil {
		return nil, err
	}
	list, err := pgx.CollectRows(rows, pgx.RowTo[string])
	out := make(map[string]bool, len(list))
	for _, id := range list {
		out[id] = true
	}
	return out, err
}
