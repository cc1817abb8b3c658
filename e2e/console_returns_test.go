package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestConsoleReturnRules: an owner in Chromium sets a source's return
// window and reasons on its page (a repeated reason is refused next to the
// field first), then returns a lead from its page by choosing a reason from
// the list the Return form now offers; the lead is returned with that
// reason, and the vendor finds it with its key in GET /v1/returns.
func TestConsoleReturnRules(t *testing.T) {
	s := up(t)
	tn := s.newTenant(t, "ConsoleReturns", 1, nil)
	key, _ := s.putSource(t, tn, "quotes", map[string]any{"name": "Quotes", "routing": map[string]any{"mode": "owner"}})
	r := s.do(t, "POST", "/v1/leads", key, lead(fmt.Sprintf("console-ret-%d", time.Now().UnixNano())))
	if r.status != 202 {
		t.Fatalf("post: %d %s", r.status, r.raw)
	}
	history(t, s, r.str("workflow_id")) // routed
	id := r.str("lead_id")
	p := s.signedInAs(t, tn.ownerID, ownerEmail(t, s, tn))

	p.open("/app/sources/quotes")
	p.do(chromedp.SendKeys("#f-window", "48h"), chromedp.SendKeys("#f-reasons", "Duplicate\nWrong number\nduplicate"),
		chromedp.Click("#save"), chromedp.WaitVisible("#f-reasons-err"))
	if got := p.text("#f-reasons-err"); !strings.Contains(got, "a repeat of an earlier reason") {
		t.Fatalf("a repeated reason: %q", got)
	}
	p.accessible()
	p.do(chromedp.Clear("#f-reasons"), chromedp.SendKeys("#f-reasons", "Duplicate\nWrong number"), chromedp.Click("#save"))
	p.waitText(".flash", "The source is saved.")
	if src := s.do(t, "GET", "/v1/orgs/"+tn.id+"/sources", tn.ownerToken, nil); !strings.Contains(src.raw2(),
		`"return_window":"48h0m0s","return_reasons":["Duplicate","Wrong number"]`) {
		t.Fatalf("the saved source: %s", src.raw)
	}

	p.open("/app/leads/" + id)
	if opts := p.text("#return-reason"); !strings.Contains(opts, "Duplicate") || !strings.Contains(opts, "Wrong number") {
		t.Fatalf("the Return form offers %q", opts)
	}
	if w := p.text("#return-window"); !strings.Contains(w, "48h0m0s after the lead arrived") {
		t.Fatalf("the window's line reads %q", w)
	}
	p.accessible()
	p.shot("lead-return")
	p.do(chromedp.SetValue("#return-reason", "Wrong number"), chromedp.SendKeys("#return-comments", "no such number"),
		chromedp.Click(`form[action$="/return"] button[type=submit]`))
	p.waitText(".flash", "The lead is returned to its vendor.")

	got := s.do(t, "GET", "/v1/returns", key, nil)
	list, _ := got.body["returns"].([]any)
	if got.status != 200 || len(list) != 1 || list[0].(map[string]any)["lead_id"] != id || list[0].(map[string]any)["reason"] != "Wrong number" {
		t.Fatalf("the vendor's returns: %d %s", got.status, got.raw)
	}
}
