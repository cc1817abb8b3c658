package e2e

import (
	"bufio"
	"flag"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/internal/testenv"
)

const productionTest = "TestE2EOnProductionShapedTemporal"

// TestE2EOnProductionShapedTemporal runs this package's tests a second time
// against the production-shaped Temporal server (go.temporal.io/server on
// PostgreSQL with the stock SQL dynamic config: IDs of at most 255 bytes, new
// search attributes refused for a while), in a child test process with
// LEADRELAY_TEMPORAL=postgres, so the one `go test ./...` covers both targets.
// The child skips this test, so it never recurses.
func TestE2EOnProductionShapedTemporal(t *testing.T) {
	if testenv.TemporalTarget() != "dev" {
		// Only when run by hand with LEADRELAY_TEMPORAL set: this process
		// already runs every test on that target.
		t.Logf("this process already runs on LEADRELAY_TEMPORAL=%s", testenv.TemporalTarget())
		return
	}
	timeout := 40 * time.Minute
	if d, ok := t.Deadline(); ok {
		if left := time.Until(d) - time.Minute; left < timeout {
			timeout = left
		}
	}
	if timeout < time.Minute {
		t.Fatalf("only %s left of -test.timeout for the production-shaped run", timeout)
	}
	skip := "^" + productionTest + "$"
	if s := flagValue("test.skip"); s != "" {
		skip = "(?:" + s + ")|" + skip
	}
	args := []string{"-test.count=1", "-test.timeout=" + timeout.String(), "-test.skip=" + skip}
	if r := flagValue("test.run"); r != "" {
		args = append(args, "-test.run="+r)
	}
	for _, f := range []string{"test.short", "test.failfast"} {
		if flagValue(f) == "true" {
			args = append(args, "-"+f)
		}
	}
	cmd := exec.CommandContext(t.Context(), os.Args[0], args...)
	cmd.Env = append(os.Environ(), "LEADRELAY_TEMPORAL=postgres")
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Our copy of the write end must go, or the scanner never sees EOF.
	if err := pw.Close(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(pr)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		t.Log("prod| " + sc.Text())
	}
	_ = pr.Close() // read to the end: nothing left to lose
	if err := cmd.Wait(); err != nil {
		t.Fatalf("e2e tests on the production-shaped Temporal server failed after %s: %v (LEADRELAY_TEMPORAL=postgres go test ./e2e/ reproduces)",
			time.Since(start).Round(time.Second), err)
	}
	t.Logf("e2e tests on the production-shaped Temporal server passed in %s", time.Since(start).Round(time.Second))
}

func flagValue(name string) string {
	if f := flag.Lookup(name); f != nil {
		return f.Value.String()
	}
	return ""
}
