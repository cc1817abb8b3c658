package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/internal/testenv"
)

// postContact records a lead at f's source as the API does, received at at.
func postContact(t *testing.T, s *store.Store, f fixture, ext, email, phone string, at time.Time) (store.Intake, error) {
	t.Helper()
	id := domain.NewID()
	return s.InsertLead(ctx, store.NewLead{ID: id, SourceID: f.source.ID, OrgID: f.org.ID, Slug: f.source.Slug,
		WorkflowID: "lead/" + id, ReceivedAt: at, In: domain.LeadInput{ExternalID: ext, Email: email, Phone: phone}})
}

func intakeFixture(t *testing.T) (*store.Store, *pgxpool.Pool, fixture) {
	t.Helper()
	pool, _ := testenv.DB(t)
	s := store.New(pool)
	return s, pool, seed(t, s, 2, domain.SourceConfig{})
}

// A new lead with the same email (any case) or the same phone digits
// (whatever the punctuation) as an open lead of the org repeats the newest
// such lead; a worked lead, one past the lookback, or a lookback of 0 is no
// repeat.
func TestIntakeFindsTheOpenLeadARepeatRepeats(t *testing.T) {
	s, pool, f := intakeFixture(t)
	now := time.Now()
	open := func(ext, email, phone string, age time.Duration) string {
		t.Helper()
		in, err := postContact(t, s, f, ext, email, phone, now.Add(-age))
		must(t, err)
		_, err = pool.Exec(ctx, `UPDATE leads SET assigned_to = $2, routed_at = now() WHERE id = $1`, in.LeadID, f.staff[0].ID)
		must(t, err)
		return in.LeadID
	}
	older := open("old", "Ada@Example.com", "", 48*time.Hour)
	newer := open("new", "ada@example.com", "", time.Hour)
	byPhone := open("ph", "", "+1 (555) 010-0200", time.Hour)

	in, err := postContact(t, s, f, "r1", "ADA@example.COM", "", now)
	must(t, err)
	if in.RepeatOf != newer {
		t.Errorf("by email: repeat_of %q, want the newest open lead %q (not %q)", in.RepeatOf, newer, older)
	}
	in, err = postContact(t, s, f, "r2", "", "1-555-010-0200", now)
	must(t, err)
	if in.RepeatOf != byPhone {
		t.Errorf("by phone digits: repeat_of %q, want %q", in.RepeatOf, byPhone)
	}
	got, err := s.GetLead(ctx, f.org.ID, in.LeadID)
	must(t, err)
	if got.RepeatOf == nil || *got.RepeatOf != byPhone {
		t.Errorf("GetLead repeat_of %v, want %s", got.RepeatOf, byPhone)
	}

	// Worked: no longer open.
	_, err = pool.Exec(ctx, `UPDATE leads SET worked_at = now() WHERE id = $1`, byPhone)
	must(t, err)
	in, err = postContact(t, s, f, "r3", "", "15550100200", now)
	must(t, err)
	if in.RepeatOf != "" {
		t.Errorf("the open lead was worked: repeat_of %q, want none", in.RepeatOf)
	}

	// Past the lookback.
	days := 1
	_, _, err = s.UpdateOrg(ctx, f.org.ID, store.OrgPatch{RepeatLookbackDays: &days})
	must(t, err)
	_, err = pool.Exec(ctx, `UPDATE leads SET received_at = now() - interval '2 days' WHERE id = $1`, newer)
	must(t, err)
	in, err = postContact(t, s, f, "r4", "ada@example.com", "", now)
	must(t, err)
	if in.RepeatOf != "" {
		t.Errorf("past the 1-day lookback: repeat_of %q, want none", in.RepeatOf)
	}

	// Off.
	days = 0
	_, _, err = s.UpdateOrg(ctx, f.org.ID, store.OrgPatch{RepeatLookbackDays: &days})
	must(t, err)
	open("fresh", "bob@example.com", "", time.Minute)
	in, err = postContact(t, s, f, "r5", "bob@example.com", "", now)
	must(t, err)
	if in.RepeatOf != "" {
		t.Errorf("lookback 0: repeat_of %q, want none", in.RepeatOf)
	}
}

// A source's vendor_daily_cap counts new leads per org-local day: past it
// the post is refused (CapReached, waiting until the org's midnight) and
// nothing is written; a duplicate external_id is not counted; the next
// org-local day counts again from zero.
func TestVendorDailyCapPerOrgLocalDay(t *testing.T) {
	s, pool, f := intakeFixture(t)
	tz := "America/Chicago"
	_, _, err := s.UpdateOrg(ctx, f.org.ID, store.OrgPatch{Timezone: &tz})
	must(t, err)
	_, err = pool.Exec(ctx, `UPDATE lead_sources SET vendor_daily_cap = 2 WHERE id = $1`, f.source.ID)
	must(t, err)
	// 23:00 in Chicago on 10 March 2026 (CDT, UTC-5): one hour to midnight.
	at := time.Date(2026, 3, 11, 4, 0, 0, 0, time.UTC)
	for _, ext := range []string{"a", "b", "a"} {
		if _, err := postContact(t, s, f, ext, ext+"@example.com", "", at); err != nil {
			t.Fatalf("post %s under the cap: %v", ext, err)
		}
	}
	leads := count(t, pool, `SELECT count(*) FROM leads WHERE source_id = $1`, f.source.ID)
	_, err = postContact(t, s, f, "c", "c@example.com", "", at)
	var capped *store.CapReached
	if !errors.As(err, &capped) || domain.ErrorCode(err) != domain.ECapReached {
		t.Fatalf("third new lead: %v, want cap_reached", err)
	}
	if capped.Wait != time.Hour {
		t.Errorf("wait %s, want 1h to Chicago's midnight", capped.Wait)
	}
	if n := count(t, pool, `SELECT count(*) FROM leads WHERE source_id = $1`, f.source.ID); n != leads {
		t.Errorf("refused post wrote a lead: %d leads, want %d", n, leads)
	}
	if n := count(t, pool, `SELECT n FROM source_day_counts WHERE source_id = $1 AND day = '2026-03-10'`, f.source.ID); n != 2 {
		t.Errorf("day count %d, want 2 (the duplicate and the refusal not counted)", n)
	}
	// Midnight in Chicago: a new day.
	if _, err := postContact(t, s, f, "d", "d@example.com", "", at.Add(time.Hour)); err != nil {
		t.Fatalf("next org-local day: %v", err)
	}
}
