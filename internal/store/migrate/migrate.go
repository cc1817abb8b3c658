// Package migrate holds leadrelay's schema, as embedded goose migrations. It
// is apart from package store so code that only queries (and the workflows
// package, through activities) does not link goose and database/sql.
package migrate

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver, for goose only
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Up applies every pending migration and returns the files it applied. A Postgres advisory lock makes it
// safe for several processes (worker, API, tests) to call at once.
func Up(ctx context.Context, url string) ([]string, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, err
	}
	defer func() { _ = db.Close() }() // one run's pool: a failed close changes nothing applied
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub, goose.WithSessionLocker(locker))
	if err != nil {
		return nil, err
	}
	res, err := p.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	var applied []string
	for _, r := range res {
		applied = append(applied, r.Source.Path)
	}
	return applied, nil
}
