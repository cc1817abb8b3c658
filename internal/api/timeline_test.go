package api

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/internal/domain"
)

// timelineEvent is what the tests read of a timeline event.
type timelineEvent struct {
	At      time.Time `json:"at"`
	Kind    string    `json:"kind"`
	Message string    `json:"message"`
}

// pagedLead is what the tests read of a lead answer's timeline.
type pagedLead struct {
	Timeline   []timelineEvent `json:"timeline"`
	NextCursor *string         `json:"timeline_next_cursor"`
}

// timelinePage is an answer of GET /v1/leads/{id}/timeline.
type timelinePage struct {
	Events     []timelineEvent `json:"events"`
	NextCursor *string         `json:"next_cursor"`
}

func readJSON[T any](t *testing.T, a answer) T {
	t.Helper()
	var v T
	if a.status != 200 || json.Unmarshal([]byte(a.body), &v) != nil {
		t.Fatalf("answer %d %s", a.status, a.body)
	}
	return v
}

func eventKinds(events []timelineEvent) string {
	k := make([]string, len(events))
	for i, e := range events {
		k[i] = e.Kind
	}
	return strings.Join(k, ",")
}

// GET /v1/leads/{id} carries the latest 50 events of a lead's timeline,
// oldest first, and a cursor to the older ones; GET /v1/leads/{id}/timeline
// pages back from the latest (limit 1 to 200, default 50) until its
// next_cursor is null, every event once and in order. Its callers are
// those of the lead read: members of the org that holds the lead and the
// admin token; another org's owner gets 404, a vendor key 403; a bad limit
// or cursor is a 422 naming it.
func TestTimelineRoute(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true, nil)
	acme, other := newPeople(t, ts, "Acme"), newPeople(t, ts, "Other")
	rep := acme.tokens[domain.RoleStaff]
	ids, vendorKey := queuedLeads(t, ts, acme, 1)
	id := ids[0]
	want := []string{"received", "routed"}
	for range 59 {
		if a := ts.do(t, "POST", "/v1/orgs/"+acme.org+"/queue/claim", rep, "", ""); a.status != 200 {
			t.Fatalf("claim: %d %s", a.status, a.body)
		}
		if a := ts.do(t, "POST", "/v1/leads/"+id+"/release", rep, "", ""); a.status != 200 {
			t.Fatalf("release: %d %s", a.status, a.body)
		}
		want = append(want, "claimed", "released")
	}

	lead := readJSON[pagedLead](t, ts.do(t, "GET", "/v1/leads/"+id, acme.tokens[domain.RoleProfessional], "", ""))
	if eventKinds(lead.Timeline) != strings.Join(want[len(want)-50:], ",") || lead.NextCursor == nil {
		t.Fatalf("the lead read: %d events %s, cursor %v", len(lead.Timeline), eventKinds(lead.Timeline), lead.NextCursor)
	}

	path := "/v1/leads/" + id + "/timeline"
	first := readJSON[timelinePage](t, ts.do(t, "GET", path, rep, "", ""))
	if eventKinds(first.Events) != eventKinds(lead.Timeline) || first.NextCursor == nil || *first.NextCursor != *lead.NextCursor {
		t.Fatalf("the first page by default: %d events, cursor %v; the lead read's cursor %s", len(first.Events), first.NextCursor, *lead.NextCursor)
	}
	var all []timelineEvent
	cursor := ""
	for pages := 1; ; pages++ {
		p := readJSON[timelinePage](t, ts.do(t, "GET", path+"?limit=37&cursor="+cursor, acme.tokens[domain.RoleOwner], "", ""))
		if len(p.Events) > 37 || pages > 4 {
			t.Fatalf("page %d: %d events", pages, len(p.Events))
		}
		all = append(p.Events, all...)
		if p.NextCursor == nil {
			break
		}
		cursor = *p.NextCursor
	}
	if eventKinds(all) != strings.Join(want, ",") {
		t.Fatalf("the pages, 37 at a time: %d events %s, want %d", len(all), eventKinds(all), len(want))
	}
	for i := 1; i < len(all); i++ {
		if all[i].At.Before(all[i-1].At) {
			t.Fatalf("event %d is older than the one before it", i)
		}
	}
	older := readJSON[timelinePage](t, ts.do(t, "GET", path+"?limit=200&cursor="+*lead.NextCursor, testAdmin, "", ""))
	if len(older.Events) != len(want)-50 || older.NextCursor != nil || older.Events[len(older.Events)-1].Message != all[len(want)-51].Message {
		t.Fatalf("the admin token, from the lead read's cursor: %d events, cursor %v", len(older.Events), older.NextCursor)
	}

	// A lead of a few events: both cursors are there, and null.
	short := routedLeads(t, ts, acme, 1)[0]
	if a := ts.do(t, "GET", "/v1/leads/"+short, rep, "", ""); !strings.Contains(a.body, `"timeline_next_cursor":null`) {
		t.Fatalf("a short lead's read: %s", a.body)
	}
	if a := ts.do(t, "GET", "/v1/leads/"+short+"/timeline?limit=1", rep, "", ""); !strings.Contains(a.body, `"next_cursor":"`) {
		t.Fatalf("one of two events: %s", a.body)
	}
	if a := ts.do(t, "GET", "/v1/leads/"+short+"/timeline", rep, "", ""); !strings.Contains(a.body, `"next_cursor":null`) {
		t.Fatalf("the whole short timeline: %s", a.body)
	}
	// A list's leads carry no timeline, nor a cursor to one.
	if a := ts.do(t, "GET", "/v1/orgs/"+acme.org+"/leads", rep, "", ""); a.status != 200 || strings.Contains(a.body, "timeline") {
		t.Fatalf("the list: %d %s", a.status, a.body)
	}

	for _, c := range []struct {
		name, target, token string
		status              int
		field               string
	}{
		{"another org's owner", path, other.tokens[domain.RoleOwner], 404, ""},
		{"another org's owner with a cursor", path + "?cursor=" + *lead.NextCursor, other.tokens[domain.RoleOwner], 404, ""},
		{"a vendor key", path, vendorKey, 403, ""},
		{"no token", path, "", 401, ""},
		{"no lead", "/v1/leads/" + domain.NewID() + "/timeline", rep, 404, ""},
		{"a bad id", "/v1/leads/x/timeline", rep, 404, ""},
		{"limit 0", path + "?limit=0", rep, 422, "limit"},
		{"limit 201", path + "?limit=201", rep, 422, "limit"},
		{"limit x", path + "?limit=x", rep, 422, "limit"},
		{"a cursor of other characters", path + "?cursor=a.b", rep, 422, "cursor"},
		{"a cursor too long", path + "?cursor=" + strings.Repeat("z", 21), rep, 422, "cursor"},
		{"a cursor of no event", path + "?cursor=0", rep, 422, "cursor"},
		{"a cursor out of range", path + "?cursor=" + strings.Repeat("z", 20), rep, 422, "cursor"},
		{"a cursor not text", path + "?cursor=%ff", rep, 422, "cursor"},
	} {
		a := ts.do(t, "GET", c.target, c.token, "", "")
		if a.status != c.status || (c.field != "" && !strings.Contains(a.body, `"fields":{"`+c.field+`":`)) {
			t.Errorf("%s: %d %s, want %d naming %q", c.name, a.status, a.body, c.status, c.field)
		}
	}
}
