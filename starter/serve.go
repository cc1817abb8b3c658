package main

import (
	"context"
	"fmt"
	"net"

	"go.uber.org/zap"

	"github.com/leadrelay/leadrelay/internal/app"
	"github.com/leadrelay/leadrelay/internal/config"
	"github.com/leadrelay/leadrelay/internal/logging"
)

func runServe(ctx context.Context, _ []string) error {
	cfg, err := config.Load(nil)
	if err != nil {
		return err
	}
	log := logging.New("api")
	defer log.Sync()
	if cfg.AdminToken == "" {
		log.Warn("ADMIN_TOKEN is not set: nobody can create orgs")
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("HTTP_ADDR %s: %w", cfg.HTTPAddr, err)
	}
	d, err := app.Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer d.Close()
	log.Info("API listening", zap.String("addr", cfg.HTTPAddr))
	return app.ServeAPI(ctx, d, ln)
}
