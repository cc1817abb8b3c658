package e2e

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/leadrelay/leadrelay/internal/devstack"
	"github.com/leadrelay/leadrelay/workflows"
)

// TestReadableRuns checks what an operator reads in the Temporal UI, with
// the Temporal CLI the operator would use: `temporal workflow describe`
// shows each run's summary and details, `temporal workflow metadata` its
// current details once it decided something, `temporal workflow list`
// finds a lead by its external id (docs/operating.md: Finding a run), and the
// activities carry summaries — on a lead routed to a rep, a lead fanned out
// to a sub-agency, a transfer and an accepted invitation. None of it names
// a person or holds a token, in the history or in what the CLI prints.
func TestReadableRuns(t *testing.T) {
	s := up(t)
	buyer := "runs-buyer@agency.example"
	tn := s.newTenant(t, "runs", 2, map[string]any{"name": "EverQuote", "routing": map[string]any{"mode": "staff_evenly"},
		"purchase_notification_emails": []string{buyer}})
	north := s.newTenant(t, "runs-north", 1, map[string]any{"name": "EQ North", "routing": map[string]any{"mode": "staff_evenly"}})
	sub := s.newTenant(t, "runs-west", 0, nil)
	// Names as orgs write them, with spaces (the tenants' own are made for email domains).
	for _, o := range []struct {
		tn   tenant
		name string
	}{{tn, "Summit Runs Group"}, {north, "Summit Runs North"}, {sub, "Summit Runs West"}} {
		if r := s.do(t, "PATCH", "/v1/orgs/"+o.tn.id, o.tn.ownerToken, map[string]any{"name": o.name}); r.status != 200 {
			t.Fatalf("rename: %d %s", r.status, r.raw)
		}
	}
	s.link(t, tn, north)
	fan := s.do(t, "PUT", "/v1/orgs/"+tn.id+"/sources/fan", tn.ownerToken, map[string]any{"name": "Fan Partners",
		"routing": map[string]any{"mode": "sub_agencies_evenly", "sub_agencies": []string{north.id}}})
	if fan.status != 201 {
		t.Fatalf("fan source: %d %s", fan.status, fan.raw)
	}
	posted := s.do(t, "POST", "/v1/leads", tn.vendorKey, lead("runs-ext-1"))
	fanned := s.do(t, "POST", "/v1/leads", fan.str("api_key"), lead("runs-fan-1"))
	if posted.status != 202 || fanned.status != 202 {
		t.Fatalf("posts: %d %s, %d %s", posted.status, posted.raw, fanned.status, fanned.raw)
	}
	leadID, leadRun := posted.str("lead_id"), posted.str("workflow_id")
	hopRun := workflows.HopWorkflowID(fanned.str("lead_id"), north.id)
	history(t, s, leadRun)
	history(t, s, fanned.str("workflow_id"))
	rep := s.do(t, "GET", "/v1/leads/"+leadID, tn.ownerToken, nil).str("assigned_to")
	leaf := s.do(t, "GET", "/v1/leads/"+fanned.str("lead_id"), north.ownerToken, nil).str("assigned_to")

	xfer := s.do(t, "POST", "/v1/orgs/"+tn.id+"/transfers", tn.ownerToken, map[string]any{"to_org": north.id,
		"lead_ids": []string{leadID}, "mode": "owner"})
	if xfer.status != 202 {
		t.Fatalf("transfer: %d %s", xfer.status, xfer.raw)
	}
	history(t, s, xfer.str("workflow_id"))
	invID, _, tok := s.invite(t, tn, ownerEmail(t, s, sub))
	if a := s.do(t, "POST", "/v1/invitations/"+tok+"/accept", "", nil); a.status != 200 {
		t.Fatalf("accept: %d %s", a.status, a.raw)
	}
	invRun := workflows.InvitationWorkflowID(invID)
	history(t, s, invRun)

	cli := temporalCLI(t, s)
	runs := []struct {
		id, summary string
		details     []string // in the static details
		now         []string // in the current details
		activities  []string // activity summaries in the history
	}{
		{leadRun, "Lead runs-ext-1 from EverQuote → Summit Runs Group",
			[]string{"lead `" + leadID + "`", "external id runs-ext-1", "`LeadID = \"" + leadID + "\"`"},
			[]string{"**Assigned** to user `" + rep + "`: rotated to user " + rep + ": position 1 of 2 active staff (staff\\_evenly)"},
			[]string{"routing decision, one transaction", "purchase emails to 1 address(es)"}},
		{fanned.str("workflow_id"), "Lead runs-fan-1 from Fan Partners → Summit Runs Group",
			nil,
			[]string{"**Passed down** to sub-agency `" + north.id + "`: sent to sub-agency Summit Runs North: position 1 of 1",
				"its run: `" + hopRun + "`", "**Finally** assigned to user `" + leaf + "` at org `" + north.id + "`"},
			[]string{"routing decision, one transaction"}},
		{hopRun, "Lead runs-fan-1 from fan → Summit Runs North (hop 1)",
			[]string{"routed by the rules of org `" + north.id + "`"},
			[]string{"**Assigned** to user `" + leaf + "`"},
			[]string{"routing decision, one transaction (hop 1)"}},
		{xfer.str("workflow_id"), "Transfer of 1 leads Summit Runs Group → Summit Runs North (owner)",
			[]string{"transfer `" + xfer.str("id") + "`"},
			[]string{"**Done**: 1 of 1 leads moved, 0 failed"},
			[]string{"move batch 1 of 1", "mark the transfer completed"}},
		{invRun, "Invitation to become a sub-agency of Summit Runs Group",
			[]string{"invitation `" + invID + "`"},
			[]string{"**Accepted**: org `" + sub.id + "` is now a sub-agency of `" + tn.id + "`"},
			[]string{"invitation email with a fresh link", "accept: link the orgs in one transaction",
				"confirmation email to the master's owner"}},
	}
	secrets := []string{"Ada", "Lovelace", "ada@example.com", "312 555 0100", buyer, "Staff A", "Staff B",
		ownerEmail(t, s, tn), ownerEmail(t, s, north), ownerEmail(t, s, sub), tn.vendorKey, fan.str("api_key"), tn.ownerToken,
		north.ownerToken, tok, s.admin}
	recorded := map[string]string{}
	for _, r := range runs {
		described := cli(t, "workflow", "describe", "--workflow-id", r.id)
		var d struct {
			ExecutionConfig struct {
				UserMetadata struct{ Summary, Details json.RawMessage } `json:"userMetadata"`
			} `json:"executionConfig"`
		}
		if err := json.Unmarshal(described, &d); err != nil {
			t.Fatalf("describe %s: %v\n%s", r.id, err, described)
		}
		summary, details := payloadText(t, d.ExecutionConfig.UserMetadata.Summary), payloadText(t, d.ExecutionConfig.UserMetadata.Details)
		if summary != r.summary {
			t.Errorf("%s: summary %q, want %q", r.id, summary, r.summary)
		}
		contains(t, r.id+" details", details, r.details)
		contains(t, r.id+" current details", decodedJSON(t, cli(t, "workflow", "metadata", "--workflow-id", r.id)), r.now)
		contains(t, r.id+" activity summaries", decodedJSON(t, cli(t, "workflow", "show", "--workflow-id", r.id)), r.activities)
		for _, out := range [][]byte{described, cli(t, "workflow", "metadata", "--workflow-id", r.id)} {
			if text := decodedJSON(t, out); containsAny(text, secrets) != "" {
				t.Errorf("%s: the CLI shows %q", r.id, containsAny(text, secrets))
			}
		}
		recorded[strings.ReplaceAll(r.id, "/", "_")+".json"] = r.id
	}
	checkHistories(t, s, recorded, secrets)

	// docs/operating.md, Finding a run: a lead's runs by its external id.
	listed := string(cli(t, "workflow", "list", "--query", `ExternalID="runs-fan-1"`))
	for _, id := range []string{fanned.str("workflow_id"), hopRun} {
		if !strings.Contains(listed, `"`+id+`"`) {
			t.Errorf("ExternalID=\"runs-fan-1\" lists no %s:\n%s", id, listed)
		}
	}
}

// temporalCLI runs the pinned Temporal CLI against the stack's server and
// returns its JSON output.
func temporalCLI(t *testing.T, s *stack) func(t *testing.T, args ...string) []byte {
	t.Helper()
	root, err := devstack.Root()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := devstack.TemporalBinary(context.Background(), root, func(m string) { t.Log(m) })
	if err != nil {
		t.Fatal(err)
	}
	return func(t *testing.T, args ...string) []byte {
		t.Helper()
		args = append(args, "--address", s.deps.Cfg.TemporalAddress, "--namespace", s.deps.Cfg.TemporalNamespace, "-o", "json")
		out, err := exec.Command(bin, args...).Output()
		if err != nil {
			var stderr []byte
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = ee.Stderr
			}
			t.Fatalf("temporal %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr)
		}
		return out
	}
}

// payloadText reads a string payload as the CLI prints it: decoded (the
// CLI's shorthand for JSON payloads) or as {metadata, data} in base64.
func payloadText(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var p struct{ Data []byte }
	if err := json.Unmarshal(raw, &p); err != nil || json.Unmarshal(p.Data, &s) != nil {
		t.Fatalf("not a string payload: %s", raw)
	}
	return s
}

// contains fails for each want that text lacks.
func contains(t *testing.T, what, text string, want []string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("%s: no %q in\n%s", what, w, text)
		}
	}
}

// containsAny returns the first of secrets in text, or "".
func containsAny(text string, secrets []string) string {
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			return s
		}
	}
	return ""
}
