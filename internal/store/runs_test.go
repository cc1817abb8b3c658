package store_test

import (
	"strings"
	"testing"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/testenv"
)

// The names a run's summary shows come with the vendor key, or in one
// query by id; what cannot be read is left empty, never an error.
func TestRunNames(t *testing.T) {
	t.Parallel()
	s := testenv.Tx(t)
	f := seed(t, s, 1, domain.SourceConfig{})
	to, _, _, err := s.CreateOrg(ctx, "North Agency", "UTC", "north@"+domainFor(t), "N")
	must(t, err)
	lead := post(t, s, f, "ext-names-1", "")

	got := s.RunNames(ctx, domain.RunRef{OrgID: f.org.ID, ToOrgID: to.ID, LeadID: lead.LeadID})
	want := domain.RunNames{RunRef: domain.RunRef{OrgID: f.org.ID, ToOrgID: to.ID, LeadID: lead.LeadID, Slug: "everquote"},
		Org: f.org.Name, ToOrg: "North Agency", Source: "EverQuote", ExternalID: "ext-names-1"}
	if got != want {
		t.Fatalf("by lead:\n got %+v\nwant %+v", got, want)
	}
	if got := s.RunNames(ctx, domain.RunRef{OrgID: f.org.ID, Slug: "everquote"}); got.Org != f.org.Name || got.Source != "EverQuote" ||
		got.ExternalID != "" {
		t.Fatalf("by slug: %+v", got)
	}
	for _, ref := range []domain.RunRef{{}, {OrgID: "not-a-uuid", Slug: "x"}, {OrgID: domain.NewID(), LeadID: domain.NewID()}} {
		if got := s.RunNames(ctx, ref); got.Org != "" || got.Source != "" || got.ExternalID != "" || got.RunRef.OrgID != ref.OrgID {
			t.Fatalf("%+v read %+v", ref, got)
		}
	}

	key, err := s.RotateVendorKey(ctx, f.org.ID, "everquote")
	must(t, err)
	p, err := s.Authenticate(ctx, domain.HashToken(key))
	must(t, err)
	if p.OrgName != f.org.Name || p.SourceName != "EverQuote" {
		t.Fatalf("vendor key names: %+v", p)
	}
}

// A decision's Rule is its reason with people as user ids: what Temporal
// may show. The reason on the timeline keeps the names.
func TestDecisionRuleNamesNobody(t *testing.T) {
	t.Parallel()
	s := testenv.Tx(t)
	f := seed(t, s, 2, domain.SourceConfig{})
	d, err := route(s, post(t, s, f, "rule-1", "").LeadID)
	must(t, err)
	if !strings.Contains(d.Reason, d.AssigneeName) || strings.Contains(d.Rule, d.AssigneeName) ||
		d.Rule != "rotated to user "+d.AssignedTo+": position 1 of 2 active staff (staff_evenly)" {
		t.Fatalf("reason %q, rule %q", d.Reason, d.Rule)
	}
	again, err := route(s, d.LeadID)
	must(t, err)
	if !again.AlreadyRouted || again.Rule != "" {
		t.Fatalf("a decision read back has a rule: %+v", again)
	}

	owner := seed(t, s, 0, domain.SourceConfig{})
	d, err = route(s, post(t, s, owner, "rule-2", "").LeadID)
	must(t, err)
	if d.Rule != "no active staff to rotate over (staff_evenly): assigned to the org owner" || !strings.HasSuffix(d.Reason, " Owner") {
		t.Fatalf("owner fallback: reason %q, rule %q", d.Reason, d.Rule)
	}
}
