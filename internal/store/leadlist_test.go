package store_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/internal/testenv"
)

// txStore is a store inside a transaction rolled back at the test's end,
// with the transaction itself for rows no store method writes.
func txStore(t *testing.T) (*store.Store, pgx.Tx) {
	t.Helper()
	p, _ := testenv.DB(t)
	tx, err := p.Begin(ctx)
	must(t, err)
	t.Cleanup(func() { _ = tx.Rollback(ctx) })
	return store.New(tx), tx
}

// source adds a source that routes to the org's owner.
func source(t *testing.T, s *store.Store, org, slug string) store.Source {
	t.Helper()
	cfg := domain.SourceConfig{Name: slug, Routing: domain.Routing{Mode: domain.RouteOwner}}
	delay, err := cfg.Validate()
	must(t, err)
	src, _, _, err := s.PutSource(ctx, org, slug, cfg, delay)
	must(t, err)
	return src
}

// allPages pages through ListLeads with f and returns the ids in the order
// served, failing on a repeated lead or a page out of order.
func allPages(t *testing.T, s *store.Store, org string, f store.LeadFilter) []string {
	t.Helper()
	var ids []string
	seen := map[string]bool{}
	var last *store.Lead
	for page := 0; ; page++ {
		leads, next, err := s.ListLeads(ctx, org, f)
		must(t, err)
		if len(leads) > f.Limit || (next != "" && len(leads) != f.Limit) {
			t.Fatalf("page %d of %+v: %d leads with next %q", page, f, len(leads), next)
		}
		for _, l := range leads {
			if seen[l.ID] {
				t.Fatalf("%+v: lead %s served twice", f, l.ID)
			}
			if last != nil && (l.ReceivedAt.After(last.ReceivedAt) || l.ReceivedAt.Equal(last.ReceivedAt) && l.ID > last.ID) {
				t.Fatalf("%+v: %s (%s) served after %s (%s): not newest first", f, l.ID, l.ReceivedAt, last.ID, last.ReceivedAt)
			}
			seen[l.ID] = true
			last = &l
			ids = append(ids, l.ID)
		}
		if next == "" {
			return ids
		}
		f.Cursor = next
	}
}

// TestLeadListFilters: each filter of the lead list (location, owner,
// assignee, status, source) keeps exactly its leads, alone and together,
// and paging with a filter serves each of them once; another org's leads
// never appear.
func TestLeadListFilters(t *testing.T) {
	t.Parallel()
	s, tx := txStore(t)
	f := seed(t, s, 3, domain.SourceConfig{})
	other := seed(t, s, 1, domain.SourceConfig{})
	zillow := source(t, s, f.org.ID, "zillow")
	a, b := f.staff[0].ID, f.staff[1].ID
	base := time.Now().Add(-time.Hour)
	lead := func(ext string, src store.Source, slug string) string {
		t.Helper()
		in, err := s.InsertLead(ctx, store.NewLead{SourceID: src.ID, OrgID: src.OrgID, Slug: slug, WorkflowID: "wf-" + ext,
			ReceivedAt: base.Add(time.Duration(len(ext)) * time.Second), In: domain.LeadInput{ExternalID: ext, Email: ext + "@example.com"}})
		must(t, err)
		return in.LeadID
	}
	set := func(id, sql string, args ...any) {
		t.Helper()
		_, err := tx.Exec(ctx, `UPDATE leads SET `+sql+` WHERE id = $1`, append([]any{id}, args...)...)
		must(t, err)
	}
	// Received in this order, so newest first is l5 … l1.
	l1 := lead("l", f.source, "everquote")
	l2 := lead("ll", f.source, "everquote")
	l3 := lead("lll", f.source, "everquote")
	l4 := lead("llll", f.source, "everquote")
	l5 := lead("lllll", zillow, "zillow")
	otherLead := lead("llllll", other.source, "everquote")
	set(l1, `assigned_to = $2`, a)
	set(l2, `assigned_to = $2, owner_user_id = $2`, b)
	set(l3, `location = 'pending'`)
	set(l4, `location = 'queue'`)
	set(l5, `assigned_to = $2, status = 'invalid'`, a)
	set(otherLead, `assigned_to = $2, location = 'pending'`, other.staff[0].ID)

	for _, c := range []struct {
		name string
		f    store.LeadFilter
		want []string
	}{
		{"everything", store.LeadFilter{}, []string{l5, l4, l3, l2, l1}},
		{"in pending", store.LeadFilter{Location: "pending"}, []string{l3}},
		{"in the queue", store.LeadFilter{Location: "queue"}, []string{l4}},
		{"team-owned", store.LeadFilter{Owner: store.OwnerTeam}, []string{l5, l4, l3, l1}},
		{"owned by b", store.LeadFilter{Owner: b}, []string{l2}},
		{"owned by a", store.LeadFilter{Owner: a}, nil},
		{"assigned to a", store.LeadFilter{AssignedTo: a}, []string{l5, l1}},
		{"assigned to a, invalid", store.LeadFilter{AssignedTo: a, Status: domain.StatusInvalid}, []string{l5}},
		{"assigned to a, from everquote", store.LeadFilter{AssignedTo: a, Source: "everquote"}, []string{l1}},
		{"new", store.LeadFilter{Status: domain.StatusNew}, []string{l4, l3, l2, l1}},
		{"from zillow", store.LeadFilter{Source: "zillow"}, []string{l5}},
		{"team-owned in pending", store.LeadFilter{Owner: store.OwnerTeam, Location: "pending"}, []string{l3}},
		{"another org's user", store.LeadFilter{AssignedTo: other.staff[0].ID}, nil},
	} {
		for _, limit := range []int{1, 2, 50} {
			c.f.Limit = limit
			if got := allPages(t, s, f.org.ID, c.f); !slices.Equal(got, c.want) {
				t.Errorf("%s, %d a page: %v, want %v", c.name, limit, got, c.want)
			}
		}
	}
}

// TestLeadSearch: q finds a lead by a piece of its name (first, last, or
// "first last"), email, phone digits however the phone is written, or
// external id, in any case and any script; %, _ and \ are the characters
// themselves, not LIKE's wildcards; another org's lead with the same
// words is not found.
func TestLeadSearch(t *testing.T) {
	t.Parallel()
	s, _ := txStore(t)
	f := seed(t, s, 1, domain.SourceConfig{})
	other := seed(t, s, 1, domain.SourceConfig{})
	at := time.Now().Add(-time.Hour)
	add := func(fx fixture, in domain.LeadInput) string {
		t.Helper()
		at = at.Add(time.Second)
		must(t, in.Validate())
		l, err := s.InsertLead(ctx, store.NewLead{SourceID: fx.source.ID, OrgID: fx.org.ID, Slug: "everquote", WorkflowID: "wf-" + in.ExternalID,
			ReceivedAt: at, In: in})
		must(t, err)
		return l.LeadID
	}
	ada := add(f, domain.LeadInput{ExternalID: "crm-1", FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.com", Phone: "+1 (555) 010-0200"})
	ivan := add(f, domain.LeadInput{ExternalID: "crm-2", FirstName: "Иван", LastName: "Петров", Email: "ivan@example.ru"})
	zoe := add(f, domain.LeadInput{ExternalID: "crm-3", FirstName: "Zoë 😀", LastName: "Smith", Email: "zoe@example.com"})
	percent := add(f, domain.LeadInput{ExternalID: "100%", FirstName: "Percy", Email: "percy@example.com"})
	under := add(f, domain.LeadInput{ExternalID: "a_b", FirstName: "Una", Email: "una@example.com"})
	slash := add(f, domain.LeadInput{ExternalID: `c\d`, FirstName: "Bo", Email: "bo@example.com"})
	add(other, domain.LeadInput{ExternalID: "crm-1", FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.com", Phone: "+1 (555) 010-0200"})

	for _, c := range []struct {
		q    string
		want []string
	}{
		{"ada", []string{ada}},
		{"LOVELACE", []string{ada}},
		{"ada lovelace", []string{ada}},
		{"ada@EXAMPLE", []string{ada}},
		{"иван", []string{ivan}},
		{"ПЕТРОВ", []string{ivan}},
		{"Иван Петров", []string{ivan}},
		{"ivan@example.ru", []string{ivan}},
		{"😀", []string{zoe}},
		{"ZOË 😀 smith", []string{zoe}},
		{"%", []string{percent}},
		{"100%", []string{percent}},
		{"_", []string{under}},
		{"a_b", []string{under}},
		{"a%b", nil}, // as a pattern it would match "a_b" and "ada@…com"
		{`\`, []string{slash}},
		{`c\d`, []string{slash}},
		{"0100200", []string{ada}},
		{"(555) 010-0200", []string{ada}},
		{"+1 555 010", []string{ada}},
		{"crm-", []string{zoe, ivan, ada}},
		{"nobody@nowhere", nil},
	} {
		for _, limit := range []int{1, 50} {
			if got := allPages(t, s, f.org.ID, store.LeadFilter{Q: c.q, Limit: limit}); !slices.Equal(got, c.want) {
				t.Errorf("q %q, %d a page: %v, want %v", c.q, limit, got, c.want)
			}
		}
	}
	// A filter and a search together.
	got := allPages(t, s, f.org.ID, store.LeadFilter{Q: "crm-", Owner: store.OwnerTeam, Status: domain.StatusNew, Limit: 2})
	if !slices.Equal(got, []string{zoe, ivan, ada}) {
		t.Errorf("q crm- of team-owned new leads: %v", got)
	}
}

// planNode is one node of EXPLAIN (FORMAT JSON). Actual Rows and the rows
// removed are averages per loop, hence Actual Loops.
type planNode struct {
	NodeType         string     `json:"Node Type"`
	Relation         string     `json:"Relation Name"`
	Index            string     `json:"Index Name"`
	ActualRows       float64    `json:"Actual Rows"`
	Loops            float64    `json:"Actual Loops"`
	RemovedByFilter  float64    `json:"Rows Removed by Filter"`
	RemovedByRecheck float64    `json:"Rows Removed by Index Recheck"`
	Plans            []planNode `json:"Plans"`
}

// leadsRead is how many rows of leads the plan looked at (kept or
// dropped), and the scans of leads it used.
func (n planNode) leadsRead() (rows float64, scans []string) {
	if n.Relation == "leads" {
		rows = (n.ActualRows + n.RemovedByFilter + n.RemovedByRecheck) * n.Loops
		scans = append(scans, strings.TrimSpace(n.NodeType+" "+n.Index))
	}
	for _, c := range n.Plans {
		r, s := c.leadsRead()
		rows += r
		scans = append(scans, s...)
	}
	return rows, scans
}

// TestLeadListReadsAPageNotTheOrg is the console's leads page at scale:
// 20,000 leads in one org across 100 users, the statistics fresh. For the
// unfiltered page, a rep's own leads (and their next page), a user's and
// the team's owned leads, a status, a place, a source of 1% and a search
// for one lead, the
// plan PostgreSQL runs reads about one page of leads — no Seq Scan, at most
// two pages' worth of rows — where a filter checked row by row while
// walking the org's newest-first index reads a hundred pages to fill one
// for a rep who holds 1% of the org. Then every filter pages to exactly
// the leads it names, as checked against the whole org read page by page.
func TestLeadListReadsAPageNotTheOrg(t *testing.T) {
	t.Parallel()
	s, tx := txStore(t)
	org, _, _, err := s.CreateOrg(ctx, "Big Agency", "UTC", "owner@"+domainFor(t), "Owner")
	must(t, err)
	var users []string
	rows, err := tx.Query(ctx, `INSERT INTO users (org_id, email, name, role)
		SELECT $1, 'rep' || i || '@' || $2, 'Rep ' || i, 'staff' FROM generate_series(1, 100) i RETURNING id`, org.ID, domainFor(t))
	must(t, err)
	users, err = pgx.CollectRows(rows, pgx.RowTo[string])
	must(t, err)
	source(t, s, org.ID, "everquote")
	source(t, s, org.ID, "zillow")
	source(t, s, org.ID, "rare")
	// Rep users[k] is assigned the leads i ≡ k (mod 100) not in pending or
	// the queue, 200 or 180 of them; every tenth lead is owned by a user
	// (20 each), the rest by the team; 2% returned, 1% invalid; a quarter
	// from zillow, 1% from rare. Two leads share each second, so ties are
	// paged by id.
	_, err = tx.Exec(ctx, `INSERT INTO leads (org_id, intake_org_id, source_id, source_slug, external_id, status, location,
			owner_user_id, assigned_to, first_name, last_name, email, phone, workflow_id, received_at, routed_at)
		SELECT $1, $1, s.id, s.slug, 'x-' || i,
			CASE WHEN i % 50 = 1 THEN 'returned' WHEN i % 100 = 2 THEN 'invalid' ELSE 'new' END,
			CASE WHEN i % 20 = 3 THEN 'pending' WHEN i % 20 = 4 THEN 'queue' END,
			CASE WHEN i % 10 = 5 THEN ($2::uuid[])[1 + (i / 10) % 100] END,
			CASE WHEN i % 20 NOT IN (3, 4) THEN ($2::uuid[])[1 + i % 100] END,
			(ARRAY['Anna', 'Boris', 'Иван', 'José', 'Zoë', 'Li', 'Мария'])[1 + i % 7],
			(ARRAY['Smith', 'Petrov', 'García', 'Nguyen', 'Müller', 'Иванова', 'Kim', 'Rossi', 'Sato', 'Lee', 'Ng'])[1 + (i / 7) % 11],
			'lead' || i || '@mail.example', '+1 555 ' || lpad(i::text, 7, '0'), 'wf-' || i,
			now() - (i / 2) * interval '1 second', now()
		FROM generate_series(1, 20000) i
		JOIN lead_sources s ON s.org_id = $1
			AND s.slug = CASE WHEN i % 100 = 50 THEN 'rare' WHEN i % 4 = 0 THEN 'zillow' ELSE 'everquote' END`, org.ID, users)
	must(t, err)
	// The plans below follow the statistics this ANALYZE writes. An
	// autovacuum analyze of the committed rows of other tests (a near-empty
	// table) would overwrite the row count in place and make a Seq Scan the
	// cheap plan (seen in CI): holding the lock an analyze needs until the
	// test's transaction ends keeps autovacuum off leads meanwhile, without
	// blocking other tests' reads and writes.
	_, err = tx.Exec(ctx, `LOCK TABLE leads IN SHARE UPDATE EXCLUSIVE MODE`)
	must(t, err)
	_, err = tx.Exec(ctx, `ANALYZE leads`)
	must(t, err)

	rep := users[7]
	firstPage, next, err := s.ListLeads(ctx, org.ID, store.LeadFilter{AssignedTo: rep})
	must(t, err)
	if len(firstPage) != 50 || next == "" {
		t.Fatalf("a rep's first page: %d leads, next %q", len(firstPage), next)
	}
	const limit = 50
	for _, c := range []struct {
		name string
		f    store.LeadFilter
	}{
		{"the unfiltered page", store.LeadFilter{}},
		{"a rep's leads", store.LeadFilter{AssignedTo: rep}},
		{"a rep's leads, next page", store.LeadFilter{AssignedTo: rep, Cursor: next}},
		{"leads a user owns", store.LeadFilter{Owner: users[7]}},
		{"team-owned leads", store.LeadFilter{Owner: store.OwnerTeam}},
		{"invalid leads", store.LeadFilter{Status: domain.StatusInvalid}},
		{"the queue", store.LeadFilter{Location: "queue"}},
		{"a source", store.LeadFilter{Source: "rare"}},
		{"a search for one external id", store.LeadFilter{Q: "x-12345"}},
	} {
		c.f.Limit = limit
		raw, err := s.ListLeadsPlanForTest(ctx, org.ID, c.f)
		must(t, err)
		var plan []struct{ Plan planNode }
		must(t, json.Unmarshal(raw, &plan))
		read, scans := plan[0].Plan.leadsRead()
		for _, scan := range scans {
			if strings.HasPrefix(scan, "Seq Scan") {
				t.Errorf("%s: a Seq Scan on leads (%v)", c.name, scans)
			}
		}
		if read > 2*(limit+1) {
			t.Errorf("%s: read %.0f rows of leads for a page of %d (%v)", c.name, read, limit, scans)
		}
		t.Logf("%s: %v, %.0f rows read", c.name, scans, read)
	}

	// The org as a whole, 500 at a time, is the reference for each filter.
	everyone := map[string]store.Lead{}
	var order []string
	f := store.LeadFilter{Limit: 500}
	for {
		leads, next, err := s.ListLeads(ctx, org.ID, f)
		must(t, err)
		for _, l := range leads {
			everyone[l.ID] = l
			order = append(order, l.ID)
		}
		if f.Cursor = next; next == "" {
			break
		}
	}
	if len(order) != 20000 || len(everyone) != 20000 {
		t.Fatalf("paging the org: %d leads, %d distinct", len(order), len(everyone))
	}
	for _, c := range []struct {
		f    store.LeadFilter
		keep func(l store.Lead) bool
	}{
		{store.LeadFilter{AssignedTo: rep}, func(l store.Lead) bool { return l.AssignedTo != nil && *l.AssignedTo == rep }},
		{store.LeadFilter{Owner: users[3]}, func(l store.Lead) bool { return l.Owner.Type == "user" && l.Owner.ID == users[3] }},
		{store.LeadFilter{Owner: store.OwnerTeam, Location: "pending"}, func(l store.Lead) bool {
			return l.Owner.Type == "org" && l.Location != nil && *l.Location == "pending"
		}},
		{store.LeadFilter{Status: domain.StatusReturned, Source: "everquote"}, func(l store.Lead) bool {
			return l.Status == domain.StatusReturned && l.Source == "everquote"
		}},
		{store.LeadFilter{Source: "zillow"}, func(l store.Lead) bool { return l.Source == "zillow" }},
		{store.LeadFilter{Q: "555 001 2345"}, func(l store.Lead) bool { return l.ExternalID == "x-12345" }},
		{store.LeadFilter{Q: "иван"}, func(l store.Lead) bool { return l.FirstName == "Иван" || l.LastName == "Иванова" }},
		{store.LeadFilter{Q: "LEAD1999"}, func(l store.Lead) bool { return strings.HasPrefix(l.Email, "lead1999") }},
		{store.LeadFilter{Q: "zoë ng", AssignedTo: rep}, func(l store.Lead) bool {
			// "Zoë Ng" and "Zoë Nguyen": a substring, not a word.
			return l.FirstName == "Zoë" && strings.HasPrefix(l.LastName, "Ng") && l.AssignedTo != nil && *l.AssignedTo == rep
		}},
	} {
		var want []string
		for _, id := range order {
			if c.keep(everyone[id]) {
				want = append(want, id)
			}
		}
		if len(want) == 0 {
			t.Fatalf("%+v names no lead: the seed does not test it", c.f)
		}
		c.f.Limit = 37
		if got := allPages(t, s, org.ID, c.f); !slices.Equal(got, want) {
			t.Errorf("%+v: %d leads, want %d", c.f, len(got), len(want))
		}
	}
}

// TestListUsers: an org's members by name, each with role, active and
// digest flag; another org's users are not among them.
func TestListUsers(t *testing.T) {
	t.Parallel()
	s := testenv.Tx(t)
	f := seed(t, s, 3, domain.SourceConfig{})
	seed(t, s, 2, domain.SourceConfig{})
	off := false
	_, err := s.UpdateUser(ctx, f.org.ID, f.staff[1].ID, store.UserPatch{Active: &off})
	must(t, err)
	got, err := s.ListUsers(ctx, f.org.ID)
	must(t, err)
	var names []string
	for _, u := range got {
		names = append(names, fmt.Sprintf("%s/%s/%v", u.Name, u.Role, u.Active))
		if u.OrgID != f.org.ID {
			t.Errorf("another org's user %+v", u)
		}
	}
	want := []string{"Admin/admin/true", "Owner/owner/true", "User 0/staff/true", "User 1/professional/false", "User 2/manager/true"}
	if !slices.Equal(names, want) {
		t.Fatalf("users %v, want %v", names, want)
	}
}

// TestPipeline: the handovers waiting at an org, oldest first, each with
// the lead's name, the sending org, who sent it (a user, or nobody for the
// operator's token) and when it goes back; a decided handover leaves the
// list, the sending org's list is empty, and paging serves each once.
func TestPipeline(t *testing.T) {
	t.Parallel()
	s, tx := txStore(t)
	m, sub := linkedPair(t, s)
	ids, tr := handedOver(t, s, m, sub, "pipe-", 3)
	// One more, sent by the master's manager, with a name.
	manager := m.staff[2]
	named, err := s.InsertLead(ctx, store.NewLead{SourceID: m.source.ID, OrgID: m.org.ID, Slug: "everquote", WorkflowID: "wf-pipe-named",
		ReceivedAt: time.Now(), In: domain.LeadInput{ExternalID: "pipe-named", FirstName: "Иван", LastName: "Петров", Phone: "+1 555 0100"}})
	must(t, err)
	_, err = route(s, named.LeadID)
	must(t, err)
	id := domain.NewID()
	byUser, _, err := s.CreateTransfer(ctx, store.NewTransfer{ID: id, OrgID: m.org.ID, ToOrgID: sub.org.ID, Mode: domain.TransferManagerReview,
		RequestedBy: manager.ID, RequestHash: []byte(id), WorkflowID: "transfer/" + id, LeadIDs: []string{named.LeadID}})
	must(t, err)
	_, err = s.MoveTransferBatch(ctx, store.TransferBatch{TransferID: byUser.ID, Size: 10})
	must(t, err)
	// One transaction stamps them all alike: spread them out.
	for i, lead := range []string{ids[0], named.LeadID, ids[2], ids[1]} {
		_, err := tx.Exec(ctx, `UPDATE handovers SET created_at = now() - make_interval(hours => $2) WHERE lead_id = $1`, lead, 10-i)
		must(t, err)
	}
	want := []string{ids[0], named.LeadID, ids[2], ids[1]}

	got, next, err := s.Pipeline(ctx, sub.org.ID, "", 50)
	must(t, err)
	if len(got) != 4 || next != "" {
		t.Fatalf("pipeline: %+v next %q", got, next)
	}
	for i, h := range got {
		// Unnamed leads are shown by their email: the post helper's <ext>@example.com.
		wantName, wantBy := h.Name, (*store.UserRef)(nil)
		if !strings.HasPrefix(h.Name, "pipe-") || !strings.HasSuffix(h.Name, "@example.com") {
			wantName = "pipe-<ext>@example.com"
		}
		if h.LeadID == named.LeadID {
			wantName, wantBy = "Иван Петров", &store.UserRef{ID: manager.ID, Name: manager.Name}
		}
		if h.LeadID != want[i] || h.FromOrg != (store.OrgRef{ID: m.org.ID, Name: m.org.Name}) || h.Name != wantName ||
			(h.SentBy == nil) != (wantBy == nil) || (wantBy != nil && *h.SentBy != *wantBy) ||
			!h.ExpiresAt.Equal(h.SentAt.Add(domain.HandoverTTL)) || h.SentAt.IsZero() {
			t.Errorf("pipeline[%d] = %+v sent by %v, want lead %s named %q sent by %v", i, h, h.SentBy, want[i], wantName, wantBy)
		}
	}
	if mine, _, err := s.Pipeline(ctx, m.org.ID, "", 50); err != nil || len(mine) != 0 {
		t.Fatalf("the sender's pipeline: %+v %v", mine, err)
	}
	// Decided: out of the list.
	answer := store.HandoverAnswer{ID: domain.NewID(), LeadID: ids[0], TransferID: tr.ID, Kind: "reject", Actor: sub.staff[2].ID, Reason: "no"}
	must(t, s.RecordHandoverAnswer(ctx, answer))
	_, err = s.ApplyHandoverAnswer(ctx, answer.ID)
	must(t, err)
	var paged []string
	cursor := ""
	for {
		page, next, err := s.Pipeline(ctx, sub.org.ID, cursor, 1)
		must(t, err)
		for _, h := range page {
			paged = append(paged, h.LeadID)
		}
		if cursor = next; next == "" {
			break
		}
	}
	if !slices.Equal(paged, want[1:]) {
		t.Fatalf("paged pipeline after a rejection: %v, want %v", paged, want[1:])
	}
	if _, _, err := s.Pipeline(ctx, sub.org.ID, "bogus", 1); domain.ErrorCode(err) != domain.EInvalid {
		t.Fatalf("a bad cursor: %v", err)
	}
}
