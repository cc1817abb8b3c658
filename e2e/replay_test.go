package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"

	"github.com/leadrelay/leadrelay/internal/app"
	"github.com/leadrelay/leadrelay/workflows"
)

// TestLiveHistoriesReplay replays histories the dev server just recorded —
// a lead run, a fan-out, an invitation accepted through an Update and the
// reroute of a deactivated rep's leads — against this code. With
// LEADRELAY_RECORD_HISTORY=dir it also writes them there, which is how
// workflows/testdata was made (LEADRELAY_RECORD_FILES=a.json,b.json: only
// those).
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
	// A deactivated rep's leads rerouted: the lead's run is closed first, so
	// the rep it chose is known.
	history(t, s, r.str("workflow_id"))
	rep := s.do(t, "GET", "/v1/leads/"+r.str("lead_id"), tn.ownerToken, nil).str("assigned_to")
	if d := s.do(t, "PATCH", "/v1/orgs/"+tn.id+"/users/"+rep, tn.ownerToken, map[string]any{"active": false}); d.status != 200 {
		t.Fatalf("deactivate: %d %s", d.status, d.raw)
	}
	repUser, err := s.store().GetUser(context.Background(), tn.id, rep)
	if err != nil {
		t.Fatal(err)
	}
	// A handover of two leads (one a team member, owed retention updates):
	// one accepted, one rejected with words that must stay out of history.
	ho := s.newTenant(t, "replay-ho", 0, map[string]any{"name": "EQ", "routing": map[string]any{"mode": "owner"}})
	hoSub := s.newTenant(t, "replay-ho-sub", 1, nil)
	s.link(t, ho, hoSub)
	s.settings(t, ho, true, false)
	_, sender := s.user(t, ho, "manager")
	_, reviewer := s.user(t, hoSub, "manager")
	var hoLeads []string
	for i, body := range []map[string]any{lead("replay-ho-1"), lead("replay-ho-2")} {
		if i == 1 {
			body["kind"] = "team_member"
		}
		p := s.do(t, "POST", "/v1/leads", ho.vendorKey, body)
		if p.status != 202 {
			t.Fatalf("post: %d %s", p.status, p.raw)
		}
		history(t, s, p.str("workflow_id"))
		hoLeads = append(hoLeads, p.str("lead_id"))
	}
	xfer := s.do(t, "POST", "/v1/orgs/"+ho.id+"/transfers", sender, map[string]any{"to_org": hoSub.id, "lead_ids": hoLeads, "mode": "manager_review"})
	if xfer.status != 202 {
		t.Fatalf("handover: %d %s", xfer.status, xfer.raw)
	}
	history(t, s, xfer.str("workflow_id"))
	const rejection = "Outside our territory, says Rita"
	for i, answer := range []struct{ path, field, value string }{{"accept", "assign_to", hoSub.staff[0]}, {"reject", "reason", rejection}} {
		if a := s.do(t, "POST", "/v1/leads/"+hoLeads[i]+"/handover/"+answer.path, reviewer, map[string]any{answer.field: answer.value}); a.status != 200 {
			t.Fatalf("%s: %d %s", answer.path, a.status, a.raw)
		}
	}
	recorded := map[string]string{"lead_history.json": r.str("workflow_id"), "invitation_history.json": "invitation/" + invID,
		"fanout_history.json": fr.str("workflow_id"), "reroute_history.json": workflows.RerouteWorkflowID(rep, 1),
		"transfer_history.json": xfer.str("workflow_id"), "handover_history.json": workflows.HandoverWorkflowID(hoLeads[0], xfer.str("id")),
		"handover_rejected_history.json": workflows.HandoverWorkflowID(hoLeads[1], xfer.str("id")),
		"fanout_hop_history.json":        workflows.HopWorkflowID(fr.str("lead_id"), north.id)}
	// No personal data and no secret in any history: the lead's name, email
	// and phone, every address the emails went to, and every token used.
	secrets := []string{"Ada", "Lovelace", "ada@example.com", "312 555 0100", "3125550100", "replay@agency.example",
		ownerEmail(t, s, tn), ownerEmail(t, s, sub), repUser.Name, repUser.Email, tn.vendorKey, fan.str("api_key"), tn.ownerToken, sub.ownerToken, tok, s.admin,
		rejection, ho.vendorKey, sender, reviewer}
	checkHistories(t, s, recorded, secrets)
	// Today's lead shape travels in the input: no version marker, and so no
	// TemporalChangeVersion upsert, in the lead's run or its hop's.
	for _, id := range []string{r.str("workflow_id"), recorded["fanout_history.json"], recorded["fanout_hop_history.json"]} {
		for _, e := range history(t, s, id).Events {
			if m := e.GetMarkerRecordedEventAttributes(); m != nil && m.GetMarkerName() == "Version" {
				t.Errorf("%s records a version marker (event %d)", id, e.GetEventId())
			}
			if u := e.GetUpsertWorkflowSearchAttributesEventAttributes(); u != nil && u.GetSearchAttributes().GetIndexedFields()["TemporalChangeVersion"] != nil {
				t.Errorf("%s upserts TemporalChangeVersion (event %d)", id, e.GetEventId())
			}
		}
	}
}

// checkHistories replays each recorded run's fresh history (file name →
// workflow ID) against this code and fails if any holds one of the secrets.
// With LEADRELAY_RECORD_HISTORY=dir it also writes them there with their
// histories.json, which is how a fixture set is made
// (LEADRELAY_RECORD_FILES=a.json,b.json: only those). A test of a new
// workflow calls it with its own runs and records its own set.
func checkHistories(t *testing.T, s *stack, recorded map[string]string, secrets []string) {
	t.Helper()
	dir := os.Getenv("LEADRELAY_RECORD_HISTORY")
	keep := recordOnly(recorded, os.Getenv("LEADRELAY_RECORD_FILES"))
	for name, wfID := range recorded {
		h := history(t, s, wfID)
		if err := app.Replay(h, wfID); err != nil {
			t.Fatalf("replay of a fresh %s: %v", name, err)
		}
		if found := revealed(t, h, secrets); len(found) > 0 {
			t.Errorf("%s (%s) holds %q", name, wfID, found)
		}
		if dir != "" && keep[name] != "" {
			b, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(h)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if dir != "" && len(keep) > 0 {
		// A set several tests record lists all their files.
		if b, err := os.ReadFile(filepath.Join(dir, "histories.json")); err == nil {
			var before map[string]string
			if err := json.Unmarshal(b, &before); err != nil {
				t.Fatal(err)
			}
			maps.Copy(before, keep)
			keep = before
		}
		b, _ := json.MarshalIndent(keep, "", "  ")
		if err := os.WriteFile(filepath.Join(dir, "histories.json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// recordOnly is the part of recorded a new fixture set keeps: the files
// named in only (comma-separated, as LEADRELAY_RECORD_FILES gives them), or
// all of them when only is empty. A set for one new workflow
// (v3-reroute) holds that workflow's history alone.
func recordOnly(recorded map[string]string, only string) map[string]string {
	if only == "" {
		return recorded
	}
	keep := map[string]string{}
	for _, name := range strings.Split(only, ",") {
		if id, ok := recorded[strings.TrimSpace(name)]; ok {
			keep[strings.TrimSpace(name)] = id
		}
	}
	return keep
}

// TestHistoryScanFindsWhatTheFirstShapesRecorded keeps revealed honest: the
// lead histories recorded before ids-only hold the lead's data, and it must
// find it there.
func TestHistoryScanFindsWhatTheFirstShapesRecorded(t *testing.T) {
	h, err := app.LoadHistory("../workflows/testdata/histories/v1-2026-11-29/lead_history.json")
	if err != nil {
		t.Fatal(err)
	}
	if found := revealed(t, h, []string{"Lovelace", "ada@example.com", "no such text"}); len(found) != 2 {
		t.Fatalf("found %q in a history known to hold the lead's name and email", found)
	}
}

// revealed returns the secrets that appear anywhere in a history: in its
// JSON, and in every payload decoded (payload data is base64 in the JSON).
func revealed(t *testing.T, h *historypb.History, secrets []string) []string {
	t.Helper()
	b, err := temporalproto.CustomJSONMarshalOptions{}.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	text := decodedJSON(t, b)
	var found []string
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			found = append(found, s)
		}
	}
	return found
}

// decodedJSON is a JSON document as text with, after it, every string in it
// unescaped and, where it is base64 (payload data), decoded — and the JSON
// a decoded string holds, read the same way.
func decodedJSON(t *testing.T, b []byte) string {
	t.Helper()
	var text strings.Builder
	text.Write(b)
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for _, e := range v {
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		case string:
			text.WriteString("\n" + v)
			if d, err := base64.StdEncoding.DecodeString(v); err == nil {
				text.WriteString("\n")
				text.Write(d)
				var inner any
				if json.Unmarshal(d, &inner) == nil {
					walk(inner)
				}
			}
		}
	}
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b)
	}
	walk(doc)
	return text.String()
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
