package console

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
)

// source puts a source with the given routing at org (slug "web").
func (h *harness) source(t *testing.T, org string, routing domain.Routing) store.Source {
	t.Helper()
	cfg := domain.SourceConfig{Name: "Web", Routing: routing}
	delay, err := cfg.Validate()
	if err != nil {
		t.Fatal(err)
	}
	src, _, _, err := h.store.PutSource(context.Background(), org, "web", cfg, delay)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// lead records a lead named first at src and routes it as the lead's run
// would, returning its id.
func (h *harness) lead(t *testing.T, src store.Source, first string) string {
	t.Helper()
	ctx := context.Background()
	ext := domain.NewID()[:12]
	in, err := h.store.InsertLead(ctx, store.NewLead{SourceID: src.ID, OrgID: src.OrgID, Slug: "web", WorkflowID: "wf-" + ext,
		ReceivedAt: time.Now(), In: domain.LeadInput{ExternalID: ext, FirstName: first, LastName: "Lead", Email: ext + "@lead.test"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.store.RouteLead(ctx, store.RouteRequest{LeadID: in.LeadID}); err != nil {
		t.Fatal(err)
	}
	return in.LeadID
}

func (h *harness) getLead(t *testing.T, id string) store.Lead {
	t.Helper()
	l, err := h.store.GetLead(context.Background(), "", id)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// sameLead fails when the lead's owner, assignee, status, location or
// timeline differ between two reads: what "nothing changed" means.
func sameLead(t *testing.T, what string, before, after store.Lead) {
	t.Helper()
	b := fmt.Sprintf("%+v %v %s %v %d", before.Owner, deref(before.AssignedTo), before.Status, deref(before.Location), len(before.Timeline))
	a := fmt.Sprintf("%+v %v %s %v %d", after.Owner, deref(after.AssignedTo), after.Status, deref(after.Location), len(after.Timeline))
	if a != b {
		t.Fatalf("%s changed the lead: %s, was %s", what, a, b)
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// leadForms are the lead page's forms with a body each would send.
var leadForms = map[string]url.Values{
	"assign":             {"user_id": {domain.NewID()}},
	"transfer-ownership": {"to": {"team"}},
	"return":             {"reason": {"duplicate"}},
	"release":            {},
	"worked":             {},
	"invalid":            {"reason": {"wrong number"}},
}

func TestALeadOfAnotherOrgIsNotFoundOnEveryLeadRoute(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	theirs, _ := h.org(t, "Their Agency")
	src := h.source(t, theirs.ID, domain.Routing{Mode: domain.RouteOwner})
	id := h.lead(t, src, "Hidden")
	before := h.getLead(t, id)
	_, owner := h.org(t, "Our Agency")
	b := h.signedIn(t, owner)
	token := b.csrf("/app/leads")
	for _, path := range []string{"/app/leads/" + id, "/app/leads/not-a-lead", "/app/leads/" + domain.NewID()} {
		if p := b.get(path); p.status != http.StatusNotFound || !strings.Contains(p.body, "There is nothing here") || strings.Contains(p.body, "Hidden") {
			t.Fatalf("GET %s as another org's owner: %d, want the console's 404\n%s", path, p.status, p.body)
		}
	}
	for action, form := range leadForms {
		f := url.Values{"csrf": {token}}
		for k, v := range form {
			f[k] = v
		}
		p := b.post("/app/leads/"+id+"/"+action, f)
		if p.status != http.StatusNotFound || !strings.Contains(p.body, "There is nothing here") {
			t.Errorf("POST %s on another org's lead: %d, want the console's 404\n%s", action, p.status, p.body)
		}
	}
	sameLead(t, "another org's posts", before, h.getLead(t, id))
}

func TestTheLeadPageShowsOwnedByAndAssignedToApart(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	o, _ := h.org(t, "Apart Agency")
	mgr := h.user(t, o.ID, domain.RoleManager, "Mona Manager")
	agent := h.user(t, o.ID, domain.RoleProfessional, "Otto Owner")
	rep := h.user(t, o.ID, domain.RoleStaff, "Rita Rep")
	src := h.source(t, o.ID, domain.Routing{Mode: domain.RoutePending})
	id := h.lead(t, src, "Split")

	// Team-owned and assigned by a manager through the page.
	m := h.signedIn(t, mgr)
	p := m.post("/app/leads/"+id+"/assign", url.Values{"csrf": {m.csrf("/app/leads/" + id)}, "user_id": {rep.ID}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/app/leads/"+id+"?done=lead-assigned" {
		t.Fatalf("assign: %d to %q\n%s", p.status, p.header.Get("Location"), p.body)
	}
	p = m.get("/app/leads/" + id + "?done=lead-assigned")
	for _, want := range []string{`<dd id="owned-by">the team (Apart Agency)</dd>`, `<dd id="assigned-to">Rita Rep</dd>`, "The lead is assigned.",
		"The owner decides what happens to the lead"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("after assigning, the lead page lacks %q", want)
		}
	}

	// Owned by one agent, who assigns it on to the rep: two names.
	by := domain.Changer{UserID: mgr.ID, Role: mgr.Role}
	if err := h.store.TransferOwnership(context.Background(), o.ID, by, id, &agent.ID); err != nil {
		t.Fatal(err)
	}
	a := h.signedIn(t, agent)
	p = a.post("/app/leads/"+id+"/assign", url.Values{"csrf": {a.csrf("/app/leads/" + id)}, "user_id": {rep.ID}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("the owning agent assigns: %d\n%s", p.status, p.body)
	}
	p = a.get("/app/leads/" + id)
	for _, want := range []string{`<dd id="owned-by">Otto Owner</dd>`, `<dd id="assigned-to">Rita Rep</dd>`, "Give back to the team"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("an agent-owned lead's page lacks %q:\n%s", want, p.body)
		}
	}
	// The manager no longer decides about it: no assign form for them.
	if p := m.get("/app/leads/" + id); strings.Contains(p.body, `action="/app/leads/`+id+`/assign"`) {
		t.Errorf("the manager is offered to assign an agent-owned lead")
	}

	// The agent gives it back: the team's again.
	p = a.post("/app/leads/"+id+"/transfer-ownership", url.Values{"csrf": {a.csrf("/app/leads/" + id)}, "to": {"team"}})
	if p.status != http.StatusSeeOther || !strings.HasSuffix(p.header.Get("Location"), "done=lead-given-back") {
		t.Fatalf("give back: %d to %q\n%s", p.status, p.header.Get("Location"), p.body)
	}
	if l := h.getLead(t, id); l.Owner.Type != "org" {
		t.Fatalf("after giving it back the lead is owned by %+v", l.Owner)
	}
	// The timeline is all there, in order, with who did what.
	p = m.get("/app/leads/" + id)
	tl := p.body[strings.Index(p.body, `<ol class="timeline">`):]
	if i, j := strings.Index(tl, "Mona Manager"), strings.Index(tl, "Otto Owner"); i < 0 || j < 0 || i > j {
		t.Errorf("the timeline does not name the manager before the agent:\n%s", tl)
	}
}

func TestARefusedLeadActionShowsTheAPIsWordsAndChangesNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	o, _ := h.org(t, "Refusal Agency")
	mgr := h.user(t, o.ID, domain.RoleManager, "Mona Manager")
	rep := h.user(t, o.ID, domain.RoleStaff, "Rita Rep")
	other := h.user(t, o.ID, domain.RoleStaff, "Olga Other")
	src := h.source(t, o.ID, domain.Routing{Mode: domain.RoutePending})
	id := h.lead(t, src, "Refused")
	path := "/app/leads/" + id
	if err := h.store.AssignLead(context.Background(), o.ID, domain.Changer{UserID: mgr.ID, Role: mgr.Role}, id, rep.ID); err != nil {
		t.Fatal(err)
	}
	before := h.getLead(t, id)

	m := h.signedIn(t, mgr)
	// A return without a reason: 422, the reason's rule next to the
	// return form's reason, not next to the invalid form's.
	p := m.post(path+"/return", url.Values{"csrf": {m.csrf(path)}, "reason": {"  "}, "comments": {"kept"}})
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("return without a reason: %d\n%s", p.status, p.body)
	}
	if !strings.Contains(p.body, `<p class="field-error" id="return-reason-err">required: 1 to 500 characters on one line</p>`) ||
		strings.Contains(p.body, `id="invalid-reason-err"`) || !strings.Contains(p.body, ">kept</textarea>") {
		t.Errorf("the refused return is not shown at its field with what was typed:\n%s", p.body)
	}

	// A rep may not assign: 403 in the API's words.
	r := h.signedIn(t, other)
	p = r.post(path+"/assign", url.Values{"csrf": {r.csrf(path)}, "user_id": {other.ID}})
	if p.status != http.StatusForbidden || !strings.Contains(p.body, "only the org&#39;s owner, an admin or a manager may assign a team-owned lead") {
		t.Errorf("a rep assigning: %d\n%s", p.status, p.body)
	}
	// Nor release what is not theirs.
	p = r.post(path+"/release", url.Values{"csrf": {r.csrf(path)}})
	if p.status != http.StatusForbidden || !strings.Contains(p.body, "only the lead&#39;s assignee may release it") {
		t.Errorf("a rep releasing another's lead: %d\n%s", p.status, p.body)
	}
	// An unknown user id: the API's field rule next to the picker.
	p = m.post(path+"/assign", url.Values{"csrf": {m.csrf(path)}, "user_id": {"nobody"}})
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, `id="assign-user-err">required: the id of an active user`) {
		t.Errorf("assigning to no user: %d\n%s", p.status, p.body)
	}
	sameLead(t, "the refused actions", before, h.getLead(t, id))
}

// A lead whose timeline outgrew one page: the lead page shows the latest
// 50 events and a plain link to the older ones, whose page shows the rest,
// the lead's first event ("received") among them, and a link back.
func TestTheLeadPageLinksToOlderEvents(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	o, _ := h.org(t, "Busy Agency")
	mgr := h.user(t, o.ID, domain.RoleManager, "Mona Manager")
	reps := []store.User{h.user(t, o.ID, domain.RoleStaff, "Rita Rep"), h.user(t, o.ID, domain.RoleStaff, "Olga Other")}
	src := h.source(t, o.ID, domain.Routing{Mode: domain.RoutePending})
	id := h.lead(t, src, "Busy")
	by := domain.Changer{UserID: mgr.ID, Role: mgr.Role}
	for i := range 60 {
		if err := h.store.AssignLead(context.Background(), o.ID, by, id, reps[i%2].ID); err != nil {
			t.Fatal(err)
		}
	}
	events := func(p page) []string {
		tl := p.body[strings.Index(p.body, `<ol class="timeline">`):]
		tl = tl[:strings.Index(tl, "</ol>")]
		return strings.Split(tl, "<li>")[1:]
	}
	link := func(p page, text string) string {
		i := strings.Index(p.body, `">`+text+`</a>`)
		if i < 0 {
			return ""
		}
		href := p.body[strings.LastIndex(p.body[:i], `href="`)+len(`href="`) : i]
		return strings.ReplaceAll(href, "&amp;", "&")
	}

	b := h.signedIn(t, mgr)
	latest := b.get("/app/leads/" + id)
	older := link(latest, "Older events")
	if tl := events(latest); latest.status != http.StatusOK || len(tl) != 50 || strings.Contains(latest.body, "received from source") ||
		!strings.HasPrefix(older, "/app/leads/"+id+"?before=") || link(latest, "Latest events") != "" {
		t.Fatalf("the lead page: %d, %d events, older %q\n%s", latest.status, len(tl), older, latest.body)
	}
	p := b.get(older)
	if tl := events(p); p.status != http.StatusOK || len(tl) != 12 || !strings.Contains(tl[0], "received from source web") ||
		link(p, "Older events") != "" || link(p, "Latest events") != "/app/leads/"+id+"#tl-h" {
		t.Fatalf("the older events: %d, %d events\n%s", p.status, len(tl), p.body)
	}
	if p := b.get("/app/leads/" + id + "?before=not-a-cursor"); p.status != http.StatusUnprocessableEntity {
		t.Fatalf("a made-up cursor: %d\n%s", p.status, p.body)
	}
}
