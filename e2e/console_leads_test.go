package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestConsoleBulkTransferFiftyLeadsEvenly does the seeds' "Update Multiple
// Households → Transfer to Sub-Agency → evenly among staff" as a master's
// owner does it in the browser: filter, choose all that match, transfer,
// watch the progress page until it says done. The API then shows the 50
// leads in the sub-agency, spread evenly over its staff, none failed.
func TestConsoleBulkTransferFiftyLeadsEvenly(t *testing.T) {
	s := up(t)
	m := s.newTenant(t, "ConsoleXferMaster", 0, map[string]any{"name": "EverQuote", "routing": map[string]any{"mode": "owner"}})
	sub := s.newTenant(t, "ConsoleXferSub", 3, nil) // a staff member, a professional and a manager: all take rotated leads
	s.link(t, m, sub)
	const n = 50
	ids := s.postRouted(t, m, "console-xfer", n)
	var email string
	if err := s.deps.Pool.QueryRow(context.Background(), `SELECT email FROM users WHERE id = $1`, m.ownerID).Scan(&email); err != nil {
		t.Fatal(err)
	}

	p := s.signedInAs(t, m.ownerID, email)
	p.open("/app/leads")
	p.do(chromedp.SetValue("#f-source", "everquote"), chromedp.SetValue("#f-status", "new"),
		chromedp.Click(`form[method="get"] button[type="submit"]`))
	p.waitPath("/app/leads?")
	if loc := p.location(); !strings.Contains(loc, "source=everquote") || !strings.Contains(loc, "status=new") {
		t.Fatalf("the filter form went to %s", loc)
	}
	rows, err := chromedp.Run(p.ctx, chromedp.Evaluate[int](`document.querySelectorAll("tbody tr a[href^='/app/leads/']").length`))
	if err != nil || rows != n {
		t.Fatalf("the filtered page lists %d of the %d leads (%v)", rows, n, err)
	}
	p.accessible()

	p.do(chromedp.Click("#f-scope"), chromedp.Click("#act-transfer"), chromedp.SetValue("#f-transfer_to", sub.id), chromedp.Click("#f-mode-staff"))
	p.accessible()
	p.shot("leads")
	p.do(chromedp.Click(`button[name="action"][value="transfer"]`))
	p.waitPath("/app/transfers/")
	loc := p.location()
	transferID := strings.TrimPrefix(loc, "/app/transfers/")

	// The page refreshes itself until the transfer is done.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if status := p.text("#transfer-status"); status == "Done" {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("the progress page still says %q after 2 minutes", status)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if moved, failed, total := p.text("#moved"), p.text("#failed"), p.text("#total"); moved != "50" || failed != "0" || total != "50" {
		t.Fatalf("the progress page says moved %s, failed %s of %s; want 50, 0 of 50", moved, failed, total)
	}
	p.accessible()
	p.shot("transfer")

	// Through the API: one transfer, nothing failed, the 50 leads in the
	// sub-agency, spread over its staff by at most one.
	done := s.waitTransfer(t, m.id, m.ownerToken, transferID, time.Minute)
	if done.body["transferred"] != float64(n) || done.body["failed_count"] != float64(0) || done.body["mode"] != "staff_evenly" {
		t.Fatalf("the transfer through the API: %s", done.raw)
	}
	if c := s.count(t, `SELECT count(*) FROM transfers WHERE org_id = $1`, m.id); c != 1 {
		t.Fatalf("%d transfers started from one form", c)
	}
	per := map[string]int{}
	for _, id := range ids {
		r := s.do(t, "GET", "/v1/leads/"+id, sub.ownerToken, nil)
		if r.status != 200 || r.str("org_id") != sub.id {
			t.Fatalf("lead %s in the sub-agency: %d %s", id, r.status, r.raw)
		}
		per[r.str("assigned_to")]++
		if g := s.do(t, "GET", "/v1/leads/"+id, m.ownerToken, nil); g.status != 404 {
			t.Fatalf("the master still sees lead %s: %d", id, g.status)
		}
	}
	lo, hi := n, 0
	for _, staff := range sub.staff {
		lo, hi = min(lo, per[staff]), max(hi, per[staff])
	}
	if len(per) != len(sub.staff) || hi-lo > 1 {
		t.Fatalf("the leads per staff member %v, want %d staff within one of each other", per, len(sub.staff))
	}
}
