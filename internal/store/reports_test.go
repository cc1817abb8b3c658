package store_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/internal/testenv"
)

// speedLead posts a lead of slug received at received, and returns its id.
func speedLead(t *testing.T, s *store.Store, f fixture, src store.Source, ext string, received time.Time) string {
	t.Helper()
	in, err := s.InsertLead(ctx, store.NewLead{SourceID: src.ID, OrgID: f.org.ID, Slug: src.Slug,
		WorkflowID: "wf-" + ext, ReceivedAt: received, In: domain.LeadInput{ExternalID: ext, Email: ext + "@example.com"}})
	must(t, err)
	return in.LeadID
}

// timeline writes one event on a lead's timeline at a known time, as the
// path that writes that kind does (routing, a claim, the SLA run).
func timeline(t *testing.T, db *pgxpool.Pool, lead, org, kind string, at time.Time, data map[string]any) {
	t.Helper()
	b, err := json.Marshal(data)
	must(t, err)
	_, err = db.Exec(ctx, `INSERT INTO timeline_events (lead_id, org_id, at, kind, actor, message, data) VALUES ($1, $2, $3, $4, 'test', $4, $5)`,
		lead, org, at, kind, b)
	must(t, err)
}

// speedSecs reads a report's durations as "median/p90" in seconds, "-"
// for a null.
func speedSecs(d store.Durations) string {
	f := func(p *float64) string {
		if p == nil {
			return "-"
		}
		return fmt.Sprintf("%g", *p)
	}
	return f(d.MedianSeconds) + "/" + f(d.P90Seconds)
}

func speedLine(r store.SpeedRow) string {
	return fmt.Sprintf("leads=%d assigned=%d %s worked=%d %s breaches=%d escalations=%d",
		r.Leads, r.Assigned, speedSecs(r.ToAssignment), r.Worked, speedSecs(r.ToWorked), r.Breaches, r.Escalations)
}

// TestSpeedToLeadMediansAndP90PerSourceAndUser builds a period with known
// timestamps: source everquote's four leads assigned 60, 120, 300 and 30
// s after arrival (three worked at 600, 1200 and 60 s), one of them
// breached by its rep and escalated to the other; source queuesrc's lead
// queued, claimed at 900 s and worked at 1000 s, and one left pending. The
// medians and p90s (percentile_cont: interpolated) and the counts per
// source and per user are checked, with leads just outside [from, to),
// another org's lead and an SLA event outside the period left out.
func TestSpeedToLeadMediansAndP90PerSourceAndUser(t *testing.T) {
	t.Parallel()
	db, _ := testenv.DB(t)
	s := store.New(db)
	f := seed(t, s, 2, domain.SourceConfig{})
	u0, u1 := f.staff[0], f.staff[1]
	queue, _, _, err := s.PutSource(ctx, f.org.ID, "queuesrc", domain.SourceConfig{Name: "Queue Source",
		Routing: domain.Routing{Mode: domain.RouteQueue}, Priority: "normal"}, 0)
	must(t, err)
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	from, to := t0, t0.Add(24*time.Hour)
	sec := func(n int) time.Duration { return time.Duration(n) * time.Second }

	// assigned routes a lead to user after seconds, as routing does.
	assigned := func(lead string, received time.Time, user store.User, after int) {
		_, err := db.Exec(ctx, `UPDATE leads SET assigned_to = $2, routed_at = $3 WHERE id = $1`, lead, user.ID, received.Add(sec(after)))
		must(t, err)
		timeline(t, db, lead, f.org.ID, "routed", received.Add(sec(after)), map[string]any{"assigned_to": user.ID})
	}
	worked := func(lead string, received time.Time, after int) {
		_, err := db.Exec(ctx, `UPDATE leads SET worked_at = $2 WHERE id = $1`, lead, received.Add(sec(after)))
		must(t, err)
	}
	type plan struct {
		at            time.Duration
		user          store.User
		assign, works int
	}
	var a []string
	for i, p := range []plan{{0, u0, 60, 600}, {time.Hour, u0, 120, 1200}, {2 * time.Hour, u1, 300, 0}, {3 * time.Hour, u1, 30, 60}} {
		rec := t0.Add(p.at)
		id := speedLead(t, s, f, f.source, fmt.Sprintf("speed-a%d", i), rec)
		assigned(id, rec, p.user, p.assign)
		if p.works > 0 {
			worked(id, rec, p.works)
		}
		a = append(a, id)
	}
	// a[2]: u1 missed the SLA at 10 minutes; the lead went to u0 (it is
	// u0's now).
	rec2 := t0.Add(2 * time.Hour)
	timeline(t, db, a[2], f.org.ID, "sla_breached", rec2.Add(sec(900)), map[string]any{"user": u1.ID, "step": 1, "minutes": 10})
	timeline(t, db, a[2], f.org.ID, "sla_escalated", rec2.Add(sec(900)), map[string]any{"from": u1.ID, "to": u0.ID, "step": 1})
	_, err = db.Exec(ctx, `UPDATE leads SET assigned_to = $2 WHERE id = $1`, a[2], u0.ID)
	must(t, err)

	// The queue: placed at 5 s with nobody, claimed by u0 at 900 s, worked at 1000 s.
	b1 := speedLead(t, s, f, queue, "speed-b1", t0)
	_, err = db.Exec(ctx, `UPDATE leads SET routed_at = $2, location = 'queue' WHERE id = $1`, b1, t0.Add(sec(5)))
	must(t, err)
	timeline(t, db, b1, f.org.ID, "routed", t0.Add(sec(5)), map[string]any{"location": "queue"})
	_, err = db.Exec(ctx, `UPDATE leads SET assigned_to = $2, location = NULL WHERE id = $1`, b1, u0.ID)
	must(t, err)
	timeline(t, db, b1, f.org.ID, "claimed", t0.Add(sec(900)), map[string]any{"claim_seq": 1})
	worked(b1, t0, 1000)
	b2 := speedLead(t, s, f, queue, "speed-b2", t0.Add(time.Minute))
	_, err = db.Exec(ctx, `UPDATE leads SET routed_at = $2, location = 'pending' WHERE id = $1`, b2, t0.Add(time.Minute))
	must(t, err)

	// Outside the period: a second before from, and at to (excluded), each
	// assigned to u1 with a breach; and another org's lead inside it.
	for i, rec := range []time.Time{from.Add(-time.Second), to} {
		id := speedLead(t, s, f, f.source, fmt.Sprintf("speed-out%d", i), rec)
		assigned(id, rec, u1, 1)
		timeline(t, db, id, f.org.ID, "sla_breached", rec.Add(time.Minute), map[string]any{"user": u1.ID, "step": 1, "minutes": 1})
	}
	other := seed(t, s, 1, domain.SourceConfig{})
	oid := speedLead(t, s, other, other.source, "speed-other", t0.Add(time.Hour))
	_, err = db.Exec(ctx, `UPDATE leads SET assigned_to = $2, routed_at = $3 WHERE id = $1`, oid, other.staff[0].ID, t0.Add(time.Hour+time.Second))
	must(t, err)

	rep, err := s.SpeedToLead(ctx, f.org.ID, from, to)
	must(t, err)
	// everquote to assignment: 30 60 120 300 → median 90, p90 at 2.7 = 120+0.7×180 = 246;
	// to worked: 60 600 1200 → 600, p90 at 1.8 = 600+0.8×600 = 1080.
	wantSources := map[string]string{
		"everquote": "leads=4 assigned=4 90/246 worked=3 600/1080 breaches=1 escalations=1",
		"queuesrc":  "leads=2 assigned=1 900/900 worked=1 1000/1000 breaches=0 escalations=0",
	}
	// u0 holds a0, a1, a2 (escalated to them) and b1: to assignment 60 120 300 900 →
	// median 210, p90 at 2.7 = 300+0.7×600 = 720; worked 600 1000 1200 → 1000, p90 1000+0.8×200 = 1160.
	// u1 holds a3: 30 and 60; the breach and the escalation of a2 are u1's.
	wantUsers := map[string]string{
		u0.ID: "leads=4 assigned=4 210/720 worked=3 1000/1160 breaches=0 escalations=0",
		u1.ID: "leads=1 assigned=1 30/30 worked=1 60/60 breaches=1 escalations=1",
	}
	if len(rep.Sources) != len(wantSources) || len(rep.Users) != len(wantUsers) {
		t.Fatalf("report has %d sources and %d users, want 2 and 2: %+v", len(rep.Sources), len(rep.Users), rep)
	}
	for _, r := range rep.Sources {
		if got := speedLine(r); got != wantSources[r.Source] {
			t.Errorf("source %s: %s\n want %s", r.Source, got, wantSources[r.Source])
		}
	}
	if rep.Sources[0].Source != "everquote" {
		t.Errorf("sources are not in slug order: %+v", rep.Sources)
	}
	for _, r := range rep.Users {
		if got := speedLine(r); got != wantUsers[r.UserID] {
			t.Errorf("user %s: %s\n want %s", r.Name, got, wantUsers[r.UserID])
		}
		if r.Name == "" || r.Source != "" {
			t.Errorf("user row %+v: want a name and no source", r)
		}
	}

	// The period's bounds: from is in, to is out.
	rep, err = s.SpeedToLead(ctx, f.org.ID, from.Add(-time.Second), to.Add(time.Second))
	must(t, err)
	if rep.Sources[0].Leads != 6 || rep.Sources[0].Breaches != 3 {
		t.Errorf("[from-1s, to+1s) everquote: %s, want both edge leads and their breaches too", speedLine(rep.Sources[0]))
	}
	// A period with nothing in it: empty lists, not nulls.
	rep, err = s.SpeedToLead(ctx, f.org.ID, to.Add(time.Hour), to.Add(2*time.Hour))
	must(t, err)
	if rep.Sources == nil || rep.Users == nil || len(rep.Sources)+len(rep.Users) != 0 {
		t.Errorf("an empty period: %+v", rep)
	}
	// Refusals name from.
	for _, p := range [][2]time.Time{{to, from}, {from, from}, {from, from.Add(367 * 24 * time.Hour)}} {
		if _, err := s.SpeedToLead(ctx, f.org.ID, p[0], p[1]); domain.ErrorCode(err) != domain.EInvalid {
			t.Errorf("period %v: %v, want invalid", p, err)
		}
	}
	if _, err := s.SpeedToLead(ctx, f.org.ID, from, from.Add(store.MaxReportPeriod)); err != nil {
		t.Errorf("a period of 366 days: %v", err)
	}
}

// TestSpeedToLeadReadsTheRealPathsTimelines routes a lead to the owner and
// assigns a pending lead by hand through the store's own paths: both count
// as assigned, from the events those paths write.
func TestSpeedToLeadReadsTheRealPathsTimelines(t *testing.T) {
	t.Parallel()
	db, _ := testenv.DB(t)
	s := store.New(db)
	f := seed(t, s, 1, domain.SourceConfig{Name: "Owner Source", Routing: domain.Routing{Mode: domain.RouteOwner}})
	start := time.Now().Add(-time.Minute)
	routed := post(t, s, f, "speed-real-1", "")
	_, err := route(s, routed.LeadID)
	must(t, err)
	pending := post(t, s, f, "speed-real-2", "pending")
	_, err = route(s, pending.LeadID)
	must(t, err)
	must(t, s.AssignLead(ctx, f.org.ID, domain.Changer{UserID: f.owner.ID, Role: domain.RoleOwner}, pending.LeadID, f.staff[0].ID))

	rep, err := s.SpeedToLead(ctx, f.org.ID, start, time.Now().Add(time.Minute))
	must(t, err)
	if len(rep.Sources) != 1 || rep.Sources[0].Leads != 2 || rep.Sources[0].Assigned != 2 || rep.Sources[0].Worked != 0 {
		t.Fatalf("sources %+v: want 2 leads, both assigned", rep.Sources)
	}
	if d := rep.Sources[0].ToAssignment; d.MedianSeconds == nil || *d.MedianSeconds < 0 || *d.MedianSeconds > 60 {
		t.Errorf("to assignment %s: want a few seconds", speedSecs(d))
	}
	if len(rep.Users) != 2 {
		t.Errorf("users %+v: want the owner and the staff member", rep.Users)
	}
}
