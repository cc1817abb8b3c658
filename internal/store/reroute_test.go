package store_test

import (
	"strings"
	"testing"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/internal/testenv"
)

func deactivate(t *testing.T, s *store.Store, u store.User) store.User {
	t.Helper()
	off := false
	u, err := s.UpdateUser(ctx, u.OrgID, u.ID, store.UserPatch{Active: &off})
	must(t, err)
	return u
}

// strandedIn is what StrandedDeactivations finds in the fixture's org with
// a cutoff `days` after the org was made (in the test's transaction, when the
// user was deactivated too); other tests' committed orgs are left out.
func strandedIn(t *testing.T, s *store.Store, f fixture, days int) []store.StrandedDeactivation {
	t.Helper()
	all, err := s.StrandedDeactivations(ctx, f.org.Created.AddDate(0, 0, days), "", 1000)
	must(t, err)
	var out []store.StrandedDeactivation
	for _, d := range all {
		if d.OrgID == f.org.ID {
			out = append(out, d)
		}
	}
	return out
}

// rerouteAll reroutes every lead ReroutePage lists for the user, as the
// workflow's activity does, and returns the decisions.
func rerouteAll(t *testing.T, s *store.Store, u store.User) []store.Decision {
	t.Helper()
	ids, err := s.ReroutePage(ctx, u.ID, "", 100)
	must(t, err)
	var out []store.Decision
	for _, id := range ids {
		d, done, err := s.RerouteLead(ctx, id, u.ID)
		must(t, err)
		if !done {
			t.Fatalf("lead %s listed but not rerouted", id)
		}
		out = append(out, d)
	}
	return out
}

// A deactivated agent's team-owned leads go back through the source's
// rotation, over the others, with the reason on the timeline; their
// agent-owned lead stays theirs; a second pass changes nothing.
func TestDeactivationReroutesTeamLeadsAndKeepsAgentOwnedOnes(t *testing.T) {
	t.Parallel()
	s := testenv.Tx(t)
	f := seed(t, s, 3, domain.SourceConfig{})
	gone, manager := f.staff[0], f.staff[2]
	var team []string
	for _, ext := range []string{"r1", "r2", "r3"} {
		team = append(team, routed(t, s, f, ext))
	}
	mine := routed(t, s, f, "r4")
	_, err := s.AssignLeads(ctx, f.org.ID, changer(manager), gone.ID, append(team, mine))
	must(t, err)
	must(t, s.TransferOwnership(ctx, f.org.ID, changer(manager), mine, &gone.ID))
	before, err := s.GetLead(ctx, f.org.ID, team[0])
	must(t, err)

	if ids, err := s.ReroutePage(ctx, gone.ID, "", 10); err != nil || len(ids) != 3 {
		t.Fatalf("an active user's page: %v %v", ids, err)
	}
	d, done, err := s.RerouteLead(ctx, team[0], gone.ID)
	if err != nil || done {
		t.Fatalf("rerouted from an active user: %+v %v", d, err)
	}
	if u := deactivate(t, s, gone); u.Deactivations != 1 {
		t.Fatalf("deactivations %d, want 1", u.Deactivations)
	}
	if u := deactivate(t, s, gone); u.Deactivations != 1 {
		t.Fatalf("deactivating an inactive user counted again: %d", u.Deactivations)
	}
	if got := strandedIn(t, s, f, 1); len(got) != 1 || got[0] != (store.StrandedDeactivation{UserID: gone.ID, OrgID: f.org.ID, Deactivations: 1}) {
		t.Fatalf("stranded %+v", got)
	}
	if got := strandedIn(t, s, f, -1); len(got) != 0 {
		t.Fatalf("a fresh deactivation is left to the API's start: %+v", got)
	}

	decisions := rerouteAll(t, s, gone)
	if len(decisions) != 3 {
		t.Fatalf("%d rerouted, want the 3 team-owned leads", len(decisions))
	}
	got := map[string]int{}
	for _, d := range decisions {
		got[d.AssignedTo]++
		l, err := s.GetLead(ctx, f.org.ID, d.LeadID)
		must(t, err)
		e := l.Timeline[len(l.Timeline)-1]
		if e.Kind != "routed" || !strings.HasPrefix(e.Message, "rerouted because User 0 was deactivated: rotated to ") ||
			e.Data["rerouted_from"] != gone.ID || l.Owner.Type != "org" {
			t.Fatalf("lead %s: %+v owner %+v", d.LeadID, e, l.Owner)
		}
	}
	if got[gone.ID] != 0 || got[f.staff[1].ID]+got[f.staff[2].ID] != 3 || got[f.staff[1].ID] == 0 || got[f.staff[2].ID] == 0 {
		t.Fatalf("rerouted to %v: want the other two, both", got)
	}
	after, err := s.GetLead(ctx, f.org.ID, team[0])
	must(t, err)
	if !after.RoutedAt.Equal(*before.RoutedAt) {
		t.Errorf("a reroute moved routed_at from %s to %s", before.RoutedAt, after.RoutedAt)
	}
	kept, err := s.GetLead(ctx, f.org.ID, mine)
	must(t, err)
	if *kept.AssignedTo != gone.ID || kept.Owner.ID != gone.ID {
		t.Fatalf("the agent-owned lead moved: %+v %s", kept.Owner, *kept.AssignedTo)
	}
	// Idempotent: nothing left, and a lead asked for again is not rotated again.
	if ids, _ := s.ReroutePage(ctx, gone.ID, "", 10); len(ids) != 0 {
		t.Fatalf("still listed after the reroute: %v", ids)
	}
	if _, done, err := s.RerouteLead(ctx, team[0], gone.ID); err != nil || done {
		t.Fatalf("rerouted twice: %v %v", done, err)
	}
	if got := strandedIn(t, s, f, 1); len(got) != 0 {
		t.Fatalf("stranded after the reroute: %+v", got)
	}
	// Back and gone again: a new deactivation, a new run.
	on := true
	_, err = s.UpdateUser(ctx, f.org.ID, gone.ID, store.UserPatch{Active: &on})
	must(t, err)
	if u := deactivate(t, s, gone); u.Deactivations != 2 {
		t.Fatalf("second deactivation counted %d", u.Deactivations)
	}
}

// The same rules as on arrival: a source that parks leads parks a
// rerouted one (assigned to nobody); a fan-out source does not pass it down
// again but gives it to the owner; a user reactivated first keeps the lead.
func TestRerouteAppliesTheSourceRulesOfTheHoldingOrg(t *testing.T) {
	t.Parallel()
	s := testenv.Tx(t)
	f := seed(t, s, 2, domain.SourceConfig{Name: "EQ", Routing: domain.Routing{Mode: domain.RoutePending}})
	a, b := f.staff[0], f.staff[1]
	id := routed(t, s, f, "p1")
	must(t, s.AssignLead(ctx, f.org.ID, domain.Changer{}, id, a.ID))
	deactivate(t, s, a)
	d := rerouteAll(t, s, a)
	l, err := s.GetLead(ctx, f.org.ID, id)
	must(t, err)
	if len(d) != 1 || l.AssignedTo != nil || l.Location == nil || *l.Location != "pending" ||
		!strings.HasPrefix(l.Timeline[len(l.Timeline)-1].Message, "rerouted because User 0 was deactivated: ") {
		t.Fatalf("pending source: %+v location %v assigned %v", l.Timeline[len(l.Timeline)-1], l.Location, l.AssignedTo)
	}

	// The source now fans out: a reroute gives the lead to the owner.
	sub, _, _, err := s.CreateOrg(ctx, "Sub", "UTC", "sub@"+domainFor(t), "Sub Owner")
	must(t, err)
	must(t, s.LinkOrgs(ctx, f.org.ID, sub.ID))
	must(t, s.AssignLead(ctx, f.org.ID, domain.Changer{}, id, b.ID))
	cfg := domain.SourceConfig{Name: "EQ", Routing: domain.Routing{Mode: domain.RouteSubAgencies, SubAgencies: []string{sub.ID}}}
	delay, err := cfg.Validate()
	must(t, err)
	_, _, _, err = s.PutSource(ctx, f.org.ID, "everquote", cfg, delay)
	must(t, err)
	deactivate(t, s, b)
	d = rerouteAll(t, s, b)
	if len(d) != 1 || d[0].AssignedTo != f.owner.ID || d[0].FanOutTo != "" || !strings.Contains(d[0].Reason, "does not pass a lead down") {
		t.Fatalf("fan-out source: %+v", d)
	}

	// Reactivated before their turn: the lead stays.
	c, _, err := s.CreateUser(ctx, f.org.ID, "c@"+domainFor(t), "Cee", domain.RoleStaff, false)
	must(t, err)
	must(t, s.AssignLead(ctx, f.org.ID, domain.Changer{}, id, c.ID))
	deactivate(t, s, c)
	on := true
	_, err = s.UpdateUser(ctx, f.org.ID, c.ID, store.UserPatch{Active: &on})
	must(t, err)
	if _, done, err := s.RerouteLead(ctx, id, c.ID); err != nil || done {
		t.Fatalf("rerouted from a reactivated user: %v %v", done, err)
	}
}
