package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
)

// The source page sets the return rules: the window and the reasons (one a
// line) are saved, shown as typed, and a refusal is shown next to its field
// (a reason by its words, not the API's index) with nothing saved. Saving
// the routing rules keeps them.
func TestSourcePageSetsTheReturnRules(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	o, owner := h.org(t, "Returns Agency")
	h.putSource(t, o.ID, "everquote", domain.SourceConfig{Name: "EverQuote", Routing: domain.Routing{Mode: domain.RouteOwner}})
	b := h.signedIn(t, owner)
	path := "/app/sources/everquote"
	before := h.sourceRow(t, o.ID, "everquote")
	p := b.post(path, sourceFormValues(b.csrf(path), "return_window", "7d", "return_reasons", "Duplicate\n\nWrong number\r\nduplicate "))
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("refused rules: %d\n%s", p.status, p.body)
	}
	if got := errNextTo(p.body, "f-window"); !strings.Contains(got, "a Go duration such as 72h") {
		t.Errorf("next to the window: %q", got)
	}
	if got := errNextTo(p.body, "f-reasons"); !strings.Contains(got, "“duplicate”: a repeat of an earlier reason") {
		t.Errorf("next to the reasons: %q", got)
	}
	if !strings.Contains(p.body, `value="7d"`) || !strings.Contains(p.body, "Wrong number\r\nduplicate </textarea>") && !strings.Contains(p.body, "Wrong number\nduplicate </textarea>") {
		t.Errorf("the refused form lost what was typed:\n%s", p.body)
	}
	if after := h.sourceRow(t, o.ID, "everquote"); after != before {
		t.Fatal("a refused form changed the source")
	}

	p = b.post(path, sourceFormValues(b.csrf(path), "return_window", " 72h ", "return_reasons", "Duplicate\r\n\r\n Wrong number \r\nOut of area"))
	if p.status != http.StatusSeeOther {
		t.Fatalf("saving the rules: %d\n%s", p.status, p.body)
	}
	src, err := h.store.GetSourceBySlug(context.Background(), o.ID, "everquote")
	if err != nil || src.ReturnWindow == nil || *src.ReturnWindow != "72h0m0s" || strings.Join(src.ReturnReasons, "|") != "Duplicate|Wrong number|Out of area" {
		t.Fatalf("saved: %v %q %v", src.ReturnWindow, src.ReturnReasons, err)
	}
	page := b.get(path)
	if !strings.Contains(page.body, `id="f-window" name="return_window" value="72h"`) ||
		!strings.Contains(page.body, ">Duplicate\nWrong number\nOut of area</textarea>") {
		t.Errorf("the page does not show the saved rules:\n%s", page.body)
	}

	// The routing rules editor saves the whole source: the return rules stay.
	p = b.post(path+"/rules", rulesValues(b.csrf(path), "save"))
	if p.status != http.StatusSeeOther {
		t.Fatalf("saving the routing rules: %d\n%s", p.status, p.body)
	}
	src, _ = h.store.GetSourceBySlug(context.Background(), o.ID, "everquote")
	if src.ReturnWindow == nil || len(src.ReturnReasons) != 3 {
		t.Fatalf("saving the routing rules lost the return rules: %v %q", src.ReturnWindow, src.ReturnReasons)
	}
}

// The lead page's Return form offers the source's reasons as a list and
// says until when the source takes the lead back; a reason not on the list
// (a hand-made post) and a lead past the window are refused in the API's
// words and change nothing; a reason from the list returns the lead.
func TestLeadPageReturnsByTheSourcesRules(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	o, owner := h.org(t, "Return Rules Agency")
	src, _ := h.putSource(t, o.ID, "web", domain.SourceConfig{Name: "Web", Routing: domain.Routing{Mode: domain.RouteOwner},
		ReturnWindow: "72h", ReturnReasons: []string{"Duplicate", "Wrong number"}})
	fresh := h.lead(t, src, "Fresh")
	ctx := context.Background()
	in, err := h.store.InsertLead(ctx, store.NewLead{SourceID: src.ID, OrgID: o.ID, Slug: "web", WorkflowID: "wf-stale",
		ReceivedAt: time.Now().Add(-73 * time.Hour), In: domain.LeadInput{ExternalID: "stale", FirstName: "Stale", Email: "stale@lead.test"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.store.RouteLead(ctx, store.RouteRequest{LeadID: in.LeadID}); err != nil {
		t.Fatal(err)
	}
	stale := in.LeadID

	b := h.signedIn(t, owner)
	path := "/app/leads/" + fresh
	page := b.get(path)
	for _, want := range []string{`<select id="return-reason" name="reason" required`, "<option>Duplicate</option>",
		"<option>Wrong number</option>", `id="return-window">The source takes returns until`} {
		if !strings.Contains(page.body, want) {
			t.Errorf("the lead page lacks %q", want)
		}
	}
	before := h.getLead(t, fresh)
	p := b.post(path+"/return", url.Values{"csrf": {b.csrf(path)}, "reason": {"Bad lead"}})
	if p.status != http.StatusUnprocessableEntity ||
		!strings.Contains(p.body, `id="return-reason-err">not one of this source&#39;s return reasons: Duplicate; Wrong number</p>`) {
		t.Errorf("a reason off the list: %d\n%s", p.status, p.body)
	}
	sameLead(t, "a reason off the list", before, h.getLead(t, fresh))

	spath := "/app/leads/" + stale
	sbefore := h.getLead(t, stale)
	p = b.post(spath+"/return", url.Values{"csrf": {b.csrf(spath)}, "reason": {"Duplicate"}})
	if p.status != http.StatusConflict || !strings.Contains(p.body, "return window of 72h0m0s passed") {
		t.Errorf("a lead past the window: %d\n%s", p.status, p.body)
	}
	sameLead(t, "a return past the window", sbefore, h.getLead(t, stale))

	p = b.post(path+"/return", url.Values{"csrf": {b.csrf(path)}, "reason": {"Wrong number"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("a return by the rules: %d\n%s", p.status, p.body)
	}
	if l := h.getLead(t, fresh); l.Status != domain.StatusReturned {
		t.Fatalf("not returned: %s", l.Status)
	}
}
