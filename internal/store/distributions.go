package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leadrelay/leadrelay/internal/domain"
)

// DistributionRequest begins the distribution of one slot: an org's pending
// leads of one source, through Mode.
type DistributionRequest struct {
	OrgID, Slug string
	Mode        domain.RoutingMode
	Schedule    string // the schedule's name; "" on demand
	Slot        string // the idempotency key: one distribution per (org, source, slot)
	WorkflowID  string
}

// Distribution is one slot's distribution as recorded.
type Distribution struct {
	ID, OrgID, Slug, Slot, Schedule, WorkflowID string
	Mode                                        domain.RoutingMode
	Total, Distributed, PassedDown, Batches     int
	Completed                                   bool
}

const distributionCols = `id, org_id, slug, slot, coalesce(schedule, ''), workflow_id, mode, total, distributed, passed_down,
	batches, status = 'completed'`

func scanDistribution(row pgx.Row) (Distribution, error) {
	var d Distribution
	err := row.Scan(&d.ID, &d.OrgID, &d.Slug, &d.Slot, &d.Schedule, &d.WorkflowID, &d.Mode, &d.Total, &d.Distributed,
		&d.PassedDown, &d.Batches, &d.Completed)
	return d, notFound(err, "distribution")
}

// pendingLeads picks what a distribution takes: the org's ($1) leads of the
// slug ($2) waiting in pending, routed, team-owned and unassigned, not
// waiting for a handover's review (those are a manager's to answer) and not
// returned (final: a returned lead left the org's pipeline, whatever its
// location says). Skipped leads are not the distribution's: they count
// neither in its total nor in a batch.
const pendingLeads = `l.org_id = $1 AND l.source_slug = $2 AND l.location = 'pending' AND l.routed_at IS NOT NULL
	AND l.owner_user_id IS NULL AND l.assigned_to IS NULL AND l.status <> 'returned'
	AND NOT ` + pendingHandoverSQL

// BeginDistribution records the distribution of a slot, or finds the one
// already recorded for it (Completed says whether it finished): a second run
// for the same slot then moves nothing. Total is how many leads were pending
// when the first run began.
func (s *Store) BeginDistribution(ctx context.Context, r DistributionRequest) (Distribution, error) {
	if !domain.ValidUUID(r.OrgID) {
		return Distribution{}, domain.Errorf(domain.ENotFound, "org not found")
	}
	if !domain.ValidDistributionMode(r.Mode) {
		return Distribution{}, &domain.Error{Code: domain.EInvalid, Message: "invalid distribution",
			Fields: map[string]string{"mode": domain.DistributionModeRule}}
	}
	var d Distribution
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var sourceID string
		if err := tx.QueryRow(ctx, `SELECT id FROM lead_sources WHERE org_id = $1 AND slug = $2`, r.OrgID, r.Slug).
			Scan(&sourceID); err != nil {
			return notFound(err, "source")
		}
		var schedule *string
		if r.Schedule != "" {
			schedule = &r.Schedule
		}
		if _, err := tx.Exec(ctx, `INSERT INTO distributions (org_id, source_id, slug, slot, schedule, mode, workflow_id, total)
			SELECT $1, $3, $2, $4, $5, $6, $7, (SELECT count(*) FROM leads l WHERE `+pendingLeads+`)
			ON CONFLICT (org_id, source_id, slot) DO NOTHING`,
			r.OrgID, r.Slug, sourceID, r.Slot, schedule, r.Mode, r.WorkflowID); err != nil {
			return err
		}
		var err error
		d, err = scanDistribution(tx.QueryRow(ctx, `SELECT `+distributionCols+` FROM distributions
			WHERE org_id = $1 AND source_id = $2 AND slot = $3`, r.OrgID, sourceID, r.Slot))
		return err
	})
	return d, err
}

// DistributionBatch names one batch of a distribution: up to Size pending
// leads in id order after the lead id After ("" from the start).
type DistributionBatch struct {
	DistributionID string
	Seq            int
	After          string
	Size           int
}

// DistributionBatchResult is what a batch did: leads assigned at the org,
// leads passed down to a sub-agency, and where the next batch starts.
type DistributionBatchResult struct {
	Distributed, PassedDown int
	Last                    string
	More                    bool
}

// DistributeBatch takes one batch of the org's pending leads through the
// distribution's mode in one transaction, with the same rules routing uses
// (staff_evenly continues the source's own rotation; sub_agencies_evenly
// rotates over the source's listed sub-agencies, or every linked one when it
// lists none; no one to rotate over: the owner). Each decision goes on the
// lead's timeline ("distributed by schedule morning: rotated to …"). A lead
// passed down is in flight again (routed_at cleared, as in a fan-out) until
// the sub-agency's own routing, a hop run the caller starts, places it. The
// batch is recorded, so running it again returns what it did the first
// time and moves nothing.
func (s *Store) DistributeBatch(ctx context.Context, b DistributionBatch) (DistributionBatchResult, error) {
	var res DistributionBatchResult
	if b.Size <= 0 {
		return res, domain.Errorf(domain.EInvalid, "a distribution batch needs a size above zero")
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// The row lock serialises retries of one batch: the second finds the
		// first's record instead of taking the next leads.
		var org, slug, schedule string
		var mode domain.RoutingMode
		if err := tx.QueryRow(ctx, `SELECT org_id, slug, coalesce(schedule, ''), mode FROM distributions WHERE id = $1 FOR UPDATE`,
			b.DistributionID).Scan(&org, &slug, &schedule, &mode); err != nil {
			return notFound(err, "distribution")
		}
		var last *string
		err := tx.QueryRow(ctx, `SELECT last_lead, distributed, passed_down, more FROM distribution_batches
			WHERE distribution_id = $1 AND seq = $2`, b.DistributionID, b.Seq).Scan(&last, &res.Distributed, &res.PassedDown, &res.More)
		if err == nil {
			res.Last = deref(last)
			return nil
		}
		if err != pgx.ErrNoRows {
			return err
		}
		src, err := sourceBySlug(ctx, tx, org, slug)
		if err != nil {
			return err
		}
		if src == nil {
			return domain.Errorf(domain.ENotFound, "source not found")
		}
		var after *string
		if b.After != "" {
			after = &b.After
		}
		// FOR UPDATE in id order, as transfers lock: no deadlock between them.
		rows, err := tx.Query(ctx, `SELECT l.id FROM leads l WHERE `+pendingLeads+` AND ($3::uuid IS NULL OR l.id > $3)
			ORDER BY l.id LIMIT $4 FOR UPDATE OF l`, org, slug, after, b.Size)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		if mode == domain.RouteSubAgencies && len(src.subs) == 0 {
			if src.subs, err = linkedSubAgencies(ctx, tx, org); err != nil {
				return err
			}
		}
		prefix := "distributed on demand: "
		if schedule != "" {
			prefix = "distributed by schedule " + schedule + ": "
		}
		for _, id := range ids {
			d, err := distributeLead(ctx, tx, src, org, slug, mode, prefix, id)
			if err != nil {
				return err
			}
			var assigned, sub *string
			if d.FanOutTo != "" {
				res.PassedDown++
				sub = &d.FanOutTo
			} else {
				res.Distributed++
				assigned = &d.AssignedTo
			}
			if _, err := tx.Exec(ctx, `INSERT INTO distribution_leads (distribution_id, lead_id, seq, assigned_to, sub_org_id)
				VALUES ($1, $2, $3, $4, $5)`, b.DistributionID, id, b.Seq, assigned, sub); err != nil {
				return err
			}
			res.Last = id
		}
		res.More = len(ids) == b.Size
		if res.Last == "" {
			res.Last = b.After
		}
		_, err = tx.Exec(ctx, `INSERT INTO distribution_batches (distribution_id, seq, last_lead, distributed, passed_down, more)
			VALUES ($1, $2, $3, $4, $5, $6)`, b.DistributionID, b.Seq, nilIfEmpty(res.Last), res.Distributed, res.PassedDown, res.More)
		return err
	})
	return res, err
}

// distributeLead applies the distribution's mode to one locked pending lead
// and records the decision with its reason. placement is not asked: the
// lead is in pending because of it, and leaving pending is the point.
func distributeLead(ctx context.Context, tx pgx.Tx, src *hopSource, org, slug string, mode domain.RoutingMode, prefix, leadID string) (Decision, error) {
	var r ruling
	var err error
	switch mode {
	case domain.RouteStaffEvenly:
		r, err = staffEvenly(ctx, tx, src, org)
	case domain.RouteSubAgencies:
		r, err = subAgenciesEvenly(ctx, tx, src, org, 0)
	default:
		r = toOwner("assigned to the org owner", src.priority)
	}
	if err != nil {
		return Decision{}, err
	}
	r.reason = prefix + r.reason
	d := Decision{LeadID: leadID, OrgID: org, Slug: slug, SourceName: src.name}
	if err := record(ctx, tx, &d, r); err != nil {
		return d, err
	}
	if d.FanOutTo != "" {
		// In flight again, like a lead whose first hop fanned out: the
		// sub-agency's hop decides, and routed_at says when.
		_, err = tx.Exec(ctx, `UPDATE leads SET location = NULL, available_at = NULL, routed_at = NULL WHERE id = $1`, leadID)
	}
	return d, err
}

// linkedSubAgencies lists every sub-agency linked under org.
func linkedSubAgencies(ctx context.Context, tx pgx.Tx, org string) ([]string, error) {
	rows, err := tx.Query(ctx, `SELECT id::text FROM orgs WHERE parent_id = $1 ORDER BY linked_at, id`, org)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

func nilIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// DistributionHop is a lead a distribution passed down, and the sub-agency
// whose own routing is to place it.
type DistributionHop struct {
	LeadID, SubOrgID, Slug, ExternalID string
}

// DistributionHops lists the leads a batch passed down that are still in
// flight: their hop runs are (re)started. A lead the sub-agency already
// placed is left out, so a retry starts nothing for it.
func (s *Store) DistributionHops(ctx context.Context, distributionID string, seq int) ([]DistributionHop, error) {
	rows, err := s.db.Query(ctx, `SELECT dl.lead_id, dl.sub_org_id, l.source_slug, l.external_id
		FROM distribution_leads dl JOIN leads l ON l.id = dl.lead_id
		WHERE dl.distribution_id = $1 AND dl.seq = $2 AND dl.sub_org_id IS NOT NULL AND l.routed_at IS NULL
		ORDER BY dl.lead_id`, distributionID, seq)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[DistributionHop])
}

// FinishDistribution marks the distribution completed with the totals of
// its recorded batches, and returns it.
func (s *Store) FinishDistribution(ctx context.Context, id string) (Distribution, error) {
	if _, err := s.db.Exec(ctx, `UPDATE distributions d SET status = 'completed', completed_at = now(),
			distributed = b.distributed, passed_down = b.passed_down, batches = b.batches
		FROM (SELECT coalesce(sum(distributed), 0) AS distributed, coalesce(sum(passed_down), 0) AS passed_down,
			count(*) AS batches FROM distribution_batches WHERE distribution_id = $1) b
		WHERE d.id = $1 AND d.status = 'running'`, id); err != nil {
		return Distribution{}, err
	}
	return scanDistribution(s.db.QueryRow(ctx, `SELECT `+distributionCols+` FROM distributions WHERE id = $1`, id))
}

// RunningDistributions lists distributions begun before cutoff and not
// completed: their run was lost (terminated, failed), and the reconciler
// starts it again.
func (s *Store) RunningDistributions(ctx context.Context, cutoff time.Time, limit int) ([]Distribution, error) {
	rows, err := s.db.Query(ctx, `SELECT `+distributionCols+` FROM distributions
		WHERE status = 'running' AND created_at < $1 ORDER BY created_at LIMIT $2`, cutoff, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Distribution, error) { return scanDistribution(r) })
}

// StrandedDistributionHops pages, in lead id order after afterLead ("" from
// the start), through leads a distribution passed down before cutoff that
// are still in flight: their hop run was lost. The reconciler starts it
// again; it resumes at the sub-agency the distribution chose, which is
// where the lead's recorded hops lead from (a lead's first run may not: it
// may have reached the distributing org by a transfer).
func (s *Store) StrandedDistributionHops(ctx context.Context, cutoff time.Time, afterLead string, limit int) ([]DistributionHop, error) {
	var after *string
	if afterLead != "" {
		after = &afterLead
	}
	rows, err := s.db.Query(ctx, `SELECT lead_id, sub_org_id, source_slug, external_id FROM (
			SELECT DISTINCT ON (dl.lead_id) dl.lead_id, dl.sub_org_id, l.source_slug, l.external_id, dl.at
			FROM distribution_leads dl JOIN leads l ON l.id = dl.lead_id
			WHERE dl.sub_org_id IS NOT NULL AND l.routed_at IS NULL AND ($2::uuid IS NULL OR dl.lead_id > $2)
			ORDER BY dl.lead_id, dl.at DESC) latest
		WHERE at < $1 ORDER BY lead_id LIMIT $3`, cutoff, after, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[DistributionHop])
}
