package console

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
)

// The rules editor, the route preview and the fairness table of a source's
// page, through the real API.

// rulesValues is the rules editor as a browser posts it: rules given as
// field maps, in order.
func rulesValues(csrf, op string, rules ...map[string]string) url.Values {
	f := url.Values{"csrf": {csrf}, "op": {op}, "when_nobody": {"owner"}, "rules_count": {strconv.Itoa(len(rules))}}
	for i, r := range rules {
		for k, v := range r {
			f.Set("r"+strconv.Itoa(i)+"."+k, v)
		}
	}
	return f
}

// rulesRow is what the database holds of a source's rules.
func (h *harness) rulesRow(t *testing.T, org, slug string) string {
	t.Helper()
	var row string
	if err := h.pool.QueryRow(context.Background(), `SELECT rules::text FROM lead_sources WHERE org_id = $1 AND slug = $2`, org, slug).Scan(&row); err != nil {
		t.Fatal(err)
	}
	return row
}

func TestRulesListButtonsChangeTheFormAndSaveNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	o, owner := h.org(t, "Buttons Agency")
	h.putSource(t, o.ID, "everquote", domain.SourceConfig{Name: "EverQuote", Routing: domain.Routing{Mode: domain.RouteOwner}})
	before := h.sourceRow(t, o.ID, "everquote")
	b := h.signedIn(t, owner)
	csrf := b.csrf("/app/sources/everquote")
	texas := map[string]string{"name": "Texas", "state": "TX", "mode": "staff_evenly"}
	ohio := map[string]string{"name": "Ohio", "state": "OH", "mode": "owner"}

	p := b.post("/app/sources/everquote/rules", rulesValues(csrf, "add", texas))
	if p.status != http.StatusOK || strings.Count(p.body, `class="rule" id="rule-`) != 3 {
		t.Fatalf("add: %d, want the page with two rules and the default\n%s", p.status, p.body)
	}
	if !strings.Contains(p.body, `value="Texas"`) || !strings.Contains(p.body, "not saved until") {
		t.Errorf("add lost the typed rule or does not say the list is unsaved")
	}
	p = b.post("/app/sources/everquote/rules", rulesValues(csrf, "up:1", texas, ohio))
	if i, j := strings.Index(p.body, `value="Ohio"`), strings.Index(p.body, `value="Texas"`); i < 0 || j < 0 || i > j {
		t.Errorf("move up: Ohio is not above Texas")
	}
	p = b.post("/app/sources/everquote/rules", rulesValues(csrf, "remove:0", texas, ohio))
	if strings.Contains(p.body, `value="Texas"`) || !strings.Contains(p.body, `value="Ohio"`) {
		t.Errorf("remove 0: Texas should be gone and Ohio kept")
	}
	if !strings.Contains(p.body, "Default rule (last, cannot be removed)") {
		t.Errorf("the default rule is not shown last")
	}
	if after := h.sourceRow(t, o.ID, "everquote"); after != before {
		t.Fatalf("a list button saved the source:\n%s\n%s", before, after)
	}
}

func TestSavingRulesKeepsTheSourceAndSavingTheSourceKeepsTheRules(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	o, owner := h.org(t, "Keep Agency")
	tmpl := "Subject: Returned {{.ExternalID}}\nBye"
	h.putSource(t, o.ID, "everquote", domain.SourceConfig{Name: "EverQuote", Routing: domain.Routing{Mode: domain.RouteOwner},
		Priority: "high", PurchaseNotificationEmails: []string{"buyer@agency.example"}, ReturnTemplate: &tmpl})
	b := h.signedIn(t, owner)
	csrf := b.csrf("/app/sources/everquote")
	v := rulesValues(csrf, "save", map[string]string{"name": "Texas", "state": "TX, OK", "postal_code": "787*", "from": "09:00", "to": "17:00",
		"days": "mon, tue", "attributes": "product=auto, home", "mode": "staff_evenly"})
	v.Set("when_nobody", "next_rule")
	v.Set("vendor_daily_cap", "40")
	p := b.post("/app/sources/everquote/rules", v)
	if p.status != http.StatusSeeOther {
		t.Fatalf("save rules: %d, want 303\n%s", p.status, p.body)
	}
	row := h.sourceRow(t, o.ID, "everquote")
	for _, want := range []string{"buyer@agency.example", "Returned {{.ExternalID}}", "high", "next_rule", "40"} {
		if !strings.Contains(row, want) {
			t.Errorf("saving the rules lost %q: %s", want, row)
		}
	}
	rules := h.rulesRow(t, o.ID, "everquote")
	for _, want := range []string{`"Texas"`, `"TX"`, `"OK"`, `"787*"`, `"product": ["auto", "home"]`, `"mon"`} {
		if !strings.Contains(rules, want) {
			t.Errorf("the saved rules lack %s: %s", want, rules)
		}
	}
	// The page shows them back, and saving the source's own form keeps them.
	pg := b.get("/app/sources/everquote")
	if !strings.Contains(pg.body, `value="TX, OK"`) || !strings.Contains(pg.body, "product=auto, home</textarea>") {
		t.Errorf("the page does not show the saved rule")
	}
	p = b.post("/app/sources/everquote", sourceFormValues(csrf, "priority", "normal", "return_template", tmpl))
	if p.status != http.StatusSeeOther {
		t.Fatalf("save source: %d\n%s", p.status, p.body)
	}
	if after := h.rulesRow(t, o.ID, "everquote"); after != rules {
		t.Errorf("saving the source form changed the rules:\n%s\n%s", rules, after)
	}
	if row := h.sourceRow(t, o.ID, "everquote"); !strings.Contains(row, "next_rule") || !strings.Contains(row, "40") {
		t.Errorf("saving the source form lost when_nobody or the vendor cap: %s", row)
	}
}

func TestARefusedRuleIsShownNextToItsFieldAndSavesNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	o, owner := h.org(t, "Refused Rules Agency")
	h.putSource(t, o.ID, "everquote", domain.SourceConfig{Name: "EverQuote", Routing: domain.Routing{Mode: domain.RouteOwner}})
	before := h.sourceRow(t, o.ID, "everquote")
	b := h.signedIn(t, owner)
	csrf := b.csrf("/app/sources/everquote")
	p := b.post("/app/sources/everquote/rules", rulesValues(csrf, "save",
		map[string]string{"name": "Fine", "state": "TX", "mode": "staff_evenly"},
		map[string]string{"name": "Late", "state": "OK", "from": "25:00", "to": "17:00", "mode": "group", "group": "nosuch"}))
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("a bad rule: %d, want 422\n%s", p.status, p.body)
	}
	if errNextTo(p.body, "r1-from") == "" {
		t.Errorf("no refusal next to rule 2's from:\n%s", p.body)
	}
	if !strings.Contains(p.body, `value="25:00"`) {
		t.Errorf("the refused form lost what was typed")
	}
	// A group the org does not have is refused next to the rule's group.
	p = b.post("/app/sources/everquote/rules", rulesValues(csrf, "save",
		map[string]string{"name": "Fine", "state": "TX", "mode": "staff_evenly"},
		map[string]string{"name": "Okie", "state": "OK", "mode": "group", "group": "nosuch"}))
	if p.status != http.StatusUnprocessableEntity || errNextTo(p.body, "r1-group") == "" {
		t.Errorf("an unknown group: %d, and no refusal next to rule 2's group\n%s", p.status, p.body)
	}
	if after := h.sourceRow(t, o.ID, "everquote"); after != before {
		t.Fatalf("a refused rule changed the source")
	}
	// Without the page's token nothing is saved either.
	v := rulesValues("", "save", map[string]string{"name": "Fine", "state": "TX", "mode": "staff_evenly"})
	v.Del("csrf")
	if p := b.post("/app/sources/everquote/rules", v); p.status != http.StatusForbidden {
		t.Errorf("rules without the CSRF token: %d, want 403", p.status)
	}
	if p := b.post("/app/sources/everquote/route-preview", url.Values{"p_state": {"TX"}}); p.status != http.StatusForbidden {
		t.Errorf("route preview without the CSRF token: %d, want 403", p.status)
	}
	if after := h.sourceRow(t, o.ID, "everquote"); after != before {
		t.Fatalf("a form without its token changed the source")
	}
}

func TestManagersPreviewAndReadFairnessButCannotEditRules(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	o, owner := h.org(t, "Preview Agency")
	mgr := h.user(t, o.ID, domain.RoleManager, "Mona Manager")
	rep := h.user(t, o.ID, domain.RoleStaff, "Tex Rep")
	h.putSource(t, o.ID, "everquote", domain.SourceConfig{Name: "EverQuote", Routing: domain.Routing{Mode: domain.RouteOwner},
		Rules: []domain.Rule{{Name: "Texas", When: domain.Condition{State: []string{"TX"}}, Routing: domain.Routing{Mode: domain.RouteUser, User: rep.ID}}}})
	b := h.signedIn(t, mgr)
	pg := b.get("/app/sources/everquote")
	if pg.status != http.StatusOK || strings.Contains(pg.body, `id="save-rules"`) {
		t.Fatalf("a manager: %d, and the rules editor must not show", pg.status)
	}
	if !strings.Contains(pg.body, "Texas") || !strings.Contains(pg.body, `id="fairness"`) {
		t.Errorf("a manager does not read the rules or the fairness section")
	}
	p := b.post("/app/sources/everquote/route-preview", url.Values{"csrf": {b.csrf("/app/sources/everquote")},
		"p_state": {"TX"}, "p_email": {"a@b.example"}, "p_at": {time.Now().Format("2006-01-02T15:04")}})
	if p.status != http.StatusOK {
		t.Fatalf("preview: %d\n%s", p.status, p.body)
	}
	if !strings.Contains(p.body, `<span id="result-to">Tex Rep</span>`) || !strings.Contains(p.body, "rule 1 “Texas”") {
		t.Errorf("the preview does not say rule 1 gives the lead to Tex Rep:\n%s", p.body)
	}
	if n := h.count(t, `SELECT count(*) FROM leads WHERE org_id = $1`, o.ID); n != 0 {
		t.Errorf("the preview made %d leads", n)
	}
	// A manager's rules form is refused by the API (only owners and admins).
	before := h.sourceRow(t, o.ID, "everquote")
	p = b.post("/app/sources/everquote/rules", rulesValues(b.csrf("/app/sources/everquote"), "save"))
	if p.status < 400 || p.status >= 500 {
		t.Errorf("a manager saving rules: %d, want a refusal", p.status)
	}
	if after := h.sourceRow(t, o.ID, "everquote"); after != before {
		t.Errorf("a manager's rules form changed the source")
	}
	// Staff read neither.
	if pg := h.signedIn(t, rep).get("/app/sources/everquote"); strings.Contains(pg.body, `id="fairness"`) || strings.Contains(pg.body, `id="try"`) {
		t.Errorf("staff see the preview or fairness")
	}
	_ = owner
}

func TestTheFairnessTableShowsEachMembersShare(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	o, owner := h.org(t, "Fair Agency")
	h.user(t, o.ID, domain.RoleStaff, "Ann Able")
	h.user(t, o.ID, domain.RoleStaff, "Ben Baker")
	src, _ := h.putSource(t, o.ID, "everquote", domain.SourceConfig{Name: "EverQuote", Routing: domain.Routing{Mode: domain.RouteStaffEvenly}})
	ctx := context.Background()
	for i := range 4 {
		in, err := h.store.InsertLead(ctx, store.NewLead{SourceID: src.ID, OrgID: o.ID, Slug: "everquote",
			WorkflowID: "lead/fair-" + strconv.Itoa(i), ReceivedAt: time.Now(), In: domain.LeadInput{ExternalID: "fair-" + strconv.Itoa(i)}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.store.RouteLead(ctx, store.RouteRequest{LeadID: in.LeadID, OrgID: o.ID}); err != nil {
			t.Fatal(err)
		}
	}
	b := h.signedIn(t, owner)
	for _, period := range []string{"today", "7d", "30d"} {
		pg := b.get("/app/sources/everquote?period=" + period)
		if pg.status != http.StatusOK || !strings.Contains(pg.body, `value="`+period+`" selected`) {
			t.Errorf("period %s: %d, or not selected", period, pg.status)
		}
		for _, row := range []string{"<th scope=\"row\">Ann Able</th><td>1</td><td>50.0%</td><td>2.0</td><td>2</td>",
			"<th scope=\"row\">Ben Baker</th><td>1</td><td>50.0%</td><td>2.0</td><td>2</td>"} {
			if !strings.Contains(pg.body, row) {
				t.Errorf("period %s: the table lacks the row %s\n%s", period, row, pg.body)
			}
		}
	}
}
