package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// TestConsoleWebhooksAddAndResend: an owner follows Webhooks in the
// navigation, adds an endpoint for lead.received by filling the form in
// Chromium and reads its secret, shown this once; the receiver verifies a
// lead's event with that secret through the Standard Webhooks library.
// The endpoint's page lists the delivery as delivered; Resend sends it
// again with the same webhook-id. The pages pass axe-core.
func TestConsoleWebhooksAddAndResend(t *testing.T) {
	s := up(t)
	tn := s.newTenant(t, "ConsoleHooks", 1, map[string]any{"name": "Rotation", "routing": map[string]any{"mode": "staff_evenly"}})
	rcv := newHookReceiver(t, 0)
	p := s.signedInAs(t, tn.ownerID, "owner@hooks.test")
	p.open("/app/leads")
	p.do(chromedp.Click(`nav a[href="/app/webhooks"]`), chromedp.WaitVisible("#url"))
	p.accessible()
	p.do(chromedp.SendKeys("#url", rcv.srv.URL+"/crm"),
		chromedp.Click(`input[name="events"][value="lead.received"]`),
		chromedp.Click(`form[action="/app/webhooks"] button[type="submit"]`),
		chromedp.WaitVisible("#webhook-secret"))
	secret := strings.TrimSpace(p.text("#webhook-secret"))
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatalf("the secret the page shows (%q) is not a Standard Webhooks secret: %v", secret, err)
	}
	rcv.mu.Lock()
	rcv.verify = wh
	rcv.mu.Unlock()

	id := s.postRouted(t, tn, "console-hook", 1)[0]
	waitFor(t, time.Minute, "the lead's event at the receiver", func() bool {
		got, _, _ := rcv.log()
		return len(got) == 1
	})
	got, bad, _ := rcv.log()
	if len(bad) > 0 || got[0].Type != "lead.received" || got[0].LeadID != id {
		t.Fatalf("the receiver got %+v, refused %q", got, bad)
	}

	p.open("/app/webhooks")
	p.do(chromedp.Click(`table.webhooks a[href^="/app/webhooks/"]`), chromedp.WaitVisible("table.deliveries"))
	if page := p.text("main"); strings.Contains(page, secret) {
		t.Fatal("the endpoint's page shows the secret again")
	}
	row := p.text("table.deliveries tbody tr")
	if !strings.Contains(row, "lead.received") || !strings.Contains(row, got[0].ID) || !strings.Contains(row, "delivered") {
		t.Fatalf("the delivery log's line: %q", row)
	}
	p.accessible()
	p.shot("webhook")
	p.submitted(`table.deliveries tbody tr button[type="submit"]`, "webhook-resend")
	waitFor(t, time.Minute, "the resent event at the receiver", func() bool {
		got, _, _ := rcv.log()
		return len(got) == 2
	})
	if again, bad, _ := rcv.log(); len(bad) > 0 || again[1].ID != got[0].ID || again[1].LeadID != id {
		t.Fatalf("the resend: %+v, refused %q; want the same webhook-id %s", again, bad, got[0].ID)
	}
}
