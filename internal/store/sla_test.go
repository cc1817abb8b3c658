package store_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/internal/testenv"
)

// slaSource gives the fixture's source a group rotation over the staff and
// the SLA.
func slaSource(t *testing.T, s *store.Store, db *pgxpool.Pool, f fixture, sla domain.SLA) {
	t.Helper()
	makeGroup(t, db, f.org.ID, "closers", f.staff, []int{1, 1, 1, 1, 1, 1}[:len(f.staff)])
	cfg := domain.SourceConfig{Name: "EverQuote", Routing: domain.Routing{Mode: domain.RouteGroup, Group: "closers"}, SLA: &sla}
	delay, err := cfg.Validate()
	must(t, err)
	_, _, _, err = s.PutSource(ctx, f.org.ID, "everquote", cfg, delay)
	must(t, err)
}

// leadSLA is the lead's SLA, its deadline moved to the past so the next
// escalation is due.
func dueSLA(t *testing.T, s *store.Store, db *pgxpool.Pool, leadID string) store.SLAState {
	t.Helper()
	st, err := s.LeadSLA(ctx, leadID)
	must(t, err)
	_, err = db.Exec(ctx, `UPDATE lead_slas SET deadline = now() - interval '1 second' WHERE id = $1`, st.ID)
	must(t, err)
	return st
}

func timelineKinds(t *testing.T, db *pgxpool.Pool, leadID string, kinds ...string) []string {
	t.Helper()
	rows, err := db.Query(ctx, `SELECT kind || ': ' || message FROM timeline_events WHERE lead_id = $1 AND kind = ANY($2) ORDER BY id`,
		leadID, kinds)
	must(t, err)
	var out []string
	for rows.Next() {
		var s string
		must(t, rows.Scan(&s))
		out = append(out, s)
	}
	must(t, rows.Err())
	return out
}

// TestSLAEscalatesToUntriedMembersThenTheFallback: a lead nobody works goes
// from its first assignee to the next available member of the group not yet
// tried (skipping a paused one), twice, then to the fallback user; each step
// is on the timeline, and a second call for a step already taken (a retried
// activity) changes nothing.
func TestSLAEscalatesToUntriedMembersThenTheFallback(t *testing.T) {
	t.Parallel()
	db, _ := testenv.DB(t)
	s := store.New(db)
	f := seed(t, s, 4, domain.SourceConfig{})
	slaSource(t, s, db, f, domain.SLA{Within: "15m", MaxEscalations: 2, Fallback: "user", FallbackUser: f.staff[0].ID})
	d := routeIn(t, s, f, domain.LeadInput{ExternalID: "sla-1"})
	first := d.AssignedTo
	st, err := s.LeadSLA(ctx, d.LeadID)
	must(t, err)
	if st.Status != store.SLARunning || st.UserID != first || st.Step != 0 ||
		time.Until(st.Deadline) < 14*time.Minute || time.Until(st.Deadline) > 15*time.Minute {
		t.Fatalf("the SLA at routing: %+v (assignee %s)", st, first)
	}
	// Not due yet: nothing happens.
	if got, err := s.EscalateSLA(ctx, st.ID, 0, time.Now()); err != nil || got.Step != 0 || got.UserID != first {
		t.Fatalf("escalating before the deadline: %+v, %v", got, err)
	}
	idx := map[string]int{}
	for i, u := range f.staff {
		idx[u.ID] = i
	}
	// The member after the first in the group's order is paused: skipped.
	paused := f.staff[(idx[first]+1)%4]
	_, err = db.Exec(ctx, `UPDATE users SET paused = true WHERE id = $1`, paused.ID)
	must(t, err)
	dueSLA(t, s, db, d.LeadID)
	st, err = s.EscalateSLA(ctx, st.ID, 0, time.Now())
	must(t, err)
	second := f.staff[(idx[first]+2)%4].ID
	if st.Status != store.SLARunning || st.Step != 1 || st.UserID != second {
		t.Fatalf("first escalation: %+v, want user %d", st, (idx[first]+2)%4)
	}
	lead, err := s.GetLead(ctx, f.org.ID, d.LeadID)
	must(t, err)
	if deref(lead.AssignedTo) != second {
		t.Fatalf("lead assigned to %v after the first escalation, want %s", lead.AssignedTo, second)
	}
	// The same step again (a retry after the commit): unchanged.
	if again, err := s.EscalateSLA(ctx, st.ID, 0, time.Now()); err != nil || again.Step != 1 || again.UserID != second {
		t.Fatalf("step 0 again: %+v, %v", again, err)
	}
	dueSLA(t, s, db, d.LeadID)
	st, err = s.EscalateSLA(ctx, st.ID, 1, time.Now())
	must(t, err)
	third := f.staff[(idx[first]+3)%4].ID
	if st.Step != 2 || st.UserID != third {
		t.Fatalf("second escalation: %+v, want %s", st, third)
	}
	dueSLA(t, s, db, d.LeadID)
	st, err = s.EscalateSLA(ctx, st.ID, 2, time.Now())
	must(t, err)
	if st.Status != store.SLADone || st.Outcome != "user" || st.UserID != f.staff[0].ID {
		t.Fatalf("after the last escalation: %+v, want done with the fallback user", st)
	}
	lead, err = s.GetLead(ctx, f.org.ID, d.LeadID)
	must(t, err)
	if deref(lead.AssignedTo) != f.staff[0].ID {
		t.Fatalf("lead with %v after the fallback", lead.AssignedTo)
	}
	events := timelineKinds(t, db, d.LeadID, "sla_breached", "sla_escalated")
	if len(events) != 6 {
		t.Fatalf("timeline: %q, want 3 breaches and 3 escalations", events)
	}
	want := fmt.Sprintf("sla_escalated: escalated from %s to %s: escalation 1 of 2 (SLA)", name(f, first), name(f, second))
	if events[1] != want {
		t.Errorf("timeline[1] = %q, want %q", events[1], want)
	}
	// Escalations are recorded with the users' ids for the report.
	var from, to string
	must(t, db.QueryRow(ctx, `SELECT data->>'from', data->>'to' FROM timeline_events WHERE lead_id = $1 AND kind = 'sla_escalated'
		ORDER BY id LIMIT 1`, d.LeadID).Scan(&from, &to))
	if from != first || to != second {
		t.Errorf("escalation data from %s to %s, want %s to %s", from, to, first, second)
	}
}

func name(f fixture, id string) string {
	for _, u := range f.staff {
		if u.ID == id {
			return u.Name
		}
	}
	return "?"
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// TestSLAStopsWhenTheLeadIsSettled: worked by its assignee (a routed lead,
// no claim), given to someone by hand, or returned, the lead's SLA stops in
// that transaction, and its due escalation then changes nothing.
func TestSLAStopsWhenTheLeadIsSettled(t *testing.T) {
	t.Parallel()
	db, _ := testenv.DB(t)
	s := store.New(db)
	f := seed(t, s, 3, domain.SourceConfig{})
	slaSource(t, s, db, f, domain.SLA{Within: "5m", MaxEscalations: 1, Fallback: "pending"})

	worked := routeIn(t, s, f, domain.LeadInput{ExternalID: "sla-worked"})
	changed, err := s.MarkWorked(ctx, f.org.ID, worked.AssignedTo, worked.LeadID)
	if err != nil || !changed {
		t.Fatalf("the assignee marks a routed lead worked: %v, %v", changed, err)
	}
	if again, err := s.MarkWorked(ctx, f.org.ID, worked.AssignedTo, worked.LeadID); err != nil || again {
		t.Fatalf("marking it again: %v, %v", again, err)
	}
	other := f.staff[0].ID
	if other == worked.AssignedTo {
		other = f.staff[1].ID
	}
	if _, err := s.MarkWorked(ctx, f.org.ID, other, worked.LeadID); domain.ErrorCode(err) != domain.EForbidden {
		t.Fatalf("someone else marks it worked: %v, want forbidden", err)
	}
	st := dueSLA(t, s, db, worked.LeadID)
	if st.Status != store.SLAStopped || st.Outcome != "worked" {
		t.Fatalf("SLA of a worked lead: %+v", st)
	}
	if got, err := s.EscalateSLA(ctx, st.ID, 0, time.Now()); err != nil || got.Status != store.SLAStopped || got.UserID != worked.AssignedTo {
		t.Fatalf("escalating a stopped SLA: %+v, %v", got, err)
	}
	if ev := timelineKinds(t, db, worked.LeadID, "sla_breached", "sla_escalated", "worked"); len(ev) != 1 {
		t.Fatalf("timeline of a worked lead: %q", ev)
	}

	byHand := routeIn(t, s, f, domain.LeadInput{ExternalID: "sla-by-hand"})
	_, err = db.Exec(ctx, `UPDATE leads SET assigned_to = $2 WHERE id = $1`, byHand.LeadID, f.owner.ID)
	must(t, err)
	if st, _ := s.LeadSLA(ctx, byHand.LeadID); st.Status != store.SLAStopped || st.Outcome != "reassigned" {
		t.Fatalf("SLA of a lead given to someone by hand: %+v", st)
	}
	returned := routeIn(t, s, f, domain.LeadInput{ExternalID: "sla-returned"})
	_, err = db.Exec(ctx, `UPDATE leads SET status = 'returned' WHERE id = $1`, returned.LeadID)
	must(t, err)
	if st, _ := s.LeadSLA(ctx, returned.LeadID); st.Status != store.SLAStopped || st.Outcome != "returned" {
		t.Fatalf("SLA of a returned lead: %+v", st)
	}

	// Pending fallback with no one left to try: the lead waits in pending.
	pending := routeIn(t, s, f, domain.LeadInput{ExternalID: "sla-pending"})
	_, err = db.Exec(ctx, `UPDATE users SET paused = true WHERE org_id = $1`, f.org.ID)
	must(t, err)
	st = dueSLA(t, s, db, pending.LeadID)
	st, err = s.EscalateSLA(ctx, st.ID, 0, time.Now())
	must(t, err)
	lead, err := s.GetLead(ctx, f.org.ID, pending.LeadID)
	must(t, err)
	if st.Status != store.SLADone || st.Outcome != "pending" || lead.AssignedTo != nil || deref(lead.Location) != "pending" {
		t.Fatalf("pending fallback: %+v, lead assigned %v at %v", st, lead.AssignedTo, lead.Location)
	}
}

// TestSourceSLAIsSavedAndChecked: the SLA round-trips with the source, and
// a fallback user of another org is refused naming the field.
func TestSourceSLAIsSavedAndChecked(t *testing.T) {
	t.Parallel()
	db, _ := testenv.DB(t)
	s := store.New(db)
	f := seed(t, s, 1, domain.SourceConfig{})
	g := seed(t, s, 1, domain.SourceConfig{})
	cfg := domain.SourceConfig{Name: "EverQuote", Routing: domain.Routing{Mode: domain.RouteStaffEvenly},
		SLA: &domain.SLA{Within: "10m", MaxEscalations: 3, Fallback: "user", FallbackUser: g.staff[0].ID, BusinessHours: true}}
	delay, err := cfg.Validate()
	must(t, err)
	_, _, _, err = s.PutSource(ctx, f.org.ID, "everquote", cfg, delay)
	if fieldsOf(err)["sla.fallback_user"] == "" {
		t.Fatalf("another org's user as the fallback: %v", err)
	}
	cfg.SLA.FallbackUser = f.staff[0].ID
	src, _, _, err := s.PutSource(ctx, f.org.ID, "everquote", cfg, delay)
	must(t, err)
	if src.SLA == nil || *src.SLA != *cfg.SLA {
		t.Fatalf("saved SLA %+v, want %+v", src.SLA, cfg.SLA)
	}
}
