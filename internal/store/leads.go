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
	RepeatOf   string // the open lead of the org with the same email or phone, "" when none
}

// CapReached refuses a post past its source's vendor_daily_cap; Wait is
// the time to the next org-local midnight, when the count starts again.
type CapReached struct {
	Cap  int
	Wait time.Duration
}

func (e *CapReached) Error() string { return e.Unwrap().Error() }

// Unwrap is the error the vendor sees (429 cap_reached).
func (e *CapReached) Unwrap() error {
	return domain.Errorf(domain.ECapReached, "this source's daily cap of %d leads is reached: retry after the org's midnight", e.Cap)
}

// InsertLead records a lead once per (source, external_id): a repeat finds the
// first one. The unique key outlives Temporal's retention of the workflow.
// In the same transaction it counts the post against the source's
// vendor_daily_cap (a refusal writes nothing) and looks for the lead it
// repeats (leads.repeat_of).
func (s *Store) InsertLead(ctx context.Context, n NewLead) (Intake, error) {
	if n.ID == "" {
		n.ID = domain.NewID()
	}
	attrs := n.In.Attributes
	if attrs == nil {
		attrs = map[string]string{}
	}
	args := []any{n.OrgID, n.SourceID, n.Slug, n.In.ExternalID, n.In.Location, n.In.FirstName, n.In.LastName, n.In.Email, n.In.Phone,
		n.In.Address.Street, n.In.Address.City, n.In.Address.State, n.In.Address.PostalCode, n.In.Company, n.In.Rating,
		n.In.Notes, attrs, n.WorkflowID, n.ReceivedAt, n.ID, n.In.Kind,
		"vendor:" + n.Slug, fmt.Sprintf("received from source %s (external id %s)", n.Slug, n.In.ExternalID)}
	out := Intake{WorkflowID: n.WorkflowID}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, insertLeadSQL, args...).Scan(&out.LeadID); err != nil {
			return err
		}
		if err := countAgainstCap(ctx, tx, n); err != nil {
			return err
		}
		if err := markRepeat(ctx, tx, n, &out); err != nil {
			return err
		}
		return attachLabels(ctx, tx, n.OrgID, out.LeadID, n.In.Labels)
	})
	if err == pgx.ErrNoRows {
		return s.duplicateLead(ctx, n)
	}
	return out, err
}

// countAgainstCap counts the new lead in its source's org-local day when
// the source has a vendor_daily_cap, refusing it past the cap. The upsert
// locks the day's row, so concurrent posts count one after another and
// never both take the last place. A duplicate post never gets here.
func countAgainstCap(ctx context.Context, tx pgx.Tx, n NewLead) error {
	var limit *int
	var tz string
	err := tx.QueryRow(ctx, `SELECT s.vendor_daily_cap, o.timezone FROM lead_sources s JOIN orgs o ON o.id = s.org_id WHERE s.id = $1`,
		n.SourceID).Scan(&limit, &tz)
	if err != nil || limit == nil {
		return err
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return err
	}
	local := n.ReceivedAt.In(loc)
	day := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, time.UTC)
	var count int
	if err := tx.QueryRow(ctx, `INSERT INTO source_day_counts (source_id, day, n) VALUES ($1, $2, 1)
		ON CONFLICT (source_id, day) DO UPDATE SET n = source_day_counts.n + 1 RETURNING n`, n.SourceID, day).Scan(&count); err != nil {
		return err
	}
	if count <= *limit {
		return nil
	}
	// time.Date normalises the 32nd and keeps midnight local across DST.
	midnight := time.Date(local.Year(), local.Month(), local.Day()+1, 0, 0, 0, 0, loc)
	return &CapReached{Cap: *limit, Wait: midnight.Sub(n.ReceivedAt)}
}

// markRepeat sets the new lead's repeat_of to the newest open lead of the
// org (assigned, not worked, new or onboarding, as the open cap counts)
// with the same email, whatever its case, or the same phone digits,
// received within the org's repeat_lookback_days (0: off).
func markRepeat(ctx context.Context, tx pgx.Tx, n NewLead, out *Intake) error {
	email := strings.TrimSpace(n.In.Email)
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, n.In.Phone)
	if email == "" && digits == "" {
		return nil
	}
	var repeatOf *string
	err := tx.QueryRow(ctx, repeatOfSQL, n.OrgID, out.LeadID, email, digits, n.ReceivedAt).Scan(&repeatOf)
	if err != nil {
		return err
	}
	if repeatOf != nil {
		out.RepeatOf = *repeatOf
	}
	return nil
}

// repeatOfSQL sets lead $2's repeat_of: org $1's newest open lead with
// email $3 or phone digits $4 received within the lookback before $5.
const repeatOfSQL = `WITH o AS (SELECT repeat_lookback_days AS days FROM orgs WHERE id = $1)
	UPDATE leads SET repeat_of = (
		SELECT l.id FROM leads l, o WHERE l.org_id = $1 AND l.id <> $2 AND o.days > 0
			AND l.received_at >= $5::timestamptz - make_interval(days => o.days)
			AND l.assigned_to IS NOT NULL AND l.worked_at IS NULL AND l.status IN ('new', 'onboarding')
			AND (($3 <> '' AND l.email <> '' AND lower(l.email) = lower($3)) OR ($4 <> '' AND l.phone <> '' AND l.phone_digits = $4))
		ORDER BY l.received_at DESC, l.id LIMIT 1)
	WHERE id = $2 RETURNING repeat_of`

// insertLeadSQL inserts a new lead and its "received" timeline event (actor
// $22, message $23) and returns its id; no row: the source already has a
// lead with that external id.
const insertLeadSQL = `WITH lead AS (INSERT INTO leads (id, org_id, intake_org_id, source_id, source_slug, external_id, requested_location,
		first_name, last_name, email, phone, street, city, state, postal_code, company, rating, notes, attributes,
		workflow_id, received_at, kind)
	VALUES ($20,$1,$1,$2,$3,$4,nullif($5,''),$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,coalesce(nullif($21,''),'lead'))
	ON CONFLICT (source_id, external_id) DO NOTHING RETURNING id),
	received AS (INSERT INTO timeline_events (lead_id, org_id, kind, actor, message) SELECT id, $1, 'received', $22, $23 FROM lead)
	SELECT id FROM lead`

// duplicateLeadSQL is source $1's lead with external id $2.
const duplicateLeadSQL = `SELECT id, workflow_id, routed_at IS NOT NULL FROM leads WHERE source_id = $1 AND external_id = $2`

// duplicateLead is the intake of a post whose (source, external id) is
// recorded already: that lead, its run, and whether it is routed.
func (s *Store) duplicateLead(ctx context.Context, n NewLead) (Intake, error) {
	out := Intake{Duplicate: true}
	err := s.db.QueryRow(ctx, duplicateLeadSQL, n.SourceID, n.In.ExternalID).Scan(&out.LeadID, &out.WorkflowID, &out.Routed)
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

// ---- reading ----

// Owner is who a lead belongs to: the org as a team, or one user.
type Owner struct {
	Type string `json:"type"` // "org" (team-owned) or "user"
	ID   string `json:"id"`
}

// Event is one entry of a lead's timeline: what happened, who did it, and why.
type Event struct {
	ID      int64          `json:"-"` // the page cursor's key
	At      time.Time      `json:"at"`
	Kind    string         `json:"kind"`
	Actor   string         `json:"actor"`
	Message string         `json:"message"`
	Data    map[string]any `json:"data,omitempty"`
}

// Lead is a lead as the API shows it; only GetLead fills LeadTimeline.
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
	RepeatOf    *string           `json:"repeat_of"` // the open lead this one repeats, found at intake
	// A pointer, so that a lead of a list (nil) has neither field, while a
	// lead read has both, the cursor null at the first event.
	*LeadTimeline
}

const leadCols = `l.id, l.org_id, l.source_slug, l.external_id, l.kind, l.status, l.location, l.owner_user_id, l.assigned_to,
	l.priority, l.first_name, l.last_name, l.email, l.phone, l.street, l.city, l.state, l.postal_code, l.company, l.rating,
	l.notes, l.attributes, l.workflow_id, l.received_at, l.routed_at, l.available_at, l.repeat_of,
	coalesce((SELECT array_agg(b.name ORDER BY b.name) FROM lead_labels ll JOIN labels b ON b.id = ll.label_id WHERE ll.lead_id = l.id), '{}')`

func scanLead(r pgx.Row) (Lead, error) {
	var l Lead
	var ownerUser *string
	err := r.Scan(&l.ID, &l.OrgID, &l.Source, &l.ExternalID, &l.Kind, &l.Status, &l.Location, &ownerUser, &l.AssignedTo,
		&l.Priority, &l.FirstName, &l.LastName, &l.Email, &l.Phone, &l.Address.Street, &l.Address.City, &l.Address.State,
		&l.Address.PostalCode, &l.Company, &l.Rating, &l.Notes, &l.Attributes, &l.WorkflowID, &l.ReceivedAt, &l.RoutedAt,
		&l.AvailableAt, &l.RepeatOf, &l.Labels)
	if ownerUser != nil {
		l.Owner = Owner{Type: "user", ID: *ownerUser}
	} else {
		l.Owner = Owner{Type: "org", ID: l.OrgID}
	}
	return l, err
}

const leadByIDSQL = `SELECT ` + leadCols + ` FROM leads l WHERE l.id = $1 AND ($2 = '' OR l.org_id::text = $2)`

// GetLead returns a lead with its latest LeadTimelineEvents timeline events
// (Timeline pages the older ones), only if orgID holds it: a lead of another
// org is "not found", never "forbidden". orgID "" means any (operators).
func (s *Store) GetLead(ctx context.Context, orgID, id string) (Lead, error) {
	if !domain.ValidUUID(id) {
		return Lead{}, domain.Errorf(domain.ENotFound, "lead not found")
	}
	l, err := scanLead(s.db.QueryRow(ctx, leadByIDSQL, id, orgID))
	if err != nil {
		return l, notFound(err, "lead")
	}
	events, next, err := s.timelinePage(ctx, id, fromNewest, LeadTimelineEvents)
	l.LeadTimeline = &LeadTimeline{Timeline: events}
	if next != "" {
		l.TimelineNextCursor = &next
	}
	return l, err
}

// LeadFilter narrows ListLeads: an empty field matches everything; Cursor
// continues from a previous page. The API checks the values (ids, slugs,
// statuses, Q's length); the store only keeps them out of the SQL text.
type LeadFilter struct {
	Status, AssignedTo, Source string
	Location                   string // pending or queue
	Owner                      string // a user id, or OwnerTeam
	// Q is a case-insensitive substring of the name ("first last"),
	// email, phone digits or external id. %, _ and \ are plain characters.
	Q      string
	Limit  int
	Cursor string
}

// OwnerTeam as LeadFilter.Owner: team-owned leads (no owner user).
const OwnerTeam = "team"

// ListLeads pages newest first by (received_at, id); the cursor is opaque.
func (s *Store) ListLeads(ctx context.Context, orgID string, f LeadFilter) ([]Lead, string, error) {
	sql, args, err := listLeadsQuery(orgID, &f)
	if err != nil {
		return nil, "", err
	}
	rows, err := s.db.Query(ctx, sql, args...)
	if err != nil {
		return nil, "", err
	}
	leads, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Lead, error) { return scanLead(r) })
	if err != nil {
		return nil, "", err
	}
	leads, next := page(leads, f.Limit, func(l Lead) (time.Time, string) { return l.ReceivedAt, l.ID })
	return leads, next, nil
}

// listLeadsQuery writes ListLeads' statement with only the filters f sets,
// each a plain comparison: a catch-all that also matches an empty parameter
// cannot use an index in a generic plan, and "assigned_to::text = $3" in
// none. Each filter has an index in paging order (migration 00015). The
// statement runs as the unnamed one (QueryExecModeCacheDescribe), so
// PostgreSQL plans each call with its values: a rare status or search term
// is found through its index, a common one by walking the page order. It
// sets f.Limit's default.
func listLeadsQuery(orgID string, f *LeadFilter) (string, []any, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	args := []any{pgx.QueryExecModeCacheDescribe, orgID}
	var where strings.Builder
	where.WriteString(`l.org_id = $1`)
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args)-1)
	}
	if f.Status != "" {
		where.WriteString(` AND l.status = ` + arg(f.Status))
	}
	if f.AssignedTo != "" {
		where.WriteString(` AND l.assigned_to = ` + arg(f.AssignedTo) + `::uuid`)
	}
	if f.Source != "" {
		where.WriteString(` AND l.source_slug = ` + arg(f.Source))
	}
	if f.Location != "" {
		where.WriteString(` AND l.location = ` + arg(f.Location))
	}
	switch f.Owner {
	case "":
	case OwnerTeam:
		where.WriteString(` AND l.owner_user_id IS NULL`)
	default:
		where.WriteString(` AND l.owner_user_id = ` + arg(f.Owner) + `::uuid`)
	}
	if f.Q != "" {
		patterns := searchPatterns(f.Q)
		where.WriteString(` AND (`)
		for i, p := range patterns {
			if i > 0 {
				where.WriteString(` OR `)
			}
			where.WriteString(leadSearchText + ` LIKE (lower(` + arg(p) + `::text COLLATE "und-x-icu") COLLATE "default")`)
		}
		where.WriteString(`)`)
	}
	if f.Cursor != "" {
		t, id, err := decodeCursor(f.Cursor)
		if err != nil {
			return "", nil, err
		}
		where.WriteString(` AND (l.received_at, l.id) < (` + arg(t) + `::timestamptz, ` + arg(id) + `::uuid)`)
	}
	sql := `SELECT ` + leadCols + ` FROM leads l WHERE ` + where.String() +
		` ORDER BY l.received_at DESC, l.id DESC LIMIT ` + arg(f.Limit+1)
	return sql, args, nil
}

// leadSearchText is the text the leads_search index holds (migration 00015),
// lowercased as a search pattern is: by ICU's root locale. The query must
// spell it the same way for the index to serve it, and compare in the
// index's collation (the pattern's COLLATE "default"), or the planner
// does not match the two.
const leadSearchText = `lead_search_text(l.first_name, l.last_name, l.email, l.phone, l.external_id)`

// searchPatterns are the LIKE patterns of a search: q as a substring, with
// LIKE's own characters (%, _ and the escape \) taken literally, and, when q
// looks like a phone number ("+1 (555) 010-0200"), its digits too: the
// index holds a phone's digits only.
func searchPatterns(q string) []string {
	esc := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	out := []string{"%" + esc.Replace(q) + "%"}
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, q)
	phoneish := strings.IndexFunc(q, func(r rune) bool { return !strings.ContainsRune("0123456789 +-().", r) }) < 0
	if digits != "" && digits != q && phoneish {
		out = append(out, "%"+digits+"%")
	}
	return out
}

// page cuts a list read with one row more than limit (to know whether a
// next page exists) to limit, and answers the next page's cursor from its
// last item's key: "" after the last page.
func page[T any](items []T, limit int, key func(T) (time.Time, string)) ([]T, string) {
	if len(items) <= limit {
		return items, ""
	}
	items = items[:limit]
	return items, encodeCursor(key(items[limit-1]))
}

func encodeCursor(t time.Time, id string) string {
	b, _ := json.Marshal([2]string{t.UTC().Format(time.RFC3339Nano), id})
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor reads a page cursor; one that is not from a previous page
// is a 422 naming the cursor.
func decodeCursor(c string) (time.Time, string, error) {
	bad := &domain.Error{Code: domain.EInvalid, Message: "bad cursor", Fields: map[string]string{"cursor": "not a cursor from a previous page"}}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", bad
	}
	var v [2]string
	if err := json.Unmarshal(b, &v); err != nil {
		return time.Time{}, "", bad
	}
	t, err := time.Parse(time.RFC3339Nano, v[0])
	if err != nil || !domain.ValidUUID(v[1]) {
		return time.Time{}, "", bad
	}
	return t, v[1], nil
}

// Unrouted pages through leads recorded before cutoff whose routing never
// committed, oldest first, after the (received_at, id) of the previous
// page's last lead (zero values: from the start). The reconciler restarts
// their runs, so no lead is orphaned whatever happened to its first one.
func (s *Store) Unrouted(ctx context.Context, cutoff time.Time, after UnroutedLead, limit int) ([]UnroutedLead, error) {
	// intake_org_id: the run to start is the first hop's, even when a
	// fan-out has already moved the lead down. A lead a distribution passed
	// down resumes at that hop instead (StrandedDistributionHops).
	var afterAt *time.Time
	var afterID *string
	if after.LeadID != "" {
		afterAt, afterID = &after.ReceivedAt, &after.LeadID
	}
	rows, err := s.db.Query(ctx, `SELECT l.id, l.intake_org_id, l.source_id, l.source_slug, l.external_id, l.workflow_id, l.received_at
		FROM leads l WHERE l.routed_at IS NULL AND l.received_at < $1
			AND ($2::timestamptz IS NULL OR (l.received_at, l.id) > ($2, $3::uuid))
			AND NOT EXISTS (SELECT 1 FROM distribution_leads dl WHERE dl.lead_id = l.id AND dl.sub_org_id IS NOT NULL)
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

// UnroutedLead is what the reconciler needs to restart a lead's first run,
// and the position Unrouted's next page starts after.
type UnroutedLead struct {
	LeadID, OrgID, SourceID, Slug, ExternalID, WorkflowID string
	ReceivedAt                                            time.Time
}
