package testenv

import (
	"context"
	"io"
	"os"
	"sync"
	"testing"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"
	"go.uber.org/zap"

	"github.com/leadrelay/leadrelay/internal/devstack"
	"github.com/leadrelay/leadrelay/internal/logging"
	"github.com/leadrelay/leadrelay/workflows"
)

var (
	tsOnce sync.Once
	ts     *testsuite.DevServer
	tsErr  error
)

// Temporal starts one in-memory dev server per test package, with leadrelay's
// search attributes, from the binary the tools module pins (built on first use).
func Temporal(t testing.TB) *testsuite.DevServer {
	t.Helper()
	tsOnce.Do(func() {
		ctx := context.Background()
		root, err := devstack.Root()
		if err != nil {
			tsErr = err
			return
		}
		bin, err := devstack.TemporalBinary(ctx, root, func(s string) { t.Log(s) })
		if err != nil {
			tsErr = err
			return
		}
		var out io.Writer = io.Discard
		if os.Getenv("TEST_TEMPORAL_LOG") != "" {
			out = os.Stderr
		}
		ts, tsErr = testsuite.StartDevServer(ctx, testsuite.DevServerOptions{
			ExistingPath: bin,
			ClientOptions: &client.Options{Namespace: "default",
				Logger: logging.Temporal(zap.NewNop())},
			LogLevel:  "error",
			ExtraArgs: devstack.SearchAttributeArgs(workflows.SearchAttributeNames()),
			Stdout:    out,
			Stderr:    out,
		})
	})
	if tsErr != nil {
		t.Fatalf("Temporal dev server: %v", tsErr)
	}
	return ts
}

// StopTemporal ends the package's dev server; call it from TestMain.
func StopTemporal() {
	if ts != nil {
		_ = ts.Stop()
	}
}
