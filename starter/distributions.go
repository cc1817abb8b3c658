package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"go.uber.org/zap"

	"github.com/leadrelay/leadrelay/internal/app"
	"github.com/leadrelay/leadrelay/internal/config"
	"github.com/leadrelay/leadrelay/internal/distribution"
	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
)

// distributionEnv connects to PostgreSQL (the org's timezone, the source)
// and Temporal (the schedules and runs); close releases both.
func distributionEnv(ctx context.Context) (env distribution.Env, closeAll func(), err error) {
	cfg, err := config.Load(nil)
	if err != nil {
		return env, nil, err
	}
	if err := cfg.Require("DATABASE_URL"); err != nil {
		return env, nil, fmt.Errorf("%w (with `starter dev` running: set -a; . .data/dev.env; set +a)", err)
	}
	pool, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return env, nil, err
	}
	tc, err := app.DialTemporal(ctx, cfg, zap.NewNop())
	if err != nil {
		pool.Close()
		return env, nil, err
	}
	return distribution.Env{Temporal: tc, Store: store.New(pool), TaskQueue: cfg.TaskQueue}, func() { tc.Close(); pool.Close() }, nil
}

// runDistribute distributes a source's pending leads now and follows the
// run with a progress line. Running it again with the same --key follows
// the same run and distributes nothing twice.
func runDistribute(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("distribute", flag.ContinueOnError)
	org := fs.String("org", "", "the org's id (required)")
	source := fs.String("source", "", "the source's slug (required)")
	mode := fs.String("mode", string(domain.RouteStaffEvenly), "owner, staff_evenly or sub_agencies_evenly")
	key := fs.String("key", "", "idempotency key: the same key never distributes twice (default now-<UTC time>)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *org == "" || *source == "" {
		return errors.New("--org and --source are required")
	}
	if err := normalIDs(map[string]*string{"org": org}); err != nil {
		return err
	}
	env, closeAll, err := distributionEnv(ctx)
	if err != nil {
		return err
	}
	defer closeAll()
	bar := newBar()
	// Leads that arrive while it runs may be taken too: done can pass the
	// count taken at the start.
	progress := func(done, total int) { bar.update(done, max(done, total)) }
	res, id, err := env.RunNow(ctx, distribution.OnDemand{OrgID: *org, Slug: *source, Mode: domain.RoutingMode(*mode), Key: *key}, progress)
	bar.finish()
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "workflow %s\n", id)
	if res.AlreadyDone {
		fmt.Printf("slot %s was distributed before: nothing moved now (then: %d assigned, %d passed down)\n",
			res.Slot, res.Distributed, res.PassedDown)
		return nil
	}
	fmt.Printf("distributed %d of %d pending leads: %d assigned, %d passed down to sub-agencies (%d batches)\n",
		res.Distributed+res.PassedDown, res.Total, res.Distributed, res.PassedDown, res.Batches)
	return nil
}
