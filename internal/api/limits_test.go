package api

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/leadrelay/leadrelay/internal/domain"
)

// A user token past USER_RATE_LIMIT gets 429 with Retry-After; the bucket is
// the token's, so a colleague's token goes on, and the admin token is not a
// user token.
func TestUserTokensAreRateLimited(t *testing.T) {
	ts := newTestServer(t, true, map[string]string{"USER_RATE_LIMIT": "1/m,burst=2"})
	p := newPeople(t, ts, "Busy")
	path := "/v1/orgs/" + p.org
	var got []int
	var last answer
	for range 3 {
		last = ts.do(t, "GET", path, p.tokens[domain.RoleStaff], "", "")
		got = append(got, last.status)
	}
	if fmt.Sprint(got) != "[200 200 429]" || last.header.Get("Retry-After") == "" || !strings.Contains(last.body, `"code":"rate_limited"`) {
		t.Fatalf("statuses %v, last %s Retry-After %q; want [200 200 429] with Retry-After", got, last.body, last.header.Get("Retry-After"))
	}
	if a := ts.do(t, "GET", path, p.tokens[domain.RoleManager], "", ""); a.status != 200 {
		t.Errorf("a colleague's token: %d %s", a.status, a.body)
	}
	for range 3 {
		if a := ts.do(t, "GET", path, testAdmin, "", ""); a.status != 200 {
			t.Errorf("the admin token: %d %s", a.status, a.body)
		}
	}
}

// TRANSFERS_PER_ORG bounds an org's running transfers, also when requests
// race: past it 429 with Retry-After and nothing written; a repeat of an
// accepted request still answers 200, and a finished transfer makes room.
func TestTransfersPerOrgAreBounded(t *testing.T) {
	ts := newTestServer(t, true, map[string]string{"TRANSFERS_PER_ORG": "2", "USER_RATE_LIMIT": "off"})
	master, sub := linkedPair(t, ts)
	leads := routedLeads(t, ts, master, 9)
	transfer := func(lead string) answer {
		body := `{"to_org":"` + sub.org + `","lead_ids":["` + lead + `"],"mode":"owner"}`
		return ts.do(t, "POST", "/v1/orgs/"+master.org+"/transfers", master.tokens[domain.RoleManager], body, "", "Idempotency-Key", "k"+lead)
	}
	answers := make([]answer, 8)
	var wg sync.WaitGroup
	for i := range answers {
		wg.Go(func() { answers[i] = transfer(leads[i]) })
	}
	wg.Wait()
	var statuses []int
	var accepted string
	for i, a := range answers {
		statuses = append(statuses, a.status)
		switch a.status {
		case 202:
			accepted = leads[i]
		case 429:
			if a.header.Get("Retry-After") == "" || !strings.Contains(a.body, `"code":"rate_limited"`) {
				t.Errorf("429 without Retry-After: %v %s", a.header, a.body)
			}
		}
	}
	sort.Ints(statuses)
	if fmt.Sprint(statuses) != "[202 202 429 429 429 429 429 429]" {
		t.Fatalf("8 racing transfers with a limit of 2: %v", statuses)
	}
	if n := count(t, ts.s, `SELECT count(*) FROM transfers WHERE org_id = $1`, master.org); n != 2 {
		t.Errorf("%d transfers recorded, want 2", n)
	}
	if a := transfer(accepted); a.status != 200 {
		t.Errorf("a repeat of an accepted transfer: %d %s", a.status, a.body)
	}
	if _, err := ts.s.Pool.Exec(context.Background(), `UPDATE transfers SET status = 'completed' WHERE org_id = $1 AND id IN
		(SELECT id FROM transfers WHERE org_id = $1 LIMIT 1)`, master.org); err != nil {
		t.Fatal(err)
	}
	if a := transfer(leads[8]); a.status != 202 {
		t.Errorf("after one completed: %d %s", a.status, a.body)
	}
}

// Behind a trusted proxy, clients are told apart by X-Forwarded-For (the
// right-most address no trusted proxy holds), so one client's bad tokens do
// not stop another; from any other peer the header is ignored.
func TestClientsBehindATrustedProxyAreLimitedApart(t *testing.T) {
	ts := newTestServer(t, false, map[string]string{"AUTH_FAILURE_RATE_LIMIT": "1/m,burst=1", "TRUSTED_PROXIES": "10.0.0.0/8"})
	bad := func(peer, xff string) int {
		t.Helper()
		hdr := []string{}
		if xff != "" {
			hdr = []string{"X-Forwarded-For", xff}
		}
		return ts.do(t, "GET", "/v1/orgs/x", "", "", peer, hdr...).status
	}
	const proxy = "10.0.0.5:443"
	for _, c := range []struct {
		peer, xff string
		want      int
	}{
		{proxy, "198.51.100.1", 401},
		{proxy, "198.51.100.1", 429},
		{proxy, "198.51.100.2", 401},               // another client behind the proxy
		{proxy, "203.0.113.50, 198.51.100.1", 429}, // a forged left part changes nothing
		{proxy, "198.51.100.1, 10.0.0.9", 429},     // through two trusted proxies
		{proxy, "", 401},                           // the proxy's own request
		{"203.0.113.9:5000", "198.51.100.3", 401},  // an untrusted peer: keyed by the peer
		{"203.0.113.9:5000", "198.51.100.4", 429},  // its header does not give it a new bucket
		{proxy, "not-an-address, 198.51.100.7", 401},
	} {
		if got := bad(c.peer, c.xff); got != c.want {
			t.Errorf("peer %s, X-Forwarded-For %q: %d, want %d", c.peer, c.xff, got, c.want)
		}
	}
}

// Every lead field is bounded: a phone padded with separators (valid
// digits, 80 characters) is 422 on phone, and the other unbounded fields of
// old (notes, attribute values, the number of attributes) are refused past
// their bound, nothing written.
func TestLeadFieldsAreBounded(t *testing.T) {
	ts := newTestServer(t, true, nil)
	org, key := tenant(t, ts.s, "Boundco")
	attrs := make([]string, 101)
	for i := range attrs {
		attrs[i] = fmt.Sprintf(`"k%d":"v"`, i)
	}
	for field, body := range map[string]string{
		"phone":        `{"external_id":"b1","phone":"+1` + strings.Repeat(" -", 35) + ` 555 010 0200"}`,
		"notes":        `{"external_id":"b2","email":"a@b.example","notes":"` + strings.Repeat("n", 10001) + `"}`,
		"attributes.k": `{"external_id":"b3","email":"a@b.example","attributes":{"k":"` + strings.Repeat("v", 1001) + `"}}`,
		"attributes":   `{"external_id":"b4","email":"a@b.example","attributes":{` + strings.Join(attrs, ",") + `}}`,
	} {
		a := ts.do(t, "POST", "/v1/leads", key, body, "")
		if a.status != 422 || !strings.Contains(a.body, `"`+field+`":`) {
			t.Errorf("over-long %s: %d %s, want 422 naming %s", field, a.status, a.body, field)
		}
	}
	if a := ts.do(t, "POST", "/v1/leads", key, `{"external_id":"b5","phone":"+1 (555) 010-0200"}`, ""); a.status != 202 {
		t.Errorf("a phone within bounds: %d %s", a.status, a.body)
	}
	if n := count(t, ts.s, `SELECT count(*) FROM leads WHERE org_id = $1`, org); n != 1 {
		t.Errorf("%d leads written, want the 1 within bounds", n)
	}
}
