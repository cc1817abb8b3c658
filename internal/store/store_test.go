package store_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

var ctx = context.Background()

type fixture struct {
	org    store.Org
	owner  store.User
	staff  []store.User
	source store.Source
}

// seed makes an org with n rotating users (staff, professional, manager in
// turn), one admin who must never be rotated to, and a source.
func seed(t *testing.T, s *store.Store, n int, cfg domain.SourceConfig) fixture {
	t.Helper()
	var f fixture
	var err error
	f.org, f.owner, _, err = s.CreateOrg(ctx, "Org "+t.Name(), "UTC", "owner@"+domainFor(t), "Owner")
	must(t, err)
	roles := []domain.Role{domain.RoleStaff, domain.RoleProfessional, domain.RoleManager}
	for i := 0; i < n; i++ {
		u, _, err := s.CreateUser(ctx, f.org.ID, fmt.Sprintf("u%d@%s", i, domainFor(t)), fmt.Sprintf("User %d", i), roles[i%3], false)
		must(t, err)
		f.staff = append(f.staff, u)
	}
	_, _, err = s.CreateUser(ctx, f.org.ID, "admin@"+domainFor(t), "Admin", domain.RoleAdmin, false)
	must(t, err)
	if cfg.Name == "" {
		cfg = domain.SourceConfig{Name: "EverQuote", Routing: domain.Routing{Mode: domain.RouteStaffEvenly}}
	}
	delay, err := cfg.Validate()
	must(t, err)
	f.source, _, _, err = s.PutSource(ctx, f.org.ID, "everquote", cfg, delay)
	must(t, err)
	return f
}

func domainFor(t *testing.T) string { return fmt.Sprintf("t%d.example", time.Now().UnixNano()) }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// route makes the first hop's decision: the rules of the org that received it.
func route(s *store.Store, leadID string) (store.Decision, error) {
	return s.RouteLead(ctx, store.RouteRequest{LeadID: leadID})
}

func post(t *testing.T, s *store.Store, f fixture, ext string, loc string) store.Intake {
	t.Helper()
	in, err := s.InsertLead(ctx, store.NewLead{SourceID: f.source.ID, OrgID: f.org.ID, Slug: "everquote",
		WorkflowID: "wf-" + ext, ReceivedAt: time.Now(),
		In: domain.LeadInput{ExternalID: ext, Email: ext + "@example.com", Location: loc, Labels: []string{"auto", "hot"}}})
	must(t, err)
	return in
}

func TestRotationIsFairUnderConcurrency(t *testing.T) {
	t.Parallel()
	p, _ := testenv.DB(t)
	s := store.New(p)
	f := seed(t, s, 7, domain.SourceConfig{})
	const n = 200
	ids := make([]string, n)
	for i := range ids {
		ids[i] = post(t, s, f, fmt.Sprintf("c%d", i), "").LeadID
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 32)
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if _, err := s.RouteLead(ctx, store.RouteRequest{LeadID: id}); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Decisions in commit order: every window of 7 must name 7 different people.
	rows, err := p.Query(ctx, `SELECT data->>'assigned_to' FROM timeline_events WHERE org_id = $1 AND kind = 'routed' ORDER BY id`, f.org.ID)
	must(t, err)
	var order []string
	for rows.Next() {
		var a string
		must(t, rows.Scan(&a))
		order = append(order, a)
	}
	if len(order) != n {
		t.Fatalf("%d routing decisions, want %d", len(order), n)
	}
	counts := map[string]int{}
	for i, a := range order {
		counts[a]++
		if i >= 6 {
			seen := map[string]bool{}
			for _, b := range order[i-6 : i+1] {
				seen[b] = true
			}
			if len(seen) != 7 {
				t.Fatalf("decisions %d..%d name %d people, want 7 (rotation not fair)", i-6, i, len(seen))
			}
		}
	}
	assertSpread(t, counts, f.staff, 1)
}

func assertSpread(t *testing.T, counts map[string]int, staff []store.User, maxDiff int) {
	t.Helper()
	lo, hi := 1<<30, 0
	for _, u := range staff {
		c := counts[u.ID]
		lo, hi = min(lo, c), max(hi, c)
	}
	total := 0
	for _, c := range counts {
		total += c
	}
	staffTotal := 0
	for _, u := range staff {
		staffTotal += counts[u.ID]
	}
	if staffTotal != total {
		t.Fatalf("%d leads went to someone outside the rotation", total-staffTotal)
	}
	if hi-lo > maxDiff {
		t.Fatalf("counts per person range %d..%d, want a difference of at most %d: %v", lo, hi, maxDiff, counts)
	}
}

func routeN(t *testing.T, s *store.Store, f fixture, prefix string, n int) map[string]int {
	t.Helper()
	counts := map[string]int{}
	for i := 0; i < n; i++ {
		d, err := route(s, post(t, s, f, fmt.Sprintf("%s%d", prefix, i), "").LeadID)
		must(t, err)
		counts[d.AssignedTo]++
	}
	return counts
}

func TestRotationSkipsInactiveAndGivesNoCatchUpSurge(t *testing.T) {
	t.Parallel()
	s := testenv.Tx(t)
	f := seed(t, s, 3, domain.SourceConfig{})
	a, b, c := f.staff[0], f.staff[1], f.staff[2]
	assertSpread(t, routeN(t, s, f, "x", 6), f.staff, 0)

	off := false
	_, err := s.UpdateUser(ctx, f.org.ID, b.ID, store.UserPatch{Active: &off})
	must(t, err)
	got := routeN(t, s, f, "y", 10)
	if got[b.ID] != 0 {
		t.Fatalf("inactive user got %d leads", got[b.ID])
	}
	assertSpread(t, got, []store.User{a, c}, 0)

	on := true
	_, err = s.UpdateUser(ctx, f.org.ID, b.ID, store.UserPatch{Active: &on})
	must(t, err)
	got = routeN(t, s, f, "z", 9)
	if got[b.ID] != 3 {
		t.Fatalf("returning user got %d of 9 leads, want exactly 3 (no catch-up surge): %v", got[b.ID], got)
	}
	assertSpread(t, got, f.staff, 0)
}

func TestNoStaffFallsBackToOwner(t *testing.T) {
	t.Parallel()
	s := testenv.Tx(t)
	f := seed(t, s, 0, domain.SourceConfig{})
	d, err := route(s, post(t, s, f, "a", "").LeadID)
	must(t, err)
	if d.AssignedTo != f.owner.ID {
		t.Fatalf("assigned to %s, want the owner %s", d.AssignedTo, f.owner.ID)
	}
	l, err := s.GetLead(ctx, f.org.ID, d.LeadID)
	must(t, err)
	if l.AssignedTo == nil || *l.AssignedTo != f.owner.ID || l.Location != nil {
		t.Fatalf("lead not assigned to owner: %+v", l)
	}
	last := l.Timeline[len(l.Timeline)-1]
	if last.Kind != "routed" || last.Message != "no active staff to rotate over (staff_evenly): assigned to the org owner Owner" {
		t.Fatalf("timeline does not explain the fallback: %+v", last)
	}
}

func TestOwnerMode(t *testing.T) {
	t.Parallel()
	s := testenv.Tx(t)
	f := seed(t, s, 3, domain.SourceConfig{Name: "Web", Routing: domain.Routing{Mode: domain.RouteOwner}})
	got := routeN(t, s, f, "o", 3)
	if got[f.owner.ID] != 3 {
		t.Fatalf("owner mode: %v", got)
	}
}

func TestPendingQueueAndForceLocation(t *testing.T) {
	t.Parallel()
	queue := "queue"
	cases := []struct {
		name      string
		cfg       domain.SourceConfig
		vendorLoc string
		wantLoc   string
	}{
		{"pending", domain.SourceConfig{Name: "P", Routing: domain.Routing{Mode: domain.RoutePending}}, "", "pending"},
		{"queue", domain.SourceConfig{Name: "Q", Routing: domain.Routing{Mode: domain.RouteQueue, QueueDelay: "15m"}}, "", "queue"},
		{"vendor asks pending", domain.SourceConfig{Name: "S", Routing: domain.Routing{Mode: domain.RouteStaffEvenly}}, "pending", "pending"},
		{"force wins over vendor", domain.SourceConfig{Name: "F", Routing: domain.Routing{Mode: domain.RouteStaffEvenly, QueueDelay: "15m"}, ForceLocation: &queue}, "pending", "queue"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := testenv.Tx(t)
			f := seed(t, s, 2, tc.cfg)
			before := time.Now()
			d, err := route(s, post(t, s, f, "l", tc.vendorLoc).LeadID)
			must(t, err)
			l, err := s.GetLead(ctx, f.org.ID, d.LeadID)
			must(t, err)
			if l.Location == nil || *l.Location != tc.wantLoc || l.AssignedTo != nil {
				t.Fatalf("location %v assigned %v, want %s and nobody", l.Location, l.AssignedTo, tc.wantLoc)
			}
			if tc.wantLoc == "queue" {
				if l.AvailableAt == nil || l.AvailableAt.Before(before.Add(14*time.Minute)) {
					t.Fatalf("queued lead claimable at %v, want about 15m after %v", l.AvailableAt, before)
				}
			}
			if d.Reason == "" || l.Timeline[len(l.Timeline)-1].Message != d.Reason {
				t.Fatalf("timeline does not carry the reason %q", d.Reason)
			}
		})
	}
}

func TestRouteLeadTwiceDecidesOnce(t *testing.T) {
	t.Parallel()
	s := testenv.Tx(t)
	f := seed(t, s, 3, domain.SourceConfig{})
	id := post(t, s, f, "once", "").LeadID
	d1, err := s.RouteLead(ctx, store.RouteRequest{LeadID: id})
	must(t, err)
	d2, err := s.RouteLead(ctx, store.RouteRequest{LeadID: id})
	must(t, err)
	if !d2.AlreadyRouted || d2.AssignedTo != d1.AssignedTo || d2.Reason != d1.Reason {
		t.Fatalf("second routing changed the decision: %+v then %+v", d1, d2)
	}
	// the rotation advanced once: the next lead goes to the next person
	d3, err := route(s, post(t, s, f, "next", "").LeadID)
	must(t, err)
	if d3.AssignedTo == d1.AssignedTo {
		t.Fatal("a repeated routing call advanced the rotation")
	}
}

func TestInsertLeadIsIdempotentAndKeepsLabels(t *testing.T) {
	t.Parallel()
	s := testenv.Tx(t)
	f := seed(t, s, 1, domain.SourceConfig{})
	a := post(t, s, f, "dup", "")
	b := post(t, s, f, "dup", "")
	if a.Duplicate || !b.Duplicate || a.LeadID != b.LeadID || b.WorkflowID != "wf-dup" {
		t.Fatalf("first %+v second %+v", a, b)
	}
	l, err := s.GetLead(ctx, f.org.ID, a.LeadID)
	must(t, err)
	if fmt.Sprint(l.Labels) != "[auto hot]" || len(l.Timeline) != 1 {
		t.Fatalf("labels %v timeline %d", l.Labels, len(l.Timeline))
	}
}

func TestAnotherOrgSeesNotFound(t *testing.T) {
	t.Parallel()
	s := testenv.Tx(t)
	f := seed(t, s, 1, domain.SourceConfig{})
	other, _, _, err := s.CreateOrg(ctx, "Other", "UTC", "o@other.example", "O")
	must(t, err)
	id := post(t, s, f, "mine", "").LeadID
	if _, err := s.GetLead(ctx, other.ID, id); domain.ErrorCode(err) != domain.ENotFound {
		t.Fatalf("another org reading the lead: %v, want not_found", err)
	}
	leads, _, err := s.ListLeads(ctx, other.ID, store.LeadFilter{})
	must(t, err)
	if len(leads) != 0 {
		t.Fatalf("another org lists %d leads", len(leads))
	}
	if _, err := s.GetUser(ctx, other.ID, f.owner.ID); domain.ErrorCode(err) != domain.ENotFound {
		t.Fatalf("another org reading a user: %v", err)
	}
}

func TestListLeadsPagesWithoutGapsOrRepeats(t *testing.T) {
	t.Parallel()
	s := testenv.Tx(t)
	f := seed(t, s, 1, domain.SourceConfig{})
	want := map[string]bool{}
	for i := 0; i < 7; i++ {
		want[post(t, s, f, fmt.Sprintf("p%d", i), "").LeadID] = true
	}
	seen := map[string]bool{}
	cursor := ""
	for pages := 0; ; pages++ {
		leads, next, err := s.ListLeads(ctx, f.org.ID, store.LeadFilter{Limit: 3, Cursor: cursor})
		must(t, err)
		for _, l := range leads {
			if seen[l.ID] {
				t.Fatalf("lead %s on two pages", l.ID)
			}
			seen[l.ID] = true
		}
		if next == "" {
			break
		}
		cursor = next
		if pages > 5 {
			t.Fatal("paging does not end")
		}
	}
	if len(seen) != len(want) {
		t.Fatalf("paged %d leads, want %d", len(seen), len(want))
	}
	if _, _, err := s.ListLeads(ctx, f.org.ID, store.LeadFilter{Cursor: "garbage"}); domain.ErrorCode(err) != domain.EInvalid {
		t.Fatalf("bad cursor: %v", err)
	}
}

func TestLinkOrgsRefusesSelfSecondParentAndCycles(t *testing.T) {
	t.Parallel()
	s := testenv.Tx(t)
	mk := func(n string) string {
		o, _, _, err := s.CreateOrg(ctx, n, "UTC", n+"@x.example", n)
		must(t, err)
		return o.ID
	}
	a, b, c, d := mk("a"), mk("b"), mk("c"), mk("d")
	must(t, s.LinkOrgs(ctx, a, b))
	must(t, s.LinkOrgs(ctx, b, c))
	for _, tc := range []struct{ p, c, why string }{{a, a, "self"}, {d, b, "second parent"}, {c, a, "cycle"}} {
		if err := s.LinkOrgs(ctx, tc.p, tc.c); domain.ErrorCode(err) != domain.EConflict {
			t.Fatalf("%s: %v, want conflict", tc.why, err)
		}
	}
}

func TestDeliveryIsRecordedOnce(t *testing.T) {
	t.Parallel()
	s := testenv.Tx(t)
	d := store.Delivery{Key: "k1", MessageID: "m1@x", Kind: "purchase", To: "a@b.example", Subject: "s"}
	sent, err := s.BeginDelivery(ctx, d)
	must(t, err)
	if sent {
		t.Fatal("new delivery reported as sent")
	}
	must(t, s.MarkSent(ctx, "k1"))
	if sent, err = s.BeginDelivery(ctx, d); err != nil || !sent {
		t.Fatalf("after MarkSent: sent=%v err=%v", sent, err)
	}
}

func TestTokensResolveAndDeactivatedUsersLoseThem(t *testing.T) {
	t.Parallel()
	s := testenv.Tx(t)
	d := domainFor(t)
	org, _, _, err := s.CreateOrg(ctx, "Org", "UTC", "o@"+d, "O")
	must(t, err)
	u, tok, err := s.CreateUser(ctx, org.ID, "rep@"+d, "Rep", domain.RoleStaff, true)
	must(t, err)
	p, err := s.Authenticate(ctx, domain.HashToken(tok))
	must(t, err)
	if p.Kind != domain.TokenUser || p.User.ID != u.ID || p.OrgID != org.ID || p.User.Role != domain.RoleStaff || !p.User.NotifyNewLeads {
		t.Fatalf("user token: %+v %+v", p, p.User)
	}
	cfg := domain.SourceConfig{Name: "EQ", Routing: domain.Routing{Mode: domain.RouteOwner}}
	delay, err := cfg.Validate()
	must(t, err)
	_, _, key, err := s.PutSource(ctx, org.ID, "everquote", cfg, delay)
	must(t, err)
	if p, err = s.Authenticate(ctx, domain.HashToken(key)); err != nil || p.Kind != domain.TokenVendor || p.OrgID != org.ID || p.Slug != "everquote" {
		t.Fatalf("vendor key: %+v %v", p, err)
	}
	off := false
	_, err = s.UpdateUser(ctx, org.ID, u.ID, store.UserPatch{Active: &off})
	must(t, err)
	if _, err := s.Authenticate(ctx, domain.HashToken(tok)); domain.ErrorCode(err) != domain.ENotFound {
		t.Fatalf("a deactivated user's token: %v", err)
	}
	if _, err := s.GetOrg(ctx, "not-a-uuid"); domain.ErrorCode(err) != domain.ENotFound {
		t.Fatalf("a malformed org id: %v", err)
	}
}
