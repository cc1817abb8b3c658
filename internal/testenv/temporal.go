package testenv

import (
	"context"
	"io"
	"os"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"
	"go.uber.org/zap"

	"github.com/leadrelay/leadrelay/internal/devstack"
	"github.com/leadrelay/leadrelay/internal/logging"
	"github.com/leadrelay/leadrelay/workflows"
)

// TemporalServer is the Temporal server a test package runs against.
type TemporalServer interface {
	FrontendHostPort() string
}

// TemporalTarget names the server Temporal starts: "dev" (the default, the
// CLI's dev server) or "postgres" (the production-shaped server:
// go.temporal.io/server on PostgreSQL, see devstack.StartTemporalServer),
// chosen with LEADRELAY_TEMPORAL.
func TemporalTarget() string {
	if v := os.Getenv("LEADRELAY_TEMPORAL"); v != "" {
		return v
	}
	return "dev"
}

var (
	tsOnce sync.Once
	ts     TemporalServer
	tsStop func() error
	tsErr  error
)

// Temporal starts one Temporal server per test package and returns it. By
// default it is the in-memory dev server, with leadrelay's search attributes,
// from the binary the tools module pins (built on first use). With
// LEADRELAY_TEMPORAL=postgres it is the production-shaped server (a
// *devstack.TemporalServer, which can Restart) on fresh databases of the
// tests' PostgreSQL server, with only the namespace registered: the worker
// registers the search attributes, as in production.
func Temporal(t testing.TB) TemporalServer {
	t.Helper()
	tsOnce.Do(func() {
		switch target := TemporalTarget(); target {
		case "dev":
			ts, tsStop, tsErr = startDevServer(t)
		case "postgres":
			ts, tsStop, tsErr = startProductionServer(t)
		default:
			t.Fatalf("LEADRELAY_TEMPORAL=%q: want dev or postgres", target)
		}
	})
	if tsErr != nil {
		t.Fatalf("Temporal server (%s): %v", TemporalTarget(), tsErr)
	}
	if ts == nil {
		t.Fatal("Temporal server did not start (see the first failure)")
	}
	return ts
}

func startDevServer(t testing.TB) (TemporalServer, func() error, error) {
	ctx := context.Background()
	root, err := devstack.Root()
	if err != nil {
		return nil, nil, err
	}
	bin, err := devstack.TemporalBinary(ctx, root, func(s string) { t.Log(s) })
	if err != nil {
		return nil, nil, err
	}
	var out io.Writer = io.Discard
	if os.Getenv("TEST_TEMPORAL_LOG") != "" {
		out = os.Stderr
	}
	s, err := testsuite.StartDevServer(ctx, testsuite.DevServerOptions{
		ExistingPath: bin,
		ClientOptions: &client.Options{Namespace: "default",
			Logger: logging.Temporal(zap.NewNop())},
		LogLevel:  "error",
		ExtraArgs: devstack.SearchAttributeArgs(workflows.SearchAttributeNames()),
		Stdout:    out,
		Stderr:    out,
	})
	if err != nil {
		return nil, nil, err
	}
	return s, s.Stop, nil
}

func startProductionServer(t testing.TB) (TemporalServer, func() error, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	root, err := devstack.Root()
	if err != nil {
		return nil, nil, err
	}
	level := "error"
	if os.Getenv("TEST_TEMPORAL_LOG") != "" {
		level = "info"
	}
	pgURL, err := ServerURL()
	if err != nil {
		return nil, nil, err
	}
	t0 := time.Now()
	s, err := devstack.StartPinnedTemporalServer(ctx, root, func(s string) { t.Log(s) }, devstack.TemporalServerOptions{
		PostgresURL: pgURL, Namespace: "default", LogLevel: level,
	})
	if err != nil {
		return nil, nil, err
	}
	t.Logf("production-shaped Temporal server on %s (databases %v) in %s", s.FrontendHostPort(), s.Databases(),
		time.Since(t0).Round(time.Millisecond))
	return s, s.Stop, nil
}

// StopTemporal ends the package's Temporal server (and drops the
// production-shaped server's databases); call it from TestMain.
func StopTemporal() {
	if tsStop != nil {
		_ = tsStop()
	}
}
