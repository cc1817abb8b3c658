package store

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leadrelay/leadrelay/internal/domain"
)

// Source is one org's routing and notifications for one vendor slug.
type Source struct {
	ID                         string         `json:"id"`
	OrgID                      string         `json:"org_id"`
	Slug                       string         `json:"slug"`
	Name                       string         `json:"name"`
	Routing                    domain.Routing `json:"routing"`
	ForceLocation              *string        `json:"force_location"`
	Priority                   string         `json:"priority"`
	PurchaseNotificationEmails []string       `json:"purchase_notification_emails"`
	ReturnNotificationEmails   []string       `json:"return_notification_emails"`
	IncludeCommentsOnReturn    bool           `json:"include_comments_on_return"`
	ReturnTemplate             *string        `json:"return_template"`
	// The rules before the default (Routing), in order; what happens when a
	// rotation finds nobody; the vendor's daily cap (nil: none).
	Rules          []domain.Rule `json:"rules"`
	WhenNobody     string        `json:"when_nobody"`
	VendorDailyCap *int          `json:"vendor_daily_cap"`
	SLA            *domain.SLA   `json:"sla"`
	UpdatedAt      time.Time     `json:"updated_at"`
	// Return rules: the window (nil: none) as a Go duration, and the
	// reasons a return may give (empty: any).
	ReturnWindow  *string  `json:"return_window"`
	ReturnReasons []string `json:"return_reasons"`
}

const sourceCols = `id, org_id, slug, name, routing_mode, routing_sub_agencies::text[], queue_delay, force_location, priority,
	purchase_notification_emails, return_notification_emails, include_comments_on_return, return_template,
	coalesce(routing_group, ''), coalesce(routing_user::text, ''), rules, when_nobody, vendor_daily_cap, sla, updated_at,
	return_window, return_reasons`

func scanSource(r pgx.Row) (Source, error) {
	return scanSourceAfter(r)
}

// scanCreatedSource reads PutSource's answer: whether the row is new, then
// the source.
func scanCreatedSource(r pgx.Row) (Source, bool, error) {
	var created bool
	s, err := scanSourceAfter(r, &created)
	return s, created, err
}

// scanSourceAfter scans sourceCols after the columns lead reads.
func scanSourceAfter(r pgx.Row, lead ...any) (Source, error) {
	var s Source
	var delay time.Duration
	var window *time.Duration
	err := r.Scan(append(lead, &s.ID, &s.OrgID, &s.Slug, &s.Name, &s.Routing.Mode, &s.Routing.SubAgencies, &delay, &s.ForceLocation,
		&s.Priority, &s.PurchaseNotificationEmails, &s.ReturnNotificationEmails, &s.IncludeCommentsOnReturn,
		&s.ReturnTemplate, &s.Routing.Group, &s.Routing.User, &s.Rules, &s.WhenNobody, &s.VendorDailyCap, &s.SLA, &s.UpdatedAt,
		&window, &s.ReturnReasons)...)
	if window != nil {
		w := window.String()
		s.ReturnWindow = &w
	}
	if delay > 0 {
		s.Routing.QueueDelay = delay.String()
	}
	if s.Rules == nil {
		s.Rules = []domain.Rule{}
	}
	return s, err
}

// checkActions refuses, naming the field, an action that routes to a group
// the org does not have, a user not of the org or not active, or a
// sub-agency not linked under it: routing would otherwise fail on every lead.
func checkActions(ctx context.Context, tx pgx.Tx, orgID string, c domain.SourceConfig) error {
	f := domain.FieldErrors{}
	check := func(at string, r domain.Routing) error {
		var ok bool
		var err error
		switch r.Mode {
		case domain.RouteGroup:
			// KEY SHARE holds the group until this save commits: a
			// DeleteGroup (FOR UPDATE) waits, then sees this source's rule.
			err = tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM groups WHERE org_id = $1 AND name = $2 FOR KEY SHARE)`, orgID, r.Group).Scan(&ok)
			if err == nil && !ok {
				f.Add(at+".group", "no group of this org is named "+r.Group)
			}
		case domain.RouteUser:
			err = tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE org_id = $1 AND id = $2 AND active)`, orgID, r.User).Scan(&ok)
			if err == nil && !ok {
				f.Add(at+".user", "not an active user of this org")
			}
		case domain.RouteSubAgencies:
			var linked int
			err = tx.QueryRow(ctx, `SELECT count(*) FROM orgs WHERE parent_id = $1 AND id = ANY($2::uuid[])`, orgID, r.SubAgencies).Scan(&linked)
			if err == nil && linked != len(r.SubAgencies) {
				f.Add(at+".sub_agencies", "every entry must be a linked sub-agency of this org")
			}
		}
		return err
	}
	if err := check("routing", c.Routing); err != nil {
		return err
	}
	for i, r := range c.Rules {
		if err := check(fmt.Sprintf("rules[%d].routing", i), r.Routing); err != nil {
			return err
		}
	}
	if c.SLA != nil && c.SLA.Fallback == domain.SLAFallbackUser {
		var ok bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE org_id = $1 AND id = $2 AND active)`,
			orgID, c.SLA.FallbackUser).Scan(&ok); err != nil {
			return err
		}
		if !ok {
			f.Add("sla.fallback_user", "not an active user of this org")
		}
	}
	return f.Err("invalid source")
}

// PutSource creates or updates an org's routing for a slug. On create it also
// issues the source's vendor key, returned once.
func (s *Store) PutSource(ctx context.Context, orgID, slug string, c domain.SourceConfig, delay time.Duration) (Source, bool, string, error) {
	var src Source
	var created bool
	var key string
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := checkActions(ctx, tx, orgID, c); err != nil {
			return err
		}
		subs := nonNil(c.Routing.SubAgencies)
		rules := c.Rules
		if rules == nil {
			rules = []domain.Rule{}
		}
		row := tx.QueryRow(ctx, `INSERT INTO lead_sources (org_id, slug, name, routing_mode, routing_sub_agencies, queue_delay,
				force_location, priority, purchase_notification_emails, return_notification_emails, include_comments_on_return, return_template,
				routing_group, routing_user, rules, when_nobody, vendor_daily_cap, sla, return_window, return_reasons)
			VALUES ($1,$2,$3,$4,$5::uuid[],$6,$7,$8,$9,$10,$11,$12,nullif($13, ''),nullif($14, '')::uuid,$15,$16,$17,$18,$19,$20)
			ON CONFLICT (org_id, slug) DO UPDATE SET name = excluded.name, routing_mode = excluded.routing_mode,
				routing_sub_agencies = excluded.routing_sub_agencies, queue_delay = excluded.queue_delay,
				force_location = excluded.force_location, priority = excluded.priority,
				purchase_notification_emails = excluded.purchase_notification_emails,
				return_notification_emails = excluded.return_notification_emails,
				include_comments_on_return = excluded.include_comments_on_return,
				return_template = excluded.return_template, routing_group = excluded.routing_group,
				routing_user = excluded.routing_user, rules = excluded.rules, when_nobody = excluded.when_nobody,
				vendor_daily_cap = excluded.vendor_daily_cap, sla = excluded.sla, return_window = excluded.return_window,
				return_reasons = excluded.return_reasons, updated_at = now()
			RETURNING (xmax = 0) AS created, `+sourceCols,
			orgID, slug, c.Name, c.Routing.Mode, subs, delay, c.ForceLocation, c.Priority,
			nonNil(c.PurchaseNotificationEmails), nonNil(c.ReturnNotificationEmails), c.IncludeCommentsOnReturn, c.ReturnTemplate,
			c.Routing.Group, c.Routing.User, rules, cmp.Or(c.WhenNobody, domain.NobodyOwner), c.VendorDailyCap, c.SLA,
			returnWindow(c), nonNil(c.ReturnReasons))
		var err error
		src, created, err = scanCreatedSource(row)
		if err != nil {
			return err
		}
		if created {
			var hash []byte
			key, hash = domain.NewToken("lrv_")
			_, err = tx.Exec(ctx, `INSERT INTO tokens (hash, kind, source_id) VALUES ($1, 'vendor', $2)`, hash, src.ID)
		}
		return err
	})
	return src, created, key, err
}

// ListSources returns the org's sources by slug.
func (s *Store) ListSources(ctx context.Context, orgID string) ([]Source, error) {
	rows, err := s.db.Query(ctx, `SELECT `+sourceCols+` FROM lead_sources WHERE org_id = $1 ORDER BY slug`, orgID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Source, error) { return scanSource(r) })
}

// GetSourceBySlug returns the org's source for slug, or "not found".
func (s *Store) GetSourceBySlug(ctx context.Context, orgID, slug string) (Source, error) {
	src, err := scanSource(s.db.QueryRow(ctx, `SELECT `+sourceCols+` FROM lead_sources WHERE org_id = $1 AND slug = $2`, orgID, slug))
	return src, notFound(err, "source")
}

// returnWindow is the validated config's return window for its column:
// nil (NULL) when the source has none.
func returnWindow(c domain.SourceConfig) *time.Duration {
	if d, ok := domain.ParseReturnWindow(c.ReturnWindow); ok && d > 0 {
		return &d
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// RotateVendorKey issues a new vendor key for the org's source and revokes
// the old one in the same transaction: the old key stops working the moment
// the new one exists. The key is returned once; only its hash is stored.
func (s *Store) RotateVendorKey(ctx context.Context, orgID, slug string) (string, error) {
	var key string
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var id string
		if err := tx.QueryRow(ctx, `SELECT id FROM lead_sources WHERE org_id = $1 AND slug = $2 FOR UPDATE`, orgID, slug).Scan(&id); err != nil {
			return notFound(err, "source")
		}
		if _, err := tx.Exec(ctx, `UPDATE tokens SET revoked_at = now() WHERE source_id = $1 AND kind = 'vendor' AND revoked_at IS NULL`, id); err != nil {
			return err
		}
		var hash []byte
		key, hash = domain.NewToken("lrv_")
		_, err := tx.Exec(ctx, `INSERT INTO tokens (hash, kind, source_id) VALUES ($1, 'vendor', $2)`, hash, id)
		return err
	})
	return key, err
}

// RevokeVendorKey revokes the source's vendor key without issuing another
// (a leaked key, a vendor dropped): posts with it answer 401 at once.
func (s *Store) RevokeVendorKey(ctx context.Context, orgID, slug string) error {
	tag, err := s.db.Exec(ctx, `UPDATE tokens SET revoked_at = now() WHERE kind = 'vendor' AND revoked_at IS NULL
		AND source_id = (SELECT id FROM lead_sources WHERE org_id = $1 AND slug = $2)`, orgID, slug)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		if _, err := s.GetSourceBySlug(ctx, orgID, slug); err != nil {
			return err
		}
	}
	return nil
}
