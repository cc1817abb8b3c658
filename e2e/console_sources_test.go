package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestConsoleSourceCreatedAndKeyRotated: an owner in Chromium creates a
// source (evenly among staff, high priority, a return address, a return
// template previewed first), copies the key the page shows once, and a lead
// posted with it is accepted; rotating the key on the page shows a new one,
// after which the old key is refused and the new one accepted; revoking it
// (after the page asks) refuses the new one too. The source's settings are
// read back through GET /v1/orgs/{org}/sources.
func TestConsoleSourceCreatedAndKeyRotated(t *testing.T) {
	s := up(t)
	tn := s.newTenant(t, "ConsoleSources", 2, nil)
	p := s.signedInAs(t, tn.ownerID, ownerEmail(t, s, tn))
	post := func(key string) int {
		t.Helper()
		return s.do(t, "POST", "/v1/leads", key, lead(fmt.Sprintf("console-src-%d", time.Now().UnixNano()))).status
	}

	p.open("/app/sources")
	p.accessible()
	p.do(chromedp.Click(`a[href="/app/sources/new"]`), chromedp.WaitVisible("#f-slug"))
	p.accessible()
	tmpl := "Subject: Returned {{.ExternalID}}\n{{.LeadName}}: {{.Reason}}"
	p.do(chromedp.SendKeys("#f-slug", "web-quotes"), chromedp.SendKeys("#f-name", "Web Quotes"),
		chromedp.Click(`input[name=mode][value=staff_evenly]`), chromedp.SetValue("#f-priority", "high"),
		chromedp.SendKeys("#f-return", "vendor@quotes.example"), chromedp.SendKeys("#f-template", "Hello\n{{.LeadNmae}}"),
		chromedp.Click("#preview"), chromedp.WaitVisible("#f-template-err"))
	if got := p.text("#f-template-err"); !strings.Contains(got, "Line 2:") || !strings.Contains(got, "unknown field .LeadNmae") {
		t.Fatalf("a misspelt field's preview says %q, want line 2 named", got)
	}
	if got := p.text("li.bad mark"); got != "{{.LeadNmae}}" {
		t.Fatalf("the marked line reads %q", got)
	}
	p.accessible()
	p.do(chromedp.Clear("#f-template"), chromedp.SendKeys("#f-template", tmpl),
		chromedp.Click("#preview"), chromedp.WaitVisible("#preview-body"))
	if body := p.text("#preview-body"); !strings.Contains(body, "Jane Sample: Duplicate lead") {
		t.Fatalf("the preview shows %q, want the template rendered for the sample lead", body)
	}
	if subj := p.text("#preview-subject"); subj != "Returned EQ-104233" {
		t.Fatalf("the preview's subject is %q", subj)
	}
	p.accessible()
	p.shot("source")

	// The preview kept what was typed: creating now saves it and shows the key once.
	p.do(chromedp.Click("#save"), chromedp.WaitVisible("#vendor-key"))
	p.accessible()
	first := strings.TrimSpace(p.text("#vendor-key"))
	if first == "" || !strings.Contains(p.text("main"), "Copy it now: it is not shown again.") {
		t.Fatalf("the create page shows key %q without the warning: %s", first, p.text("main"))
	}
	if strings.Contains(p.location(), first) {
		t.Fatalf("the key is in the page's address %s", p.location())
	}
	if st := post(first); st != 202 {
		t.Fatalf("a lead posted with the key copied from the page: %d, want 202", st)
	}

	p.open("/app/sources")
	if !strings.Contains(p.text("main"), "Web Quotes") {
		t.Fatalf("the sources list lacks the new source: %s", p.text("main"))
	}
	p.accessible()
	p.shot("sources")
	p.open("/app/sources/web-quotes")
	if strings.Contains(p.text("body"), first) {
		t.Fatalf("the source page shows the key again")
	}
	p.accessible()

	p.do(chromedp.Click("#rotate"), chromedp.WaitVisible("#vendor-key"))
	second := strings.TrimSpace(p.text("#vendor-key"))
	if second == "" || second == first || !strings.Contains(p.text("main"), "stopped working") {
		t.Fatalf("rotating shows key %q (old %q): %s", second, first, p.text("main"))
	}
	p.accessible()
	if st := post(first); st != 401 {
		t.Fatalf("the old key after rotation: %d, want 401", st)
	}
	if st := post(second); st != 202 {
		t.Fatalf("the new key: %d, want 202", st)
	}

	r := s.do(t, "GET", "/v1/orgs/"+tn.id+"/sources", tn.ownerToken, nil)
	list, _ := r.body["sources"].([]any)
	if r.status != 200 || len(list) != 1 {
		t.Fatalf("GET sources: %d %s", r.status, r.raw)
	}
	src := list[0].(map[string]any)
	routing, _ := src["routing"].(map[string]any)
	returns, _ := src["return_notification_emails"].([]any)
	if src["slug"] != "web-quotes" || src["name"] != "Web Quotes" || routing["mode"] != "staff_evenly" || src["priority"] != "high" ||
		len(returns) != 1 || returns[0] != "vendor@quotes.example" || src["return_template"] != tmpl {
		t.Fatalf("the saved source is not what the page was given: %s", r.raw)
	}

	// Revoking asks first, then the key stops working.
	p.open("/app/sources/web-quotes")
	p.do(chromedp.Click("#revoke"), chromedp.WaitVisible("#confirm-revoke"))
	p.accessible()
	if st := post(second); st != 202 {
		t.Fatalf("the key before the revoke is confirmed: %d, want 202", st)
	}
	p.do(chromedp.Click("#confirm-revoke"), chromedp.WaitVisible(".flash"))
	if got := p.text(".flash"); !strings.Contains(got, "revoked") {
		t.Fatalf("after revoking the page says %q", got)
	}
	if st := post(second); st != 401 {
		t.Fatalf("the revoked key: %d, want 401", st)
	}
}
