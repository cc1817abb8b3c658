package console

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
)

// The lead sources pages run on the harness: saving a source, its key and
// the preview need no Temporal (PUT …/sources and the key routes only write
// PostgreSQL).

// sourceForm is a filled-in source form as a browser posts it.
func sourceFormValues(csrf string, kv ...string) url.Values {
	f := url.Values{"csrf": {csrf}, "name": {"EverQuote"}, "mode": {"owner"}, "priority": {"normal"}}
	for i := 0; i+1 < len(kv); i += 2 {
		f.Set(kv[i], kv[i+1])
	}
	return f
}

// putSource saves a source of org straight through the store, as the API would.
func (h *harness) putSource(t *testing.T, org, slug string, cfg domain.SourceConfig) (store.Source, string) {
	t.Helper()
	delay, err := cfg.Validate()
	if err != nil {
		t.Fatal(err)
	}
	src, _, key, err := h.store.PutSource(context.Background(), org, slug, cfg, delay)
	if err != nil {
		t.Fatal(err)
	}
	return src, key
}

// sourceRow is what the database holds of a source: a change shows here.
func (h *harness) sourceRow(t *testing.T, org, slug string) string {
	t.Helper()
	var row string
	err := h.pool.QueryRow(context.Background(), `SELECT s::text FROM lead_sources s WHERE org_id = $1 AND slug = $2`, org, slug).Scan(&row)
	if err != nil {
		return "none: " + err.Error()
	}
	return row
}

// liveKey says whether key is a vendor key that works (not revoked).
func (h *harness) liveKey(t *testing.T, key string) bool {
	t.Helper()
	return h.count(t, `SELECT count(*) FROM tokens WHERE hash = $1 AND kind = 'vendor' AND revoked_at IS NULL`, domain.HashToken(key)) == 1
}

// errNextTo is the refusal shown after the input (or select, textarea)
// with id and before the next field's label: what a person reads next to it.
func errNextTo(body, id string) string {
	i := strings.Index(body, `id="`+id+`"`)
	if i < 0 {
		return ""
	}
	rest := body[i:]
	if j := strings.Index(rest, "<label"); j >= 0 {
		rest = rest[:j]
	}
	m := regexp.MustCompile(`<p class="field-error" id="` + id + `-err">([^<]*)</p>`).FindStringSubmatch(rest)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

func TestSourceFormShowsEachRefusalNextToItsFieldAndKeepsWhatWasTyped(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	o, owner := h.org(t, "Refusals Agency")
	b := h.signedIn(t, owner)
	p := b.post("/app/sources/new", sourceFormValues(b.csrf("/app/sources/new"),
		"slug", "everquote", "name", " ", "mode", "staff_evenly", "priority", "urgent", "queue_delay", "soon",
		"purchase_notification_emails", "buyer@agency.example\nnot-an-address", "return_notification_emails", "vendor@eq.example"))
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("a refused source: %d, want 422\n%s", p.status, p.body)
	}
	for id, want := range map[string]string{
		"f-name":     "required, at most 200 characters",
		"f-priority": "normal, medium or high",
		"f-delay":    "a duration such as 15m",
		"f-purchase": "not an email address: not-an-address",
	} {
		if got := errNextTo(p.body, id); !strings.Contains(got, want) {
			t.Errorf("next to %s the page says %q, want %q", id, got, want)
		}
	}
	for _, kept := range []string{`value="everquote"`, `value="soon"`, "buyer@agency.example\nnot-an-address</textarea>",
		"vendor@eq.example</textarea>", `value="staff_evenly" checked`} {
		if !strings.Contains(p.body, kept) {
			t.Errorf("the refused form lost what was typed: no %q", kept)
		}
	}
	if n := h.count(t, `SELECT count(*) FROM lead_sources WHERE org_id = $1`, o.ID); n != 0 {
		t.Fatalf("a refused source wrote %d rows", n)
	}
}

func TestReturnTemplateErrorIsShownAtItsLine(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	o, owner := h.org(t, "Template Agency")
	h.putSource(t, o.ID, "everquote", domain.SourceConfig{Name: "EverQuote", Routing: domain.Routing{Mode: domain.RouteOwner}})
	before := h.sourceRow(t, o.ID, "everquote")
	b := h.signedIn(t, owner)
	tmpl := "Subject: Returned {{.ExternalID}}\nHello,\n{{.LeadNmae}} went back <today>.\nBye"
	p := b.post("/app/sources/everquote", sourceFormValues(b.csrf("/app/sources/everquote"), "return_template", tmpl))
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("a template that cannot work: %d, want 422\n%s", p.status, p.body)
	}
	if !strings.Contains(p.body, "<strong>Line 3:</strong> template: return_template:3:2: unknown field .LeadNmae") {
		t.Errorf("the page does not name line 3 and the problem:\n%s", p.body)
	}
	// The template is listed line by line, the failing one marked, all of it escaped.
	if !strings.Contains(p.body, `<li value="3" class="bad"><mark>{{.LeadNmae}} went back &lt;today&gt;.</mark>`) {
		t.Errorf("line 3 is not marked in the numbered template:\n%s", p.body)
	}
	if n := strings.Count(p.body, `class="bad"`); n != 1 {
		t.Errorf("%d lines are marked, want 1", n)
	}
	if !strings.Contains(p.body, "{{.LeadNmae}} went back &lt;today&gt;.\nBye</textarea>") {
		t.Errorf("the textarea lost the template as typed")
	}
	if after := h.sourceRow(t, o.ID, "everquote"); after != before {
		t.Fatalf("a refused template changed the source:\n%s\n%s", before, after)
	}
}

func TestReturnPreviewRendersASampleLeadAndSavesNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	o, owner := h.org(t, "Preview Agency")
	saved := "Saved {{.Reason}}"
	h.putSource(t, o.ID, "everquote", domain.SourceConfig{Name: "EverQuote", Routing: domain.Routing{Mode: domain.RouteOwner}, ReturnTemplate: &saved})
	rowBefore := h.sourceRow(t, o.ID, "everquote")
	counts := func() [2]int {
		return [2]int{h.count(t, `SELECT count(*) FROM lead_sources WHERE org_id = $1`, o.ID),
			h.count(t, `SELECT count(*) FROM tokens t JOIN lead_sources s ON s.id = t.source_id WHERE s.org_id = $1`, o.ID)}
	}
	countsBefore := counts()
	b := h.signedIn(t, owner)
	csrf := b.csrf("/app/sources/everquote")

	tmpl := "Subject: Return of {{.ExternalID}} from {{.OrgName}}\nHi,\n{{.LeadName}} ({{.LeadEmail}}): {{.Reason}}{{if .Comments}} — {{.Comments}}{{end}} <b>"
	p := b.post("/app/sources/everquote/preview", sourceFormValues(csrf, "name", "Quote Co", "return_template", tmpl, "include_comments_on_return", "on"))
	if p.status != 200 {
		t.Fatalf("preview: %d\n%s", p.status, p.body)
	}
	if !strings.Contains(p.body, `<span id="preview-subject">Return of EQ-104233 from Preview Agency</span>`) {
		t.Errorf("the preview's subject is not the template's, for the sample lead:\n%s", p.body)
	}
	if !strings.Contains(p.body, "Hi,\nJane Sample (jane.sample@example.com): Duplicate lead — Already a client") ||
		!strings.Contains(p.body, "&lt;b&gt;\n</pre>") {
		t.Errorf("the preview's body is not the rendered template, escaped:\n%s", p.body)
	}
	// Without "include comments" the comments stay out, as in a real return.
	p = b.post("/app/sources/everquote/preview", sourceFormValues(csrf, "return_template", tmpl))
	if strings.Contains(p.body, "Already a client") {
		t.Errorf("the preview shows comments the source does not include")
	}
	// A blank template previews the built-in email.
	p = b.post("/app/sources/everquote/preview", sourceFormValues(csrf, "return_template", ""))
	if p.status != 200 || !strings.Contains(p.body, "this is the built-in email") || !strings.Contains(p.body, "Lead returned by Preview Agency: Jane Sample") {
		t.Errorf("a blank template's preview is not the built-in email: %d\n%s", p.status, p.body)
	}
	// A template that cannot work shows its problem at its line, as saving would.
	p = b.post("/app/sources/everquote/preview", sourceFormValues(csrf, "return_template", "ok\n{{upper 3}}"))
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "<strong>Line 2:</strong>") || strings.Contains(p.body, "preview-subject") {
		t.Errorf("a failing template's preview: %d, want 422 naming line 2 and no preview\n%s", p.status, p.body)
	}
	// The create form previews too, and creates nothing.
	p = b.post("/app/sources/new/preview", sourceFormValues(b.csrf("/app/sources/new"), "slug", "fresh", "return_template", "{{.SourceSlug}}"))
	if p.status != 200 || !strings.Contains(p.body, "<pre id=\"preview-body\">fresh\n</pre>") {
		t.Errorf("the create form's preview: %d\n%s", p.status, p.body)
	}
	if got := counts(); got != countsBefore {
		t.Fatalf("previews wrote rows: sources and tokens %v, were %v", got, countsBefore)
	}
	if after := h.sourceRow(t, o.ID, "everquote"); after != rowBefore {
		t.Fatalf("a preview changed the source:\n%s\n%s", rowBefore, after)
	}
}

var shownKey = regexp.MustCompile(`<code class="secret" id="vendor-key">([^<]+)</code>`)

func TestVendorKeyIsShownOnceOnThePageThatMadeIt(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	logs, seen := observer.New(zap.DebugLevel)
	h.c.Log = zap.New(logs)
	o, owner := h.org(t, "Key Agency")
	b := h.signedIn(t, owner)
	p := b.post("/app/sources/new", sourceFormValues(b.csrf("/app/sources/new"), "slug", "everquote", "mode", "staff_evenly",
		"priority", "high", "return_notification_emails", "vendor@eq.example"))
	m := shownKey.FindStringSubmatch(p.body)
	if p.status != 200 || m == nil || !strings.Contains(p.body, "Copy it now: it is not shown again.") {
		t.Fatalf("creating a source: %d, want the page with its key and the warning\n%s", p.status, p.body)
	}
	first := m[1]
	if loc := p.header.Get("Location"); loc != "" {
		t.Errorf("the create answer redirects (%q): the key page must be the answer itself", loc)
	}
	if !h.liveKey(t, first) {
		t.Fatalf("the key shown is not the source's working vendor key")
	}
	src, err := h.store.GetSourceBySlug(context.Background(), o.ID, "everquote")
	if err != nil || src.Routing.Mode != domain.RouteStaffEvenly || src.Priority != "high" || len(src.ReturnNotificationEmails) != 1 {
		t.Fatalf("the saved source: %+v, %v", src, err)
	}
	for _, path := range []string{"/app/sources", "/app/sources/everquote"} {
		if p := b.get(path); p.status != 200 || strings.Contains(p.body, first) {
			t.Errorf("GET %s (%d) shows the key again", path, p.status)
		}
	}

	// Rotating shows the new key once; the old one stops working.
	p = b.post("/app/sources/everquote/key", url.Values{"csrf": {b.csrf("/app/sources/everquote")}})
	m = shownKey.FindStringSubmatch(p.body)
	if p.status != 200 || m == nil || m[1] == first || !strings.Contains(p.body, "stopped working") {
		t.Fatalf("rotating: %d\n%s", p.status, p.body)
	}
	second := m[1]
	if h.liveKey(t, first) || !h.liveKey(t, second) {
		t.Fatalf("after rotating, the old key works %v and the new one %v", h.liveKey(t, first), h.liveKey(t, second))
	}
	if p := b.get("/app/sources/everquote"); strings.Contains(p.body, second) {
		t.Errorf("reloading the source page shows the new key again")
	}

	// Revoking asks first; confirmed, it revokes and redirects without the key.
	csrf := b.csrf("/app/sources/everquote")
	p = b.post("/app/sources/everquote/key/revoke", url.Values{"csrf": {csrf}})
	if p.status != 200 || !strings.Contains(p.body, `name="confirm" value="yes"`) || !h.liveKey(t, second) {
		t.Fatalf("revoke without confirming: %d (key live %v), want the question and the key still working", p.status, h.liveKey(t, second))
	}
	p = b.post("/app/sources/everquote/key/revoke", url.Values{"csrf": {csrf}, "confirm": {"yes"}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/app/sources/everquote?done=key-revoked" || h.liveKey(t, second) {
		t.Fatalf("revoke confirmed: %d to %q, key live %v", p.status, p.header.Get("Location"), h.liveKey(t, second))
	}
	if p := b.get(p.header.Get("Location")); !strings.Contains(p.body, "The vendor key is revoked") {
		t.Errorf("the source page does not say the key is revoked")
	}
	for _, e := range seen.All() {
		line := e.Message
		for _, f := range e.Context {
			line += " " + f.String + " " + f.Key
		}
		if strings.Contains(line, first) || strings.Contains(line, second) {
			t.Errorf("a log line holds a vendor key: %s", line)
		}
	}
	if seen.Len() == 0 {
		t.Fatalf("no page was logged: the log check saw nothing")
	}
}

func TestStaffAndManagersCannotChangeASource(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	o, _ := h.org(t, "Roles Agency")
	_, key := h.putSource(t, o.ID, "everquote", domain.SourceConfig{Name: "EverQuote", Routing: domain.Routing{Mode: domain.RouteOwner}})
	before := h.sourceRow(t, o.ID, "everquote")
	for _, role := range []domain.Role{domain.RoleManager, domain.RoleStaff} {
		b := h.signedIn(t, h.user(t, o.ID, role, "Some "+string(role)))
		list := b.get("/app/sources")
		if list.status != 200 || !strings.Contains(list.body, "EverQuote") || strings.Contains(list.body, "/app/sources/new") {
			t.Errorf("%s: the sources list %d, want it read-only with the source\n%s", role, list.status, list.body)
		}
		page := b.get("/app/sources/everquote")
		if page.status != 200 || strings.Contains(page.body, `action="/app/sources/everquote"`) || !strings.Contains(page.body, "Only the org's owner or an admin") {
			t.Errorf("%s: the source page %d shows its forms\n%s", role, page.status, page.body)
		}
		csrf := b.csrf("/app/sources")
		for path, form := range map[string]url.Values{
			"/app/sources/everquote":            sourceFormValues(csrf, "name", "Taken over"),
			"/app/sources/new":                  sourceFormValues(csrf, "slug", "mine"),
			"/app/sources/everquote/key":        {"csrf": {csrf}},
			"/app/sources/everquote/key/revoke": {"csrf": {csrf}, "confirm": {"yes"}},
		} {
			p := b.post(path, form)
			if p.status != http.StatusForbidden || !strings.Contains(p.body, "only the org&#39;s owner or an admin may do this") {
				t.Errorf("%s POST %s: %d, want 403 with the API's refusal\n%s", role, path, p.status, p.body)
			}
		}
	}
	if after := h.sourceRow(t, o.ID, "everquote"); after != before {
		t.Errorf("a refused change was written:\n%s\n%s", before, after)
	}
	if !h.liveKey(t, key) || h.count(t, `SELECT count(*) FROM lead_sources WHERE org_id = $1`, o.ID) != 1 {
		t.Errorf("a refused key change or create was written")
	}
}

func TestAnotherOrgsSourceIsNotFound(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	a, _ := h.org(t, "Source Holder")
	_, key := h.putSource(t, a.ID, "everquote", domain.SourceConfig{Name: "EverQuote", Routing: domain.Routing{Mode: domain.RouteOwner}})
	before := h.sourceRow(t, a.ID, "everquote")
	b, other := h.org(t, "Curious Agency")
	br := h.signedIn(t, other)
	if p := br.get("/app/sources/everquote"); p.status != http.StatusNotFound {
		t.Errorf("GET another org's source: %d, want 404", p.status)
	}
	if p := br.get("/app/sources"); strings.Contains(p.body, "EverQuote") {
		t.Errorf("the sources list shows another org's source")
	}
	csrf := br.csrf("/app/sources")
	for path, form := range map[string]url.Values{
		"/app/sources/everquote":            sourceFormValues(csrf, "name", "Mine now"),
		"/app/sources/everquote/preview":    sourceFormValues(csrf),
		"/app/sources/everquote/key":        {"csrf": {csrf}},
		"/app/sources/everquote/key/revoke": {"csrf": {csrf}, "confirm": {"yes"}},
	} {
		if p := br.post(path, form); p.status != http.StatusNotFound {
			t.Errorf("POST %s of another org's source: %d, want 404", path, p.status)
		}
	}
	if after := h.sourceRow(t, a.ID, "everquote"); after != before || !h.liveKey(t, key) {
		t.Errorf("another org changed the source or its key")
	}
	if n := h.count(t, `SELECT count(*) FROM lead_sources WHERE org_id = $1`, b.ID); n != 0 {
		t.Errorf("posting another org's slug made %d sources in the poster's org", n)
	}
}

// A source's page shows what is saved, and saving it again changes what
// was changed and keeps the rest; creating over an existing slug is refused.
func TestSourceEditSavesAndCreateDoesNotOverwrite(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	o, owner := h.org(t, "Edit Agency")
	loc := "queue"
	h.putSource(t, o.ID, "everquote", domain.SourceConfig{Name: "EverQuote", Routing: domain.Routing{Mode: domain.RouteQueue, QueueDelay: "15m"},
		ForceLocation: &loc, Priority: "medium", PurchaseNotificationEmails: []string{"a@agency.example", "b@agency.example"}})
	b := h.signedIn(t, owner)
	page := b.get("/app/sources/everquote")
	for _, want := range []string{`value="EverQuote"`, `value="15m0s"`, `value="queue" checked`, `<option value="queue" selected>`,
		`<option value="medium" selected>`, "a@agency.example\nb@agency.example</textarea>"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("the source page lacks %q", want)
		}
	}
	p := b.post("/app/sources/everquote", sourceFormValues(b.csrf("/app/sources/everquote"), "name", "EverQuote Auto", "mode", "pending",
		"priority", "high", "purchase_notification_emails", "c@agency.example", "include_comments_on_return", "on",
		"return_template", "Subject: {{.Reason}}\r\n{{.LeadName}}")) // as a browser sends a textarea
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/app/sources/everquote?done=source-saved" {
		t.Fatalf("saving: %d to %q\n%s", p.status, p.header.Get("Location"), p.body)
	}
	src, _ := h.store.GetSourceBySlug(context.Background(), o.ID, "everquote")
	if src.Name != "EverQuote Auto" || src.Routing.Mode != domain.RoutePending || src.Priority != "high" || !src.IncludeCommentsOnReturn ||
		src.ReturnTemplate == nil || *src.ReturnTemplate != "Subject: {{.Reason}}\n{{.LeadName}}" || strings.Join(src.PurchaseNotificationEmails, ",") != "c@agency.example" {
		t.Fatalf("saved: %+v", src)
	}
	before := h.sourceRow(t, o.ID, "everquote")
	time.Sleep(10 * time.Millisecond)
	p = b.post("/app/sources/new", sourceFormValues(b.csrf("/app/sources/new"), "slug", "everquote", "name", "Overwrite"))
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(errNextTo(p.body, "f-slug"), "a source with this slug exists") {
		t.Fatalf("creating over an existing slug: %d, slug says %q", p.status, errNextTo(p.body, "f-slug"))
	}
	p = b.post("/app/sources/new", sourceFormValues(b.csrf("/app/sources/new"), "slug", "Bad Slug!"))
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(errNextTo(p.body, "f-slug"), "lowercase letters") {
		t.Fatalf("a bad slug: %d, slug says %q", p.status, errNextTo(p.body, "f-slug"))
	}
	if after := h.sourceRow(t, o.ID, "everquote"); after != before {
		t.Fatalf("a refused create changed the existing source")
	}
}

// The sub-agencies are ticked from the org's linked ones; they are sent
// with the mode that uses them, so switching the mode away keeps the boxes
// as they were and saves no sub-agency.
func TestSourceRoutesOverTickedSubAgencies(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	o, owner := h.org(t, "Master Agency")
	sub, _ := h.org(t, "North Office")
	if err := h.store.LinkOrgs(context.Background(), o.ID, sub.ID); err != nil {
		t.Fatal(err)
	}
	b := h.signedIn(t, owner)
	page := b.get("/app/sources/new")
	if !strings.Contains(page.body, `name="sub_agencies" value="`+sub.ID+`"> North Office</label>`) {
		t.Fatalf("the form does not offer the linked sub-agency:\n%s", page.body)
	}
	p := b.post("/app/sources/new", sourceFormValues(b.csrf("/app/sources/new"), "slug", "shared", "mode", "sub_agencies_evenly", "sub_agencies", sub.ID))
	if p.status != 200 || shownKey.FindStringSubmatch(p.body) == nil {
		t.Fatalf("creating a source over a sub-agency: %d\n%s", p.status, p.body)
	}
	src, _ := h.store.GetSourceBySlug(context.Background(), o.ID, "shared")
	if src.Routing.Mode != domain.RouteSubAgencies || strings.Join(src.Routing.SubAgencies, ",") != sub.ID {
		t.Fatalf("saved routing %+v", src.Routing)
	}
	if page := b.get("/app/sources/shared"); !strings.Contains(page.body, `value="`+sub.ID+`" checked>`) {
		t.Errorf("the saved sub-agency is not ticked on the source page")
	}
	p = b.post("/app/sources/shared", sourceFormValues(b.csrf("/app/sources/shared"), "mode", "queue", "sub_agencies", sub.ID))
	if p.status != http.StatusSeeOther {
		t.Fatalf("switching to the queue with the box still ticked: %d\n%s", p.status, p.body)
	}
	src, _ = h.store.GetSourceBySlug(context.Background(), o.ID, "shared")
	if src.Routing.Mode != domain.RouteQueue || len(src.Routing.SubAgencies) != 0 {
		t.Fatalf("after switching to the queue: %+v", src.Routing)
	}
	// No sub-agency ticked for the mode that needs one: the API's words, beside the boxes.
	p = b.post("/app/sources/shared", sourceFormValues(b.csrf("/app/sources/shared"), "mode", "sub_agencies_evenly"))
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, `<p class="field-error" id="f-subs-err">list at least one linked sub-agency</p>`) {
		t.Fatalf("sub-agencies mode with none ticked: %d\n%s", p.status, p.body)
	}
}
