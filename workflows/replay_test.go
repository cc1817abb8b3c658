package workflows_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/client"

	"github.com/leadrelay/leadrelay/internal/app"
)

// TestRecordedHistoriesReplay replays histories recorded on a dev server
// (testdata/histories.json maps each file to its workflow ID) against
// today's code: a change that would break running workflows fails here.
// Record them anew with: LEADRELAY_RECORD_HISTORY=$PWD/workflows/testdata go test -run LiveHistories ./e2e/
func TestRecordedHistoriesReplay(t *testing.T) {
	b, err := os.ReadFile("testdata/histories.json")
	if err != nil {
		t.Fatal(err)
	}
	var ids map[string]string
	if err := json.Unmarshal(b, &ids); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"lead_history.json", "invitation_history.json", "fanout_history.json"} {
		if ids[want] == "" {
			t.Fatalf("testdata/histories.json lacks %s", want)
		}
	}
	for file, id := range ids {
		t.Run(file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			h, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if err := app.Replay(h, id); err != nil {
				t.Fatalf("replaying %s: %v", file, err)
			}
		})
	}
}
