// Command worker runs leadrelay's Temporal worker: every workflow and activity.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/leadrelay/leadrelay/internal/app"
	"github.com/leadrelay/leadrelay/internal/config"
	"github.com/leadrelay/leadrelay/internal/logging"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	cfg, err := config.Load(nil)
	if err != nil {
		return err
	}
	if err := cfg.Require("DATABASE_URL", "SMTP_URL"); err != nil {
		return err
	}
	log := logging.New("worker")
	defer log.Sync()
	d, err := app.Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer d.Close()
	return app.RunWorker(ctx, d)
}
