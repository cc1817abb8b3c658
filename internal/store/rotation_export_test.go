package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// RotateForTest makes one decision of a pool in its own transaction, as a
// routing decision would, without a lead: the rotation's own tests.
func (s *Store) RotateForTest(ctx context.Context, p Pool, now time.Time) (pick *Pick, skips []Skip, err error) {
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		pick, skips, err = rotatePool(ctx, tx, p, now)
		return err
	})
	return pick, skips, err
}
