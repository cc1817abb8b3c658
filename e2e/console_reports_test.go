package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestConsoleSpeedToLeadReport: leads posted for real go through the
// workflow: two to a queue source, of which a rep claims one and marks it
// worked, and one to a source routed to the owner. The owner opens Speed
// to lead in Chromium: the source table reads 2 leads, 1 assigned, 1
// worked for the queue and 1 lead assigned for the direct source, the
// person table has the rep's worked lead and the owner's, the chart is an
// image with its title, and the page passes axe-core. The API's report
// says the same.
func TestConsoleSpeedToLeadReport(t *testing.T) {
	s := up(t)
	tn := s.newTenant(t, "ConsoleSpeed", 0, map[string]any{"name": "Queue", "routing": map[string]any{"mode": "queue", "queue_delay": "0s"}})
	direct := s.do(t, "PUT", "/v1/orgs/"+tn.id+"/sources/direct", tn.ownerToken, map[string]any{"name": "Direct", "routing": map[string]any{"mode": "owner"}})
	if direct.status != 201 {
		t.Fatalf("put source direct: %d %s", direct.status, direct.raw)
	}
	for i := range 2 {
		if status, out := postAsync(s.api.URL+"/v1/leads", tn.vendorKey, lead(fmt.Sprintf("speed-q-%d", i))); status != 202 {
			t.Fatalf("post to the queue: %d %v", status, out)
		}
	}
	if status, out := postAsync(s.api.URL+"/v1/leads", direct.str("api_key"), lead("speed-direct")); status != 202 {
		t.Fatalf("post to direct: %d %v", status, out)
	}
	s.waitRouted(t, tn.sourceID, 2)
	s.waitRouted(t, direct.str("id"), 1)

	rep := s.claimRep(t, tn, "Rita Rapid")
	c := s.do(t, "POST", "/v1/orgs/"+tn.id+"/queue/claim", rep.token, nil)
	if c.status != 200 || c.body["assigned_to"] != rep.id {
		t.Fatalf("claim: %d %s", c.status, c.raw)
	}
	if w := s.do(t, "POST", "/v1/leads/"+c.str("id")+"/worked", rep.token, nil); w.status != 200 {
		t.Fatalf("worked: %d %s", w.status, w.raw)
	}

	api := s.do(t, "GET", "/v1/orgs/"+tn.id+"/reports/speed-to-lead", tn.ownerToken, nil)
	sources, _ := api.body["sources"].([]any)
	if api.status != 200 || len(sources) != 2 {
		t.Fatalf("the API's report: %d %s", api.status, api.raw)
	}

	p := s.signedInAs(t, tn.ownerID, "owner@speed.test")
	p.open("/app/leads")
	p.do(chromedp.Click(`nav a[href="/app/reports/speed-to-lead"]`), chromedp.WaitVisible("#speed-sources"))
	if h := p.text("h1"); h != "Speed to lead" {
		t.Fatalf("the page's heading is %q", h)
	}
	row := func(table, name string) []string {
		t.Helper()
		cells, err := chromedp.Run(p.ctx, chromedp.Evaluate[[]string](fmt.Sprintf(
			`[...[...document.querySelectorAll("#%s tbody tr")].find(tr => tr.cells[0].textContent === %q)?.cells ?? []].map(c => c.textContent)`, table, name)))
		if err != nil {
			t.Fatalf("reading %s's line %s: %v", table, name, err)
		}
		return cells
	}
	// Leads, assigned, median/p90 to assignment, worked, median/p90 to worked, breaches, escalations.
	if q := row("speed-sources", "everquote"); len(q) != 10 || q[1] != "2" || q[2] != "1" || q[5] != "1" || q[3] == "–" || q[6] == "–" || q[8] != "0" {
		t.Errorf("the queue source's line: %q", q)
	}
	if d := row("speed-sources", "direct"); len(d) != 10 || d[1] != "1" || d[2] != "1" || d[5] != "0" || d[6] != "–" {
		t.Errorf("the direct source's line: %q", d)
	}
	if r := row("speed-users", "Rita Rapid"); len(r) != 10 || r[1] != "1" || r[2] != "1" || r[5] != "1" {
		t.Errorf("the rep's line: %q", r)
	}
	if o := row("speed-users", "ConsoleSpeed Owner"); len(o) != 10 || o[1] != "1" || o[5] != "0" {
		t.Errorf("the owner's line: %q", o)
	}
	// An SVG title is not rendered text: read its content.
	title, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](`document.querySelector("#source-chart-title").textContent`))
	if err != nil {
		t.Fatal(err)
	}
	if bars, err := chromedp.Run(p.ctx, chromedp.Evaluate[int](`document.querySelectorAll("#source-chart rect").length`)); err != nil || bars != 8 || !strings.Contains(title, "per source") {
		t.Errorf("the source chart: %d bars (%v), title %q; want 4 bars for each of 2 sources", bars, err, title)
	}
	p.accessible()
	p.shot("speed-to-lead")
}
