// Package store is leadrelay's PostgreSQL: the pool and every query (the
// schema's migrations are in store/migrate). Methods take a DB so tests can run them inside a transaction that
// is rolled back at the end.
package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sethvargo/go-retry"

	"github.com/leadrelay/leadrelay/internal/domain"
)

// DB is what both *pgxpool.Pool and pgx.Tx offer.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Store runs leadrelay's queries against one DB.
type Store struct{ db DB }

// New returns a Store on db: a pool in production, a transaction in tests,
// whose rollback then undoes everything (Store's own transactions become
// savepoints).
func New(db DB) *Store { return &Store{db: db} }

// Open returns a pool sized for this machine unless the URL says otherwise:
// a few connections per core keeps Postgres busy without queueing on locks.
func Open(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	if cfg.ConnConfig.RuntimeParams == nil {
		cfg.ConnConfig.RuntimeParams = map[string]string{}
	}
	cfg.ConnConfig.RuntimeParams["timezone"] = "UTC"
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = int32(max(8, 8*runtime.NumCPU()))
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	return pool, nil
}

// inTx runs fn in a transaction (a savepoint when s.db is already one).
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(ctx) }() // a no-op after Commit; on failure fn's error is the one to report
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

func isUnique(err error, constraint string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505" && (constraint == "" || pe.ConstraintName == constraint)
}

func notFound(err error, what string) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return domain.Errorf(domain.ENotFound, "%s not found", what)
	}
	return err
}

// WhileUnreachable runs fn, again every 250 ms while PostgreSQL cannot be
// reached, until it succeeds, fails otherwise, or ctx's deadline (an
// activity's; 30 s without one) passes. It is for the record that must
// follow a side effect already done — an email the SMTP server accepted, a
// webhook answered 2xx: failing there would fail the activity, and its
// retry would do the side effect again. fn runs at least once, and never
// with a cancelled context, so a record begun is not cut short.
func WhileUnreachable(ctx context.Context, fn func(context.Context) error) error {
	within := 30 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		within = time.Until(dl)
	}
	return retry.Do(context.WithoutCancel(ctx), retry.WithMaxDuration(within, retry.NewConstant(250*time.Millisecond)),
		func(ctx context.Context) error {
			err := fn(ctx)
			if Unreachable(err) {
				return retry.RetryableError(err)
			}
			return err
		})
}

// Unreachable reports a PostgreSQL that cannot be reached or is shutting
// down, as opposed to a bad query: the caller should retry, not report.
func Unreachable(err error) bool {
	if err == nil {
		return false
	}
	var ce *pgconn.ConnectError
	var pe *pgconn.PgError
	var ne net.Error
	switch {
	case errors.As(err, &ce):
		return true
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		// The caller's deadline (or Temporal's), not the database's state.
		return false
	case errors.As(err, &ne), pgconn.SafeToRetry(err):
		return true
	case errors.As(err, &pe):
		// 57P01..57P03: admin or crash shutdown, cannot connect now; 08: connection exceptions.
		return strings.HasPrefix(pe.Code, "57P") || strings.HasPrefix(pe.Code, "08")
	}
	return errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "conn closed")
}
