package store_test

import (
	"strings"
	"testing"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
)

// fieldsOf is the fields an EInvalid error names.
func fieldsOf(err error) map[string]string {
	if e, ok := err.(*domain.Error); ok && e.Code == domain.EInvalid {
		return e.Fields
	}
	return nil
}

// PutGroup creates then replaces; members must be active users of the org,
// each once, weights 1..100, each problem named by its field; a refusal
// leaves the group as it was.
func TestPutGroupChecksEveryMember(t *testing.T) {
	s, pool, f := intakeFixture(t)
	other := seed(t, s, 1, domain.SourceConfig{})
	g, created, err := s.PutGroup(ctx, f.org.ID, "closers", []store.GroupMember{{UserID: f.staff[0].ID, Weight: 3}, {UserID: f.staff[1].ID, Weight: 1}})
	must(t, err)
	if !created || len(g.Members) != 2 || g.Members[0].Name != f.staff[0].Name {
		t.Fatalf("created %v, group %+v", created, g)
	}
	_, created, err = s.PutGroup(ctx, f.org.ID, "closers", []store.GroupMember{{UserID: f.staff[1].ID, Weight: 100}})
	must(t, err)
	if created {
		t.Error("a second put created the group again")
	}
	inactive := false
	_, err = s.UpdateUser(ctx, f.org.ID, f.staff[0].ID, store.UserPatch{Active: &inactive})
	must(t, err)
	_, _, err = s.PutGroup(ctx, f.org.ID, "closers", []store.GroupMember{
		{UserID: other.staff[0].ID, Weight: 1}, {UserID: f.staff[0].ID, Weight: 1}, {UserID: f.staff[1].ID, Weight: 0},
		{UserID: f.staff[1].ID, Weight: 2}, {UserID: "nope", Weight: 1}})
	want := map[string]string{"members[0].user_id": "not an active user", "members[1].user_id": "not an active user",
		"members[2].weight": "1 to 100", "members[3].user_id": "already a member", "members[4].user_id": "a user id"}
	got := fieldsOf(err)
	for k, why := range want {
		if !strings.Contains(got[k], why) {
			t.Errorf("%s: %q, want %q (all: %v)", k, got[k], why, got)
		}
	}
	list, err := s.ListGroups(ctx, f.org.ID)
	must(t, err)
	if len(list) != 1 || len(list[0].Members) != 1 || list[0].Members[0].Weight != 100 {
		t.Errorf("after a refused put: %+v, want closers with one member of weight 100", list)
	}
	if n := count(t, pool, `SELECT count(*) FROM groups WHERE org_id = $1`, other.org.ID); n != 0 {
		t.Errorf("the other org has %d groups", n)
	}
}

// A group a source routes to, by its default or by one of its rules,
// cannot be deleted: 409 naming the sources. Unused, it goes.
func TestDeleteGroupRefusedWhileASourceRoutesToIt(t *testing.T) {
	s, pool, f := intakeFixture(t)
	_, _, err := s.PutGroup(ctx, f.org.ID, "texas", []store.GroupMember{{UserID: f.staff[0].ID, Weight: 1}})
	must(t, err)
	_, err = pool.Exec(ctx, `UPDATE lead_sources SET rules = '[{"name":"TX","when":{"state":["TX"]},"routing":{"mode":"group","group":"texas"}}]' WHERE id = $1`, f.source.ID)
	must(t, err)
	err = s.DeleteGroup(ctx, f.org.ID, "texas")
	if domain.ErrorCode(err) != domain.EConflict || !strings.Contains(err.Error(), "everquote") {
		t.Fatalf("delete of a group a rule routes to: %v, want 409 naming everquote", err)
	}
	_, err = pool.Exec(ctx, `UPDATE lead_sources SET rules = '[]', routing_mode = 'group', routing_group = 'texas' WHERE id = $1`, f.source.ID)
	must(t, err)
	if err := s.DeleteGroup(ctx, f.org.ID, "texas"); domain.ErrorCode(err) != domain.EConflict {
		t.Fatalf("delete of the default's group: %v, want 409", err)
	}
	_, err = pool.Exec(ctx, `UPDATE lead_sources SET routing_mode = 'owner', routing_group = NULL WHERE id = $1`, f.source.ID)
	must(t, err)
	must(t, s.DeleteGroup(ctx, f.org.ID, "texas"))
	if err := s.DeleteGroup(ctx, f.org.ID, "texas"); domain.ErrorCode(err) != domain.ENotFound {
		t.Errorf("second delete: %v, want not found", err)
	}
}

// A source save that routes to a group and a delete of that group, run
// together many times, never leave a source routing to a group that is
// gone: the delete either sees the rule (409) or the save finds no group
// (422).
func TestDeleteGroupAndPutSourceNeverLeaveADanglingRule(t *testing.T) {
	s, pool, f := intakeFixture(t)
	cfg := domain.SourceConfig{Name: "Race", Routing: domain.Routing{Mode: domain.RouteOwner},
		Rules: []domain.Rule{{Name: "TX", When: domain.Condition{State: []string{"TX"}}, Routing: domain.Routing{Mode: domain.RouteGroup, Group: "race"}}}}
	delay, err := cfg.Validate()
	must(t, err)
	for i := 0; i < 20; i++ {
		_, _, err := s.PutGroup(ctx, f.org.ID, "race", []store.GroupMember{{UserID: f.staff[0].ID, Weight: 1}})
		must(t, err)
		_, err = pool.Exec(ctx, `UPDATE lead_sources SET rules = '[]' WHERE org_id = $1`, f.org.ID)
		must(t, err)
		done := make(chan error, 2)
		go func() { _, _, _, err := s.PutSource(ctx, f.org.ID, "race", cfg, delay); done <- err }()
		go func() { done <- s.DeleteGroup(ctx, f.org.ID, "race") }()
		for j := 0; j < 2; j++ {
			if err := <-done; err != nil && domain.ErrorCode(err) != domain.EConflict && domain.ErrorCode(err) != domain.EInvalid {
				t.Fatalf("round %d: %v", i, err)
			}
		}
		if n := count(t, pool, `SELECT count(*) FROM lead_sources s WHERE s.org_id = $1 AND s.rules::text LIKE '%"race"%'
				AND NOT EXISTS (SELECT 1 FROM groups g WHERE g.org_id = s.org_id AND g.name = 'race')`, f.org.ID); n != 0 {
			t.Fatalf("round %d: a source routes to a deleted group", i)
		}
	}
}
