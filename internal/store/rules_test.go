package store_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/internal/testenv"
)

// putRules saves the source's rules, default and when_nobody.
func putRules(t *testing.T, s *store.Store, f fixture, def domain.Routing, nobody string, rules ...domain.Rule) store.Source {
	t.Helper()
	cfg := domain.SourceConfig{Name: "EverQuote", Routing: def, WhenNobody: nobody, Rules: rules}
	delay, err := cfg.Validate()
	must(t, err)
	src, _, _, err := s.PutSource(ctx, f.org.ID, "everquote", cfg, delay)
	must(t, err)
	return src
}

// postIn records a lead with the input's data.
func postIn(t *testing.T, s *store.Store, f fixture, in domain.LeadInput) string {
	t.Helper()
	if in.Email == "" {
		in.Email = in.ExternalID + "@example.com"
	}
	lead, err := s.InsertLead(ctx, store.NewLead{SourceID: f.source.ID, OrgID: f.org.ID, Slug: "everquote",
		WorkflowID: "wf-" + in.ExternalID, ReceivedAt: time.Now(), In: in})
	must(t, err)
	return lead.LeadID
}

func routeIn(t *testing.T, s *store.Store, f fixture, in domain.LeadInput) store.Decision {
	t.Helper()
	d, err := route(s, postIn(t, s, f, in))
	must(t, err)
	return d
}

// decisionRows is what routing_decisions holds for the lead: rule, pool, member.
func decisionRows(t *testing.T, db *pgxpool.Pool, leadID string) []string {
	t.Helper()
	rows, err := db.Query(ctx, `SELECT rule, rule_name, coalesce(pool, ''), coalesce(member_id::text, ''), skipped::text
		FROM routing_decisions WHERE lead_id = $1 ORDER BY id`, leadID)
	must(t, err)
	var out []string
	for rows.Next() {
		var rule int
		var name, pool, member, skipped string
		must(t, rows.Scan(&rule, &name, &pool, &member, &skipped))
		out = append(out, fmt.Sprintf("%d %s %s %s %s", rule, name, pool, member, skipped))
	}
	must(t, rows.Err())
	return out
}

func tx(state string) domain.Condition { return domain.Condition{State: []string{state}} }

// TestRulesFirstMatchWinsElseDefault: a Texas lead goes to rule 1's user
// even though it also matches rule 2; an Austin postal code outside Texas
// goes to rule 2's group; anything else to the default's staff rotation.
// Each reason names its rule, and each decision is one routing_decisions row.
func TestRulesFirstMatchWinsElseDefault(t *testing.T) {
	t.Parallel()
	db, _ := testenv.DB(t)
	s := store.New(db)
	f := seed(t, s, 3, domain.SourceConfig{})
	group := makeGroup(t, db, f.org.ID, "austin", f.staff[1:2], []int{1})
	putRules(t, s, f, domain.Routing{Mode: domain.RouteStaffEvenly}, "",
		domain.Rule{Name: "Texas", When: tx("tx"), Routing: domain.Routing{Mode: domain.RouteUser, User: f.staff[0].ID}},
		domain.Rule{Name: "Austin", When: domain.Condition{PostalCode: []string{"787*"}},
			Routing: domain.Routing{Mode: domain.RouteGroup, Group: "austin"}})

	d := routeIn(t, s, f, domain.LeadInput{ExternalID: "tx", Address: domain.Address{State: " TX ", PostalCode: "78701"}})
	if d.AssignedTo != f.staff[0].ID || d.Reason != `rule 1 "Texas": assigned to User 0 (mode user)` {
		t.Fatalf("Texas lead: %s %q", d.AssignedTo, d.Reason)
	}
	if d.Rule != `rule 1 "Texas": assigned to user `+f.staff[0].ID+` (mode user)` {
		t.Fatalf("the rule without names: %q", d.Rule)
	}
	if got := decisionRows(t, db, d.LeadID); len(got) != 1 || got[0] != fmt.Sprintf("0 Texas  %s []", f.staff[0].ID) {
		t.Fatalf("decision rows %q", got)
	}
	d = routeIn(t, s, f, domain.LeadInput{ExternalID: "austin", Address: domain.Address{State: "CA", PostalCode: "78745"}})
	if d.AssignedTo != f.staff[1].ID || !strings.HasPrefix(d.Reason, `rule 2 "Austin": rotated to User 1: position 1 of 1 in group austin (weight 1)`) {
		t.Fatalf("Austin lead: %s %q", d.AssignedTo, d.Reason)
	}
	if got := decisionRows(t, db, d.LeadID); len(got) != 1 || got[0] != fmt.Sprintf("1 Austin group:%s %s []", group, f.staff[1].ID) {
		t.Fatalf("decision rows %q", got)
	}
	d = routeIn(t, s, f, domain.LeadInput{ExternalID: "other", Address: domain.Address{State: "CA", PostalCode: "90210"}})
	if !strings.HasPrefix(d.Reason, "default rule: rotated to ") || !strings.Contains(d.Reason, "active staff (staff_evenly)") {
		t.Fatalf("other lead: %q", d.Reason)
	}
	if got := decisionRows(t, db, d.LeadID); len(got) != 1 || !strings.HasPrefix(got[0], "2 default staff ") {
		t.Fatalf("decision rows %q", got)
	}
}

// TestGroupRotationSkipsUnavailableMembersAndNamesThem: of a group of four,
// one is paused, one is out of hours and one at their open cap; every lead
// goes to the fourth, and the timeline names the three skipped and why.
// Then with two available members weighted 1 and 3, eight leads split 2/6.
func TestGroupRotationSkipsUnavailableMembersAndNamesThem(t *testing.T) {
	t.Parallel()
	db, _ := testenv.DB(t)
	s := store.New(db)
	f := seed(t, s, 4, domain.SourceConfig{})
	makeGroup(t, db, f.org.ID, "closers", f.staff, []int{1, 1, 1, 3})
	putRules(t, s, f, domain.Routing{Mode: domain.RouteGroup, Group: "closers"}, "")
	h := time.Now().UTC().Hour()
	later := fmt.Sprintf(`[{"days":["sun","mon","tue","wed","thu","fri","sat"],"from":"%02d:00","to":"%02d:00"}]`, (h+2)%24, (h+3)%24)
	_, err := db.Exec(ctx, `UPDATE users SET paused = true WHERE id = $1`, f.staff[0].ID)
	must(t, err)
	_, err = db.Exec(ctx, `UPDATE users SET working_hours = $2 WHERE id = $1`, f.staff[1].ID, later)
	must(t, err)
	_, err = db.Exec(ctx, `UPDATE users SET open_cap = 1 WHERE id = $1`, f.staff[2].ID)
	must(t, err)
	held := postIn(t, s, f, domain.LeadInput{ExternalID: "held"})
	_, err = db.Exec(ctx, `UPDATE leads SET assigned_to = $2, routed_at = now() WHERE id = $1`, held, f.staff[2].ID)
	must(t, err)
	for i := range 3 {
		d := routeIn(t, s, f, domain.LeadInput{ExternalID: fmt.Sprint("g", i)})
		want := "rotated to User 3: position 4 of 4 in group closers (weight 3); skipped User 0 (paused), User 1 (out_of_hours), User 2 (open_cap)"
		if d.AssignedTo != f.staff[3].ID || d.Reason != want {
			t.Fatalf("lead %d: %s %q, want %q", i, d.AssigneeName, d.Reason, want)
		}
	}
	_, err = db.Exec(ctx, `UPDATE users SET paused = false WHERE id = $1`, f.staff[0].ID)
	must(t, err)
	counts := map[string]int{}
	for i := range 8 {
		counts[routeIn(t, s, f, domain.LeadInput{ExternalID: fmt.Sprint("w", i)}).AssigneeName]++
	}
	if counts["User 0"] != 2 || counts["User 3"] != 6 {
		t.Fatalf("weights 1 and 3 over 8 leads gave %v, want 2 and 6", counts)
	}
}

// TestWhenNobodyIsAvailable: a rule whose group is all paused ends as the
// source's when_nobody says: the owner, pending, queue, or (next_rule) the
// next matching rule, and past the default the owner.
func TestWhenNobodyIsAvailable(t *testing.T) {
	t.Parallel()
	db, _ := testenv.DB(t)
	s := store.New(db)
	f := seed(t, s, 2, domain.SourceConfig{})
	makeGroup(t, db, f.org.ID, "night", f.staff[:1], []int{1})
	_, err := db.Exec(ctx, `UPDATE users SET paused = true WHERE id = $1`, f.staff[0].ID)
	must(t, err)
	night := domain.Rule{Name: "Night", When: tx("tx"), Routing: domain.Routing{Mode: domain.RouteGroup, Group: "night"}}
	texan := domain.LeadInput{Address: domain.Address{State: "TX"}}
	cases := []struct {
		nobody, wantLocation, wantAssignee, wantReason string
	}{
		{domain.NobodyOwner, "", f.owner.ID, `rule 1 "Night": nobody available in group night; skipped User 0 (paused): assigned to the org owner Owner`},
		{domain.NobodyPending, "pending", "", `rule 1 "Night": nobody available in group night; skipped User 0 (paused); when_nobody pending: waits for someone with permission`},
		{domain.NobodyQueue, "queue", "", `rule 1 "Night": nobody available in group night; skipped User 0 (paused); when_nobody queue: claimable after 0s`},
		{domain.NobodyNextRule, "", f.staff[1].ID, `rule 1 "Night": nobody available in group night; skipped User 0 (paused); rule 2 "Fallback": assigned to User 1 (mode user)`},
	}
	for i, tc := range cases {
		putRules(t, s, f, domain.Routing{Mode: domain.RouteOwner}, tc.nobody, night,
			domain.Rule{Name: "Fallback", When: domain.Condition{Kind: []string{"lead"}}, Routing: domain.Routing{Mode: domain.RouteUser, User: f.staff[1].ID}})
		in := texan
		in.ExternalID = fmt.Sprint("n", i)
		d := routeIn(t, s, f, in)
		if d.Location != tc.wantLocation || d.AssignedTo != tc.wantAssignee || d.Reason != tc.wantReason {
			t.Fatalf("when_nobody %s: location %q assignee %q reason %q; want %q %q %q", tc.nobody, d.Location, d.AssignedTo, d.Reason,
				tc.wantLocation, tc.wantAssignee, tc.wantReason)
		}
	}
	// next_rule past the default: the owner.
	putRules(t, s, f, domain.Routing{Mode: domain.RouteGroup, Group: "night"}, domain.NobodyNextRule, night)
	d := routeIn(t, s, f, domain.LeadInput{ExternalID: "past", Address: domain.Address{State: "TX"}})
	want := `rule 1 "Night": nobody available in group night; skipped User 0 (paused); default rule: nobody available in group night; skipped User 0 (paused); no rule left (when_nobody next_rule): assigned to the org owner Owner`
	if d.AssignedTo != f.owner.ID || d.Reason != want {
		t.Fatalf("past the default: %s %q", d.AssignedTo, d.Reason)
	}
}

// TestRepeatLeadGoesToItsAssigneeUnlessUnavailable: a lead repeating an
// open lead goes to that lead's assignee, not the rule; when the assignee
// is paused, the rules decide and the timeline says why.
func TestRepeatLeadGoesToItsAssigneeUnlessUnavailable(t *testing.T) {
	t.Parallel()
	db, _ := testenv.DB(t)
	s := store.New(db)
	f := seed(t, s, 2, domain.SourceConfig{})
	putRules(t, s, f, domain.Routing{Mode: domain.RouteUser, User: f.staff[1].ID}, "")
	first := postIn(t, s, f, domain.LeadInput{ExternalID: "first"})
	_, err := db.Exec(ctx, `UPDATE leads SET assigned_to = $2, routed_at = now() WHERE id = $1`, first, f.staff[0].ID)
	must(t, err)
	again := postIn(t, s, f, domain.LeadInput{ExternalID: "again"})
	_, err = db.Exec(ctx, `UPDATE leads SET repeat_of = $2 WHERE id = $1`, again, first)
	must(t, err)
	d, err := route(s, again)
	must(t, err)
	if d.AssignedTo != f.staff[0].ID || d.Reason != "repeat of lead "+first+": assigned to User 0" {
		t.Fatalf("repeat: %s %q", d.AssignedTo, d.Reason)
	}
	if got := decisionRows(t, db, again); len(got) != 1 || !strings.HasPrefix(got[0], "-1 repeat ") {
		t.Fatalf("decision rows %q", got)
	}
	_, err = db.Exec(ctx, `UPDATE users SET paused = true WHERE id = $1`, f.staff[0].ID)
	must(t, err)
	third := postIn(t, s, f, domain.LeadInput{ExternalID: "third"})
	_, err = db.Exec(ctx, `UPDATE leads SET repeat_of = $2 WHERE id = $1`, third, first)
	must(t, err)
	d, err = route(s, third)
	must(t, err)
	want := "repeat of lead " + first + ", whose assignee User 0 is unavailable (paused); assigned to User 1 (mode user)"
	if d.AssignedTo != f.staff[1].ID || d.Reason != want {
		t.Fatalf("repeat with its assignee paused: %s %q", d.AssignedTo, d.Reason)
	}
	// Mode user with its user paused: when_nobody (the owner).
	_, err = db.Exec(ctx, `UPDATE users SET paused = true WHERE id = $1`, f.staff[1].ID)
	must(t, err)
	d = routeIn(t, s, f, domain.LeadInput{ExternalID: "fourth"})
	if d.AssignedTo != f.owner.ID || d.Reason != "User 1 is unavailable (paused): assigned to the org owner Owner" {
		t.Fatalf("mode user, paused: %s %q", d.AssignedTo, d.Reason)
	}
}

// TestPreviewChangesNothingAndMatchesRouting: the preview names the rule
// and the member the rotation would choose, leaves rotation_pools and the
// day counts as they were, and then routing the same lead does what the
// preview said. Routing it again (a retried activity) decides nothing new.
func TestPreviewChangesNothingAndMatchesRouting(t *testing.T) {
	t.Parallel()
	db, _ := testenv.DB(t)
	s := store.New(db)
	f := seed(t, s, 3, domain.SourceConfig{})
	makeGroup(t, db, f.org.ID, "texas", f.staff, []int{1, 2, 3})
	putRules(t, s, f, domain.Routing{Mode: domain.RouteOwner}, "",
		domain.Rule{Name: "Texas", When: tx("TX"), Routing: domain.Routing{Mode: domain.RouteGroup, Group: "texas"}})
	for i := range 4 {
		routeIn(t, s, f, domain.LeadInput{ExternalID: fmt.Sprint("warm", i), Address: domain.Address{State: "TX"}})
	}
	snapshot := func() string {
		var out string
		must(t, db.QueryRow(ctx, `SELECT (SELECT string_agg(pool || clock::text || decisions, ',' ORDER BY pool) FROM rotation_pools WHERE source_id = $1)
			|| (SELECT string_agg(member_id::text || given || due || mark, ',' ORDER BY member_id) FROM rotation_members WHERE source_id = $1)
			|| (SELECT count(*) FROM routing_decisions WHERE source_id = $1)
			|| (SELECT coalesce(sum(n), 0) FROM user_day_counts WHERE user_id IN (SELECT id FROM users WHERE org_id = $2))`,
			f.source.ID, f.org.ID).Scan(&out))
		return out
	}
	before := snapshot()
	in := domain.LeadInput{ExternalID: "next", Email: "next@example.com", Address: domain.Address{State: "tx"}}
	p, err := s.PreviewRoute(ctx, f.org.ID, "everquote", in, time.Now())
	must(t, err)
	if after := snapshot(); after != before {
		t.Fatalf("the preview changed the rotation:\n%s\n%s", before, after)
	}
	if p.Rule != 0 || p.RuleName != "Texas" || p.Default || p.AssignedTo == "" || !strings.HasPrefix(p.Reason, `rule 1 "Texas": rotated to `) {
		t.Fatalf("preview %+v", p)
	}
	lead := postIn(t, s, f, in)
	d, err := route(s, lead)
	must(t, err)
	if d.AssignedTo != p.AssignedTo || d.Reason != p.Reason {
		t.Fatalf("routing gave %s %q, the preview said %s %q", d.AssignedTo, d.Reason, p.AssignedTo, p.Reason)
	}
	again, err := route(s, lead)
	must(t, err)
	if !again.AlreadyRouted || again.AssignedTo != d.AssignedTo || len(decisionRows(t, db, lead)) != 1 {
		t.Fatalf("a retried hop decided again: %+v", again)
	}
	// A repeat: the preview names the open lead it repeats, and its assignee.
	p, err = s.PreviewRoute(ctx, f.org.ID, "everquote", domain.LeadInput{Email: "NEXT@example.com", Address: domain.Address{State: "CA"}}, time.Now())
	must(t, err)
	if p.RepeatOf != lead || p.AssignedTo != d.AssignedTo || p.Rule != -1 {
		t.Fatalf("repeat preview %+v, want a repeat of %s to %s", p, lead, d.AssignedTo)
	}
	if _, err := s.PreviewRoute(ctx, f.org.ID, "nope", in, time.Now()); domain.ErrorCode(err) != domain.ENotFound {
		t.Fatalf("unknown source: %v", err)
	}
}

// TestPutSourceStoresRulesAndRefusesUnknownTargets: rules, when_nobody and
// the vendor cap read back; a group the org lacks and a user of another
// org are refused naming the field, and change nothing.
func TestPutSourceStoresRulesAndRefusesUnknownTargets(t *testing.T) {
	t.Parallel()
	db, _ := testenv.DB(t)
	s := store.New(db)
	f := seed(t, s, 1, domain.SourceConfig{})
	other := seed(t, s, 1, domain.SourceConfig{})
	makeGroup(t, db, f.org.ID, "west", f.staff, []int{1})
	cap5 := 5
	cfg := domain.SourceConfig{Name: "EverQuote", Routing: domain.Routing{Mode: domain.RouteUser, User: f.staff[0].ID},
		WhenNobody: domain.NobodyQueue, VendorDailyCap: &cap5,
		Rules: []domain.Rule{{Name: "West", When: domain.Condition{State: []string{"CA"}}, Routing: domain.Routing{Mode: domain.RouteGroup, Group: "west"}}}}
	delay, err := cfg.Validate()
	must(t, err)
	_, _, _, err = s.PutSource(ctx, f.org.ID, "everquote", cfg, delay)
	must(t, err)
	got, err := s.GetSourceBySlug(ctx, f.org.ID, "everquote")
	must(t, err)
	if len(got.Rules) != 1 || got.Rules[0].Routing.Group != "west" || got.WhenNobody != "queue" || got.VendorDailyCap == nil ||
		*got.VendorDailyCap != 5 || got.Routing.User != f.staff[0].ID || got.Routing.Mode != domain.RouteUser {
		t.Fatalf("read back %+v", got)
	}
	bad := cfg
	bad.Rules = []domain.Rule{{Name: "East", When: domain.Condition{State: []string{"NY"}}, Routing: domain.Routing{Mode: domain.RouteGroup, Group: "east"}}}
	bad.Routing = domain.Routing{Mode: domain.RouteUser, User: other.staff[0].ID}
	_, _, _, err = s.PutSource(ctx, f.org.ID, "everquote", bad, delay)
	var e *domain.Error
	if de, ok := err.(*domain.Error); ok {
		e = de
	}
	if e == nil || e.Code != domain.EInvalid || e.Fields["rules[0].routing.group"] == "" || e.Fields["routing.user"] == "" {
		t.Fatalf("unknown group and another org's user: %v", err)
	}
	list, err := s.ListSources(ctx, f.org.ID)
	must(t, err)
	if len(list) != 1 || len(list[0].Rules) != 1 || list[0].Rules[0].Name != "West" {
		t.Fatalf("a refused PUT changed the source: %+v", list)
	}
}

// TestPriorityConditionReadsThePriorityAtThisOrg: at the org whose source
// received the lead, a rule's priority condition reads that source's
// priority, as the preview does.
func TestPriorityConditionReadsThePriorityAtThisOrg(t *testing.T) {
	t.Parallel()
	s := testenv.Tx(t)
	f := seed(t, s, 1, domain.SourceConfig{})
	cfg := domain.SourceConfig{Name: "EverQuote", Priority: "high", Routing: domain.Routing{Mode: domain.RouteOwner},
		Rules: []domain.Rule{{Name: "Hot", When: domain.Condition{Priority: []string{"HIGH"}},
			Routing: domain.Routing{Mode: domain.RouteUser, User: f.staff[0].ID}}}}
	delay, err := cfg.Validate()
	must(t, err)
	_, _, _, err = s.PutSource(ctx, f.org.ID, "everquote", cfg, delay)
	must(t, err)
	in := domain.LeadInput{ExternalID: "hot"}
	p, err := s.PreviewRoute(ctx, f.org.ID, "everquote", in, time.Now())
	must(t, err)
	d := routeIn(t, s, f, in)
	if d.AssignedTo != f.staff[0].ID || p.AssignedTo != d.AssignedTo || p.RuleName != "Hot" {
		t.Fatalf("routed to %s (%q), preview %+v: want rule Hot", d.AssignedTo, d.Reason, p)
	}
}
