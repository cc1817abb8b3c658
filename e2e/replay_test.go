package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"

	"github.com/leadrelay/leadrelay/internal/app"
)

// TestLiveHistoriesReplay replays histories the dev server just recorded —
// a lead run and an invitation accepted through an Update — against this
// code. With LEADRELAY_RECORD_HISTORY=dir it also writes them there, which is
// how workflows/testdata was made.
func TestLiveHistoriesReplay(t *testing.T) {
	s := up(t)
	tn := s.newTenant(t, "replay", 2, map[string]any{"name": "EverQuote", "routing": map[string]any{"mode": "staff_evenly"},
		"purchase_notification_emails": []string{"replay@agency.example"}})
	r := s.do(t, "POST", "/v1/leads", tn.vendorKey, lead("replay-1"))
	if r.status != 202 {
		t.Fatalf("post: %d %s", r.status, r.raw)
	}
	// a lead passed down to a sub-agency: a child workflow in the history
	north := s.newTenant(t, "replay-north", 1, map[string]any{"name": "EQ", "routing": map[string]any{"mode": "staff_evenly"}})
	if err := s.store().LinkOrgs(context.Background(), tn.id, north.id); err != nil {
		t.Fatal(err)
	}
	fan := s.do(t, "PUT", "/v1/orgs/"+tn.id+"/sources/fan", tn.ownerToken, map[string]any{"name": "Fan",
		"routing": map[string]any{"mode": "sub_agencies_evenly", "sub_agencies": []string{north.id}}})
	if fan.status != 201 {
		t.Fatalf("fan source: %d %s", fan.status, fan.raw)
	}
	fr := s.do(t, "POST", "/v1/leads", fan.str("api_key"), lead("replay-fan-1"))
	if fr.status != 202 {
		t.Fatalf("post: %d %s", fr.status, fr.raw)
	}
	sub := s.newTenant(t, "replay-sub", 0, nil)
	invID, _, tok := s.invite(t, tn, ownerEmail(t, s, sub))
	if a := s.do(t, "POST", "/v1/invitations/"+tok+"/accept", "", nil); a.status != 200 {
		t.Fatalf("accept: %d %s", a.status, a.raw)
	}
	recorded := map[string]string{"lead_history.json": r.str("workflow_id"), "invitation_history.json": "invitation/" + invID,
		"fanout_history.json": fr.str("workflow_id")}
	dir := os.Getenv("LEADRELAY_RECORD_HISTORY")
	for name, wfID := range recorded {
		h := history(t, s, wfID)
		if err := app.Replay(h, wfID); err != nil {
			t.Fatalf("replay of a fresh %s: %v", name, err)
		}
		if dir != "" {
			b, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(h)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if dir != "" {
		b, _ := json.MarshalIndent(recorded, "", "  ")
		if err := os.WriteFile(filepath.Join(dir, "histories.json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// history waits for the run to close and returns its full history.
func history(t *testing.T, s *stack, wfID string) *historypb.History {
	t.Helper()
	ctx := context.Background()
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
	return h
}
