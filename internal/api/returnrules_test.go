package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
)

// rulesBody is a source body with return rules.
const rulesBody = `{"name":"EverQuote","routing":{"mode":"owner"},"include_comments_on_return":true,` +
	`"return_window":"72h","return_reasons":["Duplicate"," Wrong number ","Out of area"]}`

// PUT …/sources/{slug} takes return rules and answers them, as GET does; a
// bad window or reason is a 422 naming the field (the reason by its index),
// and nothing is saved; a source without them answers null and [].
func TestSourceReturnRulesAreCheckedAndShown(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true, nil)
	acme := newPeople(t, ts, "Acme")
	path := "/v1/orgs/" + acme.org + "/sources/everquote"
	owner := acme.tokens[domain.RoleOwner]
	src := func(rules string) string { return `{"name":"EverQuote","routing":{"mode":"owner"}` + rules + `}` }
	for _, c := range []struct{ rules, field string }{
		{`,"return_window":"7d"`, "return_window"},
		{`,"return_window":"30s"`, "return_window"},
		{`,"return_window":"2161h"`, "return_window"},
		{`,"return_window":"1.5s"`, "return_window"},
		{`,"return_window":72`, "return_window"},
		{`,"return_reasons":["Duplicate","  "]`, "return_reasons[1]"},
		{`,"return_reasons":["Duplicate","Other","duplicate "]`, "return_reasons[2]"},
		{`,"return_reasons":["` + strings.Repeat("x", 101) + `"]`, "return_reasons[0]"},
		{`,"return_reasons":["two\nlines"]`, "return_reasons[0]"},
		{`,"return_reasons":[` + strings.Repeat(`"r",`, 50) + `"r"]`, "return_reasons"},
		{`,"return_reasons":"Duplicate"`, "return_reasons"},
	} {
		a := ts.do(t, "PUT", path, owner, src(c.rules), "")
		e, _ := decodeBody(t, a)["error"].(map[string]any)
		f, _ := e["fields"].(map[string]any)
		if a.status != 422 || f[c.field] == nil {
			t.Errorf("%.80s: %d %.300s, want 422 naming %s", c.rules, a.status, a.body, c.field)
		}
	}
	if n := count(t, ts.s, `SELECT count(*) FROM lead_sources WHERE org_id = $1`, acme.org); n != 0 {
		t.Fatalf("refused sources saved: %d", n)
	}

	a := ts.do(t, "PUT", path, owner, rulesBody, "")
	body := decodeBody(t, a)
	if a.status != 201 || body["return_window"] != "72h0m0s" || fmt.Sprint(body["return_reasons"]) != "[Duplicate Wrong number Out of area]" {
		t.Fatalf("saved rules: %d %s", a.status, a.body)
	}
	var list struct{ Sources []map[string]any }
	must(t, json.Unmarshal([]byte(ts.do(t, "GET", "/v1/orgs/"+acme.org+"/sources", owner, "", "").body), &list))
	if len(list.Sources) != 1 || list.Sources[0]["return_window"] != "72h0m0s" || len(list.Sources[0]["return_reasons"].([]any)) != 3 {
		t.Fatalf("listed rules: %+v", list.Sources)
	}
	a = ts.do(t, "PUT", path, owner, src(`,"return_window":""`), "")
	body = decodeBody(t, a)
	if a.status != 200 || body["return_window"] != nil || fmt.Sprint(body["return_reasons"]) != "[]" {
		t.Fatalf("a source without rules: %d %s", a.status, a.body)
	}
}

// leadAt records a lead through the source that arrived at received, and
// routes it.
func leadAt(t *testing.T, ts testServer, srcID, org, ext string, received time.Time) string {
	t.Helper()
	ctx := context.Background()
	in, err := ts.s.Store.InsertLead(ctx, store.NewLead{SourceID: srcID, OrgID: org, Slug: "everquote", WorkflowID: "wf-" + ext,
		ReceivedAt: received, In: domain.LeadInput{ExternalID: ext, Email: ext + "@b.example"}})
	must(t, err)
	_, err = ts.s.Store.RouteLead(ctx, store.RouteRequest{LeadID: in.LeadID})
	must(t, err)
	return in.LeadID
}

// POST /v1/leads/{id}/return under the source's rules: past the window is a
// 409 naming return_window, a reason outside the list a 422 naming reason
// and listing the allowed ones, and neither writes anything or starts a
// run; a reason in the list, in any case, returns the lead. Then GET
// /v1/returns with that source's vendor key lists it, with comments since
// the source sends them; another source's key sees none of it, a user's
// token and the admin token are refused, and a bad since or cursor is a 422
// naming it.
func TestReturnRulesAndTheVendorsList(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true, nil)
	rec := &startRecorder{}
	ts.s.Temporal = rec
	acme := newPeople(t, ts, "Acme")
	owner, mgr := acme.tokens[domain.RoleOwner], acme.tokens[domain.RoleManager]
	a := ts.do(t, "PUT", "/v1/orgs/"+acme.org+"/sources/everquote", owner, rulesBody, "")
	var src struct {
		ID     string `json:"id"`
		APIKey string `json:"api_key"`
	}
	must(t, json.Unmarshal([]byte(a.body), &src))
	fresh := leadAt(t, ts, src.ID, acme.org, "fresh", time.Now().Add(-71*time.Hour))
	stale := leadAt(t, ts, src.ID, acme.org, "stale", time.Now().Add(-73*time.Hour))
	_, otherKey := tenant(t, ts.s, "Othervendor")

	var rules struct {
		Window  *string    `json:"return_window"`
		Until   *time.Time `json:"returnable_until"`
		Reasons []string   `json:"return_reasons"`
	}
	a = ts.do(t, "GET", "/v1/leads/"+stale+"/return-rules", acme.tokens[domain.RoleStaff], "", "")
	must(t, json.Unmarshal([]byte(a.body), &rules))
	if a.status != 200 || rules.Window == nil || *rules.Window != "72h0m0s" || rules.Until == nil || rules.Until.After(time.Now()) ||
		strings.Join(rules.Reasons, "|") != "Duplicate|Wrong number|Out of area" {
		t.Fatalf("the lead's return rules: %d %s", a.status, a.body)
	}
	if a := ts.do(t, "GET", "/v1/leads/"+stale+"/return-rules", otherKey, "", ""); a.status != 403 {
		t.Fatalf("a vendor key reads a lead's rules: %d", a.status)
	}
	before := returnsOf(t, ts, acme.org)
	for _, c := range []struct {
		id, body string
		status   int
		field    string
		says     string
	}{
		{stale, `{"reason":"Duplicate"}`, 409, "return_window", "return window of 72h0m0s passed"},
		{fresh, `{"reason":"Bad lead"}`, 422, "reason", "Duplicate; Wrong number; Out of area"},
	} {
		a := ts.do(t, "POST", "/v1/leads/"+c.id+"/return", mgr, c.body, "")
		e, _ := decodeBody(t, a)["error"].(map[string]any)
		f, _ := e["fields"].(map[string]any)
		if a.status != c.status || f[c.field] == nil || !strings.Contains(a.body, c.says) {
			t.Errorf("%s: %d %s, want %d naming %s", c.body, a.status, a.body, c.status, c.field)
		}
	}
	if got := returnsOf(t, ts, acme.org); got != before || len(rec.starts) != 0 {
		t.Fatalf("refused returns wrote %v (before %v), started %d runs", got, before, len(rec.starts))
	}
	a = ts.do(t, "POST", "/v1/leads/"+fresh+"/return", mgr, `{"reason":"out of AREA","comments":"Zip 99999"}`, "")
	if a.status != 200 || len(rec.starts) != 1 {
		t.Fatalf("a return by the rules: %d %s", a.status, a.body)
	}

	var got struct {
		Returns []map[string]any `json:"returns"`
		Next    string           `json:"next_cursor"`
	}
	a = ts.do(t, "GET", "/v1/returns?since="+url.QueryEscape(time.Now().Add(-time.Hour).Format(time.RFC3339)), src.APIKey, "", "")
	must(t, json.Unmarshal([]byte(a.body), &got))
	if a.status != 200 || len(got.Returns) != 1 || got.Next != "" {
		t.Fatalf("the vendor's list: %d %s", a.status, a.body)
	}
	r := got.Returns[0]
	if r["lead_id"] != fresh || r["external_id"] != "fresh" || r["reason"] != "Out of area" || r["comments"] != "Zip 99999" || r["returned_at"] == nil || len(r) != 5 {
		t.Fatalf("the vendor's return: %v", r)
	}
	a = ts.do(t, "GET", "/v1/returns?since=2999-01-01T00:00:00%2B02:00", src.APIKey, "", "")
	if a.status != 200 || !strings.Contains(a.body, `"returns":[]`) {
		t.Fatalf("since after the return: %d %s", a.status, a.body)
	}
	a = ts.do(t, "GET", "/v1/returns", otherKey, "", "")
	if a.status != 200 || !strings.Contains(a.body, `"returns":[]`) {
		t.Fatalf("another source's key: %d %s", a.status, a.body)
	}
	for _, c := range []struct {
		query, tok string
		status     int
		field      string
	}{
		{"", owner, 403, ""},
		{"", testAdmin, 403, ""},
		{"", "", 401, ""},
		{"", "lrv_not-a-key", 401, ""},
		{"?since=yesterday", src.APIKey, 422, "since"},
		{"?since=2026-12-06T09:00:00+02:00", src.APIKey, 422, "since"},
		{"?limit=0", src.APIKey, 422, "limit"},
		{"?cursor=bm9wZQ", src.APIKey, 422, "cursor"},
		{"?cursor=no%20pe", src.APIKey, 422, "cursor"},
	} {
		a := ts.do(t, "GET", "/v1/returns"+c.query, c.tok, "", "")
		if a.status != c.status || (c.field != "" && !strings.Contains(a.body, `"`+c.field+`":`)) {
			t.Errorf("GET /v1/returns%s: %d %s, want %d naming %q", c.query, a.status, a.body, c.status, c.field)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
