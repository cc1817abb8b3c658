package e2e

import (
	"context"
	"os"
	"testing"

	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/worker"

	"github.com/leadrelay/leadrelay/internal/app"
)

// TestLiveHistoryReplays replays a history the dev server just recorded
// against this code. With LEADRELAY_RECORD_HISTORY=path it also writes the
// history there, which is how workflows/testdata/lead_history.json was made.
func TestLiveHistoryReplays(t *testing.T) {
	s := up(t)
	tn := s.newTenant(t, "replay", 2, map[string]any{"name": "EverQuote", "routing": map[string]any{"mode": "staff_evenly"},
		"purchase_notification_emails": []string{"replay@agency.example"}})
	r := s.do(t, "POST", "/v1/leads", tn.vendorKey, lead("replay-1"))
	if r.status != 202 {
		t.Fatalf("post: %d %s", r.status, r.raw)
	}
	ctx := context.Background()
	wfID := r.str("workflow_id")
	if err := s.deps.Temporal.GetWorkflow(ctx, wfID, "").Get(ctx, nil); err != nil {
		t.Fatal(err)
	}
	it := s.deps.Temporal.GetWorkflowHistory(ctx, wfID, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	h := &historypb.History{}
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		h.Events = append(h.Events, e)
	}
	replayer := worker.NewWorkflowReplayer()
	app.RegisterWorkflows(replayer)
	if err := replayer.ReplayWorkflowHistory(nil, h); err != nil {
		t.Fatalf("replay of a fresh history: %v", err)
	}
	if path := os.Getenv("LEADRELAY_RECORD_HISTORY"); path != "" {
		b, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
