package console

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
)

// speedLeads makes two leads of source "speedweb" that arrived an hour
// ago: one assigned to rep after 90 s and worked after 10 minutes, one
// waiting in the queue.
func (h *harness) speedLeads(t *testing.T, org string, rep store.User) {
	t.Helper()
	ctx := context.Background()
	src, _, _, err := h.store.PutSource(ctx, org, "speedweb", domain.SourceConfig{Name: "Speed Web",
		Routing: domain.Routing{Mode: domain.RouteOwner}, Priority: "normal"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	rec := time.Now().Add(-time.Hour).Truncate(time.Second)
	for i, ext := range []string{"speed-1", "speed-2"} {
		l, err := h.store.InsertLead(ctx, store.NewLead{SourceID: src.ID, OrgID: org, Slug: "speedweb", WorkflowID: "lead/" + domain.NewID(),
			ReceivedAt: rec, In: domain.LeadInput{ExternalID: ext, Email: ext + "@speed.test"}})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			_, err = h.pool.Exec(ctx, `UPDATE leads SET assigned_to = $2, routed_at = $3, worked_at = $4 WHERE id = $1`,
				l.LeadID, rep.ID, rec.Add(90*time.Second), rec.Add(10*time.Minute))
		} else {
			_, err = h.pool.Exec(ctx, `UPDATE leads SET location = 'queue', routed_at = $2 WHERE id = $1`, l.LeadID, rec.Add(time.Second))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// The speed-to-lead page: owner, admin and manager see the last 7 days by
// default with a table per source and per person and a chart (an SVG with
// a title and a description) beside each, and a link in the navigation;
// professionals and staff get neither the link nor the report (403). A bad
// day is shown at its field with what was typed kept; a period with no
// lead says so; another org's leads are not on the page.
func TestSpeedToLeadPage(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	mine, owner := h.org(t, "Speedy Agency")
	rep := h.user(t, mine.ID, domain.RoleStaff, "Rita Rapid")
	h.speedLeads(t, mine.ID, rep)
	other, _ := h.org(t, "Slow Agency")
	h.speedLeads(t, other.ID, h.user(t, other.ID, domain.RoleStaff, "Otto Other"))

	for _, u := range []store.User{owner, h.user(t, mine.ID, domain.RoleAdmin, "Ada Admin"), h.user(t, mine.ID, domain.RoleManager, "Max Manager")} {
		p := h.signedIn(t, u).get("/app/reports/speed-to-lead")
		if p.status != 200 {
			t.Fatalf("%s: %d\n%s", u.Role, p.status, p.body)
		}
		for _, want := range []string{
			`<a href="/app/reports/speed-to-lead" aria-current="page">Speed to lead</a>`,
			`<th scope="row">speedweb</th><td>2</td><td>1</td><td>1 min 30 s</td><td>1 min 30 s</td><td>1</td><td>10 min</td><td>10 min</td><td>0</td><td>0</td>`,
			`<th scope="row">Rita Rapid</th><td>1</td><td>1</td><td>1 min 30 s</td>`,
			`<svg id="source-chart" role="img" aria-labelledby="source-chart-title source-chart-desc"`,
			`<title id="user-chart-title">`, `<desc id="user-chart-desc">`,
			`name="from" value="` + time.Now().In(domain.OrgLocation(mine.Timezone)).AddDate(0, 0, -6).Format(time.DateOnly) + `"`,
		} {
			if !strings.Contains(p.body, want) {
				t.Errorf("%s: the page lacks %s\n%s", u.Role, want, p.body)
			}
		}
		if strings.Contains(p.body, "Otto Other") {
			t.Errorf("%s: another org's rep is on the page", u.Role)
		}
	}
	for _, r := range []domain.Role{domain.RoleProfessional, domain.RoleStaff} {
		b := h.signedIn(t, h.user(t, mine.ID, r, "The "+string(r)))
		if p := b.get("/app/reports/speed-to-lead"); p.status != 403 || strings.Contains(p.body, "Rita Rapid") {
			t.Errorf("%s: %d, want 403 without the report", r, p.status)
		}
		if p := b.get("/app/leads"); strings.Contains(p.body, "/app/reports/speed-to-lead") {
			t.Errorf("%s: the navigation links the report", r)
		}
	}

	b := h.signedIn(t, owner)
	p := b.get("/app/reports/speed-to-lead?from=2026-02-30&to=2026-03-01")
	if p.status != 422 || !strings.Contains(p.body, `id="r-from-err"`) || !strings.Contains(p.body, `value="2026-02-30"`) ||
		!strings.Contains(p.body, `aria-invalid="true"`) || strings.Contains(p.body, "<table") {
		t.Errorf("a day that does not exist: %d\n%s", p.status, p.body)
	}
	p = b.get("/app/reports/speed-to-lead?from=2026-03-09&to=2026-03-01")
	if p.status != 422 || !strings.Contains(p.body, "must be before to") {
		t.Errorf("to before from: %d\n%s", p.status, p.body)
	}
	p = b.get("/app/reports/speed-to-lead?from=2026-01-01&to=2026-01-31")
	if p.status != 200 || !strings.Contains(p.body, "No lead arrived in this period.") || !strings.Contains(p.body, `datetime="2026-01-01T06:00:00Z"`) {
		t.Errorf("an empty January in Chicago: %d\n%s", p.status, p.body)
	}
}

func TestHumanSeconds(t *testing.T) {
	t.Parallel()
	for s, want := range map[float64]string{0: "0 s", 0.4: "0.4 s", 9.96: "10 s", 5: "5 s", 42: "42 s", 60: "1 min", 200: "3 min 20 s", 3600: "1 h", 7500: "2 h 5 min", 97200: "1 d 3 h", 90061: "1 d 1 h"} {
		if got := humanSeconds(s); got != want {
			t.Errorf("humanSeconds(%g) = %q, want %q", s, got, want)
		}
	}
}
