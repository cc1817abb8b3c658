// Package logging builds the one zap logger a process uses, and hands the same
// core to the Temporal SDK so workflow, activity and HTTP lines share a format.
package logging

import (
	"log/slog"
	"os"

	"go.temporal.io/sdk/log"
	"go.uber.org/zap"
	"go.uber.org/zap/exp/zapslog"
	"go.uber.org/zap/zapcore"
)

// New returns a JSON logger, or a console logger when LOG_FORMAT=console
// (what `starter dev` uses, so a person can read it).
func New(component string) *zap.Logger {
	level := zap.NewAtomicLevelAt(zap.InfoLevel)
	if l := os.Getenv("LOG_LEVEL"); l != "" {
		_ = level.UnmarshalText([]byte(l))
	}
	cfg := zap.NewProductionConfig()
	cfg.Level = level
	cfg.Sampling = nil
	cfg.EncoderConfig.TimeKey = "ts"
	cfg.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	if os.Getenv("LOG_FORMAT") == "console" {
		cfg.Encoding = "console"
		cfg.EncoderConfig.EncodeLevel = zapcore.CapitalLevelEncoder
	}
	l, err := cfg.Build()
	if err != nil {
		panic(err) // only on a broken static config
	}
	return l.With(zap.String("component", component))
}

// Temporal adapts a zap logger to the SDK's logger. Workflow and activity
// loggers add WorkflowID/RunID themselves; our code adds LeadID.
func Temporal(l *zap.Logger) log.Logger {
	return log.NewStructuredLogger(slog.New(zapslog.NewHandler(l.Core(), zapslog.WithCaller(false))))
}
