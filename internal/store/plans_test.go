package store_test

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
)

// scaleLeads is the big org's leads in TestHotQueriesUseIndexes: enough
// that PostgreSQL's planner walks an index wherever one serves (below a
// few thousand rows a Seq Scan is cheaper, and would pass for a missing
// index), few enough to seed in well under a minute. LEADRELAY_SCALE_LEADS
// sets another number and logs each statement's EXPLAIN (ANALYZE,
// BUFFERS): docs/scale.md's plans at a million.
func scaleLeads(t *testing.T) int {
	n := 50_000
	if v := os.Getenv("LEADRELAY_SCALE_LEADS"); v != "" {
		var err error
		n, err = strconv.Atoi(v)
		must(t, err)
	}
	return n
}

// bigTables are the tables that grow with the leads: a Seq Scan on any of
// them is a read of every org's history.
var bigTables = []string{"leads", "timeline_events", "feed_events", "lead_claims", "lead_returns", "lead_arrivals",
	"handovers", "transfer_items"}

// scaleOrg is the seeded big org: its users, a lead of it in each state a
// hot path reads, and a running transfer of 1,000 of its leads.
type scaleOrg struct {
	org, other, source, user string
	users                    []string
	lead, queued             string // a routed lead; a lead in the claim queue
	leadAt                   time.Time
	bulk                     []string // 1,000 of its leads
	transfer                 string
	day                      time.Time // the start of a UTC day in the middle of its leads
}

// seedScale writes, by SQL in the test's transaction, an org of n leads
// (100 users, three sources) and another of a quarter as many, in the proportions of a working agency: every lead with a received
// and a routed timeline event, 5% in the claim queue, one in ten claimed
// once, 2% returned, one in five with a feed event, 5% moved in by a
// transfer or handed over, 0.1% waiting for a handover; nine in ten
// assigned leads worked.
// One lead every ten seconds, of one org or the other: 8,640 a day.
func seedScale(t *testing.T, s *store.Store, tx pgx.Tx, n int) scaleOrg {
	t.Helper()
	var o scaleOrg
	started := time.Now()
	org, _, _, err := s.CreateOrg(ctx, "Scale Agency", "UTC", "owner@"+domainFor(t), "Owner")
	must(t, err)
	other, _, _, err := s.CreateOrg(ctx, "Other Agency", "UTC", "owner@o"+domainFor(t), "Owner")
	must(t, err)
	o.org, o.other = org.ID, other.ID
	rows, err := tx.Query(ctx, `INSERT INTO users (org_id, email, name, role, open_cap)
		SELECT $1, 'rep' || i || '@' || $2, 'Rep ' || i, 'staff', 25 FROM generate_series(1, 100) i RETURNING id`, org.ID, domainFor(t))
	must(t, err)
	o.users, err = pgx.CollectRows(rows, pgx.RowTo[string])
	must(t, err)
	o.user = o.users[7]
	o.source = source(t, s, org.ID, "everquote").ID
	source(t, s, org.ID, "zillow")
	source(t, s, org.ID, "rare")
	source(t, s, other.ID, "everquote")

	// Both orgs' leads in one statement: the other org's are every fifth,
	// in between the big org's in time.
	_, err = tx.Exec(ctx, `INSERT INTO leads (org_id, intake_org_id, source_id, source_slug, external_id, status, location,
			owner_user_id, assigned_to, priority, first_name, last_name, email, phone, workflow_id, received_at, routed_at,
			available_at, worked_at)
		SELECT g.org, g.org, s.id, s.slug, 'x-' || i,
			CASE WHEN i % 50 = 1 THEN 'returned' WHEN i % 100 = 2 THEN 'invalid' ELSE 'new' END,
			CASE WHEN i % 20 = 3 THEN 'pending' WHEN i % 20 = 4 THEN 'queue' END,
			CASE WHEN i % 10 = 6 AND g.org = $1 THEN ($2::uuid[])[1 + (i / 10) % 100] END,
			CASE WHEN i % 20 NOT IN (3, 4) AND i % 50 <> 1 AND i % 100 <> 2 AND g.org = $1 THEN ($2::uuid[])[1 + i % 100] END,
			(ARRAY['normal', 'normal', 'high', 'medium'])[1 + i % 4],
			(ARRAY['Anna', 'Boris', 'Иван', 'José', 'Zoë', 'Li', 'Мария'])[1 + i % 7],
			(ARRAY['Smith', 'Petrov', 'García', 'Nguyen', 'Müller', 'Иванова', 'Kim', 'Rossi', 'Sato', 'Lee', 'Ng'])[1 + (i / 7) % 11],
			'lead' || i || '@mail.example', '+1 555 ' || lpad(i::text, 7, '0'), 'wf-' || g.org || '-' || i,
			g.at, g.at + interval '2 seconds',
			CASE WHEN i % 20 = 4 THEN g.at END,
			CASE WHEN i % 10 <> 1 THEN g.at + interval '5 minutes' END
		FROM generate_series(1, $4::int) i
		CROSS JOIN LATERAL (SELECT CASE WHEN i % 5 = 0 THEN $3::uuid ELSE $1::uuid END AS org,
			date_trunc('minute', now()) - i * interval '10 seconds' AS at) g
		JOIN lead_sources s ON s.org_id = g.org
			AND s.slug = CASE WHEN g.org <> $1 THEN 'everquote' WHEN i % 100 = 52 THEN 'rare' WHEN i % 4 = 0 THEN 'zillow' ELSE 'everquote' END`,
		org.ID, o.users, other.ID, n*5/4)
	must(t, err)
	t.Logf("leads: %s", time.Since(started).Round(time.Millisecond))
	for _, q := range []string{
		`INSERT INTO timeline_events (lead_id, org_id, at, kind, actor, message, data)
		SELECT id, org_id, received_at, 'received', 'vendor:' || source_slug, 'received from source ' || source_slug, '{}' FROM leads WHERE org_id IN ($1, $2)
		UNION ALL
		SELECT id, org_id, routed_at, 'routed', 'leadrelay', 'routed by rotation',
			CASE WHEN assigned_to IS NOT NULL THEN jsonb_build_object('assigned_to', assigned_to) ELSE jsonb_build_object('location', coalesce(location, 'pending')) END
		FROM leads WHERE org_id IN ($1, $2) ORDER BY 3`,
		`INSERT INTO lead_claims (lead_id, seq, org_id, user_id, claimed_at, expires_at, status, closed_at)
		SELECT l.id, 1, l.org_id, u.id, l.routed_at, l.routed_at + interval '15 minutes', 'expired', l.routed_at + interval '15 minutes'
		FROM leads l JOIN LATERAL (SELECT id FROM users WHERE org_id = l.org_id ORDER BY id LIMIT 1) u ON true
		WHERE l.org_id IN ($1, $2) AND l.external_id ~ '1$'`,
		`INSERT INTO lead_returns (lead_id, org_id, source_id, reason, returned_by, workflow_id, returned_at, notified_at)
		SELECT id, org_id, source_id, 'duplicate', 'admin', 'return/' || id, routed_at + interval '1 hour', routed_at + interval '1 hour'
		FROM leads WHERE org_id IN ($1, $2) AND status = 'returned'`,
		`INSERT INTO feed_events (org_id, at, kind, lead_id, other_org_id, actor, message)
		SELECT org_id, routed_at, 'transfer_in', id, CASE WHEN org_id = $1::uuid THEN $2::uuid ELSE $1::uuid END, 'admin', 'received'
		FROM leads WHERE org_id IN ($1, $2) AND external_id ~ '[01]$' ORDER BY routed_at`,
		// The other org's feed has been busy since the big org's last
		// event: a quiet org's newest events are not the table's newest,
		// which a page read backwards through every org's ids would miss.
		`INSERT INTO feed_events (org_id, at, kind, lead_id, other_org_id, actor, message)
		SELECT $2, now(), 'transfer_out', id, $1, 'admin', 'sent' FROM leads WHERE org_id = $2 ORDER BY id LIMIT 5000`,
	} {
		_, err := tx.Exec(ctx, q, org.ID, other.ID)
		must(t, err)
		t.Logf("%.30s: %s", q, time.Since(started).Round(time.Millisecond))
	}
	// A transfer from the other org: 1% of the big org's leads arrived by
	// it, 0.1% wait for its handover; and it is moving 1,000 more.
	o.transfer = domain.NewID()
	_, err = tx.Exec(ctx, `INSERT INTO transfers (id, org_id, to_org_id, mode, requested_by, request_hash, workflow_id, total)
		VALUES ($1, $2, $3, 'owner', 'admin', '\x00', $4, 1000)`, o.transfer, other.ID, org.ID, "transfer/"+o.transfer)
	must(t, err)
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO lead_arrivals (org_id, lead_id, transfer_id, at)
		SELECT org_id, id, $2, routed_at FROM leads WHERE org_id = $1 AND external_id ~ '[1-5]1$'`, []any{org.ID, o.transfer}},
		{`INSERT INTO handovers (lead_id, transfer_id, from_org_id, to_org_id, created_at, status)
		SELECT id, $2, $3, org_id, routed_at, CASE WHEN external_id ~ '001$' THEN 'pending' ELSE 'accepted' END
		FROM leads WHERE org_id = $1 AND external_id ~ '[1-5]1$'`,
			[]any{org.ID, o.transfer, other.ID}},
		{`INSERT INTO transfer_items (transfer_id, seq, lead_id)
		SELECT $1, row_number() OVER (ORDER BY id) - 1, id FROM (SELECT id FROM leads WHERE org_id = $2 ORDER BY id LIMIT 1000) l`,
			[]any{o.transfer, other.ID}},
		// Finished transfers keep their items: the table outgrows any one
		// transfer, as it does in a year of them, so a batch's read of
		// its 500 is an index range, not most of the table.
		{`WITH t AS (INSERT INTO transfers (id, org_id, to_org_id, mode, requested_by, request_hash, workflow_id, total)
			VALUES ($1::uuid, $2, $3, 'owner', 'admin', '\x00', 'transfer/' || $1::text, 20000) RETURNING id)
		INSERT INTO transfer_items (transfer_id, seq, lead_id)
		SELECT (SELECT id FROM t), row_number() OVER (ORDER BY id) - 1, id FROM (SELECT id FROM leads WHERE org_id = $3 ORDER BY id LIMIT 20000) l`,
			[]any{domain.NewID(), org.ID, other.ID}},
	} {
		_, err := tx.Exec(ctx, q.sql, q.args...)
		must(t, err)
	}
	// The plans follow the statistics these ANALYZEs write; the lock keeps
	// autovacuum from overwriting them with the committed, near-empty
	// tables' until the transaction ends (TestLeadListReadsAPageNotTheOrg
	// says why).
	_, err = tx.Exec(ctx, `LOCK TABLE `+strings.Join(bigTables, ", ")+` IN SHARE UPDATE EXCLUSIVE MODE`)
	must(t, err)
	_, err = tx.Exec(ctx, `ANALYZE `+strings.Join(bigTables, ", "))
	must(t, err)

	must(t, tx.QueryRow(ctx, `SELECT id, received_at FROM leads WHERE org_id = $1 AND assigned_to = $2 ORDER BY received_at DESC LIMIT 1 OFFSET 500`,
		org.ID, o.user).Scan(&o.lead, &o.leadAt))
	must(t, tx.QueryRow(ctx, `SELECT id FROM leads WHERE org_id = $1 AND location = 'queue' ORDER BY received_at LIMIT 1`, org.ID).Scan(&o.queued))
	rows, err = tx.Query(ctx, `SELECT id::text FROM leads WHERE org_id = $1 AND owner_user_id IS NULL ORDER BY received_at DESC OFFSET 100 LIMIT 1000`, org.ID)
	must(t, err)
	o.bulk, err = pgx.CollectRows(rows, pgx.RowTo[string])
	must(t, err)
	o.day = time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -2)
	return o
}

// relationRead is how many rows of each table the plan looked at (kept or
// dropped), and the scans of the big tables it used.
func (n planNode) relationRead(rows map[string]float64, scans *[]string) {
	if n.Relation != "" {
		rows[n.Relation] += (n.ActualRows + n.RemovedByFilter + n.RemovedByRecheck) * n.Loops
		if slices.Contains(bigTables, n.Relation) {
			*scans = append(*scans, strings.TrimSpace(n.NodeType+" "+n.Index)+" on "+n.Relation)
		}
	}
	for _, c := range n.Plans {
		c.relationRead(rows, scans)
	}
}

// TestHotQueriesUseIndexes is every statement on a lead's path and every
// read a user waits for, at scale (seedScale): the lead read and its
// timeline page, each lead list filter and a deep page, intake's insert,
// duplicate and repeat lookups, the routing transaction's reads, the
// claim, bulk assign, a transfer batch, the feed, the digest and its
// sweep, the vendor's returns and the speed report. Each runs, measured,
// as the store sends it: no Seq Scan on a big table, and no more rows of
// the big tables read than the answer needs — a page, a lead's timeline, a
// batch, a day — however big the org. A statement that writes runs in a
// savepoint rolled back after it.
func TestHotQueriesUseIndexes(t *testing.T) {
	t.Parallel()
	started := time.Now()
	s, tx := txStore(t)
	n := scaleLeads(t)
	o := seedScale(t, s, tx, n)
	t.Logf("seeded %d leads in %s", n*5/4, time.Since(started).Round(time.Millisecond))

	list := func(f store.LeadFilter) (string, []any) {
		t.Helper()
		sql, args, err := store.ListLeadsQueryForTest(o.org, f)
		must(t, err)
		return sql, args
	}
	returns := func(since time.Time) (string, []any) {
		t.Helper()
		sql, args, err := store.VendorReturnsQueryForTest(o.source, since, "", 50)
		must(t, err)
		return sql, args
	}
	rsql, rargs := returns(o.day)
	deep := store.CursorForTest(o.leadAt, o.lead)
	bulkOwners := make([]*string, len(o.bulk[:500]))
	type query struct {
		name string
		sql  string
		args []any
		// reads bounds the rows of the big tables the statement may look
		// at: what its answer needs, never a share of the org.
		reads float64
	}
	queries := []query{
		{"lead read", store.LeadByIDSQL, []any{o.lead, o.org}, 1},
		{"lead timeline page", store.TimelinePageSQL, []any{o.lead, math.MaxInt64, store.LeadTimelineEvents + 1}, 51},
		{"intake insert", store.InsertLeadSQL, []any{o.org, o.source, "everquote", "new-1", "", "Ada", "Lovelace", "ada@example.com",
			"+1 555 0100", "", "", "", "", "", "", "", map[string]string{}, "wf-new-1", time.Now(), domain.NewID(), "",
			"vendor:everquote", "received"}, 3},
		{"intake duplicate", store.DuplicateLeadSQL, []any{o.source, "x-1001"}, 1},
		{"intake repeat lookup", store.RepeatOfSQL, []any{o.org, o.lead, "lead1001@mail.example", "5550001001", time.Now()}, 10},
		{"routing lead row", store.LeadRowSQL + ` FOR UPDATE`, []any{o.lead}, 3},
		{"routing reread", store.RereadSQL, []any{o.lead, o.org}, 2},
		{"rotation members", store.StaffMembersSQL, []any{o.source, o.org, "staff", time.Now().Format(time.DateOnly), time.Now(), domain.RotatingRoles}, 0},
		{"rotation open leads", store.OpenLeadsSQL, []any{o.users}, 25 * 100},
		{"claim order", store.ClaimOrderSQL, []any{o.org}, 10},
		{"claim record", store.NewClaimSQL, []any{o.queued, o.org, o.user}, 1},
		{"claim lock", store.LockClaimedSQL, []any{o.lead, o.org}, 2},
		// Each lead's pending handover is looked up too: at most one each.
		{"bulk assign lock", store.LockOwnedSQL, []any{o.bulk, o.org}, 2 * 1000},
		{"transfer batch items", store.BatchItemsSQL, []any{o.transfer, 0, 500}, 500},
		{"transfer batch leads", store.BatchLeadsSQL, []any{o.bulk[:500]}, 2 * 500},
		{"transfer batch move", store.MoveLeadsSQL, []any{o.other, nil, o.bulk[:500], bulkOwners}, 500},
		{"feed page", store.FeedPageSQL, []any{o.org, int64(math.MaxInt64), 51}, 2 * 51},
		// A day's arrivals (8,640 here, and as many of the other org's for
		// the sweep), each checked against transfers and handovers.
		{"digest content", store.DigestContentSQL, []any{o.day, o.day.AddDate(0, 0, 1), o.org, 50}, 3 * 8640},
		{"digest sweep", store.UncoveredDaysSQL, []any{o.day, o.day.AddDate(0, 0, 1)}, 4 * 10800},
		{"vendor returns", rsql, rargs, 2 * 51},
		// A day's leads and their timelines.
		{"speed report of a day", store.SpeedSQL, []any{o.org, o.day, o.day.AddDate(0, 0, 1)}, 3 * 8640},
	}
	for _, c := range []struct {
		name string
		f    store.LeadFilter
	}{
		{"the unfiltered page", store.LeadFilter{}},
		{"a rep's leads", store.LeadFilter{AssignedTo: o.user}},
		{"a rep's leads, a deep page", store.LeadFilter{AssignedTo: o.user, Cursor: deep}},
		{"the org's leads, a deep page", store.LeadFilter{Cursor: deep}},
		{"leads a user owns", store.LeadFilter{Owner: o.user}},
		{"team-owned leads", store.LeadFilter{Owner: store.OwnerTeam}},
		{"invalid leads", store.LeadFilter{Status: domain.StatusInvalid}},
		{"returned leads", store.LeadFilter{Status: domain.StatusReturned}},
		{"the queue", store.LeadFilter{Location: "queue"}},
		{"a source", store.LeadFilter{Source: "rare"}},
		{"a search for one email", store.LeadFilter{Q: "lead12346@mail"}},
	} {
		c.f.Limit = 50
		sql, args := list(c.f)
		queries = append(queries, query{"list: " + c.name, sql, args, 2 * 51})
	}

	for _, q := range queries {
		took, scans, big, bad := explainHot(t, tx, q.name, q.sql, q.args, q.reads)
		if len(bad) > 0 {
			// The plans follow the statistics: other tests of the package
			// commit rows meanwhile, which PostgreSQL's size estimates see,
			// so before failing the statement is planned once more on fresh
			// ones. A missing index fails both times.
			t.Logf("%s: %v; planned again after ANALYZE", q.name, bad)
			_, err := tx.Exec(ctx, `ANALYZE `+strings.Join(bigTables, ", "))
			must(t, err)
			took, scans, big, bad = explainHot(t, tx, q.name, q.sql, q.args, q.reads)
		}
		for _, b := range bad {
			t.Error(b)
		}
		t.Logf("%s: %.2f ms, %v, %.0f rows read", q.name, took, scans, big)
		if os.Getenv("LEADRELAY_SCALE_LEADS") != "" {
			t.Logf("%s:\n%s", q.name, explainBuffers(t, tx, q.sql, q.args))
		}
	}
}

// explainHot runs one statement under EXPLAIN (ANALYZE) in a savepoint
// rolled back after it, and says what it did wrong: a Seq Scan of a growing
// table, or more of their rows read than reads.
func explainHot(t *testing.T, tx pgx.Tx, name, sql string, args []any, reads float64) (took float64, scans []string, big float64, bad []string) {
	t.Helper()
	sp, err := tx.Begin(ctx)
	must(t, err)
	var raw []byte
	err = sp.QueryRow(ctx, `EXPLAIN (ANALYZE, FORMAT JSON) `+sql, args...).Scan(&raw)
	_ = sp.Rollback(ctx)
	if err != nil {
		return 0, nil, 0, []string{fmt.Sprintf("%s: %v", name, err)}
	}
	var plan []struct {
		Plan planNode
		Time float64 `json:"Execution Time"`
	}
	must(t, json.Unmarshal(raw, &plan))
	read := map[string]float64{}
	plan[0].Plan.relationRead(read, &scans)
	for _, table := range bigTables {
		big += read[table]
	}
	for _, scan := range scans {
		if strings.HasPrefix(scan, "Seq Scan") {
			bad = append(bad, fmt.Sprintf("%s: %s (%v)", name, scan, scans))
		}
	}
	if big > reads {
		bad = append(bad, fmt.Sprintf("%s: read %.0f rows of the big tables, more than its %.0f (%v)", name, big, reads, fmt.Sprint(read)))
	}
	return plan[0].Time, scans, big, bad
}

// explainBuffers is the statement's EXPLAIN (ANALYZE, BUFFERS) as text,
// run in a savepoint rolled back after it.
func explainBuffers(t *testing.T, tx pgx.Tx, sql string, args []any) string {
	t.Helper()
	sp, err := tx.Begin(ctx)
	must(t, err)
	defer func() { _ = sp.Rollback(ctx) }()
	rows, err := sp.Query(ctx, `EXPLAIN (ANALYZE, BUFFERS) `+sql, args...)
	must(t, err)
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	must(t, err)
	return strings.Join(lines, "\n")
}
