package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leadrelay/leadrelay/internal/domain"
)

// SLA escalation (issue 19, SPEC §5.7). A routing decision that gives a
// lead of a source with an SLA to a person records a lead_slas row in the
// same transaction; the worker's SLA pump starts the SLA's run, which
// sleeps to the row's deadline and then calls EscalateSLA. Whatever settles
// the lead first — worked, returned, invalid, moved to another org, given
// to someone else — stops the row in its own transaction (the leads_stop_sla
// trigger, migration 00018), and the pump tells the run to end.

// SLA statuses: running until it ends; stopped when something settled the
// lead; done when it ran its course to the fallback.
const (
	SLARunning = "running"
	SLAStopped = "stopped"
	SLADone    = "done"
)

// SLAState is an SLA as its run reads it.
type SLAState struct {
	ID       int64     `json:"id"`
	LeadID   string    `json:"lead_id"`
	OrgID    string    `json:"org_id"`
	UserID   string    `json:"user_id"` // who has the lead now (the last one tried)
	Step     int       `json:"step"`    // escalations so far
	Deadline time.Time `json:"deadline"`
	Status   string    `json:"status"`
	Outcome  string    `json:"outcome,omitempty"`
}

// startSLA records the SLA of a routing decision that gave the lead to a
// person (not a placement, not a pass down). A lead already under a
// running SLA keeps it.
func startSLA(ctx context.Context, tx pgx.Tx, src *hopSource, d *Decision, r ruling) error {
	if src == nil || src.sla == nil || d.AssignedTo == "" || d.FanOutTo != "" || d.Location != "" {
		return nil
	}
	// The routing transaction reads the org's calendar only for an SLA
	// that counts in it.
	var clock slaClock
	if src.sla.BusinessHours {
		var err error
		if clock, err = readSLAClock(ctx, tx, d.OrgID); err != nil {
			return err
		}
	}
	deadline := clock.deadline(*src.sla, time.Now())
	pool := ""
	if r.row != nil {
		pool = r.row.pool
	}
	_, err := tx.Exec(ctx, `INSERT INTO lead_slas (lead_id, org_id, source_id, pool, user_id, tried, deadline)
		VALUES ($1, $2, $3, $4, $5, ARRAY[$5::uuid], $6) ON CONFLICT (lead_id) WHERE status = 'running' DO NOTHING`,
		d.LeadID, d.OrgID, src.id, pool, d.AssignedTo, deadline)
	return err
}

// slaClock is what an SLA's deadlines are counted in: the org's timezone
// and business hours (nil: none set).
type slaClock struct {
	loc   *time.Location
	hours *domain.BusinessHours
}

func (c slaClock) deadline(sla domain.SLA, start time.Time) time.Time {
	return sla.Deadline(start, c.hours, c.loc)
}

func readSLAClock(ctx context.Context, tx pgx.Tx, orgID string) (slaClock, error) {
	var tz string
	var c slaClock
	err := tx.QueryRow(ctx, `SELECT timezone, business_hours FROM orgs WHERE id = $1`, orgID).Scan(&tz, &c.hours)
	c.loc = domain.OrgLocation(tz)
	return c, err
}

// slaCols is what scanSLA reads of lead_slas s, in its order.
const slaCols = `s.id, s.lead_id, s.org_id, s.user_id, s.step, s.deadline, s.status, coalesce(s.outcome, '')`

// scanSLA scans slaCols, then the columns more.
func scanSLA(row pgx.Row, more ...any) (SLAState, error) {
	var s SLAState
	err := row.Scan(append([]any{&s.ID, &s.LeadID, &s.OrgID, &s.UserID, &s.Step, &s.Deadline, &s.Status, &s.Outcome}, more...)...)
	return s, notFound(err, "SLA")
}

// SLA reads an SLA as it stands.
func (s *Store) SLA(ctx context.Context, id int64) (SLAState, error) {
	return scanSLA(s.db.QueryRow(ctx, `SELECT `+slaCols+` FROM lead_slas s WHERE s.id = $1`, id))
}

// LeadSLA is the lead's latest SLA; not found when it never had one.
func (s *Store) LeadSLA(ctx context.Context, leadID string) (SLAState, error) {
	return scanSLA(s.db.QueryRow(ctx, `SELECT `+slaCols+` FROM lead_slas s WHERE s.lead_id = $1 ORDER BY s.id DESC LIMIT 1`, leadID))
}

// EscalateSLA is what the SLA's run does at the deadline of step: in one
// transaction, unless the SLA was settled or the step already taken (a
// retried activity), it records the breach and gives the lead to the next
// available member of its rotation not yet tried, or after the last
// escalation to the fallback. at is the run's time (Temporal's clock, the
// one its timer ran on): before the deadline it changes nothing; it starts
// the next step's clock and judges availability. It returns the SLA as it
// now stands: running with a new deadline, or ended.
func (s *Store) EscalateSLA(ctx context.Context, id int64, step int, at time.Time) (SLAState, error) {
	var out SLAState
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var leadID string
		if err := tx.QueryRow(ctx, `SELECT lead_id FROM lead_slas WHERE id = $1`, id).Scan(&leadID); err != nil {
			return notFound(err, "SLA")
		}
		// The lead first, as every change to it does: the trigger that
		// stops an SLA runs under the lead's lock too.
		if _, err := tx.Exec(ctx, `SELECT 1 FROM leads WHERE id = $1 FOR UPDATE`, leadID); err != nil {
			return err
		}
		var sourceID, pool, tz string
		var tried []string
		var sla *domain.SLA
		var clock slaClock
		var err error
		out, err = scanSLA(tx.QueryRow(ctx, `SELECT `+slaCols+`, s.source_id, s.pool, s.tried::text[], src.sla, o.timezone, o.business_hours
			FROM lead_slas s JOIN lead_sources src ON src.id = s.source_id JOIN orgs o ON o.id = s.org_id
			WHERE s.id = $1 FOR UPDATE OF s`, id), &sourceID, &pool, &tried, &sla, &tz, &clock.hours)
		if err != nil {
			return err
		}
		clock.loc = domain.OrgLocation(tz)
		if out.Status != SLARunning || out.Step != step || at.Before(out.Deadline) {
			return nil
		}
		if sla == nil {
			// The source's SLA was removed meanwhile: nothing to escalate by.
			out.Status, out.Outcome = SLAStopped, "removed"
			_, err := tx.Exec(ctx, `UPDATE lead_slas SET status = 'stopped', outcome = 'removed', ended_at = now() WHERE id = $1`, id)
			return err
		}
		from, err := nameOf(ctx, tx, out.UserID)
		if err != nil {
			return err
		}
		if err := addEvent(ctx, tx, out.LeadID, out.OrgID, "sla_breached", "sla",
			fmt.Sprintf("not worked by %s within %s (SLA)", from, sla.Within),
			map[string]any{"user": out.UserID, "step": out.Step, "within": sla.Within}); err != nil {
			return err
		}
		if out.Step < sla.MaxEscalations && pool != "" {
			next, err := nextUntried(ctx, tx, Pool{Key: pool, SourceID: sourceID, OrgID: out.OrgID, Loc: clock.loc}, out.UserID, tried, at)
			if err != nil {
				return err
			}
			if next != nil {
				return escalateTo(ctx, tx, &out, *sla, from, next, clock, at)
			}
		}
		return slaFallback(ctx, tx, &out, *sla, from)
	})
	return out, err
}

// nextUntried is the next member of the pool, in its stable order after
// the current assignee, whom the SLA has not tried and who is available
// now; nil when there is none. Escalations do not move the rotation: they
// are outside its count, as a manager's assignment by hand is.
func nextUntried(ctx context.Context, tx pgx.Tx, p Pool, current string, tried []string, now time.Time) (*poolMember, error) {
	ms, err := readPool(ctx, tx, p, now)
	if err != nil {
		return nil, err
	}
	at := slices.IndexFunc(ms, func(m *poolMember) bool { return m.id == current })
	for k := 1; k <= len(ms); k++ {
		m := ms[(at+k+len(ms))%len(ms)]
		if slices.Contains(tried, m.id) || m.unavailable(now, p.Loc) != "" {
			continue
		}
		if why, err := recheckCaps(ctx, tx, m, p.Loc, now); err != nil {
			return nil, err
		} else if why != "" {
			continue
		}
		return m, nil
	}
	return nil, nil
}

// escalateTo gives the lead to m and starts the next step's clock. The
// SLA's row moves first, so the trigger sees the change as the SLA's own.
func escalateTo(ctx context.Context, tx pgx.Tx, out *SLAState, sla domain.SLA, from string, m *poolMember, clock slaClock, now time.Time) error {
	deadline := clock.deadline(sla, now)
	prev := out.UserID
	out.UserID, out.Step, out.Deadline = m.id, out.Step+1, deadline
	if _, err := tx.Exec(ctx, `UPDATE lead_slas SET user_id = $2, tried = tried || $2::uuid, step = $3, deadline = $4 WHERE id = $1`,
		out.ID, m.id, out.Step, deadline); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE leads SET assigned_to = $2, updated_at = now() WHERE id = $1`, out.LeadID, m.id); err != nil {
		return err
	}
	if err := countAssigned(ctx, tx, m.id, clock.loc, now); err != nil {
		return err
	}
	return addEvent(ctx, tx, out.LeadID, out.OrgID, "sla_escalated", "sla",
		fmt.Sprintf("escalated from %s to %s: escalation %d of %d (SLA)", from, m.name, out.Step, sla.MaxEscalations),
		map[string]any{"from": prev, "to": m.id, "step": out.Step})
}

// slaFallback ends the SLA: the lead goes to the source's fallback (the
// owner, a user — the owner when that user is no longer active — or
// pending, assigned to nobody).
func slaFallback(ctx context.Context, tx pgx.Tx, out *SLAState, sla domain.SLA, from string) error {
	prev := out.UserID
	to, name := "", ""
	switch sla.Fallback {
	case domain.SLAFallbackUser:
		_ = tx.QueryRow(ctx, `SELECT id::text, name FROM users WHERE id = $1 AND org_id = $2 AND active`, sla.FallbackUser, out.OrgID).
			Scan(&to, &name) // no such user now: the owner, below
		if to != "" {
			break
		}
		fallthrough
	case domain.SLAFallbackOwner, "":
		var err error
		if to, name, err = orgOwner(ctx, tx, out.OrgID); err != nil {
			return err
		}
	}
	after := "no one else to escalate to"
	if out.Step > 0 {
		after = fmt.Sprintf("after %d escalations", out.Step)
	}
	out.Status, out.Outcome = SLADone, sla.Fallback
	if _, err := tx.Exec(ctx, `UPDATE lead_slas SET status = 'done', outcome = $2, ended_at = now() WHERE id = $1`, out.ID, sla.Fallback); err != nil {
		return err
	}
	var msg string
	data := map[string]any{"from": prev, "to": nil, "step": out.Step + 1, "fallback": sla.Fallback}
	switch {
	case to == "":
		msg = fmt.Sprintf("moved from %s to pending %s (SLA fallback)", from, after)
		if _, err := tx.Exec(ctx, `UPDATE leads SET assigned_to = NULL, location = 'pending', available_at = NULL, updated_at = now()
			WHERE id = $1`, out.LeadID); err != nil {
			return err
		}
	case to == prev:
		msg = fmt.Sprintf("stays with %s, the SLA's fallback, %s", name, after)
		data["to"] = to
	default:
		msg = fmt.Sprintf("escalated from %s to %s %s (SLA fallback: %s)", from, name, after, sla.Fallback)
		data["to"] = to
		if _, err := tx.Exec(ctx, `UPDATE leads SET assigned_to = $2, updated_at = now() WHERE id = $1`, out.LeadID, to); err != nil {
			return err
		}
	}
	out.UserID = to
	return addEvent(ctx, tx, out.LeadID, out.OrgID, "sla_escalated", "sla", msg, data)
}

// SLARef is an SLA the pump starts or signals the run of.
type SLARef struct {
	ID      int64
	LeadID  string
	OrgID   string
	UserID  string // the first assignee, for the run's summary
	Restart bool   // its run was started before: what the reconciled metric counts
}

// SLAsToStart pages (by id, after after) through the running SLAs whose
// run was never started, or whose deadline passed over a minute ago with
// the SLA still at that step (the run was lost: started again, a running
// one is found, not doubled).
func (s *Store) SLAsToStart(ctx context.Context, after int64, limit int) ([]SLARef, error) {
	rows, err := s.db.Query(ctx, `SELECT id, lead_id, org_id, tried[1], started_at IS NOT NULL FROM lead_slas
		WHERE id > $1 AND status = 'running'
		  AND (started_at IS NULL OR (deadline < now() - interval '1 minute' AND started_at < now() - interval '1 minute'))
		ORDER BY id LIMIT $2`, after, limit)
	return collectSLARefs(rows, err)
}

func collectSLARefs(rows pgx.Rows, err error) ([]SLARef, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (SLARef, error) {
		var ref SLARef
		err := r.Scan(&ref.ID, &ref.LeadID, &ref.OrgID, &ref.UserID, &ref.Restart)
		return ref, err
	})
}

// SLAStarted records that Temporal took the SLA's run.
func (s *Store) SLAStarted(ctx context.Context, id int64) error {
	_, err := s.db.Exec(ctx, `UPDATE lead_slas SET started_at = now() WHERE id = $1`, id)
	return err
}

// SLAsToSignal pages through the SLAs that ended while their run waited
// for a deadline: the pump tells each run to end now rather than at it.
func (s *Store) SLAsToSignal(ctx context.Context, after int64, limit int) ([]SLARef, error) {
	rows, err := s.db.Query(ctx, `SELECT id, lead_id, org_id, tried[1], true FROM lead_slas
		WHERE id > $1 AND status <> 'running' AND signalled_at IS NULL ORDER BY id LIMIT $2`, after, limit)
	return collectSLARefs(rows, err)
}

// SLASignalled records that the SLA's run was told (or needs no telling).
func (s *Store) SLASignalled(ctx context.Context, id int64) error {
	_, err := s.db.Exec(ctx, `UPDATE lead_slas SET signalled_at = now() WHERE id = $1`, id)
	return err
}
