package console

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/leadrelay/leadrelay/internal/domain"
)

// The groups pages, through the real API.

func TestAManagerCreatesEditsAndDeletesAGroup(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	o, _ := h.org(t, "Groups Agency")
	mgr := h.user(t, o.ID, domain.RoleManager, "Mona Manager")
	ann := h.user(t, o.ID, domain.RoleStaff, "Ann Able")
	ben := h.user(t, o.ID, domain.RoleStaff, "Ben Baker")
	b := h.signedIn(t, mgr)
	csrf := b.csrf("/app/groups")
	p := b.post("/app/groups", url.Values{"csrf": {csrf}, "name": {"texas"}, "member": {ann.ID, ben.ID},
		"weight-" + ann.ID: {"2"}, "weight-" + ben.ID: {"1"}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/app/groups/texas?done=group-saved" {
		t.Fatalf("create: %d %s\n%s", p.status, p.header.Get("Location"), p.body)
	}
	if n := h.count(t, `SELECT count(*) FROM group_members m JOIN groups g ON g.id = m.group_id WHERE g.org_id = $1 AND g.name = 'texas'`, o.ID); n != 2 {
		t.Fatalf("the group has %d members, want 2", n)
	}
	if pg := b.get("/app/groups"); !strings.Contains(pg.body, "Ann Able (2), Ben Baker (1)") && !strings.Contains(pg.body, "Ben Baker (1), Ann Able (2)") {
		t.Errorf("the list does not show the members and weights:\n%s", pg.body)
	}
	// Creating it again is refused next to the name, not overwritten.
	p = b.post("/app/groups", url.Values{"csrf": {csrf}, "name": {"texas"}, "member": {ann.ID}})
	if p.status != http.StatusUnprocessableEntity || errNextTo(p.body, "g-name") == "" {
		t.Errorf("creating an existing group: %d, want 422 next to the name", p.status)
	}
	// Editing: Ben leaves, a weight out of range is refused next to its row.
	p = b.post("/app/groups/texas", url.Values{"csrf": {csrf}, "member": {ann.ID}, "weight-" + ann.ID: {"500"}})
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, `id="member-`+ann.ID+`-weight-err"`) {
		t.Errorf("weight 500: %d, want 422 next to Ann's weight\n%s", p.status, p.body)
	}
	p = b.post("/app/groups/texas", url.Values{"csrf": {csrf}, "member": {ann.ID}, "weight-" + ann.ID: {"3"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("edit: %d\n%s", p.status, p.body)
	}
	if n := h.count(t, `SELECT count(*) FROM group_members m JOIN groups g ON g.id = m.group_id WHERE g.org_id = $1 AND m.weight = 3`, o.ID); n != 1 {
		t.Errorf("after the edit: %d members of weight 3, want Ann alone", n)
	}
	// In use by a rule: the delete is refused with the API's words.
	h.putSource(t, o.ID, "everquote", domain.SourceConfig{Name: "EverQuote", Routing: domain.Routing{Mode: domain.RouteGroup, Group: "texas"}})
	if p = b.post("/app/groups/texas/delete", url.Values{"csrf": {csrf}}); p.status != http.StatusOK || !strings.Contains(p.body, `id="confirm-delete"`) {
		t.Errorf("delete asks first: %d", p.status)
	}
	p = b.post("/app/groups/texas/delete", url.Values{"csrf": {csrf}, "confirm": {"yes"}})
	if p.status != http.StatusConflict || !strings.Contains(p.body, "everquote") {
		t.Errorf("deleting a group in use: %d, want 409 naming the source\n%s", p.status, p.body)
	}
	h.putSource(t, o.ID, "everquote", domain.SourceConfig{Name: "EverQuote", Routing: domain.Routing{Mode: domain.RouteOwner}})
	if p = b.post("/app/groups/texas/delete", url.Values{"csrf": {csrf}, "confirm": {"yes"}}); p.status != http.StatusSeeOther {
		t.Errorf("delete: %d\n%s", p.status, p.body)
	}
	if n := h.count(t, `SELECT count(*) FROM groups WHERE org_id = $1`, o.ID); n != 0 {
		t.Errorf("%d groups left", n)
	}
}

func TestStaffReadGroupsButCannotChangeThem(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	o, owner := h.org(t, "Read Groups Agency")
	rep := h.user(t, o.ID, domain.RoleStaff, "Ray Rep")
	ob := h.signedIn(t, owner)
	if p := ob.post("/app/groups", url.Values{"csrf": {ob.csrf("/app/groups")}, "name": {"west"}, "member": {rep.ID}}); p.status != http.StatusSeeOther {
		t.Fatalf("owner creates: %d\n%s", p.status, p.body)
	}
	b := h.signedIn(t, rep)
	pg := b.get("/app/groups/west")
	if pg.status != http.StatusOK || strings.Contains(pg.body, `id="save-group"`) || !strings.Contains(pg.body, "Ray Rep: weight 1") {
		t.Fatalf("staff on a group: %d, want it read-only\n%s", pg.status, pg.body)
	}
	csrf := b.csrf("/app/groups")
	if p := b.post("/app/groups/west", url.Values{"csrf": {csrf}}); p.status != http.StatusForbidden {
		t.Errorf("staff saving a group: %d, want 403", p.status)
	}
	if p := b.post("/app/groups/west/delete", url.Values{"csrf": {csrf}, "confirm": {"yes"}}); p.status != http.StatusForbidden {
		t.Errorf("staff deleting a group: %d, want 403", p.status)
	}
	if n := h.count(t, `SELECT count(*) FROM group_members m JOIN groups g ON g.id = m.group_id WHERE g.org_id = $1`, o.ID); n != 1 {
		t.Errorf("staff changed the group: %d members", n)
	}
	// Without the page's token the owner changes nothing either.
	if p := ob.post("/app/groups/west/delete", url.Values{"confirm": {"yes"}}); p.status != http.StatusForbidden {
		t.Errorf("delete without the CSRF token: %d, want 403", p.status)
	}
	if n := h.count(t, `SELECT count(*) FROM groups WHERE org_id = $1`, o.ID); n != 1 {
		t.Errorf("a form without its token deleted the group")
	}
}
