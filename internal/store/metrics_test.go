package store_test

import (
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/internal/testenv"
)

// What routing tells the metrics: the source's mode, whether the owner got
// the lead as a fallback, and speed-to-lead from the post — only for the
// decision that first placed the lead, never for a re-read.
func TestDecisionCarriesWhatTheMetricsCount(t *testing.T) {
	t.Parallel()
	p, _ := testenv.DB(t)
	s := store.New(p)

	f := seed(t, s, 2, domain.SourceConfig{})
	in, err := s.InsertLead(ctx, store.NewLead{SourceID: f.source.ID, OrgID: f.org.ID, Slug: "everquote",
		WorkflowID: "wf-m1", ReceivedAt: time.Now().Add(-90 * time.Second),
		In: domain.LeadInput{ExternalID: "m1", Email: "lead-m1@example.com"}})
	must(t, err)
	d, err := route(s, in.LeadID)
	must(t, err)
	if d.Mode != string(domain.RouteStaffEvenly) || d.OwnerFallback || d.Status() != "assigned" ||
		d.SpeedToLead < 90*time.Second || d.SpeedToLead > 2*time.Minute {
		t.Fatalf("first decision: mode %q fallback %v status %s speed %s", d.Mode, d.OwnerFallback, d.Status(), d.SpeedToLead)
	}
	again, err := route(s, in.LeadID)
	must(t, err)
	if !again.AlreadyRouted || again.SpeedToLead != 0 {
		t.Fatalf("a re-read counts speed-to-lead again: %+v", again)
	}

	// In flight again after it was placed (what a distribution does to a
	// lead it passes down): decided again, but no second speed-to-lead.
	_, err = p.Exec(ctx, `UPDATE leads SET routed_at = NULL WHERE id = $1`, in.LeadID)
	must(t, err)
	d, err = route(s, in.LeadID)
	must(t, err)
	if d.AlreadyRouted || d.SpeedToLead != 0 {
		t.Fatalf("a lead placed before: %+v", d)
	}

	nobody := seed(t, s, 0, domain.SourceConfig{})
	d, err = route(s, post(t, s, nobody, "m2", "").LeadID)
	must(t, err)
	if d.Mode != string(domain.RouteStaffEvenly) || !d.OwnerFallback || d.Status() != "assigned" || d.SpeedToLead <= 0 {
		t.Fatalf("no staff: %+v", d)
	}

	owner := seed(t, s, 1, domain.SourceConfig{Name: "Own", Routing: domain.Routing{Mode: domain.RouteOwner}})
	d, err = route(s, post(t, s, owner, "m3", "").LeadID)
	must(t, err)
	if d.Mode != string(domain.RouteOwner) || d.OwnerFallback {
		t.Fatalf("owner mode is not a fallback: %+v", d)
	}

	d, err = route(s, post(t, s, f, "m4", domain.LocationPending).LeadID)
	must(t, err)
	if d.Mode != string(domain.RouteStaffEvenly) || d.Status() != domain.LocationPending || d.SpeedToLead <= 0 {
		t.Fatalf("parked where the vendor asked: %+v", d)
	}
}

// A fan-out hop that passes the lead down has no speed-to-lead; the
// sub-agency's hop that places it has, and a sub-agency without a source for
// the slug is mode "" with the owner fallback.
func TestFanOutSpeedToLeadIsTheLastHops(t *testing.T) {
	t.Parallel()
	p, _ := testenv.DB(t)
	s := store.New(p)
	master, sub := linkedPair(t, s)
	cfg := domain.SourceConfig{Name: "Fan", Routing: domain.Routing{Mode: domain.RouteSubAgencies, SubAgencies: []string{sub.org.ID}}}
	delay, err := cfg.Validate()
	must(t, err)
	master.source, _, _, err = s.PutSource(ctx, master.org.ID, "fan", cfg, delay)
	must(t, err)
	in, err := s.InsertLead(ctx, store.NewLead{SourceID: master.source.ID, OrgID: master.org.ID, Slug: "fan",
		WorkflowID: "wf-fan", ReceivedAt: time.Now(), In: domain.LeadInput{ExternalID: "fan1", Email: "lead-fan1@example.com"}})
	must(t, err)
	d0, err := route(s, in.LeadID)
	must(t, err)
	if d0.Status() != "sub_agency" || d0.Mode != string(domain.RouteSubAgencies) || d0.SpeedToLead != 0 {
		t.Fatalf("hop 0: %+v", d0)
	}
	d1, err := s.RouteLead(ctx, store.RouteRequest{LeadID: in.LeadID, OrgID: sub.org.ID, Hop: 1})
	must(t, err)
	if d1.Mode != "" || !d1.OwnerFallback || d1.SpeedToLead <= 0 {
		t.Fatalf("hop 1 at a sub-agency without the slug: %+v", d1)
	}
}

// MarkEmailFailed says yes once per email given up: not again, and not for
// one that was sent.
func TestMarkEmailFailedReportsOnce(t *testing.T) {
	t.Parallel()
	s := testenv.Tx(t)
	key, sent := "purchase:metrics-"+domain.NewID(), "purchase:metrics-"+domain.NewID()
	for _, k := range []string{key, sent} {
		_, err := s.BeginDelivery(ctx, store.Delivery{Key: k, MessageID: k + "@x", Kind: "purchase", To: "a@b.example", Subject: "s"})
		must(t, err)
	}
	must(t, s.MarkSent(ctx, sent))
	for i, want := range []bool{true, false} {
		got, err := s.MarkEmailFailed(ctx, key, "", "", "gave up")
		must(t, err)
		if got != want {
			t.Fatalf("call %d: recorded %v, want %v", i+1, got, want)
		}
	}
	if got, err := s.MarkEmailFailed(ctx, sent, "", "", "late"); err != nil || got {
		t.Fatalf("a sent email: %v %v", got, err)
	}
}

// A transfer batch reports what it moved and failed this time, so a batch
// run again after its commit adds nothing to the metrics.
func TestTransferBatchReportsWhatItDidThisTime(t *testing.T) {
	t.Parallel()
	p, _ := testenv.DB(t)
	s := store.New(p)
	m, sub := linkedPair(t, s)
	ids := append(routedLeads(t, s, m, "met-", 2), domain.NewID()) // the last is no lead: it fails
	tr := newTransfer(t, s, m.org.ID, sub.org.ID, domain.TransferOwner, ids)
	b := store.TransferBatch{TransferID: tr.ID, Size: 500}
	out, err := s.MoveTransferBatch(ctx, b)
	must(t, err)
	if out.Moved != 2 || out.Failed != 1 || out.NewlyMoved != 2 || out.NewlyFailed != 1 {
		t.Fatalf("first run: %+v", out)
	}
	out, err = s.MoveTransferBatch(ctx, b)
	must(t, err)
	if out.Moved != 2 || out.Failed != 1 || out.NewlyMoved != 0 || out.NewlyFailed != 0 {
		t.Fatalf("run again: %+v", out)
	}
}
