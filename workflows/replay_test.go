package workflows_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/leadrelay/leadrelay/internal/app"
)

// TestRecordedHistoriesReplay replays every kept set of recorded histories
// against today's code: one folder per released workflow shape under
// testdata/histories, each with histories.json mapping its files to their
// workflow IDs. A change that breaks replay of any kept shape — runs of it may
// still be open in production — fails here. Sets are added, never
// re-recorded in place (docs/versioning.md):
// LEADRELAY_RECORD_HISTORY=$PWD/workflows/testdata/histories/<new set> go test -run LiveHistories ./e2e/
// A set either records the lead, fan-out and invitation shapes together or
// holds a newer workflow on its own (v3-reroute, recorded with
// LEADRELAY_RECORD_FILES=reroute_history.json, or v9-alerts by
// TestInstantAlertsEndToEnd, or v11-retention by
// TestRetentionPurgeSchedule); every workflow with a
// fixture must be in some set.
func TestRecordedHistoriesReplay(t *testing.T) {
	t.Parallel()
	sets, err := filepath.Glob("testdata/histories/*/histories.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(sets) < 2 {
		t.Fatalf("want the first shape's set and the current one, found %v", sets)
	}
	together := []string{"lead_history.json", "invitation_history.json", "fanout_history.json"}
	kept := map[string]bool{}
	for _, set := range sets {
		dir := filepath.Dir(set)
		b, err := os.ReadFile(set)
		if err != nil {
			t.Fatal(err)
		}
		var ids map[string]string
		if err := json.Unmarshal(b, &ids); err != nil {
			t.Fatal(err)
		}
		if len(ids) == 0 {
			t.Fatalf("%s lists no history", set)
		}
		whole := false
		for _, name := range together {
			whole = whole || ids[name] != ""
		}
		for _, want := range together {
			if whole && ids[want] == "" {
				t.Fatalf("%s lacks %s", set, want)
			}
		}
		for file := range ids {
			kept[file] = true
		}
		for file, id := range ids {
			t.Run(filepath.Base(dir)+"/"+file, func(t *testing.T) {
				h, err := app.LoadHistory(filepath.Join(dir, file))
				if err != nil {
					t.Fatal(err)
				}
				if err := app.Replay(h, id); err != nil {
					t.Fatalf("replaying %s: %v", file, err)
				}
			})
		}
	}
	for _, want := range append(together, "reroute_history.json", "transfer_history.json", "handover_history.json",
		"return_history.json", "claim_expired_history.json", "claim_worked_history.json",
		"distribute_history.json", "distribute_fanout_history.json", "digest_history.json", "fanout_hop_history.json",
		"claim_outcome_history.json", "handover_rejected_by_db_history.json", "handover_accepted_by_db_history.json",
		"handover_withdrawn_history.json", "handover_restarted_expired_history.json", "signin_history.json",
		"alert_history.json", "alert_claimed_history.json", "retention_history.json") {
		if !kept[want] {
			t.Errorf("no fixture set holds %s", want)
		}
	}
}
