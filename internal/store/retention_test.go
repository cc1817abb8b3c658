package store_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/internal/testenv"
)

// leadKinds lists the lead's timeline as its kinds, in order.
func leadKinds(t *testing.T, s *store.Store, orgID, leadID string) []string {
	t.Helper()
	l, err := s.GetLead(ctx, orgID, leadID)
	must(t, err)
	var out []string
	for _, e := range l.Timeline {
		out = append(out, e.Kind)
	}
	return out
}

func feedCount(t *testing.T, s *store.Store, orgID string) int {
	t.Helper()
	feed, _, err := s.Feed(ctx, orgID, "", 100)
	must(t, err)
	return len(feed)
}

// purgeAll runs the purge a lead at a time, as the workflow pages it, and
// adds up what the batches removed.
func purgeAll(t *testing.T, s *store.Store, now time.Time) (batches int, total store.PurgeBatch) {
	t.Helper()
	after := ""
	for {
		b, err := s.PurgeClosedEvents(ctx, now, after, 1)
		must(t, err)
		batches++
		total.Leads += b.Leads
		total.Timeline += b.Timeline
		total.Feed += b.Feed
		if b.Next == "" {
			return batches, total
		}
		after = b.Next
	}
}

// routedWorked posts a lead, routes it to a person and marks it worked,
// with three claim expiries and a feed event of the kind that pile up.
func routedWorked(t *testing.T, s *store.Store, f fixture, ext string) (string, store.Decision) {
	t.Helper()
	id := post(t, s, f, ext, "").LeadID
	d, err := route(s, id)
	must(t, err)
	must(t, s.AddEventsForTest(ctx, id, f.org.ID, "claim_expired", 3))
	if _, err := s.MarkWorked(ctx, f.org.ID, d.AssignedTo, id); err != nil {
		t.Fatal(err)
	}
	return id, d
}

func TestRetentionPurgesOnlyClosedLeadsOldEvents(t *testing.T) {
	t.Parallel()
	s := testenv.Tx(t)
	f := seed(t, s, 2, domain.SourceConfig{})
	days := 30
	if _, _, err := s.UpdateOrg(ctx, f.org.ID, store.OrgPatch{RetentionDays: &days}); err != nil {
		t.Fatal(err)
	}
	other := seed(t, s, 2, domain.SourceConfig{}) // keeps everything: no setting

	old, d := routedWorked(t, s, f, "old-worked")
	recent, _ := routedWorked(t, s, f, "recent-worked")
	open := post(t, s, f, "old-open", "").LeadID
	_, err := route(s, open)
	must(t, err)
	must(t, s.AddEventsForTest(ctx, open, f.org.ID, "claim_expired", 2))
	invalid := post(t, s, f, "old-invalid", "").LeadID
	_, err = route(s, invalid)
	must(t, err)
	must(t, s.MarkInvalid(ctx, f.org.ID, domain.Changer{}, invalid, "wrong number"))
	elsewhere, _ := routedWorked(t, s, other, "old-worked")
	// worked, then moved to a queue (as a transfer can): open again
	queued, _ := routedWorked(t, s, f, "old-worked-queued")
	must(t, s.LeaveLeadForTest(ctx, queued, "", "queue"))
	for _, id := range []string{old, open, invalid, elsewhere, queued} {
		must(t, s.AgeLeadForTest(ctx, id, 100*24*time.Hour))
	}
	// an event newer than the cut-off on an old closed lead stays
	must(t, s.AddEventsForTest(ctx, old, f.org.ID, "note", 1))

	from, to := time.Now().Add(-200*24*time.Hour), time.Now().Add(time.Hour)
	speedBefore, err := s.SpeedToLead(ctx, f.org.ID, from, to)
	must(t, err)
	before := map[string][]string{}
	for _, id := range []string{recent, open, queued} {
		before[id] = leadKinds(t, s, f.org.ID, id)
	}
	beforeOther := leadKinds(t, s, other.org.ID, elsewhere)
	feedBefore := feedCount(t, s, f.org.ID)

	batches, total := purgeAll(t, s, time.Now())
	if total.Leads != 2 || batches != 3 {
		t.Fatalf("looked at %d closed leads in %d batches, want old-worked and old-invalid in 2 batches and an empty last", total.Leads, batches)
	}
	// old-worked: 3 claim expiries and worked; old-invalid: invalid
	if total.Timeline != 5 || total.Feed != 1 {
		t.Fatalf("removed %d timeline and %d feed events, want 5 and 1", total.Timeline, total.Feed)
	}
	got := leadKinds(t, s, f.org.ID, old)
	if want := []string{"received", "routed", "note", "purged"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("old worked lead's timeline %v, want %v", got, want)
	}
	l, err := s.GetLead(ctx, f.org.ID, old)
	must(t, err)
	msg := l.Timeline[len(l.Timeline)-1].Message
	if !strings.HasPrefix(msg, "4 events older than ") || !strings.HasSuffix(msg, " removed by retention") {
		t.Fatalf("purged event says %q", msg)
	}
	if got := leadKinds(t, s, f.org.ID, invalid); !reflect.DeepEqual(got, []string{"received", "routed", "purged"}) {
		t.Fatalf("old invalid lead's timeline %v", got)
	}
	for id, want := range before {
		if got := leadKinds(t, s, f.org.ID, id); !reflect.DeepEqual(got, want) {
			t.Fatalf("lead %s (open, queued, or closed too recently) changed: %v, was %v", id, got, want)
		}
	}
	if got := leadKinds(t, s, other.org.ID, elsewhere); !reflect.DeepEqual(got, beforeOther) {
		t.Fatalf("the org without the setting lost events: %v, was %v", got, beforeOther)
	}
	if n := feedCount(t, s, f.org.ID); n != feedBefore-1 { // old-worked's
		t.Fatalf("feed has %d events, want %d", n, feedBefore-1)
	}
	if n := feedCount(t, s, other.org.ID); n != 1 {
		t.Fatalf("the other org's feed has %d events, want its 1", n)
	}

	// What the rules read still answers the same.
	again := post(t, s, f, "old-worked", "")
	if !again.Duplicate || again.LeadID != old {
		t.Fatalf("re-posting a purged lead's external_id: %+v", again)
	}
	d2, err := route(s, old)
	must(t, err)
	if !d2.AlreadyRouted || d2.AssignedTo != d.AssignedTo || d2.Reason != d.Reason {
		t.Fatalf("routing again after the purge decided %+v, first %+v", d2, d)
	}
	speedAfter, err := s.SpeedToLead(ctx, f.org.ID, from, to)
	must(t, err)
	if !reflect.DeepEqual(speedAfter, speedBefore) {
		t.Fatalf("speed report changed:\n%+v\nwas\n%+v", speedAfter, speedBefore)
	}

	// A second run (a retried batch, tomorrow's schedule) removes nothing.
	if _, total := purgeAll(t, s, time.Now()); total.Timeline != 0 || total.Feed != 0 {
		t.Fatalf("second purge removed %+v", total)
	}
	if got := leadKinds(t, s, f.org.ID, old); slices.Index(got, "purged") != len(got)-1 || len(got) != 4 {
		t.Fatalf("second purge changed the timeline: %v", got)
	}
}

func TestRetentionSettingIsKeptAndCleared(t *testing.T) {
	t.Parallel()
	s := testenv.Tx(t)
	f := seed(t, s, 1, domain.SourceConfig{})
	o, err := s.GetOrgSettings(ctx, f.org.ID)
	must(t, err)
	if o.RetentionDays != nil {
		t.Fatalf("a new org keeps events %d days, want for ever", *o.RetentionDays)
	}
	days := 365
	o, _, err = s.UpdateOrg(ctx, f.org.ID, store.OrgPatch{RetentionDays: &days})
	must(t, err)
	if o.RetentionDays == nil || *o.RetentionDays != 365 {
		t.Fatalf("retention after setting: %v", o.RetentionDays)
	}
	name := "Renamed"
	if o, _, err = s.UpdateOrg(ctx, f.org.ID, store.OrgPatch{Name: &name}); err != nil || o.RetentionDays == nil {
		t.Fatalf("another field's change cleared retention: %v %v", o.RetentionDays, err)
	}
	o, _, err = s.UpdateOrg(ctx, f.org.ID, store.OrgPatch{ClearRetention: true})
	must(t, err)
	if o.RetentionDays != nil {
		t.Fatalf("retention after clearing: %d", *o.RetentionDays)
	}
}
