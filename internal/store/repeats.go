package store

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leadrelay/leadrelay/internal/domain"
)

// Repeat leads and the vendor's daily cap, both decided at intake (SPEC
// §5.6, docs/routing.md "Repeat leads").

// repeatSQL finds the open lead (assigned, not worked, not returned or
// invalid) of org $1 that a new lead with email $8 and phone $9, received
// at $19, repeats: the newest with the same address (any case) or the same
// phone digits, received within the org's lookback (0: off). Each branch
// walks its own index newest first and stops at the first open lead.
const repeatSQL = `SELECT x.id FROM (
		(SELECT r.id, r.received_at FROM leads r JOIN orgs o ON o.id = r.org_id
		WHERE r.org_id = $1 AND r.email <> '' AND $8 <> '' AND lower(r.email) = lower($8)
			AND r.received_at > $19::timestamptz - make_interval(days => o.repeat_lookback_days)
			AND r.assigned_to IS NOT NULL AND r.worked_at IS NULL AND r.status NOT IN ('returned', 'invalid')
		ORDER BY lower(r.email), r.received_at DESC LIMIT 1)
		UNION ALL
		(SELECT r.id, r.received_at FROM leads r JOIN orgs o ON o.id = r.org_id
		WHERE r.org_id = $1 AND r.phone <> '' AND regexp_replace($9, '[^0-9]', '', 'g') <> ''
			AND r.phone_digits = regexp_replace($9, '[^0-9]', '', 'g')
			AND r.received_at > $19::timestamptz - make_interval(days => o.repeat_lookback_days)
			AND r.assigned_to IS NOT NULL AND r.worked_at IS NULL AND r.status NOT IN ('returned', 'invalid')
		ORDER BY r.phone_digits, r.received_at DESC LIMIT 1)
	) x ORDER BY x.received_at DESC LIMIT 1`

// repeatAloneSQL is repeatSQL with its parameters numbered 1 to 4.
var repeatAloneSQL = strings.NewReplacer("$19", "$4", "$8", "$2", "$9", "$3").Replace(repeatSQL)

// findRepeat is repeatSQL for a lead not posted (the route preview).
func findRepeat(ctx context.Context, tx pgx.Tx, orgID, email, phone string, at time.Time) (string, error) {
	var id string
	err := tx.QueryRow(ctx, repeatAloneSQL, orgID, email, phone, at).Scan(&id)
	if err == pgx.ErrNoRows {
		return "", nil
	}
	return id, err
}

// countVendorPost counts a new lead against its source's vendor daily cap
// on the org-local day it arrived, under the count row's lock; past the cap
// it refuses (ECapReached), and the caller's transaction takes the lead back.
func countVendorPost(ctx context.Context, tx pgx.Tx, n NewLead) error {
	if n.DailyCap == nil {
		return nil
	}
	loc := n.Loc
	if loc == nil {
		loc = time.UTC
	}
	var count int
	err := tx.QueryRow(ctx, `INSERT INTO source_day_counts (source_id, day, n) VALUES ($1, $2, 1)
		ON CONFLICT (source_id, day) DO UPDATE SET n = source_day_counts.n + 1 WHERE source_day_counts.n < $3
		RETURNING n`, n.SourceID, n.ReceivedAt.In(loc).Format(time.DateOnly), *n.DailyCap).Scan(&count)
	if err == pgx.ErrNoRows {
		return domain.Errorf(domain.ECapReached, "this source's daily cap of %d leads is reached: retry after midnight in the org's timezone", *n.DailyCap)
	}
	return err
}

// NextDay is the start of the org-local day after t: when a capped source
// takes posts again.
func NextDay(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day()+1, 0, 0, 0, 0, loc)
}
