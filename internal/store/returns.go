package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leadrelay/leadrelay/internal/domain"
)

// Returned is a return as it was recorded: what starting its run needs.
type Returned struct {
	LeadID     string
	OrgID      string // the org that held the lead and returned it
	Slug       string // the slug of the source that received it
	WorkflowID string
}

// ReturnLead returns a lead to its vendor (SPEC §5.5) in one transaction: the
// lead becomes `returned`, is unassigned and leaves any location (it waits
// for nobody now: no queue claims it, no pending list shows it), the return
// is recorded with its comments for the email run, and the timeline says
// who returned it and why. The lead must be held by orgScope ("" for any
// org: the operator), else it is not found; by must be allowed to return it
// (domain.Changer.MayReturn). A lead already returned, still being routed or
// waiting for a handover decision is a conflict. The return rules are those
// of the source that received the lead (leads.source_id), whichever org
// holds it now: past the source's window, measured from the lead's arrival,
// it is a conflict naming the window; a reason not in the source's list is
// refused naming the reason, and one in it is recorded in the list's
// spelling. Nothing is written when it is refused. workflowID names the run
// that will email the source's return addresses.
func (s *Store) ReturnLead(ctx context.Context, orgScope string, by domain.Changer, leadID string, in domain.ReturnInput,
	workflowID string) (Returned, error) {
	out := Returned{LeadID: leadID, WorkflowID: workflowID}
	if !domain.ValidUUID(leadID) {
		return out, domain.Errorf(domain.ENotFound, "lead not found")
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var owner, assigned, location *string
		var status, sourceID, sourceName string
		var routed, handover bool
		var window *time.Duration
		var reasons []string
		var received, now time.Time
		err := tx.QueryRow(ctx, `SELECT l.org_id, l.owner_user_id, l.assigned_to, l.location, l.status, l.routed_at IS NOT NULL,
				l.source_id, l.source_slug, s.name, `+pendingHandoverSQL+`, s.return_window, s.return_reasons, l.received_at, now()
			FROM leads l JOIN lead_sources s ON s.id = l.source_id
			WHERE l.id = $1 AND ($2 = '' OR l.org_id::text = $2) FOR UPDATE OF l`, leadID, orgScope).
			Scan(&out.OrgID, &owner, &assigned, &location, &status, &routed, &sourceID, &out.Slug, &sourceName, &handover,
				&window, &reasons, &received, &now)
		if err != nil {
			return notFound(err, "lead")
		}
		if err := by.MayReturn(deref(owner)); err != nil {
			return err
		}
		switch {
		case status == domain.StatusReturned:
			return domain.Errorf(domain.EConflict, "the lead was already returned")
		case !routed:
			return domain.Errorf(domain.EConflict, "the lead is still being routed: try again in a moment")
		case handover:
			return errPendingHandover("returned")
		}
		// now() is the transaction's time, the returned_at recorded below:
		// a lead is refused exactly when its return would be dated past
		// the window. The window's end itself is still inside it.
		// A conflict (409) with the field named, so a caller tells it from
		// "already returned" without reading the message.
		if window != nil && now.Sub(received) > *window {
			end := received.Add(*window).UTC().Format(time.RFC3339)
			return &domain.Error{Code: domain.EConflict,
				Message: fmt.Sprintf("the source's return window of %s passed at %s (the lead arrived at %s): it can no longer be returned",
					window, end, received.UTC().Format(time.RFC3339)),
				Fields: map[string]string{"return_window": "passed at " + end}}
		}
		if in.Reason, err = domain.MatchReturnReason(reasons, in.Reason); err != nil {
			return err
		}
		byName, err := nameOf(ctx, tx, by.UserID)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE leads SET status = $2, assigned_to = NULL, location = NULL, updated_at = now() WHERE id = $1`,
			leadID, domain.StatusReturned); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO lead_returns (lead_id, org_id, source_id, reason, comments, returned_by, workflow_id)
			VALUES ($1,$2,$3,$4,$5,$6,$7)`, leadID, out.OrgID, sourceID, in.Reason, in.Text(), by.Actor(), workflowID); err != nil {
			if isUnique(err, "lead_returns_pkey") {
				return domain.Errorf(domain.EConflict, "the lead was already returned")
			}
			return err
		}
		return addEvent(ctx, tx, leadID, out.OrgID, "returned", by.Actor(),
			fmt.Sprintf("returned (final: no one assigns, claims or distributes it again) to the vendor of source %s by %s: %s",
				sourceName, byName, in.Reason),
			map[string]any{"reason": in.Reason, "comments": in.Text() != "", "previous_assigned_to": assigned,
				"previous_location": location, "workflow_id": workflowID})
	})
	return out, err
}

// ReturnNotice is everything a return's emails say and whom they go to,
// read when they are sent: the workflow carries the lead's id only.
type ReturnNotice struct {
	LeadID, OrgID   string // OrgID: the org that returned it, whose timeline tells of the emails
	To              []string
	IncludeComments bool
	Template        *string // the source's return_template; nil: the built-in one
	// Fields but the dates, which are ReturnedAt and ReceivedAt, shown in
	// Timezone (the source's org's).
	Fields                 domain.ReturnFields
	ReturnedAt, ReceivedAt time.Time
	Timezone               string
}

// ReturnNotice reads a recorded return with the source that received the
// lead (its addresses, whether comments go along, its template) as they are
// now.
func (s *Store) ReturnNotice(ctx context.Context, leadID string) (ReturnNotice, error) {
	n := ReturnNotice{LeadID: leadID}
	f := &n.Fields
	err := s.db.QueryRow(ctx, `SELECT r.org_id, s.return_notification_emails, s.include_comments_on_return, s.return_template,
			l.external_id, l.first_name, l.last_name, l.email, l.phone, s.name, s.slug, o.name, o.timezone,
			coalesce((SELECT u.name FROM users u WHERE u.id::text = r.returned_by), 'the operator'),
			r.returned_at, l.received_at, r.reason, r.comments
		FROM lead_returns r JOIN leads l ON l.id = r.lead_id JOIN lead_sources s ON s.id = r.source_id JOIN orgs o ON o.id = s.org_id
		WHERE r.lead_id = $1`, leadID).
		Scan(&n.OrgID, &n.To, &n.IncludeComments, &n.Template, &f.ExternalID, &f.FirstName, &f.LastName, &f.LeadEmail,
			&f.LeadPhone, &f.Source, &f.SourceSlug, &f.OrgName, &n.Timezone, &f.ReturnedBy, &n.ReturnedAt, &n.ReceivedAt,
			&f.Reason, &f.Comments)
	f.LeadID = leadID
	return n, notFound(err, "return")
}

// FinishReturn records that every address of the return was emailed or its
// failure recorded: the reconciler leaves it alone from then on.
func (s *Store) FinishReturn(ctx context.Context, leadID string) error {
	_, err := s.db.Exec(ctx, `UPDATE lead_returns SET notified_at = now() WHERE lead_id = $1 AND notified_at IS NULL`, leadID)
	return err
}

// UnnotifiedReturns pages, by lead id, through returns recorded before
// cutoff whose emails are not all dealt with: the API died between the
// commit and the run's start, or the run was terminated.
func (s *Store) UnnotifiedReturns(ctx context.Context, cutoff time.Time, after string, limit int) ([]Returned, error) {
	rows, err := s.db.Query(ctx, `SELECT r.lead_id, r.org_id, l.source_slug, r.workflow_id
		FROM lead_returns r JOIN leads l ON l.id = r.lead_id
		WHERE r.notified_at IS NULL AND r.returned_at < $1 AND ($2 = '' OR r.lead_id > $2::uuid)
		ORDER BY r.lead_id LIMIT $3`, cutoff, after, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[Returned])
}

// VendorReturn is one return as the vendor of the source sees it: enough to
// credit it, nothing of the org's people. Comments is nil unless the source
// sends comments with its returns (include_comments_on_return).
type VendorReturn struct {
	LeadID     string    `json:"lead_id"`
	ExternalID string    `json:"external_id"`
	ReturnedAt time.Time `json:"returned_at"`
	Reason     string    `json:"reason"`
	Comments   *string   `json:"comments,omitempty"`
}

// VendorReturns pages through the returns of the leads sourceID received,
// whichever org returned them, oldest first by (returned_at, lead_id): those
// returned at or after since, then after the cursor of a previous page (""
// for the first). It answers the next page's cursor, "" after the last.
func (s *Store) VendorReturns(ctx context.Context, sourceID string, since time.Time, cursor string, limit int) ([]VendorReturn, string, error) {
	sql, args, err := vendorReturnsQuery(sourceID, since, cursor, limit)
	if err != nil {
		return nil, "", err
	}
	rows, err := s.db.Query(ctx, sql, args...)
	if err != nil {
		return nil, "", err
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[VendorReturn])
	if err != nil {
		return nil, "", err
	}
	list, next := page(list, limit, func(r VendorReturn) (time.Time, string) { return r.ReturnedAt, r.LeadID })
	return list, next, nil
}

// vendorReturnsQuery is the statement VendorReturns sends: one more row
// than limit, to know whether a next page exists.
func vendorReturnsQuery(sourceID string, since time.Time, cursor string, limit int) (string, []any, error) {
	args := []any{sourceID, since, limit + 1}
	after := ""
	if cursor != "" {
		t, id, err := decodeCursor(cursor)
		if err != nil {
			return "", nil, err
		}
		// Its own statement, so the row comparison bounds the range of
		// lead_returns_by_source in every plan (as Pipeline does).
		after = ` AND (r.returned_at, r.lead_id) > ($4::timestamptz, $5::uuid)`
		args = append(args, t, id)
	}
	return `SELECT r.lead_id, l.external_id, r.returned_at, r.reason,
			CASE WHEN src.include_comments_on_return THEN r.comments END
		FROM lead_returns r JOIN leads l ON l.id = r.lead_id JOIN lead_sources src ON src.id = r.source_id
		WHERE r.source_id = $1 AND r.returned_at >= $2` + after + `
		ORDER BY r.returned_at, r.lead_id LIMIT $3`, args, nil
}

// ReturnRules are the return rules that apply to one lead: those of the
// source that received it, whichever org holds it now (a sub-agency's user
// cannot read the master's source, yet returns by its rules).
type ReturnRules struct {
	Window *string `json:"return_window"` // a Go duration; nil: no window
	// Until is the last moment the lead may be returned; nil: any time.
	Until   *time.Time `json:"returnable_until"`
	Reasons []string   `json:"return_reasons"` // empty: any reason
}

// LeadReturnRules reads the return rules of a lead held by orgScope ("" for
// any org: the operator); another org's lead is not found.
func (s *Store) LeadReturnRules(ctx context.Context, orgScope, leadID string) (ReturnRules, error) {
	var rr ReturnRules
	if !domain.ValidUUID(leadID) {
		return rr, domain.Errorf(domain.ENotFound, "lead not found")
	}
	var window *time.Duration
	var received time.Time
	err := s.db.QueryRow(ctx, `SELECT s.return_window, s.return_reasons, l.received_at
		FROM leads l JOIN lead_sources s ON s.id = l.source_id
		WHERE l.id = $1 AND ($2 = '' OR l.org_id::text = $2)`, leadID, orgScope).Scan(&window, &rr.Reasons, &received)
	if err != nil {
		return rr, notFound(err, "lead")
	}
	if window != nil {
		w, until := window.String(), received.Add(*window)
		rr.Window, rr.Until = &w, &until
	}
	return rr, nil
}
