package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/leadrelay/leadrelay/workflows"
)

// TestConsoleTeamAddAndDeactivate: the owner adds a user from the account
// page and is shown their API token once (it works against the API); then
// deactivates a rep holding three team leads, and the page says the leads
// are being rerouted — which the reroute run then does.
func TestConsoleTeamAddAndDeactivate(t *testing.T) {
	s := up(t)
	ctx := context.Background()
	tn := s.newTenant(t, "ConsoleTeam", 0, map[string]any{"name": "EverQuote", "routing": map[string]any{"mode": "staff_evenly"}})
	gone := s.addUser(t, tn, "Gina Gone", "staff")
	s.addUser(t, tn, "Sid Stays", "staff")
	ids := s.postRouted(t, tn, "team", 3)
	if r := s.do(t, "POST", "/v1/orgs/"+tn.id+"/leads/assign", tn.ownerToken, map[string]any{"user_id": gone.id, "lead_ids": ids}); r.status != 200 {
		t.Fatalf("bulk assign: %d %s", r.status, r.raw)
	}

	p := s.signedInAs(t, tn.ownerID, ownerEmail(t, s, tn))
	p.open("/app/account")
	if team := p.text("#team"); !strings.Contains(team, "Gina Gone") || !strings.Contains(team, "Sid Stays") {
		t.Fatalf("the team section: %q", team)
	}
	p.accessible()

	// Add a user: the token is shown once, and it is theirs.
	email := "nora-" + time.Now().Format("150405.000000") + "@team.example"
	p.do(chromedp.SendKeys("#new_name", "Nora New"), chromedp.SendKeys("#new_email", email),
		chromedp.SetValue("#new_role", "manager"), chromedp.Click(`form[action="/app/account/users"] button[type=submit]`))
	p.waitText("h1", "Nora New is added")
	token := p.text("#token")
	if !strings.HasPrefix(token, "lru_") || !strings.Contains(p.text("main"), "This is their API token") {
		t.Fatalf("the result page: token %q, text %q", token, p.text("main"))
	}
	if loc := p.location(); strings.Contains(loc, token) {
		t.Fatalf("the token is in the URL %s", loc)
	}
	p.accessible()
	if r := s.do(t, "GET", "/v1/orgs/"+tn.id, token, nil); r.status != 200 {
		t.Fatalf("the token shown does not work: %d %s", r.status, r.raw)
	}
	p.open("/app/account")
	if strings.Contains(p.text("main"), token) {
		t.Fatalf("the account page shows the token again")
	}

	// Deactivate Gina from her row.
	row := "#user-" + gone.id
	p.do(chromedp.Click(row+" input[name=active]"), chromedp.Click(row+" button[type=submit]"))
	p.waitText("h1", "Gina Gone is deactivated")
	if msg := p.text("#reroute"); !strings.Contains(msg, "being sent back through routing") {
		t.Fatalf("the deactivation page says %q", msg)
	}
	link, err := chromedp.Run(p.ctx, chromedp.AttributeValue(`main a[href^="/app/leads?"]`, "href"))
	if err != nil || link.Value != "/app/leads?assigned_to="+gone.id {
		t.Fatalf("the link to her leads: %q (%v)", link.Value, err)
	}
	p.accessible()
	p.shot("user-deactivated")

	var res workflows.RerouteResult
	if err := s.deps.Temporal.GetWorkflow(ctx, workflows.RerouteWorkflowID(gone.id, 1), "").Get(ctx, &res); err != nil || res.Rerouted != 3 {
		t.Fatalf("the reroute run: %+v (%v), want 3 rerouted", res, err)
	}
	for _, id := range ids {
		st := s.leadState(t, tn.ownerToken, id)
		if msg, _ := st.last["message"].(string); st.assigned == gone.id || !strings.HasPrefix(msg, "rerouted because Gina Gone was deactivated") {
			t.Fatalf("lead %s after the reroute: %+v", id, st)
		}
	}
	p.open("/app/account")
	if r := p.text(row); !strings.Contains(r, "Gina Gone") {
		t.Fatalf("Gina's row: %q", r)
	}
	checked, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](`document.querySelector("`+row+` input[name=active]").checked`))
	if err != nil || checked {
		t.Fatalf("Gina is still shown active (%v)", err)
	}
}
