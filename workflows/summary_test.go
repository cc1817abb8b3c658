package workflows

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/leadrelay/leadrelay/internal/domain"
)

func TestLeadSummaryReadsAtAGlance(t *testing.T) {
	t.Parallel()
	in := LeadInput{LeadID: "11111111-2222-3333-4444-555555555555", OrgID: "org-1", Slug: "everquote", ExternalID: "ext-123"}
	got := LeadSummary(in, domain.RunNames{Org: "Summit Insurance Group", Source: "EverQuote"})
	if got != "Lead ext-123 from EverQuote → Summit Insurance Group" {
		t.Fatalf("summary %q", got)
	}
	in.Hop = 2
	if got := LeadSummary(in, domain.RunNames{}); got != "Lead ext-123 from everquote → `org-1` (hop 2)" {
		t.Fatalf("without names: %q", got)
	}
}

// Names are typed by orgs and external ids by vendors: whatever they hold,
// a summary stays one line of plain markdown, far under the server's
// limit.
func TestSummariesStayOneSafeLine(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("ü", 200)
	in := LeadInput{LeadID: "l", OrgID: "o", Slug: "s", ExternalID: strings.Repeat("客", 128)}
	for _, s := range []string{
		LeadSummary(in, domain.RunNames{Org: long, Source: long}),
		TransferSummary(50000, domain.TransferOwner, domain.RunNames{Org: long, ToOrg: long}),
		HandoverSummary(domain.RunNames{Org: long, ToOrg: long, ExternalID: long}),
		DistributionSummary(domain.RouteSubAgencies, strings.Repeat("n", 64), domain.RunNames{Org: long, Source: long}),
	} {
		if len(s) > maxSummaryBytes || !utf8.ValidString(s) || strings.ContainsAny(s, "\n\r") {
			t.Errorf("%d bytes, valid %v: %q", len(s), utf8.ValidString(s), s)
		}
	}
	got := LeadSummary(LeadInput{ExternalID: "a\nb\u2028c*_[x](y)`z`<b>#|~\\"},
		domain.RunNames{Org: " Acme\t\tAgency ", Source: "Web\x00form"})
	if got != "Lead a b c\\*\\_\\[x\\](y)\\`z\\`\\<b\\>\\#\\|\\~\\\\ from Web form → Acme Agency" {
		t.Fatalf("escaped: %q", got)
	}
}

func TestDecidedDetailsNameUsersByID(t *testing.T) {
	t.Parallel()
	d := LeadResult{LeadID: "l", OrgID: "o", AssignedTo: "u-1", Status: "assigned"}
	if got := decidedDetails(d, "rotated to user u-1: position 1 of 3 active staff (staff_evenly)"); got !=
		"**Assigned** to user `u-1`: rotated to user u-1: position 1 of 3 active staff (staff\\_evenly)" {
		t.Fatalf("assigned: %q", got)
	}
	d = LeadResult{LeadID: "l", FanOutTo: "sub", AlreadyRouted: true}
	passed := decidedDetails(d, "")
	if !strings.Contains(passed, "decided by an earlier run") || !strings.Contains(passed, "`lead/l/via/sub`") {
		t.Fatalf("passed down: %q", passed)
	}
	if got := finalDetails(passed, LeadResult{OrgID: "leaf", Location: "queue"}); !strings.HasSuffix(got, "**Finally** waiting in queue at org `leaf`") {
		t.Fatalf("final: %q", got)
	}
}
