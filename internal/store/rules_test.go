package store_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/internal/testenv"
)

// ruled is an org with six rotating users, a group "texas" of the first
// three weighted 2:1:1, and a source whose rules send Texas leads to that
// group, VIPs to the fourth user, and the rest by the default.
type ruled struct {
	fixture
	texas []store.User
	vip   store.User
}

func seedRuled(t *testing.T, s *store.Store, whenNobody string, def domain.Routing) ruled {
	t.Helper()
	r := ruled{fixture: seed(t, s, 6, domain.SourceConfig{})}
	r.texas, r.vip = r.staff[:3], r.staff[3]
	_, created, err := s.PutGroup(ctx, r.org.ID, "texas", []store.GroupMember{{UserID: r.texas[0].ID, Weight: 2},
		{UserID: r.texas[1].ID}, {UserID: r.texas[2].ID}})
	must(t, err)
	if !created {
		t.Fatal("PutGroup did not say it created the group")
	}
	cfg := domain.SourceConfig{Name: "EverQuote", Routing: def, WhenNobody: whenNobody, Rules: []domain.Rule{
		{Name: "Texas", When: domain.Condition{State: []string{"TX"}}, Routing: domain.Routing{Mode: domain.RouteGroup, Group: "texas"}},
		{Name: "VIP", When: domain.Condition{Label: []string{"vip"}}, Routing: domain.Routing{Mode: domain.RouteUser, User: r.vip.ID}},
	}}
	delay, err := cfg.Validate()
	must(t, err)
	r.source, _, _, err = s.PutSource(ctx, r.org.ID, "everquote", cfg, delay)
	must(t, err)
	return r
}

// postIn posts one lead with the given data through r's source.
// Its email is the lead's own unless given: one person per lead, no repeats.
func postIn(t *testing.T, s *store.Store, f fixture, in domain.LeadInput) store.Intake {
	t.Helper()
	if in.Email == "" && in.Phone == "" {
		in.Email = "lead-" + in.ExternalID + "@example.com"
	}
	n, err := s.InsertLead(ctx, store.NewLead{SourceID: f.source.ID, OrgID: f.org.ID, Slug: f.source.Slug,
		WorkflowID: "wf-" + in.ExternalID, ReceivedAt: time.Now(), In: in})
	must(t, err)
	return n
}

func routeIn(t *testing.T, s *store.Store, f fixture, in domain.LeadInput) store.Decision {
	t.Helper()
	d, err := route(s, postIn(t, s, f, in).LeadID)
	must(t, err)
	return d
}

// TestRulesRouteByTheLeadFirstMatchFirst: a Texas lead rotates over the
// weighted group (2:1:1 gives 10:5:5 of 20, each within 1 of its share at
// every step), a VIP goes to its user, a Texas VIP to Texas (the first
// match), anyone else by the default; each reason names its rule.
func TestRulesRouteByTheLeadFirstMatchFirst(t *testing.T) {
	t.Parallel()
	db, _ := testenv.DB(t)
	s := store.New(db)
	r := seedRuled(t, s, domain.NobodyOwner, domain.Routing{Mode: domain.RouteStaffEvenly})
	counts := map[string]int{}
	for i := range 20 {
		d := routeIn(t, s, r.fixture, domain.LeadInput{ExternalID: fmt.Sprintf("tx-%d", i), Address: domain.Address{State: "tx"}})
		counts[d.AssignedTo]++
		if !strings.HasPrefix(d.Reason, `rule 1 "Texas": rotated to `) || !strings.Contains(d.Reason, "group texas") {
			t.Fatalf("Texas lead %d: %q", i, d.Reason)
		}
		for j, u := range r.texas {
			share := float64(i+1) * []float64{0.5, 0.25, 0.25}[j]
			if c := float64(counts[u.ID]); c < share-1 || c > share+1 {
				t.Fatalf("after %d leads %s has %v, share %.2f", i+1, u.Name, c, share)
			}
		}
	}
	if counts[r.texas[0].ID] != 10 || counts[r.texas[1].ID] != 5 || counts[r.texas[2].ID] != 5 {
		t.Fatalf("20 Texas leads over weights 2:1:1: %v", counts)
	}
	d := routeIn(t, s, r.fixture, domain.LeadInput{ExternalID: "vip", Labels: []string{"VIP"}})
	if d.AssignedTo != r.vip.ID || d.Reason != `rule 2 "VIP": assigned to `+r.vip.Name+" (user)" {
		t.Fatalf("VIP: %+v", d)
	}
	d = routeIn(t, s, r.fixture, domain.LeadInput{ExternalID: "tx-vip", Labels: []string{"vip"}, Address: domain.Address{State: "TX"}})
	if !strings.HasPrefix(d.Reason, `rule 1 "Texas"`) {
		t.Fatalf("a Texas VIP goes by the first rule that matches: %q", d.Reason)
	}
	d = routeIn(t, s, r.fixture, domain.LeadInput{ExternalID: "ca", Address: domain.Address{State: "CA"}})
	if !strings.HasPrefix(d.Reason, "default rule: rotated to ") || !strings.HasSuffix(d.Reason, "active staff (staff_evenly)") {
		t.Fatalf("default: %q", d.Reason)
	}
	if strings.Contains(d.Rule, d.AssigneeName) {
		t.Fatalf("the rule for the Temporal UI names a person: %q", d.Rule)
	}
	var rows, defaults int
	must(t, db.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE rule = 2 AND rule_name = 'default')
		FROM routing_decisions WHERE source_id = $1`, r.source.ID).Scan(&rows, &defaults))
	if rows != 23 || defaults != 1 {
		t.Fatalf("routing_decisions: %d rows, %d by the default; want 23 and 1", rows, defaults)
	}
}

// TestRotationSkipsTheAwayAndNamesThem: a paused member, one out of hours
// and one at a daily cap of 1 are skipped; the timeline names each and why.
func TestRotationSkipsTheAwayAndNamesThem(t *testing.T) {
	t.Parallel()
	db, _ := testenv.DB(t)
	s := store.New(db)
	r := seedRuled(t, s, domain.NobodyOwner, domain.Routing{Mode: domain.RouteOwner})
	paused, capped := r.texas[0], r.texas[2]
	_, err := s.PauseUser(ctx, r.org.ID, paused.ID, r.owner.ID, nil)
	must(t, err)
	one := 1
	_, err = s.UpdateUser(ctx, r.org.ID, capped.ID, store.UserPatch{SetDailyCap: true, DailyCap: &one})
	must(t, err)
	got := map[string]int{}
	var last store.Decision
	for i := range 4 {
		last = routeIn(t, s, r.fixture, domain.LeadInput{ExternalID: fmt.Sprintf("away-%d", i), Address: domain.Address{State: "TX"}})
		got[last.AssignedTo]++
	}
	if got[paused.ID] != 0 || got[capped.ID] != 1 || got[r.texas[1].ID] != 3 {
		t.Fatalf("assignments %v: the paused one got some, or the capped one more than 1", got)
	}
	for _, want := range []string{paused.Name + ": paused", capped.Name + ": at their daily cap"} {
		if !strings.Contains(last.Reason, want) {
			t.Fatalf("reason %q does not say %q", last.Reason, want)
		}
	}
	// Out of hours: a shift that never includes now.
	now := time.Now().UTC()
	day := domain.Weekdays[(now.Weekday()+3)%7]
	_, err = s.UpdateUser(ctx, r.org.ID, r.texas[1].ID, store.UserPatch{SetHours: true,
		WorkingHours: []domain.WorkingSpan{{Days: []string{day}, From: "09:00", To: "10:00"}}})
	must(t, err)
	d := routeIn(t, s, r.fixture, domain.LeadInput{ExternalID: "nobody", Address: domain.Address{State: "TX"}})
	if d.AssignedTo != r.owner.ID || !strings.Contains(d.Reason, r.texas[1].Name+": out of hours") ||
		!strings.HasPrefix(d.Reason, `rule 1 "Texas": nobody available in group texas`) || !strings.HasSuffix(d.Reason, ": assigned to the org owner Owner") {
		t.Fatalf("nobody available, when_nobody owner: %+v", d)
	}
	_, err = s.ResumeUser(ctx, r.org.ID, paused.ID)
	must(t, err)
	d = routeIn(t, s, r.fixture, domain.LeadInput{ExternalID: "back", Address: domain.Address{State: "TX"}})
	if d.AssignedTo != paused.ID {
		t.Fatalf("resumed, the only one available: %+v", d)
	}
}

// TestWhenNobodyDecides: with the whole group away, next_rule goes on to
// the next matching rule (and past the default, the owner); pending and
// queue park the lead; a rule's user who is paused counts as nobody.
func TestWhenNobodyDecides(t *testing.T) {
	t.Parallel()
	db, _ := testenv.DB(t)
	s := store.New(db)
	for _, c := range []struct {
		whenNobody, wantLoc string
		wantPrefix          string
	}{
		{domain.NobodyNextRule, "", `rule 2 "VIP": assigned to `},
		{domain.NobodyOwner, "", `rule 1 "Texas": nobody available in group texas`},
		{domain.NobodyPending, domain.LocationPending, `rule 1 "Texas": nobody available in group texas`},
		{domain.NobodyQueue, domain.LocationQueue, `rule 1 "Texas": nobody available in group texas`},
	} {
		r := seedRuled(t, s, c.whenNobody, domain.Routing{Mode: domain.RouteOwner})
		for _, u := range r.texas {
			_, err := s.PauseUser(ctx, r.org.ID, u.ID, u.ID, nil)
			must(t, err)
		}
		d := routeIn(t, s, r.fixture, domain.LeadInput{ExternalID: "x", Address: domain.Address{State: "TX"}, Labels: []string{"vip"}})
		if d.Location != c.wantLoc || !strings.HasPrefix(d.Reason, c.wantPrefix) || c.wantLoc == "" && d.AssignedTo == "" {
			t.Errorf("%s: %+v", c.whenNobody, d)
		}
	}
	r := seedRuled(t, s, domain.NobodyNextRule, domain.Routing{Mode: domain.RouteOwner})
	_, err := s.PauseUser(ctx, r.org.ID, r.vip.ID, r.owner.ID, nil)
	must(t, err)
	d := routeIn(t, s, r.fixture, domain.LeadInput{ExternalID: "vip", Labels: []string{"vip"}})
	if d.AssignedTo != r.owner.ID || !strings.HasPrefix(d.Reason, "default rule: source routing is owner") {
		t.Fatalf("the VIP user paused, next_rule: %+v", d)
	}
}

// TestRepeatLeadGoesToItsPerson: a lead with the email (any case) or the
// phone (any punctuation) of an open lead goes to that lead's assignee,
// across sources; not when that person is paused, the old lead is worked,
// or the org turned repeats off.
func TestRepeatLeadGoesToItsPerson(t *testing.T) {
	t.Parallel()
	db, _ := testenv.DB(t)
	s := store.New(db)
	r := seedRuled(t, s, domain.NobodyOwner, domain.Routing{Mode: domain.RouteStaffEvenly})
	other, _, _, err := s.PutSource(ctx, r.org.ID, "other", domain.SourceConfig{Name: "Other", Priority: "normal",
		Routing: domain.Routing{Mode: domain.RouteStaffEvenly}, WhenNobody: domain.NobodyOwner}, 0)
	must(t, err)
	first := routeIn(t, s, r.fixture, domain.LeadInput{ExternalID: "first", Email: "Pat@Example.com", Phone: "+1 (312) 555-0111"})
	otherSrc := r.fixture
	otherSrc.source = other
	for i, in := range []domain.LeadInput{{ExternalID: "by-email", Email: "pat@example.COM"}, {ExternalID: "by-phone", Phone: "1.312.555.0111"}} {
		d, err := route(s, postIn(t, s, otherSrc, in).LeadID)
		must(t, err)
		if d.AssignedTo != first.AssignedTo || !strings.HasPrefix(d.Reason, "repeat of lead "+first.LeadID+": assigned to ") {
			t.Fatalf("repeat %d: %+v, want %s", i, d, first.AssigneeName)
		}
	}
	_, err = s.PauseUser(ctx, r.org.ID, first.AssignedTo, first.AssignedTo, nil)
	must(t, err)
	d := routeIn(t, s, otherSrc, domain.LeadInput{ExternalID: "while-paused", Email: "pat@example.com"})
	if d.AssignedTo == first.AssignedTo || !strings.HasPrefix(d.Reason, "repeat of lead ") || !strings.Contains(d.Reason, "is paused: rotated to ") {
		t.Fatalf("repeat while its person is paused: %+v", d)
	}
	_, err = s.ResumeUser(ctx, r.org.ID, first.AssignedTo)
	must(t, err)
	_, err = db.Exec(ctx, `UPDATE leads SET worked_at = now() WHERE assigned_to = $1`, first.AssignedTo)
	must(t, err)
	n, err := s.InsertLead(ctx, store.NewLead{SourceID: other.ID, OrgID: r.org.ID, Slug: "other", WorkflowID: "wf-after",
		ReceivedAt: time.Now(), In: domain.LeadInput{ExternalID: "after-worked", Email: "pat@example.com"}})
	must(t, err)
	if n.RepeatOf != "" && n.RepeatOf != d.LeadID {
		t.Fatalf("a worked lead is not open: repeat_of %s", n.RepeatOf)
	}
	days := 0
	_, _, err = s.UpdateOrg(ctx, r.org.ID, store.OrgPatch{RepeatLookbackDays: &days})
	must(t, err)
	n, err = s.InsertLead(ctx, store.NewLead{SourceID: other.ID, OrgID: r.org.ID, Slug: "other", WorkflowID: "wf-off",
		ReceivedAt: time.Now(), In: domain.LeadInput{ExternalID: "off", Email: "pat@example.com"}})
	must(t, err)
	if n.RepeatOf != "" {
		t.Fatalf("repeats off: repeat_of %s", n.RepeatOf)
	}
}

// TestRoutePreviewAgreesAndChangesNothing: the preview names the rule and
// the person the next lead gets, twice alike (nothing moved), and the lead
// then posted goes there.
func TestRoutePreviewAgreesAndChangesNothing(t *testing.T) {
	t.Parallel()
	db, _ := testenv.DB(t)
	s := store.New(db)
	r := seedRuled(t, s, domain.NobodyOwner, domain.Routing{Mode: domain.RouteStaffEvenly})
	_, err := s.PauseUser(ctx, r.org.ID, r.texas[0].ID, r.owner.ID, nil)
	must(t, err)
	routeIn(t, s, r.fixture, domain.LeadInput{ExternalID: "warm", Address: domain.Address{State: "TX"}})
	state := func() string {
		var v string
		must(t, db.QueryRow(ctx, `SELECT coalesce(string_agg(pool || clock || decisions, ','), '') ||
			(SELECT coalesce(string_agg(member_id::text || given, ',' ORDER BY member_id), '') FROM rotation_members WHERE source_id = $1) ||
			(SELECT count(*) FROM routing_decisions WHERE source_id = $1) FROM rotation_pools WHERE source_id = $1`, r.source.ID).Scan(&v))
		return v
	}
	before := state()
	in := domain.LeadInput{ExternalID: "next", Address: domain.Address{State: "tx"}}
	p1, err := s.PreviewRoute(ctx, r.org.ID, "everquote", in, time.Now())
	must(t, err)
	p2, err := s.PreviewRoute(ctx, r.org.ID, "everquote", in, time.Now())
	must(t, err)
	if state() != before {
		t.Fatal("a preview moved the rotation")
	}
	if p1.Rule != 0 || p1.RuleName != "Texas" || p1.Default || p1.AssignedTo == "" || p1.AssignedTo != p2.AssignedTo ||
		len(p1.Skipped) != 1 || p1.Skipped[0].UserID != r.texas[0].ID || p1.Skipped[0].Reason != domain.SkipPaused {
		t.Fatalf("preview %+v then %+v", p1, p2)
	}
	d := routeIn(t, s, r.fixture, in)
	if d.AssignedTo != p1.AssignedTo {
		t.Fatalf("previewed %s, then assigned to %s", p1.AssigneeName, d.AssigneeName)
	}
	p, err := s.PreviewRoute(ctx, r.org.ID, "everquote", domain.LeadInput{Address: domain.Address{State: "NY"}}, time.Now())
	must(t, err)
	if !p.Default || p.Rule != 2 || p.AssignedTo == "" {
		t.Fatalf("default preview: %+v", p)
	}
	if _, err := s.PreviewRoute(ctx, r.org.ID, "nosuch", in, time.Now()); domain.ErrorCode(err) != domain.ENotFound {
		t.Fatalf("preview of no source: %v", err)
	}
}

// TestRuleTargetsMustExist: a rule naming a group the org lacks, or a user
// of another org, is refused naming the field; a group a rule uses cannot
// be deleted.
func TestRuleTargetsMustExist(t *testing.T) {
	t.Parallel()
	db, _ := testenv.DB(t)
	s := store.New(db)
	r := seedRuled(t, s, domain.NobodyOwner, domain.Routing{Mode: domain.RouteOwner})
	stranger := seed(t, s, 1, domain.SourceConfig{}).staff[0]
	for field, rt := range map[string]domain.Routing{
		"rules[0].routing.group": {Mode: domain.RouteGroup, Group: "nowhere"},
		"rules[0].routing.user":  {Mode: domain.RouteUser, User: stranger.ID},
	} {
		cfg := domain.SourceConfig{Name: "X", Routing: domain.Routing{Mode: domain.RouteOwner},
			Rules: []domain.Rule{{Name: "r", When: domain.Condition{State: []string{"TX"}}, Routing: rt}}}
		delay, err := cfg.Validate()
		must(t, err)
		_, _, _, err = s.PutSource(ctx, r.org.ID, "x", cfg, delay)
		if e, ok := err.(*domain.Error); !ok || e.Fields[field] == "" {
			t.Fatalf("%s: %v", field, err)
		}
	}
	if err := s.DeleteGroup(ctx, r.org.ID, "texas"); domain.ErrorCode(err) != domain.EConflict || !strings.Contains(err.Error(), "everquote") {
		t.Fatalf("deleting a group in use: %v", err)
	}
	if _, _, err := s.PutGroup(ctx, r.org.ID, "mixed", []store.GroupMember{{UserID: stranger.ID}}); err == nil {
		t.Fatal("a group with another org's user was saved")
	}
}
