package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// arrivalsSQL is every lead's arrival in the org that holds it now, between
// $1 (inclusive) and $2: a lead posted by a vendor arrives where its routing
// left it (a sub-agency, for a lead passed down), when that committed, as
// long as no transfer or handover ever moved it; a lead moved in arrives with
// its lead_arrivals row (written by transfers and accepted handovers) while
// that org still holds it. Team members are not new leads and never count.
// The digest and the sweep that starts it read arrivals only through this.
// OFFSET 0 keeps each NOT EXISTS a lookup per lead of the period (through
// lead_arrivals_lead and handovers_lead): as an anti-join the planner
// hashes the whole of lead_arrivals and handovers, every transfer and
// handover ever made, which grows without bound while a day's leads do not.
const arrivalsSQL = `
	SELECT l.org_id, l.id AS lead_id, l.routed_at AS at, 'posted' AS how FROM leads l
	WHERE l.routed_at >= $1 AND l.routed_at < $2 AND l.kind = 'lead'
		AND NOT EXISTS (SELECT 1 FROM lead_arrivals a WHERE a.lead_id = l.id OFFSET 0)
		AND NOT EXISTS (SELECT 1 FROM handovers h WHERE h.lead_id = l.id OFFSET 0)
	UNION ALL
	SELECT a.org_id, a.lead_id, a.at, 'transferred' FROM lead_arrivals a JOIN leads l ON l.id = a.lead_id AND l.org_id = a.org_id
	WHERE a.at >= $1 AND a.at < $2 AND l.kind = 'lead'`

// UncoveredDay is an org-local day with arrivals that no digest batch
// covers yet: the next batch to plan.
type UncoveredDay struct {
	OrgID, Timezone string
	Day             time.Time // the org-local date (at UTC midnight, as PostgreSQL's date scans)
	First           time.Time // its earliest uncovered arrival
	PrevUntil       time.Time // where the day's earlier batches end; zero when none
	Batch           int       // the next batch number of the day
}

// uncoveredDaysSQL is the (org, day) pairs with arrivals in [$1, $2) no
// digest batch covers.
const uncoveredDaysSQL = `WITH x AS (` + arrivalsSQL + `), d AS (
		SELECT x.org_id, o.timezone, (x.at AT TIME ZONE o.timezone)::date AS day, x.at FROM x JOIN orgs o ON o.id = x.org_id)
	SELECT d.org_id, d.timezone, d.day, min(d.at),
		(SELECT max(g.until_at) FROM digests g WHERE g.org_id = d.org_id AND g.day = d.day),
		(SELECT coalesce(max(g.batch) + 1, 0) FROM digests g WHERE g.org_id = d.org_id AND g.day = d.day)
	FROM d
	WHERE NOT EXISTS (SELECT 1 FROM digests g WHERE g.org_id = d.org_id AND g.day = d.day AND d.at >= g.from_at AND d.at < g.until_at)
	GROUP BY d.org_id, d.timezone, d.day
	ORDER BY d.day, d.org_id`

// UncoveredDays lists (org, org-local day) pairs with arrivals since `since`
// that no digest batch covers: what the sweep must plan and start.
func (s *Store) UncoveredDays(ctx context.Context, since time.Time) ([]UncoveredDay, error) {
	rows, err := s.db.Query(ctx, uncoveredDaysSQL, since, "infinity")
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (UncoveredDay, error) {
		var u UncoveredDay
		var prev *time.Time
		err := r.Scan(&u.OrgID, &u.Timezone, &u.Day, &u.First, &prev, &u.Batch)
		if prev != nil {
			u.PrevUntil = *prev
		}
		return u, err
	})
}

// Digest is one batch of an org-local day's new-lead digest.
type Digest struct {
	OrgID       string
	Day         time.Time // org-local date
	Batch       int
	From, Until time.Time // the arrivals it lists
	FireAt      time.Time
	WorkflowID  string
	Status      string // pending, sent, failed
}

// CreateDigest records a planned batch unless another sweep recorded that
// batch first; created says whether this call did.
func (s *Store) CreateDigest(ctx context.Context, d Digest) (created bool, err error) {
	tag, err := s.db.Exec(ctx, `INSERT INTO digests (org_id, day, batch, from_at, until_at, fire_at, workflow_id)
		VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT DO NOTHING`, d.OrgID, d.Day, d.Batch, d.From, d.Until, d.FireAt, d.WorkflowID)
	return tag.RowsAffected() == 1, err
}

// UnstartedDigests lists pending batches whose run was not started or found
// since `checkedBefore` (never, for a new one), oldest first.
func (s *Store) UnstartedDigests(ctx context.Context, checkedBefore time.Time, limit int) ([]Digest, error) {
	rows, err := s.db.Query(ctx, `SELECT org_id, day, batch, from_at, until_at, fire_at, workflow_id, status FROM digests
		WHERE status = 'pending' AND (started_at IS NULL OR started_at < $1)
		ORDER BY started_at NULLS FIRST, created_at LIMIT $2`, checkedBefore, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanDigest)
}

func scanDigest(r pgx.CollectableRow) (Digest, error) {
	var d Digest
	err := r.Scan(&d.OrgID, &d.Day, &d.Batch, &d.From, &d.Until, &d.FireAt, &d.WorkflowID, &d.Status)
	return d, err
}

// DigestStarted notes that the batch's run was started or found running.
func (s *Store) DigestStarted(ctx context.Context, orgID string, day time.Time, batch int) error {
	_, err := s.db.Exec(ctx, `UPDATE digests SET started_at = now() WHERE org_id = $1 AND day = $2 AND batch = $3`, orgID, day, batch)
	return err
}

// GetDigest reads one batch.
func (s *Store) GetDigest(ctx context.Context, orgID string, day time.Time, batch int) (Digest, error) {
	rows, err := s.db.Query(ctx, `SELECT org_id, day, batch, from_at, until_at, fire_at, workflow_id, status FROM digests
		WHERE org_id = $1 AND day = $2 AND batch = $3`, orgID, day, batch)
	if err != nil {
		return Digest{}, err
	}
	d, err := pgx.CollectExactlyOneRow(rows, scanDigest)
	return d, notFound(err, "digest")
}

// FinishDigest records how a batch ended (sent or failed) and how many
// leads it listed; the sweep then leaves it alone.
func (s *Store) FinishDigest(ctx context.Context, orgID string, day time.Time, batch int, status string, leads int) error {
	_, err := s.db.Exec(ctx, `UPDATE digests SET status = $4, leads = $5, sent_at = CASE WHEN $4 = 'sent' THEN now() END
		WHERE org_id = $1 AND day = $2 AND batch = $3 AND status = 'pending'`, orgID, day, batch, status, leads)
	return err
}

// DigestLead is one line of a digest.
type DigestLead struct {
	ID, Name, Source string
	At               time.Time // when it arrived in the org
	How              string    // posted, transferred
}

// DigestContent is what a batch's email lists: the org, the first `limit`
// arrivals in order, and how many arrived in all.
type DigestContent struct {
	OrgName, Timezone string
	Leads             []DigestLead
	Total             int
}

// digestContentSQL is org $3's arrivals in [$1, $2), the first $4 of
// them, each with the total.
const digestContentSQL = `WITH x AS (SELECT DISTINCT ON (lead_id) lead_id, at, how FROM (` + arrivalsSQL + `) a
		WHERE a.org_id = $3 ORDER BY lead_id, at)
	SELECT x.lead_id, coalesce(nullif(trim(l.first_name || ' ' || l.last_name), ''), l.external_id),
		coalesce(s.name, l.source_slug), x.at, x.how, count(*) OVER ()
	FROM x JOIN leads l ON l.id = x.lead_id LEFT JOIN lead_sources s ON s.id = l.source_id
	ORDER BY x.at, x.lead_id LIMIT $4`

// DigestContent reads the leads a batch lists, in arrival order: those that
// arrived in [From, Until) and that the org still holds. A lead that arrived
// twice in the batch (moved out and back) is listed once, at its first
// arrival.
func (s *Store) DigestContent(ctx context.Context, d Digest, limit int) (DigestContent, error) {
	var c DigestContent
	if err := s.db.QueryRow(ctx, `SELECT name, timezone FROM orgs WHERE id = $1`, d.OrgID).Scan(&c.OrgName, &c.Timezone); err != nil {
		return c, notFound(err, "org")
	}
	rows, err := s.db.Query(ctx, digestContentSQL, d.From, d.Until, d.OrgID, max(limit, 1))
	if err != nil {
		return c, err
	}
	defer rows.Close()
	for rows.Next() {
		var l DigestLead
		if err := rows.Scan(&l.ID, &l.Name, &l.Source, &l.At, &l.How, &c.Total); err != nil {
			return c, err
		}
		if len(c.Leads) < limit {
			c.Leads = append(c.Leads, l)
		}
	}
	return c, rows.Err()
}

// DigestRecipient is a user a digest goes to.
type DigestRecipient struct {
	ID, Email, Name string
}

// DigestRecipients are the org's active admin and staff users subscribed to
// new-lead digests (notify_new_leads), read when the digest is sent, so a
// change of mind before then counts.
func (s *Store) DigestRecipients(ctx context.Context, orgID string) ([]DigestRecipient, error) {
	rows, err := s.db.Query(ctx, `SELECT id, email, name FROM users
		WHERE org_id = $1 AND active AND notify_new_leads AND role IN ('admin','staff') ORDER BY created_at, id`, orgID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[DigestRecipient])
}
