package api

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/leadrelay/leadrelay/internal/openapicheck"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/internal/testenv"
)

// conform drives the real handler and holds every answer to the
// description: status documented, content type, required headers, body
// valid against the schema. It remembers which operations it has seen.
type conform struct {
	t    *testing.T
	spec *openapicheck.Spec
	seen map[openapicheck.Op][]int
	// noWrites: a refused request (4xx) must leave every table as it was.
	noWrites bool
}

// rowCounts counts the rows of every table of the database.
func rowCounts(t *testing.T, pool *pgxpool.Pool) map[string]int { return testenv.RowCounts(t, pool) }

func newConform(t *testing.T) *conform {
	return &conform{t: t, spec: loadSpec(t), seen: map[openapicheck.Op][]int{}}
}

// call sends a request to ts's handler and checks the answer: want is the
// status the scenario expects, and the answer must match the description.
func (c *conform) call(ts testServer, method, target, token, body string, want int, hdr ...string) answer {
	c.t.Helper()
	guard := c.noWrites && want >= 400 && want != 503 && ts.s.Pool != nil
	var before map[string]int
	if guard {
		before = rowCounts(c.t, ts.s.Pool)
	}
	a := ts.do(c.t, method, target, token, body, "", hdr...)
	if guard {
		after := rowCounts(c.t, ts.s.Pool)
		for table, n := range after {
			if n != before[table] {
				c.t.Errorf("%s %s (%d) wrote: %s went from %d to %d rows", method, target, a.status, table, before[table], n)
			}
		}
	}
	if a.status != want {
		c.t.Fatalf("%s %s: %d %s, want %d", method, target, a.status, a.body, want)
	}
	if err := c.spec.CheckAnswer(method, target, a.status, a.header, []byte(a.body)); err != nil {
		c.t.Error(err)
	}
	path, _, _ := strings.Cut(target, "?")
	if op, ok := c.spec.Match(method, path); ok {
		c.seen[op] = append(c.seen[op], a.status)
	}
	return a
}

// str reads a string at a path of keys in a JSON answer.
func str(t *testing.T, a answer, keys ...string) string {
	t.Helper()
	var v any = decodeBody(t, a)
	for _, k := range keys {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	s, ok := v.(string)
	if !ok {
		t.Fatalf("no string at %v in %s", keys, a.body)
	}
	return s
}

// The real handler, on PostgreSQL with a Temporal that accepts every start,
// answers as the description says: success bodies of every route that needs
// no workflow to answer, and the errors each kind of bad request gets (400,
// 401, 403, 404, 409, 413, 422 naming fields, 429 with Retry-After, 503).
// Every registered route is called at least once. The routes whose success
// needs a running workflow (invitation answers, handovers) are checked
// end to end in e2e/openapi_test.go.
func TestAnswersMatchTheDescription(t *testing.T) {
	t.Parallel()
	routeScenario(t, newConform(t))
}

// Nothing is written when a request fails (SPEC §4): each refused request of
// the route scenario leaves every table (all of them, read from
// information_schema, so a new table is counted too) with the rows it had.
// It counts whole tables, so it is not parallel: Go runs the package's
// sequential tests before any parallel one starts.
func TestRefusedRequestsWriteNothing(t *testing.T) {
	c := newConform(t)
	c.noWrites = true
	routeScenario(t, c)
}

// routeScenario calls every route of the table, with the successes and the
// refusals the description documents.
func routeScenario(t *testing.T, c *conform) {
	ts := newTestServer(t, true, nil)
	ctx := context.Background()
	stamp := strings.ToLower(fmt.Sprint(time.Now().UnixNano()))
	dom, otherDom := "spec"+stamp+".example", "other"+stamp+".example"
	call := func(method, target, token, body string, want int, hdr ...string) answer {
		t.Helper()
		return c.call(ts, method, target, token, body, want, hdr...)
	}

	call("GET", "/healthz", "", "", 200)
	call("GET", "/readyz", "", "", 200)
	call("GET", "/v1/openapi.json", "", "", 200)

	// Orgs.
	a := call("POST", "/v1/orgs", testAdmin, `{"name":"Spec Co","timezone":"America/Chicago","owner":{"email":"olive@`+dom+`","name":"Olive Owner"}}`, 201)
	org, owner, ownerID := str(t, a, "id"), str(t, a, "owner", "token"), str(t, a, "owner", "id")
	a = call("POST", "/v1/orgs", testAdmin, `{"name":"Other Agency","owner":{"email":"owner@`+otherDom+`","name":"Otto"}}`, 201)
	other, otherOwner := str(t, a, "id"), str(t, a, "owner", "token")
	call("POST", "/v1/orgs", "", `{}`, 401)
	call("POST", "/v1/orgs", owner, `{"name":"X","owner":{"email":"x@`+dom+`","name":"X"}}`, 403)
	call("POST", "/v1/orgs", testAdmin, `{"name":`, 400)
	call("POST", "/v1/orgs", testAdmin, `{"name":"","owner":{"email":"nope"}}`, 422)
	call("POST", "/v1/orgs", testAdmin, `{"name":"`+strings.Repeat("x", 20<<10)+`"}`, 413)
	call("GET", "/v1/orgs/"+org, owner, "", 200)
	call("GET", "/v1/orgs/"+org, otherOwner, "", 404)
	call("PATCH", "/v1/orgs/"+org, owner, `{"claim_window":"45m","handover_enabled":true}`, 200)
	call("PATCH", "/v1/orgs/"+org, owner, `{"name":null,"cross_silo":"yes"}`, 422)

	// Users.
	users := "/v1/orgs/" + org + "/users"
	a = call("POST", users, owner, `{"email":"sam@`+dom+`","name":"Sam Staff","role":"staff"}`, 201)
	staffID, staff := str(t, a, "id"), str(t, a, "token")
	a = call("POST", users, testAdmin, `{"email":"meg@`+dom+`","name":"Meg Manager","role":"manager","notify_new_leads":true}`, 201)
	managerID, manager := str(t, a, "id"), str(t, a, "token")
	call("POST", users, owner, `{"email":"sam@`+dom+`","name":"Sam Again","role":"staff"}`, 409)
	call("POST", users, owner, `{"email":"o2@`+dom+`","name":"Second Owner","role":"owner"}`, 422)
	call("POST", users, staff, `{"email":"s2@`+dom+`","name":"S","role":"staff"}`, 403)
	call("PATCH", users+"/"+managerID, owner, `{"notify_new_leads":false,"role":null}`, 200)
	call("PATCH", users+"/"+ownerID, owner, `{"active":false}`, 409)
	call("PATCH", users+"/"+other, owner, `{}`, 404)
	call("GET", users, staff, "", 200)
	call("GET", users, otherOwner, "", 404)

	// Sources and vendor keys.
	sources := "/v1/orgs/" + org + "/sources"
	call("GET", sources, owner, "", 200)
	source := `{"name":"EverQuote","routing":{"mode":"owner"},"purchase_notification_emails":["olive@` + dom + `"],` +
		`"return_notification_emails":["vendor@` + dom + `"],"include_comments_on_return":true,` +
		`"return_template":"Subject: Return of {{.ExternalID}}\n\n{{.Reason}}{{if .Comments}}: {{.Comments}}{{end}}"}`
	call("PUT", sources+"/everquote", owner, source, 201)
	call("PUT", sources+"/everquote", owner, strings.Replace(source, `"name":"EverQuote"`, `"name":"EverQuote","priority":"high"`, 1), 200)
	call("PUT", sources+"/Not_A_Slug", owner, source, 422)
	call("PUT", sources+"/everquote", owner, `{"name":"E","routing":{"mode":"sideways"},"priority":"urgent"}`, 422)
	a = call("PUT", sources+"/queue", owner, `{"name":"Queue","routing":{"mode":"queue","queue_delay":"0s"},"force_location":"queue"}`, 201)
	queueKey := str(t, a, "api_key")
	call("PUT", sources+"/spare", owner, `{"name":"Spare","routing":{"mode":"pending"},"return_window":"168h","return_reasons":["Duplicate","Wrong number"]}`, 201)
	call("GET", sources, staff, "", 200)
	a = call("POST", sources+"/everquote/key", owner, "", 201)
	key := str(t, a, "api_key")
	call("DELETE", sources+"/spare/key", testAdmin, "", 200)
	call("POST", sources+"/nosuch/key", owner, "", 404)
	call("DELETE", sources+"/everquote/key", staff, "", 403)

	call("GET", "/v1/ops/unrouted", testAdmin, "", 200)
	call("GET", "/v1/ops/unrouted", owner, "", 403)

	// Leads.
	lead := `{"external_id":"spec-1","first_name":"Ada","last_name":"Lovelace","email":"ada@example.com","phone":"+1 555 0100 200",` +
		`"address":{"city":"London","postal_code":"N1"},"company":"Engines","rating":"hot","notes":"two\nlines",` +
		`"labels":["vip"],"attributes":{"plan":"gold"},"kind":"lead"}`
	lead1 := str(t, call("POST", "/v1/leads", key, lead, 202), "lead_id")
	call("POST", "/v1/leads", key, lead, 200)
	call("POST", "/v1/leads", key, `{"external_id":"spec-no-contact"}`, 422)
	call("POST", "/v1/leads", key, `{"external_id":"spec-x","email":"a@b.example","nope":1}`, 422)
	call("POST", "/v1/leads", key, `{"external_id":"big","notes":"`+strings.Repeat("x", 70<<10)+`"}`, 413)
	call("POST", "/v1/leads", key, `[1]`, 400)
	call("POST", "/v1/leads", owner, lead, 403)
	call("GET", "/v1/leads/"+lead1, owner, "", 200) // not routed yet: routed_at null
	route := func(id string) {
		t.Helper()
		if _, err := ts.s.Store.RouteLead(ctx, store.RouteRequest{LeadID: id}); err != nil {
			t.Fatal(err)
		}
	}
	route(lead1)
	lead2 := str(t, call("POST", "/v1/leads", key, `{"external_id":"spec-2","phone":"555-0100-300"}`, 202), "lead_id")
	route(lead2)
	unrouted := str(t, call("POST", "/v1/leads", key, `{"external_id":"spec-3","email":"c@example.com"}`, 202), "lead_id")
	call("GET", "/v1/leads/"+lead1, owner, "", 200)
	call("GET", "/v1/leads/"+lead1, otherOwner, "", 404)
	call("GET", "/v1/leads/"+lead1, key, "", 403)
	timeline := "/v1/leads/" + lead1 + "/timeline"
	older := str(t, call("GET", timeline+"?limit=1", staff, "", 200), "next_cursor")
	call("GET", timeline+"?limit=200&cursor="+older, testAdmin, "", 200) // next_cursor null
	call("GET", timeline, otherOwner, "", 404)
	call("GET", timeline, key, "", 403)
	call("GET", timeline+"?limit=201&cursor=0", owner, "", 422)
	call("GET", timeline+"?a=1;b=2", owner, "", 400)
	leads := "/v1/orgs/" + org + "/leads"
	next := str(t, call("GET", leads+"?limit=1", owner, "", 200), "next_cursor")
	call("GET", leads+"?limit=1&cursor="+next, staff, "", 200)
	call("GET", leads+"?status=returned&source=everquote&assigned_to="+staffID, owner, "", 200)
	call("GET", leads+"?location=queue&owner=team&q=ada%20lovelace", staff, "", 200)
	call("GET", leads+"?owner="+ownerID+"&q=%25_%5C", staff, "", 200)
	call("GET", leads+"?status=bogus&limit=0", owner, "", 422)
	call("GET", leads+"?location=nowhere&owner=someone&q=%07", owner, "", 422)
	call("GET", leads+"?a=1;b=2", owner, "", 400)

	// Assignment and ownership.
	call("POST", "/v1/leads/"+lead1+"/assign", manager, `{"user_id":"`+staffID+`"}`, 200)
	call("POST", "/v1/leads/"+lead1+"/assign", manager, `{}`, 422)
	call("POST", "/v1/leads/"+lead1+"/assign", staff, `{"user_id":"`+staffID+`"}`, 403)
	call("POST", "/v1/leads/"+unrouted+"/assign", manager, `{"user_id":"`+staffID+`"}`, 409)
	call("POST", "/v1/leads/"+lead1+"/transfer-ownership", manager, `{"user_id":"`+staffID+`"}`, 200)
	call("POST", "/v1/leads/"+lead1+"/transfer-ownership", manager, `{"user_id":null}`, 403)
	call("POST", "/v1/leads/"+lead1+"/transfer-ownership", staff, `{"user_id":null}`, 200)
	call("POST", leads+"/assign", manager, `{"user_id":"`+managerID+`","lead_ids":["`+lead1+`","`+lead2+`"]}`, 200)
	call("POST", leads+"/assign", manager, `{"user_id":"`+managerID+`","lead_ids":["`+lead1+`","`+lead1+`"]}`, 422)
	call("POST", leads+"/assign", otherOwner, `{"user_id":"`+managerID+`","lead_ids":["`+lead1+`"]}`, 404)

	// Invitations: starting one needs only a start; answers need the run
	// (e2e), so here their refusals.
	invitations := "/v1/orgs/" + org + "/invitations"
	call("POST", invitations, owner, `{"email":"owner@`+otherDom+`"}`, 202)
	call("POST", invitations, owner, `{"email":"owner@`+otherDom+`"}`, 409)
	call("POST", invitations, owner, `{"email":"not an email"}`, 422)
	call("POST", invitations, manager, `{"email":"x@`+otherDom+`"}`, 403)
	call("GET", invitations, owner, "", 200)
	call("DELETE", invitations+"/"+other, owner, "", 404)
	call("GET", "/invitations/lri_nosuchtoken", "", "", 404)
	call("POST", "/invitations/lri_nosuchtoken/accept", "", "", 404)
	call("POST", "/invitations/lri_nosuchtoken/decline", "", "", 404)
	call("POST", "/v1/invitations/lri_nosuchtoken/accept", "", `{"org_id":"`+other+`"}`, 404)
	call("POST", "/v1/invitations/lri_nosuchtoken/decline", "", "", 404)

	// Sub-agencies and transfers.
	subs := "/v1/orgs/" + org + "/sub-agencies"
	call("GET", subs, owner, "", 200)
	if err := ts.s.Store.LinkOrgs(ctx, org, other); err != nil {
		t.Fatal(err)
	}
	call("GET", subs, staff, "", 200)
	transfers := "/v1/orgs/" + org + "/transfers"
	body := `{"to_org":"` + other + `","lead_ids":["` + lead2 + `"],"mode":"owner"}`
	tr := str(t, call("POST", transfers, owner, body, 202, "Idempotency-Key", "spec-"+stamp), "id")
	call("POST", transfers, owner, body, 200, "Idempotency-Key", "spec-"+stamp)
	call("POST", transfers, owner, strings.Replace(body, `"owner"`, `"teleport"`, 1), 422)
	call("POST", transfers, owner, strings.Replace(body, other, ownerID, 1), 403)
	call("GET", transfers+"/"+tr, owner, "", 200)
	call("GET", "/v1/orgs/"+other+"/transfers/"+tr, otherOwner, "", 200)
	call("GET", transfers+"/"+other, owner, "", 404)
	call("GET", "/v1/orgs/"+org+"/feed?limit=5", owner, "", 200)
	call("GET", "/v1/orgs/"+org+"/feed?limit=900", owner, "", 422)
	scheduleScenario(t, ts, call, org, owner, staff, otherOwner)
	call("POST", "/v1/leads/"+lead1+"/handover/accept", manager, `{"assign_to":"`+staffID+`"}`, 409)
	call("POST", "/v1/leads/"+lead1+"/handover/accept", manager, `{"assign_to":"someone"}`, 422)
	call("POST", "/v1/leads/"+lead1+"/handover/reject", manager, `{"reason":"  "}`, 422)
	call("POST", "/v1/leads/"+lead1+"/handover/reject", testAdmin, `{"reason":"no"}`, 403)
	// A lead waiting for other's answer: answers that cannot apply (no such
	// user, a closed run) are refused and leave no answer behind.
	waiting := str(t, call("POST", "/v1/leads", key, `{"external_id":"spec-4","email":"w@example.com"}`, 202), "lead_id")
	route(waiting)
	handover := str(t, call("POST", transfers, manager, `{"to_org":"`+other+`","lead_ids":["`+waiting+`"],"mode":"manager_review"}`, 202), "id")
	if _, err := ts.s.Store.MoveTransferBatch(ctx, store.TransferBatch{TransferID: handover, Size: 10}); err != nil {
		t.Fatal(err)
	}
	pipeline := "/v1/orgs/" + other + "/handovers"
	if got := str(t, call("GET", pipeline, otherOwner, "", 200), "next_cursor"); got != "" {
		t.Fatalf("one handover waits, yet a next page: %q", got)
	}
	call("GET", pipeline+"?limit=1", testAdmin, "", 200)
	call("GET", pipeline+"?limit=0", otherOwner, "", 422)
	call("GET", pipeline, owner, "", 404)
	call("GET", "/v1/orgs/"+org+"/handovers", staff, "", 403)
	call("POST", "/v1/leads/"+waiting+"/handover/accept", otherOwner, `{"assign_to":"`+ownerID+`"}`, 422)
	ts.s.Temporal = fakeTemporal{update: func(client.UpdateWorkflowOptions) (any, error) {
		return nil, serviceerror.NewNotFound("workflow execution already completed")
	}}
	call("POST", "/v1/leads/"+waiting+"/handover/reject", otherOwner, `{"reason":"not ours"}`, 409)
	ts.s.Temporal = fakeTemporal{}
	call("DELETE", subs+"/"+other, otherOwner, "", 200)
	call("DELETE", subs+"/"+other, owner, "", 404)

	// Returns.
	call("POST", "/v1/leads/"+lead1+"/return", manager, `{"reason":"Duplicate","comments":"seen last week"}`, 200)
	call("POST", "/v1/leads/"+lead1+"/return", manager, `{"reason":"Again"}`, 409)
	call("POST", "/v1/leads/"+lead1+"/return", manager, `{"comments":"no reason"}`, 422)
	call("GET", "/v1/returns?since=2026-01-01T00:00:00Z&limit=10", key, "", 200)
	call("GET", "/v1/leads/"+lead1+"/return-rules", manager, "", 200)
	call("GET", "/v1/leads/"+lead1+"/return-rules", otherOwner, "", 404)
	call("GET", "/v1/leads/"+lead1+"/return-rules", key, "", 403)
	call("GET", "/v1/returns", owner, "", 403)
	call("GET", "/v1/returns", "", "", 401)
	call("GET", "/v1/returns?since=last+week", key, "", 422)

	// Claims from the queue.
	queued := str(t, call("POST", "/v1/leads", queueKey, `{"external_id":"spec-q","email":"q@example.com"}`, 202), "lead_id")
	route(queued)
	claim := "/v1/orgs/" + org + "/queue/claim"
	call("POST", claim, staff, "", 200)
	call("POST", "/v1/leads/"+queued+"/worked", staff, "{}", 200)
	call("POST", "/v1/leads/"+queued+"/worked", staff, `{"when":"now"}`, 422)
	call("POST", "/v1/leads/"+queued+"/release", manager, "", 403)
	call("POST", "/v1/leads/"+queued+"/release", staff, "", 200)
	call("POST", claim, manager, "{}", 200)
	call("POST", "/v1/leads/"+queued+"/invalid", manager, `{"reason":"wrong number"}`, 200)
	call("POST", "/v1/leads/"+queued+"/invalid", manager, `{"reason":"again"}`, 409)
	call("POST", "/v1/leads/"+queued+"/invalid", manager, `{}`, 422)
	call("POST", claim, staff, "", 204)
	call("POST", claim, testAdmin, "", 403)
	call("POST", claim, otherOwner, "", 404)

	// Routing: groups, availability, repeats, the vendor's daily cap, the
	// preview's refusals and the fairness report.
	groups := "/v1/orgs/" + org + "/groups"
	call("PUT", groups+"/closers", manager, `{"members":[{"user_id":"`+staffID+`","weight":3},{"user_id":"`+managerID+`"}]}`, 201)
	call("PUT", groups+"/closers", owner, `{"members":[{"user_id":"`+staffID+`"}]}`, 200)
	call("PUT", groups+"/closers", owner, `{"members":[{"user_id":"`+ownerID+`","weight":101}]}`, 422)
	call("PUT", groups+"/Bad_Name", owner, `{"members":[]}`, 422)
	call("PUT", groups+"/closers", staff, `{"members":[]}`, 403)
	call("PUT", groups+"/closers", otherOwner, `{"members":[]}`, 404)
	call("GET", groups, staff, "", 200)
	call("GET", groups, otherOwner, "", 404)
	call("DELETE", groups+"/closers", staff, "", 403)
	call("DELETE", groups+"/nosuch", owner, "", 404)
	grouped := `{"name":"Grouped","routing":{"mode":"group","group":"closers"},"when_nobody":"next_rule","vendor_daily_cap":500,` +
		`"rules":[{"name":"Texas","when":{"state":["TX"],"postal_code":["787*"]},"routing":{"mode":"user","user":"` + managerID + `"}}]}`
	call("PUT", sources+"/grouped", owner, grouped, 201)
	call("PUT", sources+"/grouped", owner, strings.Replace(grouped, `"group":"closers"`, `"group":"nosuch"`, 1), 422)
	call("GET", sources, owner, "", 200)
	call("POST", sources+"/grouped/route-preview", manager, `{"email":"p@example.com","address":{"state":"TX","postal_code":"78701"},"at":"2026-05-01T15:00:00Z"}`, 200)
	call("POST", sources+"/grouped/route-preview", owner, `{"external_id":"x","phone":"555 0101"}`, 200)
	call("POST", sources+"/nosuch/route-preview", manager, `{"email":"p@example.com"}`, 404)
	call("DELETE", groups+"/closers", owner, "", 409)
	call("PUT", sources+"/grouped", owner, `{"name":"Grouped","routing":{"mode":"owner"}}`, 200)
	call("DELETE", groups+"/closers", manager, "", 200)
	call("PATCH", users+"/"+staffID, manager, `{"working_hours":[{"days":["mon","tue"],"from":"09:00","to":"17:00"}],"daily_cap":20,"open_cap":null}`, 200)
	call("PATCH", users+"/"+staffID, manager, `{"working_hours":[{"days":["mon"],"from":"9am","to":"17:00"}],"daily_cap":0}`, 422)
	call("PATCH", users+"/"+staffID, staff, `{"instant_alerts":false}`, 200)
	call("PATCH", users+"/"+managerID, staff, `{"instant_alerts":false}`, 403)
	call("POST", users+"/"+staffID+"/pause", staff, `{"until":"`+time.Now().Add(time.Hour).UTC().Format(time.RFC3339)+`"}`, 200)
	call("POST", users+"/"+staffID+"/pause", manager, `{"until":"2001-01-01T00:00:00Z"}`, 422)
	call("POST", users+"/"+managerID+"/pause", staff, "", 403)
	call("POST", users+"/"+staffID+"/pause", otherOwner, "", 404)
	call("POST", users+"/"+staffID+"/resume", manager, "", 200)
	call("POST", users+"/"+managerID+"/resume", staff, "", 403)
	call("PATCH", "/v1/orgs/"+org, owner, `{"repeat_lookback_days":30}`, 200)
	call("PATCH", "/v1/orgs/"+org, owner, `{"repeat_lookback_days":3651}`, 422)
	a = call("PUT", sources+"/capped", owner, `{"name":"Capped","routing":{"mode":"owner"}}`, 201)
	capKey := str(t, a, "api_key")
	if _, err := ts.s.Pool.Exec(ctx, `UPDATE lead_sources SET vendor_daily_cap = 1 WHERE org_id = $1 AND slug = 'capped'`, org); err != nil {
		t.Fatal(err)
	}
	call("POST", "/v1/leads", capKey, `{"external_id":"cap-1","email":"ada@example.com"}`, 202)
	call("POST", "/v1/leads", capKey, `{"external_id":"cap-1","email":"ada@example.com"}`, 200)
	call("POST", "/v1/leads", capKey, `{"external_id":"cap-2","email":"cap2@example.com"}`, 429)
	preview := sources + "/everquote/route-preview"
	call("POST", preview, staff, `{"email":"p@example.com"}`, 403)
	call("POST", preview, otherOwner, `{"email":"p@example.com"}`, 404)
	call("POST", preview, manager, `{"first_name":"no contact"}`, 422)
	fair := sources + "/everquote/fairness"
	call("GET", fair, manager, "", 200)
	call("GET", fair+"?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z", owner, "", 200)
	call("GET", fair+"?from=yesterday", owner, "", 422)
	call("GET", fair, staff, "", 403)
	call("GET", fair, otherOwner, "", 404)
	speed := "/v1/orgs/" + org + "/reports/speed-to-lead"
	call("GET", speed, manager, "", 200)
	call("GET", speed+"?from=2026-01-01&to=2026-01-31", owner, "", 200)
	call("GET", speed+"?to=soon", owner, "", 422)
	call("GET", speed, staff, "", 403)
	call("GET", speed, otherOwner, "", 404)

	// Webhooks: owner and admin only; the URL's host is checked against
	// the address guard (this server runs without WEBHOOK_ALLOW_PRIVATE).
	hooks := "/v1/orgs/" + org + "/webhooks"
	a = call("POST", hooks, owner, `{"url":"https://93.184.216.34/hooks","events":["lead.received","claim.*"]}`, 201)
	hookID := str(t, a, "id")
	if s := str(t, a, "secret"); !strings.HasPrefix(s, "whsec_") || len(s) < 40 {
		t.Fatalf("created secret %q", s)
	}
	call("POST", hooks, testAdmin, `{"url":"http://93.184.216.34/b","events":["lead.assigned"],"secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}`, 201)
	a = call("POST", hooks, owner, `{"url":"http://127.0.0.1:9/x","events":["lead.sold"]}`, 422)
	if !strings.Contains(a.body, `"url"`) || !strings.Contains(a.body, `"events"`) {
		t.Fatalf("422 names neither url nor events: %s", a.body)
	}
	call("POST", hooks, owner, `{"url":"https://user:pw@93.184.216.34/","events":[]}`, 422)
	call("POST", hooks, owner, `{"url":"https://93.184.216.34/","events":["lead.received"],"secret":"hunter2"}`, 422)
	call("POST", hooks, manager, `{"url":"https://93.184.216.34/","events":["lead.received"]}`, 403)
	call("POST", hooks, otherOwner, `{"url":"https://93.184.216.34/","events":["lead.received"]}`, 404)
	call("POST", hooks, owner, `{"url":`, 400)
	call("POST", hooks, owner, `{"url":"`+strings.Repeat("x", 20<<10)+`"}`, 413)
	if a = call("GET", hooks, owner, "", 200); strings.Contains(a.body, "MfKQ9r8GKYqrTwjUPD8ILPZIo2La") {
		t.Fatalf("the list shows a secret: %s", a.body)
	}
	if !strings.Contains(a.body, `"whsec_…LaSw"`) {
		t.Fatalf("the list does not show the secret's hint: %s", a.body)
	}
	var rows string
	if err := ts.s.Pool.QueryRow(ctx, `SELECT string_agg(w::text, ' ') FROM webhook_endpoints w WHERE org_id = $1`, org).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(rows, "MfKQ9r8GKYqrTwjUPD8ILPZIo2La") {
		t.Fatalf("the database holds a secret in the clear: %s", rows)
	}
	call("GET", hooks, otherOwner, "", 404)
	call("POST", "/v1/leads", key, `{"external_id":"hook-1","email":"hook@example.com"}`, 202)
	var delivery string
	if err := ts.s.Pool.QueryRow(ctx, `SELECT id::text FROM webhook_deliveries WHERE endpoint_id = $1`, hookID).Scan(&delivery); err != nil {
		t.Fatal(err)
	}
	call("GET", hooks+"/"+hookID, owner, "", 200)
	call("GET", hooks+"/"+hookID, otherOwner, "", 404)
	call("GET", "/v1/orgs/"+other+"/webhooks/"+hookID, otherOwner, "", 404)
	call("POST", hooks+"/"+hookID+"/deliveries/"+delivery+"/resend", owner, "", 202)
	call("POST", hooks+"/"+hookID+"/deliveries/999999999/resend", owner, "", 404)
	call("POST", hooks+"/"+hookID+"/deliveries/"+delivery+"/resend", staff, "", 403)
	call("POST", hooks+"/"+hookID+"/enable", owner, "", 200)
	call("POST", hooks+"/"+hookID+"/enable", otherOwner, "", 404)
	call("DELETE", hooks+"/"+hookID, otherOwner, "", 404)
	call("DELETE", hooks+"/"+hookID, owner, "", 200)
	call("DELETE", hooks+"/"+hookID, owner, "", 404)

	// 429: a vendor key past its limit, an address past its failed
	// authentications.
	slow := newTestServer(t, true, map[string]string{"VENDOR_RATE_LIMIT": "1/m,burst=1", "AUTH_FAILURE_RATE_LIMIT": "1/m,burst=1"})
	c.call(slow, "POST", "/v1/leads", key, `{"external_id":"spec-slow","email":"s@example.com"}`, 202)
	c.call(slow, "POST", "/v1/leads", key, `{"external_id":"spec-slow","email":"s@example.com"}`, 429)
	c.call(slow, "GET", "/v1/orgs/"+org, "lru_wrong", "", 401)
	c.call(slow, "GET", "/v1/orgs/"+org, owner, "", 429)
	c.call(slow, "GET", "/v1/openapi.json", "", "", 429)

	// 503: PostgreSQL unreachable.
	down := newTestServer(t, false, nil)
	pool, err := pgxpool.New(ctx, "postgres://postgres@127.0.0.1:1/none?connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	down.s.Pool, down.s.Store = pool, store.New(pool)
	c.call(down, "GET", "/v1/orgs/"+org, owner, "", 503)
	c.call(down, "GET", "/readyz", "", "", 503)

	// Every route was called.
	var missed []string
	for _, r := range (&Server{}).routes() {
		if op := (openapicheck.Op{Method: r.method, Path: r.pattern}); len(c.seen[op]) == 0 {
			missed = append(missed, op.String())
		}
	}
	sort.Strings(missed)
	if len(missed) > 0 {
		t.Errorf("not called: %v", missed)
	}
}
