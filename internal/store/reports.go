package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leadrelay/leadrelay/internal/domain"
)

// MaxReportPeriod is the longest period a report covers: a year and a
// day, so "this time last year" fits, while no request reads an org's
// whole history.
const MaxReportPeriod = 366 * 24 * time.Hour

// Durations is a median and a 90th percentile in seconds; both are null
// when no lead of the row reached that point.
type Durations struct {
	MedianSeconds *float64 `json:"median_seconds"`
	P90Seconds    *float64 `json:"p90_seconds"`
}

// SpeedRow is one line of the speed-to-lead report: a source's or a
// user's leads, how many got an assignee and how long that took from
// arrival, how many were worked and how long that took, and the SLA
// breaches and escalations.
type SpeedRow struct {
	Source       string    `json:"source,omitempty"`
	UserID       string    `json:"user_id,omitempty"`
	Name         string    `json:"name,omitempty"`
	Leads        int       `json:"leads"`
	Assigned     int       `json:"assigned"`
	ToAssignment Durations `json:"to_assignment"`
	Worked       int       `json:"worked"`
	ToWorked     Durations `json:"to_worked"`
	Breaches     int       `json:"breaches"`
	Escalations  int       `json:"escalations"`
}

// SpeedReport is the speed-to-lead report of an org over [From, To).
type SpeedReport struct {
	From    time.Time  `json:"from"`
	To      time.Time  `json:"to"`
	Sources []SpeedRow `json:"sources"`
	Users   []SpeedRow `json:"users"`
}

// speedSQL reads the report in one pass over the org's leads received in
// [$2, $3) (leads_org_page serves the range) and, per lead, one walk of its
// timeline (timeline_lead: a lead's events are few) that finds both its
// assignment and its SLA events. The walk aggregates, so the planner keeps
// it per lead: a plain join of the SLA events, tried first, let it scan
// every org's timeline_events for the two kinds (EXPLAIN on 300,000 leads).
//
// A lead's assignment is the earliest event of its timeline that gave it
// an assignee: a routing decision naming one, a claim from the queue, a
// manual assignment, a transfer naming one, an escalation to a person. So a
// lead routed to the queue or to pending and claimed or assigned later
// counts from arrival to that later moment; routed_at alone would say when
// it was queued. A lead holding an assignee without such an event (none of
// today's paths do that) counts from routed_at.
//
// Lead rows and SLA event rows are one set grouped twice (GROUPING SETS):
// by source, an SLA event counts for its lead's source; by user, a lead
// counts for its assignee now (who holds it, and who works it), a breach
// for the user who missed it (data.user) and an escalation for the user it
// was taken from (data.from). Only events written while the lead was in
// this org count: a lead transferred in brings no other org's breaches.
// Percentiles are percentile_cont (interpolated), which skips the nulls
// of leads that never got that far, rounded to the millisecond.
const speedSQL = `WITH l AS MATERIALIZED (
	SELECT l.source_slug, l.assigned_to, l.received_at, l.worked_at, t.sla,
		coalesce(t.assigned_at, CASE WHEN l.assigned_to IS NOT NULL THEN l.routed_at END) AS assigned_at
	FROM leads l
	CROSS JOIN LATERAL (SELECT
		min(e.at) FILTER (WHERE e.kind = 'claimed'
			OR (e.kind IN ('routed', 'assigned', 'transferred') AND e.data->>'assigned_to' IS NOT NULL)
			OR (e.kind = 'sla_escalated' AND e.data->>'to' IS NOT NULL)) AS assigned_at,
		jsonb_agg(jsonb_build_object('kind', e.kind,
				'user', CASE e.kind WHEN 'sla_breached' THEN e.data->>'user' ELSE e.data->>'from' END))
			FILTER (WHERE e.kind IN ('sla_breached', 'sla_escalated') AND e.org_id = $1) AS sla
		FROM timeline_events e WHERE e.lead_id = l.id) t
	WHERE l.org_id = $1 AND l.received_at >= $2 AND l.received_at < $3 AND l.kind = 'lead'
), r AS (
	SELECT source_slug AS source, assigned_to::text AS user_id, 1 AS lead,
		extract(epoch FROM assigned_at - received_at)::float8 AS to_assignment,
		extract(epoch FROM worked_at - received_at)::float8 AS to_worked, 0 AS breach, 0 AS escalation
	FROM l
	UNION ALL
	SELECT l.source_slug, s->>'user', 0, NULL, NULL,
		(s->>'kind' = 'sla_breached')::int, (s->>'kind' = 'sla_escalated')::int
	FROM l CROSS JOIN jsonb_array_elements(l.sla) s
), g AS (
	SELECT GROUPING(source) = 0 AS by_source, source, user_id, sum(lead)::int AS leads,
		count(to_assignment)::int AS assigned,
		round(percentile_cont(0.5) WITHIN GROUP (ORDER BY to_assignment)::numeric, 3)::float8 AS a50,
		round(percentile_cont(0.9) WITHIN GROUP (ORDER BY to_assignment)::numeric, 3)::float8 AS a90,
		count(to_worked)::int AS worked,
		round(percentile_cont(0.5) WITHIN GROUP (ORDER BY to_worked)::numeric, 3)::float8 AS w50,
		round(percentile_cont(0.9) WITHIN GROUP (ORDER BY to_worked)::numeric, 3)::float8 AS w90,
		sum(breach)::int AS breaches, sum(escalation)::int AS escalations
	FROM r GROUP BY GROUPING SETS ((source), (user_id))
)
SELECT g.by_source, coalesce(g.source, ''), coalesce(g.user_id, ''), coalesce(u.name, ''), g.leads, g.assigned, g.a50, g.a90,
	g.worked, g.w50, g.w90, g.breaches, g.escalations
FROM g LEFT JOIN users u ON u.id::text = g.user_id AND u.org_id = $1
WHERE g.by_source OR g.user_id IS NOT NULL
ORDER BY g.by_source DESC, g.source, u.name, g.user_id`

// SpeedToLead reports the org's leads received in [from, to), per source
// and per user (speedSQL says what each number counts). Leads waiting in
// the queue or pending with nobody assigned count for their source only.
// A period that is empty, reversed or longer than MaxReportPeriod is
// refused naming from; the org is the caller's (the API checked it).
func (s *Store) SpeedToLead(ctx context.Context, orgID string, from, to time.Time) (SpeedReport, error) {
	rep := SpeedReport{From: from.UTC(), To: to.UTC(), Sources: []SpeedRow{}, Users: []SpeedRow{}}
	if err := CheckReportPeriod(from, to); err != nil {
		return rep, err
	}
	if !domain.ValidUUID(orgID) {
		return rep, domain.Errorf(domain.ENotFound, "org not found")
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// The planner prices the per-lead timeline walk by the period's
		// leads and guesses 100 SLA events a lead, so a long period crosses
		// jit_above_cost: compiling took 2.5 s of a 366-day report's 6 s on
		// 300,000 leads, for a query that runs once. Off for this
		// transaction only.
		if _, err := tx.Exec(ctx, `SET LOCAL jit = off`); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, speedSQL, orgID, from, to)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var bySource bool
			var row SpeedRow
			if err := rows.Scan(&bySource, &row.Source, &row.UserID, &row.Name, &row.Leads, &row.Assigned,
				&row.ToAssignment.MedianSeconds, &row.ToAssignment.P90Seconds, &row.Worked,
				&row.ToWorked.MedianSeconds, &row.ToWorked.P90Seconds, &row.Breaches, &row.Escalations); err != nil {
				return err
			}
			if bySource {
				rep.Sources = append(rep.Sources, row)
			} else {
				rep.Users = append(rep.Users, row)
			}
		}
		return rows.Err()
	})
	return rep, err
}

// CheckReportPeriod refuses a period that is empty or reversed, or longer
// than MaxReportPeriod, naming from.
func CheckReportPeriod(from, to time.Time) error {
	f := domain.FieldErrors{}
	switch {
	case !from.Before(to):
		f.Add("from", "must be before to")
	case to.Sub(from) > MaxReportPeriod:
		f.Add("from", "the period is at most 366 days")
	}
	return f.Err("invalid period")
}
