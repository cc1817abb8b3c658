package workflows

import (
	"go/build"
	"strings"
	"testing"
)

// Workflow code is replayed: it must not reach PostgreSQL, the network or a
// Temporal client. Starting runs is internal/runs' job, reading and writing
// PostgreSQL the activities'. This guards the package's own files' direct
// imports (what the issue's `go list -f '{{join .Imports ...}}'` reads):
// workflows still imports activities, whose methods it names for
// ExecuteActivity, and through them the store is in the build; the
// determinism check (workflowcheck) is what keeps workflow code from
// calling them. Test files may wire real parts.
func TestWorkflowsImportNoIO(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	forbidden := []string{
		"github.com/leadrelay/leadrelay/internal/store",
		"go.temporal.io/sdk/client",
		"net/http",
		"github.com/jackc/pgx",
	}
	for _, imp := range pkg.Imports {
		for _, f := range forbidden {
			if imp == f || strings.HasPrefix(imp, f+"/") {
				t.Errorf("a non-test file of workflows/ imports %s: move that code out of the workflows (run starts: internal/runs)", imp)
			}
		}
	}
	if len(pkg.GoFiles) == 0 {
		t.Fatal("no Go files read: the guard checked nothing")
	}
}
