// Package testenv gives tests real parts: a fresh PostgreSQL database per test
// package (on the machine's server, or a private cluster it starts, see
// postgres.go), the Temporal dev server built from the pinned tools module,
// and an SMTP sink on loopback. Nothing is mocked and nothing is skipped: if a part
// cannot start, the test fails and says why.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/internal/store/migrate"
)

var (
	dbOnce sync.Once
	dbURL  string
	dbErr  error
	dbName string
	admin  string
	pool   *pgxpool.Pool
)

// Main wraps m.Run so the package's database is dropped at the end.
func Main(m *testing.M) int {
	code := m.Run()
	StopTemporal()
	if pool != nil {
		pool.Close()
	}
	if dbName != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if c, err := pgx.Connect(ctx, admin); err == nil {
			_, _ = c.Exec(ctx, `DROP DATABASE IF EXISTS `+dbName+` WITH (FORCE)`)
			c.Close(ctx)
		}
	}
	return code
}

// DB returns the package's migrated database (created on first use) and its URL.
func DB(t testing.TB) (*pgxpool.Pool, string) {
	t.Helper()
	dbOnce.Do(func() {
		admin, dbErr = ServerURL()
		if dbErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			dbErr = fmt.Errorf("PostgreSQL at %s is not reachable (start it, set TEST_DATABASE_URL, or stop it so the tests start their own): %w", admin, err)
			return
		}
		defer c.Close(ctx)
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		dbName = "lrtest_" + hex.EncodeToString(b)
		if _, err := c.Exec(ctx, `CREATE DATABASE `+dbName); err != nil {
			dbErr = err
			return
		}
		u, _ := url.Parse(admin)
		u.Path = "/" + dbName
		dbURL = u.String()
		if _, err := migrate.Up(ctx, dbURL); err != nil {
			dbErr = err
			return
		}
		pool, dbErr = store.Open(ctx, dbURL)
	})
	if dbErr != nil {
		t.Fatalf("test database: %v", dbErr)
	}
	return pool, dbURL
}

// Tx returns a store inside a transaction that is rolled back when the test
// ends: store tests see only their own rows and leave none behind.
func Tx(t testing.TB) *store.Store {
	t.Helper()
	p, _ := DB(t)
	ctx := context.Background()
	tx, err := p.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback(ctx) })
	return store.New(tx)
}

// RowCounts counts the rows of every table of the database: a refused
// request must leave every count as it was.
func RowCounts(t testing.TB, pool *pgxpool.Pool) map[string]int {
	t.Helper()
	ctx := context.Background()
	rows, err := pool.Query(ctx, `SELECT quote_ident(table_name) FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(tables) == 0 {
		t.Fatalf("tables %v: %v", tables, err)
	}
	out := make(map[string]int, len(tables))
	for _, name := range tables {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM `+name).Scan(&n); err != nil {
			t.Fatal(err)
		}
		out[name] = n
	}
	return out
}
