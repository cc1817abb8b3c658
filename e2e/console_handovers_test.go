package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// consoleUser adds a user with role and name to tn and returns its id and
// email, for a console session.
func (s *stack) consoleUser(t *testing.T, tn tenant, role, name string) (id, email string) {
	t.Helper()
	email = fmt.Sprintf("%s-%d@%s.example", strings.ToLower(strings.ReplaceAll(name, " ", ".")), time.Now().UnixNano(), tn.id[:8])
	r := s.do(t, "POST", "/v1/orgs/"+tn.id+"/users", tn.ownerToken, map[string]any{"email": email, "name": name, "role": role})
	if r.status != 201 {
		t.Fatalf("create %s: %d %s", name, r.status, r.raw)
	}
	return r.str("id"), email
}

// TestConsoleHandoverAcceptedAndRejected: two leads handed over from a
// parent to its child's manager pipeline (through the API, with their
// review runs). The child's manager, in Chromium, accepts one assigning a
// licensed rep and rejects the other with a reason. Through the API: the
// first is the rep's, the second is back with the sender, the reason on
// its timeline.
func TestConsoleHandoverAcceptedAndRejected(t *testing.T) {
	s := up(t)
	parent := s.newTenant(t, "ConsoleHoParent", 0, map[string]any{"name": "EverQuote", "routing": map[string]any{"mode": "owner"}})
	child := s.newTenant(t, "ConsoleHoChild", 2, nil) // Staff A (staff), Staff B (professional)
	ids, _, _ := s.handedOverLeads(t, parent, child, "console-ho-", 2)
	mgrID, mgrEmail := s.consoleUser(t, child, "manager", "Mia Manager")
	rep := child.staff[1]

	p := s.signedInAs(t, mgrID, mgrEmail)
	p.open("/app/pipeline")
	if h := p.text("h1"); h != "Manager pipeline" {
		t.Fatalf("heading %q", h)
	}
	for _, id := range ids {
		row := p.text("#handover-" + id)
		if !strings.Contains(row, "ConsoleHoParent") || !strings.Contains(row, "left") {
			t.Errorf("the pipeline row of %s does not say who sent it and its countdown: %q", id, row)
		}
	}
	p.accessible()
	p.shot("pipeline")

	// Accept the first, assigning the professional.
	p.do(chromedp.SetValue("#assign-"+ids[0], rep),
		chromedp.Click(`form[action="/app/pipeline/`+ids[0]+`/accept"] button`),
		chromedp.WaitVisible(".flash"))
	if f := p.text(".flash"); !strings.Contains(f, "Handover accepted") {
		t.Fatalf("after accepting the page says %q", f)
	}
	// A rejection without a reason is refused at its field, in words.
	p.do(chromedp.Click(`form[action="/app/pipeline/`+ids[1]+`/reject"] button`), chromedp.WaitVisible("#reason-"+ids[1]+"-err"))
	if e := p.text("#reason-" + ids[1] + "-err"); !strings.Contains(e, "required") {
		t.Fatalf("the refused rejection says %q", e)
	}
	p.accessible()
	p.do(chromedp.SendKeys("#reason-"+ids[1], "outside our territory"),
		chromedp.Click(`form[action="/app/pipeline/`+ids[1]+`/reject"] button`),
		chromedp.WaitVisible(".flash"))
	if f := p.text(".flash"); !strings.Contains(f, "Handover rejected") {
		t.Fatalf("after rejecting the page says %q", f)
	}
	if e := p.text("main"); !strings.Contains(e, "No handed-over lead is waiting.") {
		t.Errorf("the pipeline still shows waiting leads: %q", e)
	}

	acc := s.do(t, "GET", "/v1/leads/"+ids[0], child.ownerToken, nil)
	if acc.status != 200 || acc.body["assigned_to"] != rep || acc.body["location"] != nil {
		t.Fatalf("the accepted lead: %d %s", acc.status, acc.raw)
	}
	back := s.do(t, "GET", "/v1/leads/"+ids[1], parent.ownerToken, nil)
	if back.status != 200 || back.body["assigned_to"] != parent.ownerID || !strings.Contains(back.raw2(), "outside our territory") {
		t.Fatalf("the rejected lead is not back with the sender with the reason on its timeline: %d %s", back.status, back.raw)
	}

	// The accepted lead's page, as the manager sees it.
	p.open("/app/leads/" + ids[0])
	if a := p.text("#assigned-to"); a != "Staff B" {
		t.Errorf("the lead page says assigned to %q", a)
	}
	if o := p.text("#owned-by"); !strings.Contains(o, "the team") {
		t.Errorf("the lead page says owned by %q", o)
	}
	p.accessible()
	p.shot("lead")
}
