package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leadrelay/leadrelay/internal/domain"
)

// Decision is the outcome of routing one lead at one org (a hop).
type Decision struct {
	LeadID         string   `json:"lead_id"`
	OrgID          string   `json:"org_id"`
	Location       string   `json:"location,omitempty"`
	AssignedTo     string   `json:"assigned_to,omitempty"`
	AssigneeName   string   `json:"assignee_name,omitempty"`
	FanOutTo       string   `json:"fan_out_to,omitempty"` // the sub-agency whose own routing comes next
	Reason         string   `json:"reason"`
	AlreadyRouted  bool     `json:"already_routed,omitempty"`
	SourceName     string   `json:"source_name"`
	Slug           string   `json:"slug"`
	PurchaseEmails []string `json:"purchase_emails,omitempty"`
	LeadName       string   `json:"lead_name"`
	LeadEmail      string   `json:"lead_email,omitempty"`
	LeadPhone      string   `json:"lead_phone,omitempty"`
}

// Status is the word operators filter on in the Temporal UI.
func (d Decision) Status() string {
	switch {
	case d.FanOutTo != "":
		return "sub_agency"
	case d.Location != "":
		return d.Location
	}
	return "assigned"
}

// RouteRequest names one hop: the lead, and the org whose rules for the
// lead's source apply (empty: the org whose source received it). Hop counts
// the sub-agency levels already passed.
type RouteRequest struct {
	LeadID string
	OrgID  string
	Hop    int
}

// MaxHops bounds a fan-out chain; links form a tree, so this only guards
// against absurd depth. Past it the lead goes to that org's owner.
const MaxHops = 16

// RouteLead applies one org's routing for the lead's source in one
// transaction: place it, choose the person, or pass it down to a sub-agency,
// and write the reason on the timeline. Calling it again for a hop already
// decided returns that decision and changes nothing, so an activity retry
// after a commit cannot rotate twice.
func (s *Store) RouteLead(ctx context.Context, req RouteRequest) (Decision, error) {
	var d Decision
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var holder, intake, intakeSource, first, last string
		var routed bool
		var reqLoc *string
		err := tx.QueryRow(ctx, `SELECT org_id, intake_org_id, source_id, source_slug, routed_at IS NOT NULL, requested_location,
				first_name, last_name, email, phone
			FROM leads WHERE id = $1 FOR UPDATE`, req.LeadID).
			Scan(&holder, &intake, &intakeSource, &d.Slug, &routed, &reqLoc, &first, &last, &d.LeadEmail, &d.LeadPhone)
		if err != nil {
			return notFound(err, "lead")
		}
		d.LeadID, d.LeadName = req.LeadID, strings.TrimSpace(first+" "+last)
		d.OrgID = req.OrgID
		if d.OrgID == "" {
			d.OrgID = intake
		}
		// This hop's source: the one that received the lead, or the
		// sub-agency's own source for the same slug (maybe none).
		var src *hopSource
		if d.OrgID == intake {
			src, err = sourceByID(ctx, tx, intakeSource)
		} else {
			src, err = sourceBySlug(ctx, tx, d.OrgID, d.Slug)
		}
		if err != nil {
			return err
		}
		if src != nil {
			d.SourceName, d.PurchaseEmails = src.name, src.purchaseEmails
		}
		if routed || holder != d.OrgID {
			return reread(ctx, tx, &d)
		}

		if src == nil {
			d.Reason = fmt.Sprintf("no routing for %s in this sub-agency: assigned to the org owner", d.Slug)
			return assign(ctx, tx, &d, "", "normal")
		}
		p := domain.Place(src.mode, deref(src.force), deref(reqLoc), src.delay)
		if p.Location != "" {
			d.Location, d.Reason = p.Location, p.Reason
			var avail *time.Time
			if p.Location == domain.LocationQueue {
				t := time.Now().Add(src.delay)
				avail = &t
			}
			if _, err := tx.Exec(ctx, `UPDATE leads SET location = $2, available_at = $3, priority = $4, routed_at = clock_timestamp(),
					updated_at = now() WHERE id = $1`, req.LeadID, p.Location, avail, src.priority); err != nil {
				return err
			}
			return addEvent(ctx, tx, req.LeadID, d.OrgID, "routed", "routing:"+d.Slug, d.Reason, map[string]any{"location": p.Location})
		}

		switch src.mode {
		case domain.RouteStaffEvenly:
			pick, err := staffPick(ctx, tx, src.id, d.OrgID)
			if err != nil {
				return err
			}
			if pick == nil {
				d.Reason = "no active staff to rotate over (staff_evenly): assigned to the org owner"
				return assign(ctx, tx, &d, "", src.priority)
			}
			d.AssigneeName = pick.name
			d.Reason = fmt.Sprintf("rotated to %s: position %d of %d active staff (staff_evenly)", pick.name, pick.pos, pick.n)
			return assign(ctx, tx, &d, pick.id, src.priority)
		case domain.RouteSubAgencies:
			if req.Hop >= MaxHops {
				d.Reason = fmt.Sprintf("%d sub-agency levels passed (sub_agencies_evenly): assigned to the org owner", req.Hop)
				return assign(ctx, tx, &d, "", src.priority)
			}
			pick, err := subAgencyPick(ctx, tx, src.id, d.OrgID, src.subs)
			if err != nil {
				return err
			}
			if pick == nil {
				d.Reason = "no linked sub-agency to rotate over (sub_agencies_evenly): assigned to the org owner"
				return assign(ctx, tx, &d, "", src.priority)
			}
			d.FanOutTo = pick.id
			d.Reason = fmt.Sprintf("sent to sub-agency %s: position %d of %d (sub_agencies_evenly)", pick.name, pick.pos, pick.n)
			if _, err := tx.Exec(ctx, `UPDATE leads SET org_id = $2, priority = $3, updated_at = now() WHERE id = $1`,
				req.LeadID, pick.id, src.priority); err != nil {
				return err
			}
			return addEvent(ctx, tx, req.LeadID, d.OrgID, "routed", "routing:"+d.Slug, d.Reason,
				map[string]any{"sub_agency": pick.id, "mode": string(src.mode)})
		default:
			d.Reason = "source routing is owner: assigned to the org owner"
			return assign(ctx, tx, &d, "", src.priority)
		}
	})
	return d, err
}

type hopSource struct {
	id, name       string
	mode           domain.RoutingMode
	force          *string
	delay          time.Duration
	priority       string
	purchaseEmails []string
	subs           []string
}

// hopSourceCols is what scanHopSource reads, in its order.
const hopSourceCols = `id, name, routing_mode, force_location, queue_delay, priority, purchase_notification_emails,
	routing_sub_agencies::text[]`

const (
	sourceByIDSQL   = `SELECT ` + hopSourceCols + ` FROM lead_sources WHERE id = $1`
	sourceBySlugSQL = `SELECT ` + hopSourceCols + ` FROM lead_sources WHERE org_id = $1 AND slug = $2`
)

// sourceByID is the source that received the lead: the first hop's rules.
func sourceByID(ctx context.Context, tx pgx.Tx, id string) (*hopSource, error) {
	return scanHopSource(tx.QueryRow(ctx, sourceByIDSQL, id))
}

// sourceBySlug is a sub-agency's own source for the slug the lead came in
// on, or nil when it has none.
func sourceBySlug(ctx context.Context, tx pgx.Tx, orgID, slug string) (*hopSource, error) {
	return scanHopSource(tx.QueryRow(ctx, sourceBySlugSQL, orgID, slug))
}

func scanHopSource(row pgx.Row) (*hopSource, error) {
	var h hopSource
	err := row.Scan(&h.id, &h.name, &h.mode, &h.force, &h.delay, &h.priority, &h.purchaseEmails, &h.subs)
	if err == pgx.ErrNoRows {
		return nil, nil
	}
	return &h, err
}

// assign gives the lead to userID, or to the org owner when userID is "",
// appending the owner's name to the reason.
func assign(ctx context.Context, tx pgx.Tx, d *Decision, userID, priority string) error {
	if userID == "" {
		if err := tx.QueryRow(ctx, `SELECT id, name FROM users WHERE org_id = $1 AND role = 'owner'`, d.OrgID).
			Scan(&userID, &d.AssigneeName); err != nil {
			return fmt.Errorf("org %s has no owner: %w", d.OrgID, err)
		}
		d.Reason += " " + d.AssigneeName
	}
	d.AssignedTo = userID
	if _, err := tx.Exec(ctx, `UPDATE leads SET assigned_to = $2, location = NULL, priority = $3, routed_at = clock_timestamp(),
			updated_at = now() WHERE id = $1`, d.LeadID, userID, priority); err != nil {
		return err
	}
	return addEvent(ctx, tx, d.LeadID, d.OrgID, "routed", "routing:"+d.Slug, d.Reason, map[string]any{"assigned_to": userID})
}

// reread fills d with the decision already recorded for this hop.
func reread(ctx context.Context, tx pgx.Tx, d *Decision) error {
	d.AlreadyRouted = true
	var sub, assigned, location *string
	err := tx.QueryRow(ctx, `SELECT message, data->>'sub_agency', data->>'assigned_to', data->>'location' FROM timeline_events
		WHERE lead_id = $1 AND org_id = $2 AND kind = 'routed' ORDER BY id DESC LIMIT 1`, d.LeadID, d.OrgID).
		Scan(&d.Reason, &sub, &assigned, &location)
	if err != nil {
		return notFound(err, "routing decision")
	}
	d.FanOutTo, d.AssignedTo, d.Location = deref(sub), deref(assigned), deref(location)
	if d.AssignedTo != "" {
		_ = tx.QueryRow(ctx, `SELECT name FROM users WHERE id = $1`, d.AssignedTo).Scan(&d.AssigneeName)
	}
	return nil
}

type rotationPick struct {
	id, name string
	pos, n   int
}

// leastRecentlyChosen picks, from the candidates c(id, name, since) defined
// before it, the one this source ($1) chose least recently, ties broken by
// (since, id); pos and n place it in that stable order for the reason.
const leastRecentlyChosen = `SELECT id, name, pos, n FROM (
		SELECT c.id, c.name, c.since, coalesce(r.last_seq, 0) AS last_seq,
			row_number() OVER (ORDER BY c.since, c.id) AS pos, count(*) OVER () AS n
		FROM c LEFT JOIN rotation_state r ON r.source_id = $1 AND r.member_id = c.id) x
	ORDER BY last_seq, since, id LIMIT 1`

const (
	// staffPickSQL: the org's ($2) active users in the rotating roles ($3).
	staffPickSQL = `WITH c AS (SELECT id, name, created_at AS since FROM users
		WHERE org_id = $2 AND active AND role = ANY($3)) ` + leastRecentlyChosen
	// subAgencyPickSQL: the source's sub-agencies ($3) still linked under the org ($2).
	subAgencyPickSQL = `WITH c AS (SELECT id, name, linked_at AS since FROM orgs
		WHERE parent_id = $2 AND id = ANY($3::uuid[])) ` + leastRecentlyChosen
)

// staffPick rotates the source over the org's active staff, professionals
// and managers; nil when there are none.
func staffPick(ctx context.Context, tx pgx.Tx, sourceID, orgID string) (*rotationPick, error) {
	return rotate(ctx, tx, sourceID, func() pgx.Row {
		return tx.QueryRow(ctx, staffPickSQL, sourceID, orgID, domain.RotatingRoles)
	})
}

// subAgencyPick rotates the source over the listed sub-agencies that are
// still linked under the org; nil when there are none.
func subAgencyPick(ctx context.Context, tx pgx.Tx, sourceID, orgID string, subs []string) (*rotationPick, error) {
	return rotate(ctx, tx, sourceID, func() pgx.Row {
		return tx.QueryRow(ctx, subAgencyPickSQL, sourceID, orgID, subs)
	})
}

// rotate records one more decision for the source and takes the candidate
// pick returns. The UPDATE of the source row comes first: its lock
// serialises concurrent decisions for one source, and pick's fresh snapshot
// then sees the previous decision's rotation_state, which is what keeps the
// rotation fair.
func rotate(ctx context.Context, tx pgx.Tx, sourceID string, pick func() pgx.Row) (*rotationPick, error) {
	var seq int64
	if err := tx.QueryRow(ctx, `UPDATE lead_sources SET rotation_seq = rotation_seq + 1 WHERE id = $1 RETURNING rotation_seq`,
		sourceID).Scan(&seq); err != nil {
		return nil, err
	}
	var p rotationPick
	err := pick().Scan(&p.id, &p.name, &p.pos, &p.n)
	if err == pgx.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	_, err = tx.Exec(ctx, `INSERT INTO rotation_state (source_id, member_id, last_seq) VALUES ($1, $2, $3)
		ON CONFLICT (source_id, member_id) DO UPDATE SET last_seq = excluded.last_seq`, sourceID, p.id, seq)
	return &p, err
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
