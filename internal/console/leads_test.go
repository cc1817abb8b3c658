package console

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
)

// leads records n routed leads of org through source slug (created if
// new), named first+i, and returns their ids, newest last.
func (h *harness) leads(t *testing.T, org, slug, first string, n int) []string {
	t.Helper()
	ctx := context.Background()
	src, _, _, err := h.store.PutSource(ctx, org, slug, domain.SourceConfig{Name: "Source " + slug,
		Routing: domain.Routing{Mode: "owner"}, Priority: "normal"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := 0; i < n; i++ {
		in := domain.LeadInput{ExternalID: fmt.Sprintf("%s-%d-%s", first, i, domain.NewID()[:8]), FirstName: fmt.Sprintf("%s%d", first, i),
			LastName: "Testlead", Email: fmt.Sprintf("%s%d@lead.test", strings.ToLower(first), i)}
		l, err := h.store.InsertLead(ctx, store.NewLead{SourceID: src.ID, OrgID: org, Slug: slug,
			WorkflowID: "lead/" + in.ExternalID, ReceivedAt: time.Now(), In: in})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.store.RouteLead(ctx, store.RouteRequest{LeadID: l.LeadID}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, l.LeadID)
	}
	return ids
}

func (h *harness) assignee(t *testing.T, lead string) string {
	t.Helper()
	var a *string
	if err := h.pool.QueryRow(context.Background(), `SELECT assigned_to::text FROM leads WHERE id = $1`, lead).Scan(&a); err != nil {
		t.Fatal(err)
	}
	if a == nil {
		return ""
	}
	return *a
}

// selected reports whether the page's <select id=id> has value chosen.
func selected(body, id, value string) bool {
	re := regexp.MustCompile(`(?s)<select id="` + id + `".*?</select>`)
	return strings.Contains(re.FindString(body), `value="`+value+`" selected`)
}

func TestLeadsFilterFormKeepsItsValuesAndFilters(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	o, owner := h.org(t, "Filter Agency")
	h.leads(t, o.ID, "alpha", "Alpha", 2)
	h.leads(t, o.ID, "beta", "Beta", 2)
	b := h.signedIn(t, owner)
	p := b.get("/app/leads?status=new&source=alpha&q=Alpha&owner=team")
	if p.status != 200 {
		t.Fatalf("GET filtered leads: %d\n%s", p.status, p.body)
	}
	if !selected(p.body, "f-status", "new") || !selected(p.body, "f-source", "alpha") || !selected(p.body, "f-owner", "team") {
		t.Errorf("the filter form does not show the filter it was sent (status new, source alpha, owner team)")
	}
	if !strings.Contains(p.body, `name="q" value="Alpha"`) {
		t.Errorf("the search field lost its text")
	}
	if !strings.Contains(p.body, "Alpha0 Testlead") || !strings.Contains(p.body, "Alpha1 Testlead") || strings.Contains(p.body, "Beta0") {
		t.Errorf("source=alpha must list the two alpha leads and no beta lead:\n%s", p.body)
	}
	// The bulk form carries the filter, so "all that match" acts on it.
	for _, f := range []string{`name="status" value="new"`, `name="source" value="alpha"`, `name="q" value="Alpha"`} {
		if !strings.Contains(p.body, `<input type="hidden" `+f+`>`) {
			t.Errorf("the bulk form lacks the filter's hidden field %s", f)
		}
	}
}

func TestARefusedFilterIsShownNextToItsField(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, owner := h.org(t, "Refused Filter Agency")
	p := h.signedIn(t, owner).get("/app/leads?status=bogus&source=Not+A+Slug")
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("GET /app/leads?status=bogus: %d, want 422", p.status)
	}
	for id, words := range map[string]string{"f-status-err": "one of new, onboarding, returned, invalid", "f-source-err": "a source slug"} {
		if !regexp.MustCompile(`id="` + id + `">[^<]*` + regexp.QuoteMeta(words)).MatchString(p.body) {
			t.Errorf("no refusal %q next to its field (%s):\n%s", words, id, p.body)
		}
	}
	if !selected(p.body, "f-status", "bogus") {
		t.Errorf("the refused value is not shown in its field, for the person to change")
	}
}

func TestBulkButtonsFollowTheRole(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	o, owner := h.org(t, "Buttons Agency")
	sub, _ := h.org(t, "Buttons Sub")
	if err := h.store.LinkOrgs(context.Background(), o.ID, sub.ID); err != nil {
		t.Fatal(err)
	}
	people := map[string]store.User{"owner": owner}
	for _, r := range []domain.Role{domain.RoleAdmin, domain.RoleManager, domain.RoleProfessional, domain.RoleStaff} {
		people[string(r)] = h.user(t, o.ID, r, "The "+string(r))
	}
	// What the API lets each role do (docs/decisions.md, transfers and returns).
	want := map[string][]string{
		"owner":        {"assign", "transfer", "return", "invalid"},
		"admin":        {"assign", "transfer", "return", "invalid"},
		"manager":      {"assign", "transfer", "handover", "return", "invalid"},
		"professional": {"handover", "invalid"},
		"staff":        {"invalid"},
	}
	for role, u := range people {
		p := h.signedIn(t, u).get("/app/leads")
		for _, a := range []string{"assign", "transfer", "handover", "return", "invalid"} {
			has := strings.Contains(p.body, `name="action" value="`+a+`"`)
			if has != contains(want[role], a) {
				t.Errorf("%s sees the %q button: %v, want %v", role, a, has, !has)
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestBulkActionsOnAnotherOrgsLeadsAreNotFound(t *testing.T) {
	h := newHarness(t)
	o, owner := h.org(t, "Bulk Mine Agency")
	other := h.otherOrg(t)
	rep := h.user(t, o.ID, domain.RoleStaff, "Rita Rep")
	b := h.signedIn(t, owner)
	token := b.csrf("/app/leads")
	before := rowCounts(t, h.pool)
	p := b.post("/app/leads/bulk", url.Values{"csrf": {token}, "action": {"invalid"}, "invalid_reason": {"spam"}, "lead_id": {other.lead}})
	if p.status != http.StatusNotFound || !strings.Contains(p.body, "0 marked invalid, 1 refused") ||
		!strings.Contains(p.body, "lead "+other.lead+": lead not found") || strings.Contains(p.body, other.secret) {
		t.Fatalf("marking another org's lead invalid: %d, want 404 naming it not found\n%s", p.status, p.body)
	}
	p = b.post("/app/leads/bulk", url.Values{"csrf": {token}, "action": {"assign"}, "assign_to": {rep.ID}, "lead_id": {other.lead}})
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "lead "+other.lead+": no such lead in this org") {
		t.Fatalf("assigning another org's lead: %d, want 422 naming it\n%s", p.status, p.body)
	}
	assertSameCounts(t, "bulk actions on another org's lead", before, rowCounts(t, h.pool))
	var status string
	if err := h.pool.QueryRow(context.Background(), `SELECT status FROM leads WHERE id = $1`, other.lead).Scan(&status); err != nil || status != "new" {
		t.Fatalf("the other org's lead is %q (%v), want new", status, err)
	}
}

func TestBulkInvalidSaysPerLeadWhatWasRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	o, owner := h.org(t, "Per Lead Agency")
	ids := h.leads(t, o.ID, "alpha", "Pat", 3)
	b := h.signedIn(t, owner)
	token := b.csrf("/app/leads")
	// The reason is the form's: refused once, next to its field, nothing done.
	p := b.post("/app/leads/bulk", url.Values{"csrf": {token}, "action": {"invalid"}, "invalid_reason": {"  "}, "lead_id": ids})
	if p.status != http.StatusUnprocessableEntity || !regexp.MustCompile(`id="f-invalid_reason-err">required`).MatchString(p.body) {
		t.Fatalf("an empty reason: %d, want 422 with the API's words next to the reason\n%s", p.status, p.body)
	}
	for _, id := range ids {
		if !strings.Contains(p.body, `value="`+id+`" checked`) {
			t.Errorf("the refused form lost the ticked lead %s", id)
		}
	}
	// One already invalid: the other two are marked, that one is named.
	if p := b.post("/app/leads/bulk", url.Values{"csrf": {token}, "action": {"invalid"}, "invalid_reason": {"spam"}, "lead_id": {ids[0]}}); p.status != http.StatusSeeOther {
		t.Fatalf("marking one invalid: %d\n%s", p.status, p.body)
	}
	p = b.post("/app/leads/bulk", url.Values{"csrf": {token}, "action": {"invalid"}, "invalid_reason": {"spam"}, "lead_id": ids})
	if p.status != 200 || !strings.Contains(p.body, "2 marked invalid, 1 refused:") || !strings.Contains(p.body, "<li>Pat0 Testlead: ") {
		t.Fatalf("two of three marked: %d, want the count and the refused lead by name\n%s", p.status, p.body)
	}
	var n int
	if err := h.pool.QueryRow(context.Background(), `SELECT count(*) FROM leads WHERE id = ANY($1) AND status = 'invalid'`, ids).Scan(&n); err != nil || n != 3 {
		t.Fatalf("%d of 3 leads invalid (%v)", n, err)
	}
}

func TestBulkAssignAllThatMatchTheFilter(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	o, owner := h.org(t, "Select All Agency")
	rep := h.user(t, o.ID, domain.RoleStaff, "Rita Rep")
	alpha := h.leads(t, o.ID, "alpha", "Alpha", 57) // more than one page of 50
	beta := h.leads(t, o.ID, "beta", "Beta", 3)
	b := h.signedIn(t, owner)
	page := b.get("/app/leads?source=alpha")
	if !strings.Contains(page.body, "Next page") {
		t.Fatalf("57 leads should take two pages")
	}
	form := url.Values{"csrf": {b.csrf("/app/leads")}, "action": {"assign"}, "assign_to": {rep.ID}, "scope": {"filter"}, "source": {"alpha"},
		"lead_id": {beta[0]}} // a ticked box does not count when the whole filter is chosen
	p := b.post("/app/leads/bulk", form)
	if p.status != http.StatusSeeOther {
		t.Fatalf("assign all that match: %d\n%s", p.status, p.body)
	}
	loc := p.header.Get("Location")
	if loc != "/app/leads?done=bulk-assigned&n=57&source=alpha" {
		t.Fatalf("redirect to %q", loc)
	}
	for _, id := range alpha {
		if h.assignee(t, id) != rep.ID {
			t.Fatalf("alpha lead %s not assigned to the rep", id)
		}
	}
	for _, id := range beta {
		if h.assignee(t, id) == rep.ID {
			t.Fatalf("beta lead %s, outside the filter, was assigned", id)
		}
	}
	if p := b.get(loc); !strings.Contains(p.body, "57 leads assigned.") || !strings.Contains(p.body, "Rita Rep") {
		t.Fatalf("the page after does not say how many were assigned, or to whom each is:\n%s", p.body)
	}
	// A filter that matches nothing does nothing, and says so.
	form.Set("source", "nosuch")
	if p := b.post("/app/leads/bulk", form); p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "No lead matches the filter") {
		t.Fatalf("an empty filter: %d\n%s", p.status, p.body)
	}
}

func TestSelectAllRefusesMoreThanItsLimit(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	o, owner := h.org(t, "Too Many Agency")
	h.leads(t, o.ID, "alpha", "Alpha", 1)
	ctx := context.Background()
	// maxSelectAll+1 leads, written in one statement (routing is not what this checks).
	if _, err := h.pool.Exec(ctx, `INSERT INTO leads (id, org_id, intake_org_id, source_id, source_slug, external_id, workflow_id, received_at)
		SELECT gen_random_uuid(), l.org_id, l.org_id, l.source_id, l.source_slug, 'bulk-' || g, 'wf-' || g, now()
		FROM leads l, generate_series(1, $2) g WHERE l.org_id = $1`, o.ID, maxSelectAll); err != nil {
		t.Fatal(err)
	}
	b := h.signedIn(t, owner)
	if !strings.Contains(b.get("/app/leads").body, "at most 10,000") {
		t.Errorf("the page does not say how many leads 'all that match' takes")
	}
	p := b.post("/app/leads/bulk", url.Values{"csrf": {b.csrf("/app/leads")}, "action": {"invalid"}, "invalid_reason": {"spam"}, "scope": {"filter"}})
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "More than 10,000 leads match the filter") {
		t.Fatalf("10,001 matching leads: %d, want 422 in words\n%s", p.status, p.body)
	}
	// Lead-by-lead actions take fewer: each lead is one request at the API's pace.
	var ids []string
	if err := h.pool.QueryRow(ctx, `SELECT array_agg(id::text) FROM (SELECT id FROM leads WHERE org_id = $1 LIMIT 1001) l`, o.ID).Scan(&ids); err != nil {
		t.Fatal(err)
	}
	p = b.post("/app/leads/bulk", url.Values{"csrf": {b.csrf("/app/leads")}, "action": {"invalid"}, "invalid_reason": {"spam"}, "lead_id": ids})
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "1001 leads chosen: returning or marking invalid takes at most 1,000") {
		t.Fatalf("1,001 leads marked invalid: %d, want 422 in words\n%s", p.status, p.body)
	}
	var n int
	if err := h.pool.QueryRow(ctx, `SELECT count(*) FROM leads WHERE org_id = $1 AND status <> 'new'`, o.ID).Scan(&n); err != nil || n != 0 {
		t.Fatalf("a refused select-all changed %d leads (%v)", n, err)
	}
}

func TestBulkTransferStartsOnceAndShowsItsProgress(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	m, owner := h.org(t, "Progress Master")
	sub, subOwner := h.org(t, "Progress Sub")
	if err := h.store.LinkOrgs(ctx, m.ID, sub.ID); err != nil {
		t.Fatal(err)
	}
	ids := h.leads(t, m.ID, "alpha", "Moe", 4)
	b := h.signedIn(t, owner)
	page := b.get("/app/leads")
	key := regexp.MustCompile(`name="key" value="([^"]+)"`).FindStringSubmatch(page.body)
	if key == nil || !strings.Contains(page.body, `<option value="`+sub.ID+`">Progress Sub</option>`) {
		t.Fatalf("the page offers no key or not the sub-agency:\n%s", page.body)
	}
	form := url.Values{"csrf": {b.csrf("/app/leads")}, "key": {key[1]}, "action": {"transfer"}, "transfer_to": {sub.ID},
		"mode": {"staff_evenly"}, "all_page": {"1"}, "page_id": ids}
	first := b.post("/app/leads/bulk", form)
	second := b.post("/app/leads/bulk", form) // a double submit
	loc := first.header.Get("Location")
	if first.status != http.StatusSeeOther || !strings.HasPrefix(loc, "/app/transfers/") || second.header.Get("Location") != loc {
		t.Fatalf("transfer twice with one key: %d to %q, then %q; want one transfer", first.status, loc, second.header.Get("Location"))
	}
	var n int
	if err := h.pool.QueryRow(ctx, `SELECT count(*) FROM transfers WHERE org_id = $1`, m.ID).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d transfers recorded (%v), want 1", n, err)
	}
	p := b.get(loc)
	if p.status != 200 || !strings.Contains(p.body, `<meta http-equiv="refresh" content="2">`) || !strings.Contains(p.body, `<progress id="progress" max="4" value="0"`) {
		t.Fatalf("a running transfer's page: %d, want a refreshing page at 0 of 4\n%s", p.status, p.body)
	}
	id := strings.TrimPrefix(loc, "/app/transfers/")
	if _, err := h.pool.Exec(ctx, `UPDATE transfer_items SET status = CASE WHEN lead_id = $2 THEN 'failed' ELSE 'moved' END,
		error = CASE WHEN lead_id = $2 THEN 'agent-owned: the owning user gives it back first' END WHERE transfer_id = $1`, id, ids[1]); err != nil {
		t.Fatal(err)
	}
	if _, err := h.pool.Exec(ctx, `UPDATE transfers SET status = 'completed', completed_at = now() WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	p = b.get(loc)
	if strings.Contains(p.body, `http-equiv="refresh"`) || !strings.Contains(p.body, `<dd id="moved">3</dd>`) || !strings.Contains(p.body, `<dd id="failed">1</dd>`) ||
		!strings.Contains(p.body, "<li>Moe1 Testlead: agent-owned: the owning user gives it back first</li>") {
		t.Fatalf("a completed transfer's page: want no refresh, 3 moved, 1 failed by name\n%s", p.body)
	}
	// The receiving org sees the counts, not the sender's failures.
	p = h.signedIn(t, subOwner).get(loc)
	if p.status != 200 || !strings.Contains(p.body, `<dd id="moved">3</dd>`) || strings.Contains(p.body, "Moe1") {
		t.Fatalf("the receiving org's page: %d, want the counts without the sender's failures\n%s", p.status, p.body)
	}
}

func TestARefusalNamingLeadsByIndexNamesThemByName(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	m, _ := h.org(t, "Handover Master")
	sub, _ := h.org(t, "Handover Sub")
	if err := h.store.LinkOrgs(ctx, m.ID, sub.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := h.pool.Exec(ctx, `UPDATE orgs SET handover_enabled = true WHERE id = $1`, m.ID); err != nil {
		t.Fatal(err)
	}
	pro := h.user(t, sub.ID, domain.RoleProfessional, "Pia Pro")
	ids := h.leads(t, sub.ID, "alpha", "Colleague", 2) // routed to the sub's owner, not to Pia
	b := h.signedIn(t, pro)
	page := b.get("/app/leads")
	if !strings.Contains(page.body, `<option value="`+m.ID+`">Handover Master (master)</option>`) {
		t.Fatalf("the professional is not offered the master's pipeline:\n%s", page.body)
	}
	p := b.post("/app/leads/bulk", url.Values{"csrf": {b.csrf("/app/leads")}, "key": {domain.NewID()}, "action": {"handover"},
		"handover_to": {m.ID}, "lead_id": ids})
	if p.status != http.StatusForbidden || !strings.Contains(p.body, "Nothing was moved: a professional hands over only the leads assigned to them.") ||
		!strings.Contains(p.body, "<li>Colleague0 Testlead: not assigned to you</li>") || !strings.Contains(p.body, "<li>Colleague1 Testlead: not assigned to you</li>") {
		t.Fatalf("a professional handing over colleagues' leads: %d, want 403 naming each lead\n%s", p.status, p.body)
	}
	var n int
	if err := h.pool.QueryRow(ctx, `SELECT count(*) FROM transfers WHERE org_id = $1`, sub.ID).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d transfers recorded (%v), want none", n, err)
	}
}
