package store_test

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/internal/testenv"
)

// zoned seeds an org (two rotating users and an admin) in the timezone tz.
func zoned(t *testing.T, s *store.Store, tz string) fixture {
	t.Helper()
	f := seed(t, s, 2, domain.SourceConfig{})
	_, _, err := s.UpdateOrg(ctx, f.org.ID, store.OrgPatch{Timezone: &tz})
	must(t, err)
	return f
}

// postedAt posts and routes a lead at f and dates its routing at, as if it
// had arrived then.
func postedAt(t *testing.T, s *store.Store, p *pgxpool.Pool, f fixture, ext string, at string) string {
	t.Helper()
	id := routedLeads(t, s, f, ext, 1)[0]
	_, err := p.Exec(ctx, `UPDATE leads SET routed_at = $2, received_at = $2 WHERE id = $1`, id, utc(at))
	must(t, err)
	return id
}

func utc(v string) time.Time {
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		panic(err)
	}
	return t
}

// uncovered is UncoveredDays for the given orgs only (other tests share the
// database), keyed by org and day.
func uncovered(t *testing.T, s *store.Store, orgs ...string) map[string]store.UncoveredDay {
	t.Helper()
	days, err := s.UncoveredDays(ctx, utc("2026-03-01T00:00:00Z"))
	must(t, err)
	out := map[string]store.UncoveredDay{}
	for _, d := range days {
		for _, o := range orgs {
			if d.OrgID == o {
				out[o+" "+d.Day.Format(time.DateOnly)] = d
			}
		}
	}
	return out
}

// TestDigestDaysFollowEachOrgsTimezone: arrivals a second either side of
// local midnight fall on different days, in Chicago across the
// spring-forward night and in Tokyo; a day's digest lists exactly its
// leads, in order, and once recorded the day is covered.
func TestDigestDaysFollowEachOrgsTimezone(t *testing.T) {
	t.Parallel()
	p, _ := testenv.DB(t)
	s := store.New(p)
	chi, tok := zoned(t, s, "America/Chicago"), zoned(t, s, "Asia/Tokyo")
	postedAt(t, s, p, chi, "c-before", "2026-03-07T05:59:59Z")         // 23:59:59 CST on the 6th
	first := postedAt(t, s, p, chi, "c-first", "2026-03-07T06:00:00Z") // midnight on the 7th
	last := postedAt(t, s, p, chi, "c-last", "2026-03-08T05:59:59Z")   // 23:59:59 on the 7th
	postedAt(t, s, p, chi, "c-after", "2026-03-08T06:00:00Z")          // midnight on the 8th, still CST
	postedAt(t, s, p, tok, "t-7th", "2026-03-07T14:59:59Z")            // 23:59:59 JST on the 7th
	postedAt(t, s, p, tok, "t-8th", "2026-03-07T15:00:00Z")            // midnight JST on the 8th
	days := uncovered(t, s, chi.org.ID, tok.org.ID)
	for key, first := range map[string]string{
		chi.org.ID + " 2026-03-06": "2026-03-07T05:59:59Z", chi.org.ID + " 2026-03-07": "2026-03-07T06:00:00Z",
		chi.org.ID + " 2026-03-08": "2026-03-08T06:00:00Z", tok.org.ID + " 2026-03-07": "2026-03-07T14:59:59Z",
		tok.org.ID + " 2026-03-08": "2026-03-07T15:00:00Z",
	} {
		d, ok := days[key]
		if !ok || !d.First.Equal(utc(first)) || d.Batch != 0 || !d.PrevUntil.IsZero() {
			t.Errorf("%s: got %+v (found %v), want first arrival %s", key, d, ok, first)
		}
	}
	if len(days) != 5 {
		t.Errorf("want 5 uncovered days, got %d: %v", len(days), days)
	}

	chicago, _ := time.LoadLocation("America/Chicago")
	d := days[chi.org.ID+" 2026-03-07"]
	plan := domain.DigestSchedule{At: 8 * 60}.Plan(chicago, d.Day, d.First, d.PrevUntil)
	g := store.Digest{OrgID: chi.org.ID, Day: d.Day, From: plan.From, Until: plan.Until, FireAt: plan.FireAt, WorkflowID: "digest/x"}
	created, err := s.CreateDigest(ctx, g)
	must(t, err)
	again, err := s.CreateDigest(ctx, g)
	must(t, err)
	if !created || again {
		t.Fatalf("created %v, then again %v: want one row", created, again)
	}
	c, err := s.DigestContent(ctx, g, 10)
	must(t, err)
	if c.Total != 2 || len(c.Leads) != 2 || c.Leads[0].ID != first || c.Leads[1].ID != last || c.Leads[0].How != "posted" ||
		c.Timezone != "America/Chicago" {
		t.Fatalf("the 7th's digest: %+v", c)
	}
	if c.Leads[0].Name != "c-firsta" || c.Leads[0].Source != "EverQuote" {
		t.Errorf("a lead without a name shows its external id and the source's name: %+v", c.Leads[0])
	}
	days = uncovered(t, s, chi.org.ID)
	if _, ok := days[chi.org.ID+" 2026-03-07"]; ok || len(days) != 2 {
		t.Fatalf("after the 7th's digest was recorded: %v", days)
	}
}

// TestDigestListsWhatTheOrgHolds: a lead passed on by a transfer counts for
// the receiving org (at its arrival) and no longer for the sender; a team
// member counts for neither; a day's second batch under a delay starts where
// the first ended; the recipients are the subscribed, active admins and
// staff.
func TestDigestListsWhatTheOrgHolds(t *testing.T) {
	t.Parallel()
	p, _ := testenv.DB(t)
	s := store.New(p)
	m, sub := linkedPair(t, s)
	moved := routedLeads(t, s, m, "dg-moved", 2)
	kept := routedLeads(t, s, m, "dg-kept", 1)[0]
	member := routedLeads(t, s, m, "dg-member", 1)[0]
	_, err := p.Exec(ctx, `UPDATE leads SET kind = 'team_member' WHERE id = $1`, member)
	must(t, err)
	tr := newTransfer(t, s, m.org.ID, sub.org.ID, domain.TransferOwner, append(moved, member))
	out, err := s.MoveTransferBatch(ctx, store.TransferBatch{TransferID: tr.ID, Index: 0, Size: 10})
	must(t, err)
	if out.Moved != 3 {
		t.Fatalf("moved %+v", out)
	}
	today := func(org string) store.UncoveredDay {
		days, err := s.UncoveredDays(ctx, time.Now().Add(-time.Hour))
		must(t, err)
		for _, d := range days {
			if d.OrgID == org {
				return d
			}
		}
		t.Fatalf("no uncovered day for %s", org)
		return store.UncoveredDay{}
	}
	sched := domain.DigestSchedule{Delay: time.Minute}
	record := func(d store.UncoveredDay) store.Digest {
		plan := sched.Plan(time.UTC, d.Day, d.First, d.PrevUntil)
		g := store.Digest{OrgID: d.OrgID, Day: d.Day, Batch: d.Batch, From: plan.From, Until: plan.Until, FireAt: plan.FireAt, WorkflowID: "digest/y"}
		_, err := s.CreateDigest(ctx, g)
		must(t, err)
		return g
	}
	content := func(g store.Digest) []string {
		c, err := s.DigestContent(ctx, g, 10)
		must(t, err)
		var ids []string
		for _, l := range c.Leads {
			ids = append(ids, l.ID+" "+l.How)
		}
		return ids
	}
	mg, sg := record(today(m.org.ID)), record(today(sub.org.ID))
	if got := content(mg); len(got) != 1 || got[0] != kept+" posted" {
		t.Errorf("the sender lists %v, want only the lead it kept", got)
	}
	if got := content(sg); len(got) != 2 || got[0] != moved[0]+" transferred" && got[1] != moved[0]+" transferred" {
		t.Errorf("the receiver lists %v, want the two moved leads", got)
	}

	// A lead arriving after the first batch's minute opens the second batch.
	late := routedLeads(t, s, m, "dg-late", 1)[0]
	_, err = p.Exec(ctx, `UPDATE leads SET routed_at = $2 WHERE id = $1`, late, mg.Until.Add(time.Second))
	must(t, err)
	d := today(m.org.ID)
	if d.Batch != 1 || !d.PrevUntil.Equal(mg.Until) {
		t.Fatalf("second batch: %+v", d)
	}
	second := record(d)
	if got := content(second); len(got) != 1 || got[0] != late+" posted" || !second.From.Equal(mg.Until) {
		t.Errorf("the second batch lists %v from %s", got, second.From)
	}

	mk := func(role domain.Role, notify bool, name string) string {
		u, _, err := s.CreateUser(ctx, m.org.ID, name+"@"+domainFor(t), name, role, notify)
		must(t, err)
		return u.ID
	}
	admin, staff := mk(domain.RoleAdmin, true, "sub-admin"), mk(domain.RoleStaff, true, "sub-staff")
	mk(domain.RoleStaff, false, "unsubscribed")
	mk(domain.RoleManager, true, "manager")
	mk(domain.RoleProfessional, true, "professional")
	gone := mk(domain.RoleStaff, true, "gone")
	_, err = p.Exec(ctx, `UPDATE users SET active = false WHERE id = $1`, gone)
	must(t, err)
	to, err := s.DigestRecipients(ctx, m.org.ID)
	must(t, err)
	if len(to) != 2 || to[0].ID != admin || to[1].ID != staff {
		t.Errorf("recipients %+v, want the subscribed active admin and staff", to)
	}
	must(t, s.FinishDigest(ctx, mg.OrgID, mg.Day, 0, "sent", 1))
	got, err := s.GetDigest(ctx, mg.OrgID, mg.Day, 0)
	must(t, err)
	if got.Status != "sent" {
		t.Errorf("status %s after FinishDigest", got.Status)
	}
}
