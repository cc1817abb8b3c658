package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leadrelay/leadrelay/internal/domain"
)

// NewLead is what the API records before it starts the lead's workflow.
type NewLead struct {
	ID                    string // minted by the caller; kept only if the key is new
	SourceID, OrgID, Slug string
	WorkflowID            string
	ReceivedAt            time.Time
	In                    domain.LeadInput
}

// Intake is the answer to a recorded post.
type Intake struct {
	LeadID     string
	WorkflowID string
	Duplicate  bool
	Routed     bool
}

// InsertLead records a lead once per (source, external_id): a repeat finds the
// first one. The unique key outlives Temporal's retention of the workflow.
func (s *Store) InsertLead(ctx context.Context, n NewLead) (Intake, error) {
	var out Intake
	if n.ID == "" {
		n.ID = domain.NewID()
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		attrs := n.In.Attributes
		if attrs == nil {
			attrs = map[string]string{}
		}
		err := tx.QueryRow(ctx, `INSERT INTO leads (id, org_id, intake_org_id, source_id, source_slug, external_id, requested_location,
				first_name, last_name, email, phone, street, city, state, postal_code, company, rating, notes, attributes,
				workflow_id, received_at)
			VALUES ($20,$1,$1,$2,$3,$4,nullif($5,''),$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19)
			ON CONFLICT (source_id, external_id) DO NOTHING RETURNING id`,
			n.OrgID, n.SourceID, n.Slug, n.In.ExternalID, n.In.Location, n.In.FirstName, n.In.LastName, n.In.Email, n.In.Phone,
			n.In.Address.Street, n.In.Address.City, n.In.Address.State, n.In.Address.PostalCode, n.In.Company, n.In.Rating,
			n.In.Notes, attrs, n.WorkflowID, n.ReceivedAt, n.ID).Scan(&out.LeadID)
		if err == pgx.ErrNoRows {
			out.Duplicate = true
			return tx.QueryRow(ctx, `SELECT id, workflow_id, routed_at IS NOT NULL FROM leads WHERE source_id = $1 AND external_id = $2`,
				n.SourceID, n.In.ExternalID).Scan(&out.LeadID, &out.WorkflowID, &out.Routed)
		}
		if err != nil {
			return err
		}
		out.WorkflowID = n.WorkflowID
		if err := attachLabels(ctx, tx, n.OrgID, out.LeadID, n.In.Labels); err != nil {
			return err
		}
		return addEvent(ctx, tx, out.LeadID, n.OrgID, "received", "vendor:"+n.Slug,
			fmt.Sprintf("received from source %s (external id %s)", n.Slug, n.In.ExternalID), nil)
	})
	return out, err
}

// attachLabels creates the org's missing labels and tags the lead. Labels are
// sorted and deduplicated first, so concurrent posts wait on each other's new
// label rows in one order (no deadlock); the tagging is a second statement,
// whose fresh snapshot sees a label another post created a moment ago (no
// label lost). DO NOTHING takes no row lock, so posts sharing a common label
// do not queue behind each other.
func attachLabels(ctx context.Context, tx pgx.Tx, orgID, leadID string, labels []string) error {
	labels = slices.Compact(slices.Sorted(slices.Values(labels)))
	if len(labels) == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, `INSERT INTO labels (org_id, name)
			SELECT $1, n FROM unnest($2::text[]) WITH ORDINALITY AS u(n, i) ORDER BY i
		ON CONFLICT (org_id, name) DO NOTHING`, orgID, labels); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `INSERT INTO lead_labels (lead_id, label_id)
		SELECT $3::uuid, id FROM labels WHERE org_id = $1 AND name = ANY($2) ON CONFLICT DO NOTHING`, orgID, labels, leadID)
	return err
}

func addEvent(ctx context.Context, tx pgx.Tx, leadID, orgID, kind, actor, msg string, data map[string]any) error {
	if data == nil {
		data = map[string]any{}
	}
	_, err := tx.Exec(ctx, `INSERT INTO timeline_events (lead_id, org_id, kind, actor, message, data) VALUES ($1,$2,$3,$4,$5,$6)`,
		leadID, orgID, kind, actor, msg, data)
	return err
}

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
			src, err = loadSource(ctx, tx, `id = $1`, intakeSource)
		} else {
			src, err = loadSource(ctx, tx, `org_id = $1 AND slug = $2`, d.OrgID, d.Slug)
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
			pick, err := rotate(ctx, tx, src.id, `SELECT id, name, created_at AS since FROM users
				WHERE org_id = $2 AND active AND role = ANY($3)`, d.OrgID, domain.RotatingRoles)
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
			pick, err := rotate(ctx, tx, src.id, `SELECT id, name, linked_at AS since FROM orgs
				WHERE parent_id = $2 AND id = ANY($3::uuid[])`, d.OrgID, src.subs)
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

func loadSource(ctx context.Context, tx pgx.Tx, where string, args ...any) (*hopSource, error) {
	var h hopSource
	err := tx.QueryRow(ctx, `SELECT id, name, routing_mode, force_location, queue_delay, priority, purchase_notification_emails,
			routing_sub_agencies::text[] FROM lead_sources WHERE `+where, args...).
		Scan(&h.id, &h.name, &h.mode, &h.force, &h.delay, &h.priority, &h.purchaseEmails, &h.subs)
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

// rotate chooses, among the candidates (a query of id, name, since with $2
// and $3 as its arguments), the least recently chosen for this source, in a
// stable order. The UPDATE of the source row takes a lock that serialises
// concurrent decisions for one source, which is what keeps the rotation fair.
func rotate(ctx context.Context, tx pgx.Tx, sourceID, candidates string, a2, a3 any) (*rotationPick, error) {
	var seq int64
	if err := tx.QueryRow(ctx, `UPDATE lead_sources SET rotation_seq = rotation_seq + 1 WHERE id = $1 RETURNING rotation_seq`,
		sourceID).Scan(&seq); err != nil {
		return nil, err
	}
	var p rotationPick
	err := tx.QueryRow(ctx, `SELECT id, name, pos, n FROM (
			SELECT c.id, c.name, c.since, coalesce(r.last_seq, 0) AS last_seq,
				row_number() OVER (ORDER BY c.since, c.id) AS pos, count(*) OVER () AS n
			FROM (`+candidates+`) c LEFT JOIN rotation_state r ON r.source_id = $1 AND r.member_id = c.id) x
		ORDER BY last_seq, since, id LIMIT 1`, sourceID, a2, a3).Scan(&p.id, &p.name, &p.pos, &p.n)
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

// ---- reading ----

type Owner struct {
	Type string `json:"type"` // "org" (team-owned) or "user"
	ID   string `json:"id"`
}

type Event struct {
	At      time.Time      `json:"at"`
	Kind    string         `json:"kind"`
	Actor   string         `json:"actor"`
	Message string         `json:"message"`
	Data    map[string]any `json:"data,omitempty"`
}

type Lead struct {
	ID          string            `json:"id"`
	OrgID       string            `json:"org_id"`
	Source      string            `json:"source"`
	ExternalID  string            `json:"external_id"`
	Kind        string            `json:"kind"`
	Status      string            `json:"status"`
	Location    *string           `json:"location"`
	Owner       Owner             `json:"owner"`
	AssignedTo  *string           `json:"assigned_to"`
	Priority    string            `json:"priority"`
	FirstName   string            `json:"first_name"`
	LastName    string            `json:"last_name"`
	Email       string            `json:"email"`
	Phone       string            `json:"phone"`
	Address     domain.Address    `json:"address"`
	Company     string            `json:"company"`
	Rating      string            `json:"rating"`
	Notes       string            `json:"notes"`
	Attributes  map[string]string `json:"attributes"`
	Labels      []string          `json:"labels"`
	WorkflowID  string            `json:"workflow_id"`
	ReceivedAt  time.Time         `json:"received_at"`
	RoutedAt    *time.Time        `json:"routed_at"`
	AvailableAt *time.Time        `json:"available_at,omitempty"`
	Timeline    []Event           `json:"timeline,omitempty"`
}

const leadCols = `l.id, l.org_id, l.source_slug, l.external_id, l.kind, l.status, l.location, l.owner_user_id, l.assigned_to,
	l.priority, l.first_name, l.last_name, l.email, l.phone, l.street, l.city, l.state, l.postal_code, l.company, l.rating,
	l.notes, l.attributes, l.workflow_id, l.received_at, l.routed_at, l.available_at,
	coalesce((SELECT array_agg(b.name ORDER BY b.name) FROM lead_labels ll JOIN labels b ON b.id = ll.label_id WHERE ll.lead_id = l.id), '{}')`

func scanLead(r pgx.Row) (Lead, error) {
	var l Lead
	var ownerUser *string
	err := r.Scan(&l.ID, &l.OrgID, &l.Source, &l.ExternalID, &l.Kind, &l.Status, &l.Location, &ownerUser, &l.AssignedTo,
		&l.Priority, &l.FirstName, &l.LastName, &l.Email, &l.Phone, &l.Address.Street, &l.Address.City, &l.Address.State,
		&l.Address.PostalCode, &l.Company, &l.Rating, &l.Notes, &l.Attributes, &l.WorkflowID, &l.ReceivedAt, &l.RoutedAt,
		&l.AvailableAt, &l.Labels)
	if ownerUser != nil {
		l.Owner = Owner{Type: "user", ID: *ownerUser}
	} else {
		l.Owner = Owner{Type: "org", ID: l.OrgID}
	}
	return l, err
}

// GetLead returns a lead with its timeline, only if orgID holds it: a lead of
// another org is "not found", never "forbidden". orgID "" means any (operators).
func (s *Store) GetLead(ctx context.Context, orgID, id string) (Lead, error) {
	if !domain.ValidUUID(id) {
		return Lead{}, domain.Errorf(domain.ENotFound, "lead not found")
	}
	l, err := scanLead(s.db.QueryRow(ctx, `SELECT `+leadCols+` FROM leads l WHERE l.id = $1 AND ($2 = '' OR l.org_id::text = $2)`, id, orgID))
	if err != nil {
		return l, notFound(err, "lead")
	}
	rows, err := s.db.Query(ctx, `SELECT at, kind, actor, message, data FROM timeline_events WHERE lead_id = $1 ORDER BY id`, id)
	if err != nil {
		return l, err
	}
	l.Timeline, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Event, error) {
		var e Event
		err := r.Scan(&e.At, &e.Kind, &e.Actor, &e.Message, &e.Data)
		return e, err
	})
	return l, err
}

type LeadFilter struct {
	Status, AssignedTo, Source string
	Limit                      int
	Cursor                     string
}

// ListLeads pages newest first by (received_at, id); the cursor is opaque.
func (s *Store) ListLeads(ctx context.Context, orgID string, f LeadFilter) ([]Lead, string, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	var curAt *time.Time
	var curID *string
	if f.Cursor != "" {
		t, id, err := decodeCursor(f.Cursor)
		if err != nil {
			return nil, "", &domain.Error{Code: domain.EInvalid, Message: "bad cursor", Fields: map[string]string{"cursor": "not a cursor from a previous page"}}
		}
		curAt, curID = &t, &id
	}
	rows, err := s.db.Query(ctx, `SELECT `+leadCols+` FROM leads l
		WHERE l.org_id = $1 AND ($2 = '' OR l.status = $2) AND ($3 = '' OR l.assigned_to::text = $3) AND ($4 = '' OR l.source_slug = $4)
			AND ($5::timestamptz IS NULL OR (l.received_at, l.id) < ($5, $6::uuid))
		ORDER BY l.received_at DESC, l.id DESC LIMIT $7`,
		orgID, f.Status, f.AssignedTo, f.Source, curAt, curID, f.Limit+1)
	if err != nil {
		return nil, "", err
	}
	leads, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Lead, error) { return scanLead(r) })
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(leads) > f.Limit {
		leads = leads[:f.Limit]
		last := leads[len(leads)-1]
		next = encodeCursor(last.ReceivedAt, last.ID)
	}
	return leads, next, nil
}

func encodeCursor(t time.Time, id string) string {
	b, _ := json.Marshal([2]string{t.UTC().Format(time.RFC3339Nano), id})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(c string) (time.Time, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", err
	}
	var v [2]string
	if err := json.Unmarshal(b, &v); err != nil {
		return time.Time{}, "", err
	}
	t, err := time.Parse(time.RFC3339Nano, v[0])
	if err != nil || !domain.ValidUUID(v[1]) {
		return time.Time{}, "", fmt.Errorf("bad cursor")
	}
	return t, v[1], nil
}

// Unrouted pages through leads recorded before cutoff whose routing never
// committed, oldest first, after the (received_at, id) of the previous
// page's last lead (zero values: from the start). The reconciler restarts
// their runs, so no lead is orphaned whatever happened to its first one.
func (s *Store) Unrouted(ctx context.Context, cutoff time.Time, after UnroutedLead, limit int) ([]UnroutedLead, error) {
	// intake_org_id: the run to start is the first hop's, even when a
	// fan-out has already moved the lead down.
	var afterAt *time.Time
	var afterID *string
	if after.LeadID != "" {
		afterAt, afterID = &after.ReceivedAt, &after.LeadID
	}
	rows, err := s.db.Query(ctx, `SELECT l.id, l.intake_org_id, l.source_id, l.source_slug, l.external_id, l.workflow_id, l.received_at
		FROM leads l WHERE l.routed_at IS NULL AND l.received_at < $1
			AND ($2::timestamptz IS NULL OR (l.received_at, l.id) > ($2, $3::uuid))
		ORDER BY l.received_at, l.id LIMIT $4`, cutoff, afterAt, afterID, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[UnroutedLead])
}

// CountUnrouted is how many leads recorded before cutoff are still unrouted.
func (s *Store) CountUnrouted(ctx context.Context, cutoff time.Time) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT count(*) FROM leads WHERE routed_at IS NULL AND received_at < $1`, cutoff).Scan(&n)
	return n, err
}

// SetWorkflowID renames a lead's run (a row recorded under an ID that a
// production Temporal refuses).
func (s *Store) SetWorkflowID(ctx context.Context, leadID, workflowID string) error {
	_, err := s.db.Exec(ctx, `UPDATE leads SET workflow_id = $2 WHERE id = $1`, leadID, workflowID)
	return err
}

type UnroutedLead struct {
	LeadID, OrgID, SourceID, Slug, ExternalID, WorkflowID string
	ReceivedAt                                            time.Time
}

// RoutedTimes maps each routed lead of the sources (by external id) to when
// it was routed, for the benchmark and the tests that wait on routing.
func (s *Store) RoutedTimes(ctx context.Context, sourceIDs []string) (map[string]time.Time, error) {
	return byExternalID[time.Time](ctx, s.db, `SELECT external_id, routed_at FROM leads
		WHERE source_id = ANY($1::uuid[]) AND routed_at IS NOT NULL`, sourceIDs)
}

// Holders maps each lead of a source (by lead id) to the org holding it now,
// for the benchmark's fan-out row.
func (s *Store) Holders(ctx context.Context, sourceID string) (map[string]string, error) {
	return byExternalID[string](ctx, s.db, `SELECT id::text, org_id::text FROM leads WHERE source_id = $1`, sourceID)
}

func byExternalID[T any](ctx context.Context, db DB, query string, args ...any) (map[string]T, error) {
	rows, err := db.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]T{}
	for rows.Next() {
		var k string
		var v T
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, rows.Err()
}
