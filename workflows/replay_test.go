package workflows_test

import (
	"testing"

	"go.temporal.io/sdk/worker"

	"github.com/leadrelay/leadrelay/internal/app"
)

// TestRecordedHistoriesReplay replays histories recorded on a dev server
// against today's code: a change that would break running workflows fails here.
// Record them anew with: LEADRELAY_RECORD_HISTORY=$PWD/workflows/testdata go test -run LiveHistories ./e2e/
func TestRecordedHistoriesReplay(t *testing.T) {
	for _, f := range []string{"testdata/lead_history.json", "testdata/invitation_history.json"} {
		t.Run(f, func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			app.RegisterWorkflows(r)
			if err := r.ReplayWorkflowHistoryFromJSONFile(nil, f); err != nil {
				t.Fatalf("replaying %s: %v", f, err)
			}
		})
	}
}
