package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// PurgeBatch is what one batch of the retention purge did.
type PurgeBatch struct {
	Leads    int // closed leads past their org's retention looked at
	Timeline int // timeline events removed
	Feed     int // feed events removed
	// Next is the cursor of the next batch: the last lead looked at; ""
	// when this batch was the last.
	Next string
}

// closedSQL is when a lead is closed: returned or marked invalid, or
// worked and not waiting in the queue or pending — a state no rule routes,
// claims or escalates again. A transfer keeps worked_at but can park the
// lead in the receiving org's queue or pending, where it is open again, so
// location is part of it; the transfer's updated_at restarts the period.
const closedSQL = `(l.status IN ('returned', 'invalid') OR (l.worked_at IS NOT NULL AND l.location IS NULL))`

// keptKinds are the timeline events the purge never removes, because a
// rule reads them after the lead closed, or because they are what is left
// to tell: routing's leadRowSQL and reread read `routed` (a hop that
// already decided must find its decision), the outbox reads
// `email_failed` (one event per failed key), the speed report reads the
// SLA events, `received` starts the timeline and `purged` says what the
// purge did. Everything else (claims, expiries, releases, handovers,
// notes, transfers...) is what grows a timeline without bound.
var keptKinds = []string{"received", "routed", "email_failed", "sla_breached", "sla_escalated", "purged"}

// firstAssignmentSQL finds the lead's earliest event that gave it an
// assignee, the one the speed report (speedSQL) measures time to
// assignment by: the purge keeps it so a report of an old period reads
// the same after it.
const firstAssignmentSQL = `(SELECT f.id FROM timeline_events f WHERE f.lead_id = e.lead_id AND (f.kind = 'claimed'
	OR (f.kind IN ('routed', 'assigned', 'transferred') AND f.data->>'assigned_to' IS NOT NULL)
	OR (f.kind = 'sla_escalated' AND f.data->>'to' IS NOT NULL)) ORDER BY f.at, f.id LIMIT 1)`

// PurgeClosedEvents clears the next batch of closed leads after the
// cursor (a lead id; "" to start) whose org keeps events retention_days
// and whose last change is older than that at now: it removes their
// timeline events, and their events in that org's feed, older than the
// cut-off, except keptKinds and the first assignment, and writes one
// `purged` event on each lead that lost any, saying how many and up to
// when. Lead rows stay (intake's dedup on (source, external_id) and the
// repeat lookback read them), and so does every other org's feed. Each
// batch is one transaction holding the batch's leads, so a lead reopened
// meanwhile is either purged before or skipped; running a batch again
// removes nothing more, so a retried batch is harmless.
func (s *Store) PurgeClosedEvents(ctx context.Context, now time.Time, after string, limit int) (PurgeBatch, error) {
	if after == "" {
		after = "00000000-0000-0000-0000-000000000000"
	}
	var b PurgeBatch
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT l.id, l.org_id, $2::timestamptz - make_interval(days => o.retention_days)
			FROM leads l JOIN orgs o ON o.id = l.org_id
			WHERE l.id > $1 AND o.retention_days IS NOT NULL AND `+closedSQL+`
				AND l.updated_at < $2::timestamptz - make_interval(days => o.retention_days)
			ORDER BY l.id LIMIT $3 FOR UPDATE OF l`, after, now, limit)
		if err != nil {
			return err
		}
		var ids, orgs []string
		var cutoffs []time.Time
		for rows.Next() {
			var id, org string
			var cut time.Time
			if err := rows.Scan(&id, &org, &cut); err != nil {
				return err
			}
			ids, orgs, cutoffs = append(ids, id), append(orgs, org), append(cutoffs, cut)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		b.Leads = len(ids)
		if len(ids) == limit {
			b.Next = ids[len(ids)-1]
		}
		if len(ids) == 0 {
			return nil
		}
		err = tx.QueryRow(ctx, `WITH b AS (SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[]) AS b(id, org_id, cutoff)),
			gone AS (DELETE FROM timeline_events e USING b
				WHERE e.lead_id = b.id AND e.at < b.cutoff AND e.kind <> ALL ($4)
					AND e.id IS DISTINCT FROM `+firstAssignmentSQL+`
				RETURNING e.lead_id),
			told AS (INSERT INTO timeline_events (lead_id, org_id, kind, actor, message, data)
				SELECT b.id, b.org_id, 'purged', 'retention',
					n || CASE WHEN n = 1 THEN ' event' ELSE ' events' END || ' older than '
						|| to_char(b.cutoff AT TIME ZONE 'UTC', 'YYYY-MM-DD') || ' removed by retention',
					jsonb_build_object('events', n, 'before', b.cutoff)
				FROM b JOIN (SELECT lead_id, count(*) AS n FROM gone GROUP BY lead_id) g ON g.lead_id = b.id)
			SELECT count(*) FROM gone`, ids, orgs, cutoffs, keptKinds).Scan(&b.Timeline)
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM feed_events f
			USING unnest($1::uuid[], $2::uuid[], $3::timestamptz[]) AS b(id, org_id, cutoff)
			WHERE f.lead_id = b.id AND f.org_id = b.org_id AND f.at < b.cutoff`, ids, orgs, cutoffs)
		b.Feed = int(tag.RowsAffected())
		return err
	})
	return b, err
}
