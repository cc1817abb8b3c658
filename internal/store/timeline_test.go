package store_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
)

// kinds are the kinds of events, in order.
func kinds(events []store.Event) string {
	k := make([]string, len(events))
	for i, e := range events {
		k[i] = e.Kind
	}
	return strings.Join(k, ",")
}

// walkTimeline follows a lead's timeline pages back from cursor to the
// lead's first event and answers them joined, oldest first.
func walkTimeline(t *testing.T, s *store.Store, orgID, leadID, cursor string, limit int) []store.Event {
	t.Helper()
	var all []store.Event
	for pages := 0; ; pages++ {
		if pages > 200 {
			t.Fatal("the pages do not end")
		}
		page, next, err := s.Timeline(ctx, orgID, leadID, cursor, limit)
		must(t, err)
		if len(page) > limit || (next != "" && len(page) != limit) {
			t.Fatalf("a page of %d events with limit %d, next %q", len(page), limit, next)
		}
		all = append(slices.Clone(page), all...)
		if next == "" {
			return all
		}
		cursor = next
	}
}

// A lead whose claims keep being released grows its timeline without
// bound: the lead read carries only the latest 50 events, oldest first,
// with a cursor; the timeline's pages, from the start or from that cursor,
// give every event exactly once and in order; a lead of another org is not
// found, and a cursor taken from one lead shows nothing of it on another.
func TestTimelinePagesBackFromTheLatest(t *testing.T) {
	t.Parallel()
	s, f := claimFixture(t, 3)
	rep := f.staff[0]
	short := queued(t, s, f, "short")
	if c, ok := claim(t, s, f, rep); !ok || c.LeadID != short {
		t.Fatalf("claimed %+v %v", c, ok)
	}
	long := queued(t, s, f, "long")
	want := []string{"received", "routed"}
	for range 59 {
		if c, ok := claim(t, s, f, rep); !ok || c.LeadID != long {
			t.Fatalf("claimed %+v %v", c, ok)
		}
		must(t, s.ReleaseLead(ctx, f.org.ID, rep.ID, long))
		want = append(want, "claimed", "released")
	}

	l, err := s.GetLead(ctx, f.org.ID, long)
	must(t, err)
	if len(l.Timeline) != store.LeadTimelineEvents || kinds(l.Timeline) != strings.Join(want[len(want)-50:], ",") {
		t.Fatalf("the lead read's timeline: %d events %s", len(l.Timeline), kinds(l.Timeline))
	}
	if l.TimelineNextCursor == nil {
		t.Fatal("the lead read has no cursor to its older events")
	}

	all := walkTimeline(t, s, f.org.ID, long, "", 50)
	if kinds(all) != strings.Join(want, ",") {
		t.Fatalf("walking the pages: %d events %s, want %d", len(all), kinds(all), len(want))
	}
	if !slices.IsSortedFunc(all, func(a, b store.Event) int { return int(a.ID - b.ID) }) ||
		len(slices.CompactFunc(slices.Clone(all), func(a, b store.Event) bool { return a.ID == b.ID })) != len(all) {
		t.Fatal("the pages repeat an event or are out of order")
	}
	if !slices.EqualFunc(all[len(all)-50:], l.Timeline, func(a, b store.Event) bool { return a.ID == b.ID }) {
		t.Fatal("the first page is not the lead read's timeline")
	}
	older := walkTimeline(t, s, f.org.ID, long, *l.TimelineNextCursor, 7)
	if !slices.EqualFunc(append(older, l.Timeline...), all, func(a, b store.Event) bool { return a.ID == b.ID }) {
		t.Fatalf("from the lead read's cursor, 7 at a time: %d events %s", len(older), kinds(older))
	}

	// The short lead's events are older than the long one's: its own show
	// through the long lead's cursor, and only them.
	shortLead, err := s.GetLead(ctx, f.org.ID, short)
	must(t, err)
	if shortLead.TimelineNextCursor != nil {
		t.Fatalf("a lead of %d events has a cursor", len(shortLead.Timeline))
	}
	other, next, err := s.Timeline(ctx, f.org.ID, short, *l.TimelineNextCursor, 200)
	must(t, err)
	if next != "" || !slices.EqualFunc(other, shortLead.Timeline, func(a, b store.Event) bool { return a.ID == b.ID }) {
		t.Fatalf("the long lead's cursor on the short lead: %s, next %q", kinds(other), next)
	}

	elsewhere := seed(t, s, 1, domain.SourceConfig{})
	_, _, err = s.Timeline(ctx, elsewhere.org.ID, long, "", 50)
	wantCode(t, "another org's lead", err, domain.ENotFound)
	_, _, err = s.Timeline(ctx, f.org.ID, "not-a-lead", "", 50)
	wantCode(t, "a bad id", err, domain.ENotFound)
	if ops, _, err := s.Timeline(ctx, "", long, "", 200); err != nil || len(ops) != len(want) {
		t.Fatalf("the operators' read: %d events, %v", len(ops), err)
	}
	for _, bad := range []string{"0", "-5", "zz!", strings.Repeat("z", 20)} {
		_, _, err := s.Timeline(ctx, f.org.ID, long, bad, 50)
		if e, ok := err.(*domain.Error); !ok || e.Code != domain.EInvalid || e.Fields["cursor"] == "" {
			t.Fatalf("cursor %q: %v, want a refusal naming the cursor", bad, err)
		}
	}
}
