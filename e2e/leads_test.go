package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/leadrelay/leadrelay/internal/app"
	"github.com/leadrelay/leadrelay/internal/config"
	"github.com/leadrelay/leadrelay/internal/mail"
)

func lead(ext string) map[string]any {
	return map[string]any{"external_id": ext, "first_name": "Ada", "last_name": "Lovelace",
		"email": "ada@example.com", "phone": "+1 312 555 0100", "labels": []string{"auto"},
		"attributes": map[string]string{"vehicle": "2019 Civic"}}
}

func TestConcurrentPostsRotateFairlyAndEmailOnce(t *testing.T) {
	s := up(t)
	buyer := fmt.Sprintf("buyer-%d@agency.example", time.Now().UnixNano())
	tn := s.newTenant(t, "fair", 7, map[string]any{"name": "EverQuote", "routing": map[string]any{"mode": "staff_evenly"},
		"purchase_notification_emails": []string{buyer}})
	const n = 200
	var wg sync.WaitGroup
	statuses := make([]int, n)
	ids := make([]string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := s.do(t, "POST", "/v1/leads", tn.vendorKey, lead(fmt.Sprintf("fair-%d", i)))
			statuses[i], ids[i] = r.status, r.str("lead_id")
		}()
	}
	wg.Wait()
	for i, st := range statuses {
		if st != 202 {
			t.Fatalf("post %d answered %d", i, st)
		}
	}
	s.waitRouted(t, tn.sourceID, n)

	counts := map[string]int{}
	for _, id := range ids {
		r := s.do(t, "GET", "/v1/leads/"+id, tn.ownerToken, nil)
		if r.status != 200 {
			t.Fatalf("GET lead: %d", r.status)
		}
		a, _ := r.body["assigned_to"].(string)
		counts[a]++
	}
	lo, hi := n, 0
	for _, u := range tn.staff {
		lo, hi = min(lo, counts[u]), max(hi, counts[u])
	}
	if hi-lo > 1 || len(counts) != 7 {
		t.Fatalf("assignments over 7 staff: %v (range %d..%d)", counts, lo, hi)
	}

	// Every purchase email arrives exactly once, with its deterministic Message-ID.
	deadline := time.Now().Add(60 * time.Second)
	for len(s.mailsFor(buyer)) < n && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // room for a wrong second copy to show up
	perLead := map[string]int{}
	for _, m := range s.mailsFor(buyer) {
		perLead[m.MessageID]++
	}
	for _, id := range ids {
		want := mail.MessageID("purchase:"+id+":"+buyer, "leadrelay.test")
		if perLead[want] != 1 {
			t.Fatalf("lead %s: %d purchase emails, want 1", id, perLead[want])
		}
	}
	if got := len(s.mailsFor(buyer)); got != n {
		t.Fatalf("%d purchase emails for %d leads", got, n)
	}
}

func TestSameExternalIDPostedFiveTimesIsOneLead(t *testing.T) {
	s := up(t)
	buyer := fmt.Sprintf("dup-%d@agency.example", time.Now().UnixNano())
	tn := s.newTenant(t, "dup", 3, map[string]any{"name": "EverQuote", "routing": map[string]any{"mode": "staff_evenly"},
		"purchase_notification_emails": []string{buyer}})
	var wg sync.WaitGroup
	res := make([]resp, 5)
	for i := range res {
		wg.Add(1)
		go func() { defer wg.Done(); res[i] = s.do(t, "POST", "/v1/leads", tn.vendorKey, lead("same-1")) }()
	}
	wg.Wait()
	created := 0
	for _, r := range res {
		switch {
		case r.status == 202 && r.body["duplicate"] == false:
			created++
		case r.status == 200 && r.body["duplicate"] == true:
		default:
			t.Fatalf("answer %d %s", r.status, r.raw)
		}
		if r.str("lead_id") != res[0].str("lead_id") || r.str("workflow_id") != res[0].str("workflow_id") {
			t.Fatalf("answers disagree: %s vs %s", r.raw, res[0].raw)
		}
	}
	if created != 1 {
		t.Fatalf("%d posts answered 202 created, want 1", created)
	}
	s.waitRouted(t, tn.sourceID, 1)

	var rows int
	if err := s.deps.Pool.QueryRow(context.Background(), `SELECT count(*) FROM leads WHERE source_id = $1`, tn.sourceID).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 1 {
		t.Fatalf("%d lead rows", rows)
	}
	wf, err := s.deps.Temporal.WorkflowService().ListWorkflowExecutions(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
		Namespace: "default", Query: fmt.Sprintf("WorkflowId = '%s'", res[0].str("workflow_id"))})
	if err != nil {
		t.Fatal(err)
	}
	if len(wf.Executions) > 1 {
		t.Fatalf("%d workflow runs for one lead", len(wf.Executions))
	}
	run := s.deps.Temporal.GetWorkflow(context.Background(), res[0].str("workflow_id"), "")
	if err := run.Get(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if got := len(s.mailsFor(buyer)); got != 1 {
		t.Fatalf("%d purchase emails, want 1", got)
	}
	// And the run is filterable in the Web UI by its search attributes.
	deadline := time.Now().Add(20 * time.Second)
	for {
		l, err := s.deps.Temporal.WorkflowService().ListWorkflowExecutions(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: "default", Query: fmt.Sprintf("OrgID = '%s' AND LeadSource = 'everquote' AND LeadID = '%s' AND LeadStatus = 'assigned'",
				tn.id, res[0].str("lead_id"))})
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Executions) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("search attributes: %d runs found", len(l.Executions))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestAnotherOrgsLeadIsNotFound(t *testing.T) {
	s := up(t)
	a := s.newTenant(t, "orga", 1, map[string]any{"name": "EverQuote", "routing": map[string]any{"mode": "owner"}})
	b := s.newTenant(t, "orgb", 1, map[string]any{"name": "EverQuote", "routing": map[string]any{"mode": "owner"}})
	r := s.do(t, "POST", "/v1/leads", a.vendorKey, lead("iso-1"))
	if r.status != 202 {
		t.Fatalf("post: %d %s", r.status, r.raw)
	}
	id := r.str("lead_id")
	if r := s.do(t, "GET", "/v1/leads/"+id, a.ownerToken, nil); r.status != 200 {
		t.Fatalf("own org: %d", r.status)
	}
	checks := []struct {
		name, method, path, token string
		status                    int
		code                      string
	}{
		{"other org's lead", "GET", "/v1/leads/" + id, b.ownerToken, 404, "not_found"},
		{"other org's list", "GET", "/v1/orgs/" + a.id + "/leads", b.ownerToken, 404, "not_found"},
		{"other org's sources", "GET", "/v1/orgs/" + a.id + "/sources", b.ownerToken, 404, "not_found"},
		{"other org's users", "POST", "/v1/orgs/" + a.id + "/users", b.ownerToken, 404, "not_found"},
		{"vendor key reading", "GET", "/v1/leads/" + id, a.vendorKey, 403, "forbidden"},
		{"user posting a lead", "POST", "/v1/leads", a.ownerToken, 403, "forbidden"},
		{"no token", "GET", "/v1/leads/" + id, "", 401, "unauthorized"},
		{"bad token", "GET", "/v1/leads/" + id, "lru_nope", 401, "unauthorized"},
		{"non-admin creating orgs", "POST", "/v1/orgs", a.ownerToken, 403, "forbidden"},
		{"a malformed org id", "GET", "/v1/orgs/not-a-uuid/leads", s.admin, 404, "not_found"},
		{"a malformed user id", "PATCH", "/v1/orgs/" + a.id + "/users/not-a-uuid", a.ownerToken, 404, "not_found"},
	}
	for _, c := range checks {
		r := s.do(t, c.method, c.path, c.token, map[string]any{"email": "x@y.example", "name": "X", "role": "staff"})
		switch c.method {
		case "GET":
			r = s.do(t, c.method, c.path, c.token, nil)
		case "PATCH":
			r = s.do(t, c.method, c.path, c.token, map[string]any{"active": false})
		}
		if r.status != c.status || r.errCode() != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.name, r.status, r.raw, c.status, c.code)
		}
	}
	// a staff member may read but not configure
	st := s.do(t, "POST", "/v1/orgs/"+a.id+"/users", a.ownerToken, map[string]any{"email": "st@a.example", "name": "St", "role": "staff"})
	stTok := st.str("token")
	if r := s.do(t, "GET", "/v1/orgs/"+a.id+"/leads", stTok, nil); r.status != 200 {
		t.Errorf("staff listing own org: %d", r.status)
	}
	if r := s.do(t, "PUT", "/v1/orgs/"+a.id+"/sources/x", stTok, map[string]any{"name": "X", "routing": map[string]any{"mode": "owner"}}); r.status != 403 {
		t.Errorf("staff configuring a source: %d %s", r.status, r.raw)
	}
	if r := s.do(t, "POST", "/v1/orgs/"+a.id+"/users", stTok, map[string]any{"email": "x2@a.example", "name": "X", "role": "staff"}); r.status != 403 {
		t.Errorf("staff creating users: %d %s", r.status, r.raw)
	}
}

func TestMalformedLeadsAreRefusedAndNothingIsStored(t *testing.T) {
	s := up(t)
	tn := s.newTenant(t, "bad", 1, map[string]any{"name": "EverQuote", "routing": map[string]any{"mode": "owner"}})
	big := `{"external_id":"big","email":"a@b.example","notes":"` + strings.Repeat("x", 70<<10) + `"}`
	cases := []struct {
		name   string
		body   string
		status int
		code   string
		field  string
	}{
		{"bad JSON", `{"external_id":`, 400, "malformed", ""},
		{"not JSON", `hello`, 400, "malformed", ""},
		{"empty", ``, 400, "malformed", ""},
		{"array", `[{"external_id":"a","email":"a@b.example"}]`, 400, "malformed", ""},
		{"two objects", `{"external_id":"a","email":"a@b.example"}{}`, 400, "malformed", ""},
		{"missing external_id", `{"email":"a@b.example"}`, 422, "invalid", "external_id"},
		{"external_id too long", `{"external_id":"` + strings.Repeat("e", 129) + `","email":"a@b.example"}`, 422, "invalid", "external_id"},
		{"no email or phone", `{"external_id":"a"}`, 422, "invalid", "email"},
		{"bad email", `{"external_id":"a","email":"not-an-email"}`, 422, "invalid", "email"},
		{"bad phone", `{"external_id":"a","phone":"12"}`, 422, "invalid", "phone"},
		{"unknown field", `{"external_id":"a","email":"a@b.example","color":"red"}`, 422, "invalid", "color"},
		{"wrong type", `{"external_id":7,"email":"a@b.example"}`, 422, "invalid", "external_id"},
		{"70 KiB", big, 413, "too_large", ""},
	}
	for _, c := range cases {
		r := s.do(t, "POST", "/v1/leads", tn.vendorKey, []byte(c.body))
		if r.status != c.status || r.errCode() != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.name, r.status, r.raw, c.status, c.code)
			continue
		}
		if e, _ := r.body["error"].(map[string]any); e["message"] == "" {
			t.Errorf("%s: no message", c.name)
		}
		if c.field != "" && r.errField(c.field) == "" {
			t.Errorf("%s: no message for field %s in %s", c.name, c.field, r.raw)
		}
	}
	var n int
	if err := s.deps.Pool.QueryRow(context.Background(), `SELECT count(*) FROM leads WHERE source_id = $1`, tn.sourceID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d leads stored from refused posts", n)
	}
	// Bad source config is refused with field messages, too.
	r := s.do(t, "PUT", "/v1/orgs/"+tn.id+"/sources/web", tn.ownerToken, map[string]any{"name": "", "routing": map[string]any{"mode": "round_robin"}, "priority": "urgent"})
	if r.status != 422 || r.errField("routing.mode") == "" || r.errField("name") == "" || r.errField("priority") == "" {
		t.Fatalf("bad source: %d %s", r.status, r.raw)
	}
}

func TestVendorRateLimit(t *testing.T) {
	s := up(t)
	tn := s.newTenant(t, "rl", 1, map[string]any{"name": "EverQuote", "routing": map[string]any{"mode": "owner"}})
	cfg := *s.deps.Cfg
	cfg.VendorRate = config.RateLimit{PerSecond: 1, Burst: 2}
	d := *s.deps
	d.Cfg = &cfg
	h := app.APIHandler(&d)
	limited := &stack{deps: &d, api: newServer(t, h)}
	var got []int
	var retry string
	for i := 0; i < 3; i++ {
		r := limited.do(t, "POST", "/v1/leads", tn.vendorKey, lead(fmt.Sprintf("rl-%d", i)))
		got = append(got, r.status)
		retry = r.header.Get("Retry-After")
		if r.status == 429 && r.errCode() != "rate_limited" {
			t.Fatalf("429 body %s", r.raw)
		}
	}
	if fmt.Sprint(got) != "[202 202 429]" || retry != "1" {
		t.Fatalf("statuses %v Retry-After %q, want [202 202 429] and 1", got, retry)
	}
}

func TestHealthAndReadiness(t *testing.T) {
	s := up(t)
	if r := s.do(t, "GET", "/healthz", "", nil); r.status != 200 {
		t.Fatalf("healthz %d", r.status)
	}
	if r := s.do(t, "GET", "/readyz", "", nil); r.status != 200 || r.body["ready"] != true {
		t.Fatalf("readyz %d %s", r.status, r.raw)
	}
}
