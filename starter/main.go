// Command starter is leadrelay's front door: the HTTP API (serve), the whole
// local stack (dev), and the operator commands of SPEC §6.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/leadrelay/leadrelay/internal/config"
	"github.com/leadrelay/leadrelay/internal/store/migrate"
)

const usage = `usage: starter <command> [flags]

commands:
  dev       the whole stack on this machine and a demo (Ctrl-C stops it all)
  serve     the HTTP API
  migrate   apply database migrations
  ingest    post a CSV or JSON-lines file of leads: ingest --key K --file F
  invite    invite an org's owner to become a sub-agency: invite --org ID --email E
  invitations  list an org's invitations: invitations --org ID
  transfer  move leads to a linked org and follow the progress: transfer --org ID --to ID --leads IDS|@FILE --mode M
  distribute  distribute a source's pending leads now: distribute --org ID --source SLUG [--mode M] [--key K]
  schedule  timed distributions on Temporal Schedules: schedule create|update|delete|list|pause|resume|trigger …
  groups    routing groups: groups put --org ID --name N --member USER[:WEIGHT]… | list --org ID | delete --org ID --name N
  users     pause or resume a user's routing: users pause|resume --org ID --user ID [--until RFC3339]
  bench     the benchmark of SPEC §7 against a running stack

Configuration is read from the environment (see README).`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmds := map[string]func(context.Context, []string) error{
		"dev": runDev, "serve": runServe, "migrate": runMigrate, "ingest": runIngest, "bench": runBench,
		"invite": runInvite, "invitations": runInvitations, "transfer": runTransfer,
		"distribute": runDistribute, "schedule": runSchedule, "groups": runGroups, "users": runUsers,
	}
	run, ok := cmds[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "starter: unknown command %q\n\n%s\n", os.Args[1], usage)
		os.Exit(2)
	}
	if err := run(ctx, os.Args[2:]); err != nil {
		fmt.Fprintln(os.Stderr, "starter "+os.Args[1]+":", err)
		os.Exit(1)
	}
}

func runMigrate(ctx context.Context, _ []string) error {
	cfg, err := config.Load(nil)
	if err != nil {
		return err
	}
	if err := cfg.Require("DATABASE_URL"); err != nil {
		return err
	}
	applied, err := migrate.Up(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Println("database is up to date")
	}
	for _, a := range applied {
		fmt.Println("applied", a)
	}
	return nil
}
