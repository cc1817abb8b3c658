package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leadrelay/leadrelay/internal/domain"
)

// OrgSettings is an org as its members read it and its owner and admins
// change it (GET and PATCH /v1/orgs/{org}).
type OrgSettings struct {
	ID              string
	Name            string
	Timezone        string
	ParentID        *string // its master, once linked as a sub-agency
	HandoverEnabled bool
	CrossSilo       bool
	ClaimWindow     time.Duration
	// RepeatLookbackDays: how far back an open lead with the same email or
	// phone makes a new one its repeat (0: off).
	RepeatLookbackDays int
	// BusinessHours is what an SLA with business_hours counts (nil: every
	// hour of every day).
	BusinessHours *domain.BusinessHours
	// RetentionDays: how long a closed lead's timeline and feed events
	// are kept in full (nil: for ever); see PurgeClosedEvents.
	RetentionDays *int
}

// OrgPatch is a change to an org's settings; a nil field is left as it is.
// The caller has validated every value.
type OrgPatch struct {
	Name            *string
	Timezone        *string
	HandoverEnabled *bool
	CrossSilo       *bool
	ClaimWindow     *time.Duration
	// RepeatLookbackDays, 0..3650.
	RepeatLookbackDays *int
	// BusinessHours replaces the org's; ClearBusinessHours removes them.
	BusinessHours      *domain.BusinessHours
	ClearBusinessHours bool
	// RetentionDays replaces the org's (30..3650); ClearRetention keeps
	// closed leads' events for ever again.
	RetentionDays  *int
	ClearRetention bool
}

const orgSettingsCols = `id, name, timezone, parent_id, handover_enabled, cross_silo, claim_window, repeat_lookback_days, business_hours, retention_days`

func scanOrgSettings(r pgx.Row) (OrgSettings, error) {
	var o OrgSettings
	err := r.Scan(&o.ID, &o.Name, &o.Timezone, &o.ParentID, &o.HandoverEnabled, &o.CrossSilo, &o.ClaimWindow, &o.RepeatLookbackDays, &o.BusinessHours,
		&o.RetentionDays)
	return o, notFound(err, "org")
}

// GetOrgSettings reads an org's settings; an id that is not a UUID is "not
// found", like any org the caller cannot see.
func (s *Store) GetOrgSettings(ctx context.Context, id string) (OrgSettings, error) {
	if !domain.ValidUUID(id) {
		return OrgSettings{}, domain.Errorf(domain.ENotFound, "org not found")
	}
	return scanOrgSettings(s.db.QueryRow(ctx, `SELECT `+orgSettingsCols+` FROM orgs WHERE id = $1`, id))
}

// UpdateOrg applies p and returns the org as it now is. Turning
// handover_enabled or cross_silo off withdraws, in the same transaction,
// the pending handovers that setting allowed (withdrawStranded); they are
// returned so the caller can tell their runs.
func (s *Store) UpdateOrg(ctx context.Context, id string, p OrgPatch) (OrgSettings, []Handover, error) {
	if !domain.ValidUUID(id) {
		return OrgSettings{}, nil, domain.Errorf(domain.ENotFound, "org not found")
	}
	var o OrgSettings
	var withdrawn []Handover
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		o, err = scanOrgSettings(tx.QueryRow(ctx, `UPDATE orgs SET name = coalesce($2, name), timezone = coalesce($3, timezone),
				handover_enabled = coalesce($4, handover_enabled), cross_silo = coalesce($5, cross_silo),
				claim_window = coalesce($6, claim_window), repeat_lookback_days = coalesce($7, repeat_lookback_days),
				business_hours = CASE WHEN $8 THEN NULL ELSE coalesce($9, business_hours) END,
				retention_days = CASE WHEN $10 THEN NULL ELSE coalesce($11, retention_days) END
			WHERE id = $1 RETURNING `+orgSettingsCols,
			id, p.Name, p.Timezone, p.HandoverEnabled, p.CrossSilo, p.ClaimWindow, p.RepeatLookbackDays,
			p.ClearBusinessHours, p.BusinessHours, p.ClearRetention, p.RetentionDays))
		if err != nil || !off(p.HandoverEnabled) && !off(p.CrossSilo) {
			return err
		}
		withdrawn, err = withdrawStranded(ctx, tx, []string{id})
		return err
	})
	if err != nil {
		return OrgSettings{}, nil, err
	}
	return o, withdrawn, nil
}

func off(b *bool) bool { return b != nil && !*b }
