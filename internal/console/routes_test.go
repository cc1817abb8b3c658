package console

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/internal/testenv"
)

// noTemporal is a Temporal that is down: a page that would start or reach a
// run gets the API's 503, never a panic. The route table test needs no run.
type noTemporal struct{ client.Client }

var errDown = serviceerror.NewUnavailable("no Temporal in this test")

func (noTemporal) ExecuteWorkflow(context.Context, client.StartWorkflowOptions, any, ...any) (client.WorkflowRun, error) {
	return nil, errDown
}
func (noTemporal) SignalWorkflow(context.Context, string, string, string, any) error { return errDown }
func (noTemporal) UpdateWorkflow(context.Context, client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	return nil, errDown
}
func (noTemporal) ScheduleClient() client.ScheduleClient { return downSchedules{} }

// rowCounts counts the rows of every table of the database.
func rowCounts(t *testing.T, pool *pgxpool.Pool) map[string]int { return testenv.RowCounts(t, pool) }

// otherOrg is an org whose every object a test tries to reach from outside.
type otherOrg struct {
	org    store.Org
	owner  store.User
	lead   string
	sub    string
	slug   string
	group  string
	secret string // a word only its data holds
}

func (h *harness) otherOrg(t *testing.T) otherOrg {
	t.Helper()
	ctx := context.Background()
	o, owner := h.org(t, "Other Org")
	sub, _ := h.org(t, "Other Sub")
	if err := h.store.LinkOrgs(ctx, o.ID, sub.ID); err != nil {
		t.Fatal(err)
	}
	src, _, _, err := h.store.PutSource(ctx, o.ID, "othersource", domain.SourceConfig{Name: "Other Source",
		Routing: domain.Routing{Mode: "owner"}, Priority: "normal"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	secret := "Zebediah" + domain.NewID()[:6]
	in := domain.LeadInput{ExternalID: "other-1", FirstName: secret, LastName: "Other", Email: "zeb@other.test"}
	lead, err := h.store.InsertLead(ctx, store.NewLead{SourceID: src.ID, OrgID: o.ID, Slug: "othersource",
		WorkflowID: "lead/other", ReceivedAt: time.Now(), In: in})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.store.PutGroup(ctx, o.ID, "othergroup", []store.GroupMember{{UserID: owner.ID, Weight: 1}}); err != nil {
		t.Fatal(err)
	}
	return otherOrg{org: o, owner: owner, lead: lead.LeadID, sub: sub.ID, slug: "othersource", group: "othergroup", secret: secret}
}

var wildcard = regexp.MustCompile(`\{([a-z$]+)\}`)

// fill puts the other org's objects into a route's path: every id names
// something that exists, but not in the caller's org.
func (o otherOrg) fill(pattern string) (path string, ids bool) {
	path = wildcard.ReplaceAllStringFunc(pattern, func(w string) string {
		ids = true
		switch w {
		case "{$}":
			ids = false
			return ""
		case "{user}":
			return o.owner.ID
		case "{sub}":
			return o.sub
		case "{org}":
			return o.org.ID
		case "{slug}":
			return o.slug
		case "{name}":
			return o.group
		case "{token}":
			return "lrl_not-a-real-link"
		default: // {id}, and any action word a route takes as a wildcard
			return o.lead
		}
	})
	return path, ids
}

// TestEveryConsoleRouteAsEveryRoleAndAnotherOrg opens every route of the
// console's route table without a session, without a CSRF token, and as
// each role of one org reaching into another: no route is open without a
// session, none changes anything without its token, none shows or changes
// the other org's data (its objects are "not found", as in the API), and
// none fails with a 500. Not parallel: it counts every table's rows.
func TestEveryConsoleRouteAsEveryRoleAndAnotherOrg(t *testing.T) {
	h := newHarness(t)
	other := h.otherOrg(t)
	mine, owner := h.org(t, "Route Table Agency")
	people := map[string]store.User{"owner": owner}
	for _, r := range []domain.Role{domain.RoleAdmin, domain.RoleManager, domain.RoleProfessional, domain.RoleStaff} {
		people[string(r)] = h.user(t, mine.ID, r, "The "+string(r))
	}
	routes := h.c.routes()
	if len(routes) < 3 {
		t.Fatalf("the route table has %d routes", len(routes))
	}
	for _, rt := range routes {
		path, hasIDs := other.fill(rt.pattern)
		name := rt.method + " " + rt.pattern
		// Without a session: a member page sends the visitor to sign in.
		anon := h.anonymous(t)
		var p page
		if rt.method == "GET" {
			p = anon.get(path)
		} else {
			p = anon.post(path, url.Values{})
		}
		switch {
		case p.status >= 500:
			t.Errorf("%s without a session: %d", name, p.status)
		case rt.access != public && rt.method == "GET" && (p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/app/signin")):
			t.Errorf("%s without a session: %d to %q, want 303 to sign-in", name, p.status, p.header.Get("Location"))
		case rt.access != public && rt.method == "POST" && p.status != http.StatusSeeOther && p.status != http.StatusForbidden:
			t.Errorf("%s without a session: %d, want a redirect to sign-in or a refusal", name, p.status)
		}
		for role, u := range people {
			b := h.signedIn(t, u)
			if rt.method == "GET" {
				p := b.get(path)
				if p.status >= 500 {
					t.Errorf("%s as %s: %d\n%s", name, role, p.status, p.body)
				}
				if hasIDs && rt.access == member && p.status != http.StatusNotFound {
					t.Errorf("%s as %s of another org: %d, want 404 (not found)", name, role, p.status)
				}
				if strings.Contains(p.body, other.secret) {
					t.Errorf("%s as %s shows another org's lead", name, role)
				}
				continue
			}
			before := rowCounts(t, h.pool)
			token := b.csrf("/app/leads")
			// Without the token: refused, nothing written.
			if p := b.post(path, url.Values{}); p.status != http.StatusForbidden {
				t.Errorf("%s as %s without its CSRF token: %d, want 403", name, role, p.status)
			}
			if p := b.post(path, url.Values{"csrf": {"x" + token}}); p.status != http.StatusForbidden {
				t.Errorf("%s as %s with a wrong CSRF token: %d, want 403", name, role, p.status)
			}
			assertSameCounts(t, name+" as "+role+" without its CSRF token", before, rowCounts(t, h.pool))
			if !hasIDs || rt.access != member {
				continue
			}
			// With the token, aimed at the other org's object: not found.
			form := url.Values{"csrf": {token}, "user_id": {u.ID}, "reason": {"test"}, "email": {"x@y.test"}, "assign_to": {u.ID}}
			p := b.post(path, form)
			if p.status != http.StatusNotFound {
				t.Errorf("%s as %s on another org's object: %d, want 404\n%s", name, role, p.status, p.body)
			}
			assertSameCounts(t, name+" as "+role+" on another org's object", before, rowCounts(t, h.pool))
		}
	}
}

func assertSameCounts(t *testing.T, what string, before, after map[string]int) {
	t.Helper()
	for table, n := range after {
		if table == "sessions" {
			continue // signedIn adds one per browser
		}
		if before[table] != n {
			t.Errorf("%s: %s went from %d to %d rows", what, table, before[table], n)
		}
	}
}
