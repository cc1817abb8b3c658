package workflows_test

import (
	"os/exec"
	"testing"

	"github.com/leadrelay/leadrelay/internal/devstack"
)

// TestWorkflowsAreDeterministic runs Temporal's workflowcheck over the module:
// no time.Now, randomness, map iteration, goroutines or I/O reachable from
// workflow code. The version is pinned; the module proxy serves it.
func TestWorkflowsAreDeterministic(t *testing.T) {
	t.Parallel()
	root, err := devstack.Root()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "run", "go.temporal.io/sdk/contrib/tools/workflowcheck@v0.6.0", "./...")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("workflowcheck found non-deterministic workflow code (%v):\n%s", err, out)
	}
}
