package store_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/internal/testenv"
)

func TestSubAgenciesEvenlyRotatesThenEachSubRoutesItsOwnWay(t *testing.T) {
	t.Parallel()
	s := testenv.Tx(t)
	d := domainFor(t)
	master, _, _, err := s.CreateOrg(ctx, "Master", "UTC", "m@"+d, "M")
	must(t, err)
	var subs []store.Org
	owners := map[string]string{}
	for _, n := range []string{"A", "B", "C"} {
		o, u, _, err := s.CreateOrg(ctx, n, "UTC", strings.ToLower(n)+"@"+d, "Owner "+n)
		must(t, err)
		must(t, s.LinkOrgs(ctx, master.ID, o.ID))
		subs = append(subs, o)
		owners[o.ID] = u.ID
	}
	a, b, c := subs[0], subs[1], subs[2]
	// A rotates over its own staff; B has no routing for the slug; C parks leads as pending.
	staffA, _, err := s.CreateUser(ctx, a.ID, "rep@a."+d, "Rep A", domain.RoleStaff, false)
	must(t, err)
	put := func(org string, cfg domain.SourceConfig) store.Source {
		delay, err := cfg.Validate()
		must(t, err)
		src, _, _, err := s.PutSource(ctx, org, "everquote", cfg, delay)
		must(t, err)
		return src
	}
	src := put(master.ID, domain.SourceConfig{Name: "EQ", Routing: domain.Routing{Mode: domain.RouteSubAgencies,
		SubAgencies: []string{a.ID, b.ID, c.ID}}})
	put(a.ID, domain.SourceConfig{Name: "EQ at A", Routing: domain.Routing{Mode: domain.RouteStaffEvenly}})
	put(c.ID, domain.SourceConfig{Name: "EQ at C", Routing: domain.Routing{Mode: domain.RoutePending}})
	f := fixture{org: master, source: src}

	counts := map[string]int{}
	for i := 0; i < 30; i++ {
		id := post(t, s, f, fmt.Sprintf("f%d", i), "").LeadID
		d0, err := route(s, id)
		must(t, err)
		if d0.FanOutTo == "" || d0.Status() != "sub_agency" || !strings.HasPrefix(d0.Reason, "sent to sub-agency ") {
			t.Fatalf("hop 0: %+v", d0)
		}
		counts[d0.FanOutTo]++
		again, err := route(s, id)
		must(t, err)
		if !again.AlreadyRouted || again.FanOutTo != d0.FanOutTo {
			t.Fatalf("a retried hop 0 decided again: %+v", again)
		}
		d1, err := s.RouteLead(ctx, store.RouteRequest{LeadID: id, OrgID: d0.FanOutTo, Hop: 1})
		must(t, err)
		l, err := s.GetLead(ctx, d0.FanOutTo, id)
		must(t, err)
		switch d0.FanOutTo {
		case a.ID:
			if d1.AssignedTo != staffA.ID || *l.AssignedTo != staffA.ID {
				t.Fatalf("at A: %+v", d1)
			}
		case b.ID:
			if d1.AssignedTo != owners[b.ID] || !strings.HasPrefix(d1.Reason, "no routing for everquote in this sub-agency") {
				t.Fatalf("at B: %+v", d1)
			}
		case c.ID:
			if d1.Location != "pending" || l.AssignedTo != nil {
				t.Fatalf("at C: %+v", d1)
			}
		}
		if l.RoutedAt == nil || len(l.Timeline) != 3 {
			t.Fatalf("lead at its sub-agency: routed %v, %d timeline events", l.RoutedAt, len(l.Timeline))
		}
		if _, err := s.GetLead(ctx, master.ID, id); domain.ErrorCode(err) != domain.ENotFound {
			t.Fatal("the master still holds a lead it passed down")
		}
	}
	if counts[a.ID] != 10 || counts[b.ID] != 10 || counts[c.ID] != 10 {
		t.Fatalf("fan-out counts %v, want 10 each", counts)
	}

	// An unlinked sub-agency drops out of the rotation; none left → the owner.
	_, err = s.Unlink(ctx, master.ID, b.ID)
	must(t, err)
	for i := 0; i < 4; i++ {
		d0, err := route(s, post(t, s, f, fmt.Sprintf("u%d", i), "").LeadID)
		must(t, err)
		if d0.FanOutTo == b.ID || d0.FanOutTo == "" {
			t.Fatalf("after unlink: %+v", d0)
		}
	}
	_, err = s.Unlink(ctx, master.ID, a.ID)
	must(t, err)
	_, err = s.Unlink(ctx, master.ID, c.ID)
	must(t, err)
	d0, err := route(s, post(t, s, f, "none", "").LeadID)
	must(t, err)
	if d0.FanOutTo != "" || d0.AssignedTo == "" || !strings.HasPrefix(d0.Reason, "no linked sub-agency to rotate over") {
		t.Fatalf("no sub-agency left: %+v", d0)
	}
}
