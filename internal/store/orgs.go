package store

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leadrelay/leadrelay/internal/domain"
)

// Org is an agency; ParentID is its master once it is linked as a sub-agency.
type Org struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	Timezone string    `json:"timezone"`
	ParentID *string   `json:"parent_id,omitempty"`
	Created  time.Time `json:"created_at"`
}

// User is a member of one org; Role decides what they may do and whether
// staff_evenly rotates to them.
type User struct {
	ID             string      `json:"id"`
	OrgID          string      `json:"org_id"`
	Email          string      `json:"email"`
	Name           string      `json:"name"`
	Role           domain.Role `json:"role"`
	Active         bool        `json:"active"`
	NotifyNewLeads bool        `json:"notify_new_leads"`
	// Availability and caps (SPEC §5.6): a paused user gets no routed leads
	// until resumed or until PausedUntil; WorkingHours nil works always;
	// a nil cap is no cap.
	Paused        bool                 `json:"paused"`
	PausedUntil   *time.Time           `json:"paused_until"`
	WorkingHours  []domain.WorkingSpan `json:"working_hours"`
	DailyCap      *int                 `json:"daily_cap"`
	OpenCap       *int                 `json:"open_cap"`
	InstantAlerts bool                 `json:"instant_alerts"`
	// Deactivations counts the times the user was made inactive; it names
	// the run that reroutes their leads (workflows.RerouteWorkflowID).
	Deactivations int `json:"-"`
}

// Principal is who a token speaks for.
type Principal struct {
	Kind     string // domain.TokenUser or domain.TokenVendor
	User     *User
	SourceID string // vendor keys
	OrgID    string
	Slug     string
	// SourceName and OrgName, for vendor keys: what the summary of a
	// posted lead's run calls its source and org (RunNames).
	SourceName, OrgName string
}

// CreateOrg creates an org with its owner and returns the owner's token.
func (s *Store) CreateOrg(ctx context.Context, name, tz, ownerEmail, ownerName string) (Org, User, string, error) {
	var o Org
	var u User
	var tok string
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO orgs (name, timezone) VALUES ($1, $2) RETURNING id, name, timezone, created_at`,
			name, tz).Scan(&o.ID, &o.Name, &o.Timezone, &o.Created)
		if err != nil {
			return err
		}
		u, tok, err = insertUser(ctx, tx, o.ID, ownerEmail, ownerName, domain.RoleOwner, true)
		return err
	})
	return o, u, tok, err
}

// GetOrg returns the org; an id that is not a UUID is "not found", not a
// database error.
func (s *Store) GetOrg(ctx context.Context, id string) (Org, error) {
	var o Org
	if !domain.ValidUUID(id) {
		return o, domain.Errorf(domain.ENotFound, "org not found")
	}
	err := s.db.QueryRow(ctx, `SELECT id, name, timezone, parent_id, created_at FROM orgs WHERE id = $1`, id).
		Scan(&o.ID, &o.Name, &o.Timezone, &o.ParentID, &o.Created)
	return o, notFound(err, "org")
}

// LinkOrgs makes child a sub-agency of parent. Refuses self-links, a second
// parent and cycles; accepting an invitation links through linkTx too.
func (s *Store) LinkOrgs(ctx context.Context, parent, child string) error {
	return s.inTx(ctx, func(tx pgx.Tx) error { return linkTx(ctx, tx, parent, child) })
}

// linkLock serialises every link change: a cycle check reads ancestors that
// no row lock covers, so two links over disjoint org pairs (A under B, B's
// ancestor under A) could each pass alone and close a cycle together. Links
// are rare; one lock for all of them costs nothing.
const linkLock = 0x6c696e6b // "link"

// linkTx checks and writes a link inside tx, under linkLock.
func linkTx(ctx context.Context, tx pgx.Tx, parent, child string) error {
	if !domain.ValidUUID(parent) || !domain.ValidUUID(child) {
		return domain.Errorf(domain.ENotFound, "organization not found")
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(linkLock)); err != nil {
		return err
	}
	var locked int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM (SELECT id FROM orgs WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE) l`,
		[]string{parent, child}).Scan(&locked); err != nil {
		return err
	}
	if want := map[bool]int{true: 1, false: 2}[parent == child]; locked != want {
		return domain.Errorf(domain.ENotFound, "organization not found")
	}
	why, err := linkRefusal(ctx, tx, parent, child)
	if err != nil {
		return err
	}
	if why != "" {
		return domain.Errorf(domain.EConflict, "%s", why)
	}
	_, err = tx.Exec(ctx, `UPDATE orgs SET parent_id = $1, linked_at = now() WHERE id = $2`, parent, child)
	return err
}

// linkRefusal says why child cannot become parent's sub-agency, or "".
func linkRefusal(ctx context.Context, db interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, parent, child string) (string, error) {
	if parent == child {
		return "an organization cannot be its own sub-agency", nil
	}
	var childParent *string
	if err := db.QueryRow(ctx, `SELECT parent_id FROM orgs WHERE id = $1`, child).Scan(&childParent); err != nil {
		return "", notFound(err, "organization")
	}
	switch {
	case childParent != nil && *childParent == parent:
		return "that organization is already a sub-agency of this one", nil
	case childParent != nil:
		return "that organization already has a master agency", nil
	}
	var cycle bool
	err := db.QueryRow(ctx, `WITH RECURSIVE up(id) AS (
			SELECT parent_id FROM orgs WHERE id = $1
			UNION SELECT o.parent_id FROM orgs o JOIN up ON o.id = up.id WHERE o.parent_id IS NOT NULL)
		SELECT EXISTS (SELECT 1 FROM up WHERE id = $2)`, parent, child).Scan(&cycle)
	if err != nil {
		return "", err
	}
	if cycle {
		return "linking would create a cycle: that organization is above this one", nil
	}
	return "", nil
}

func insertUser(ctx context.Context, tx pgx.Tx, orgID, email, name string, role domain.Role, notify bool) (User, string, error) {
	u := User{OrgID: orgID, Email: strings.TrimSpace(email), Name: strings.TrimSpace(name), Role: role, Active: true, NotifyNewLeads: notify, InstantAlerts: true}
	err := tx.QueryRow(ctx, `INSERT INTO users (org_id, email, name, role, notify_new_leads) VALUES ($1,$2,$3,$4,$5) RETURNING id`,
		orgID, u.Email, u.Name, role, notify).Scan(&u.ID)
	if isUnique(err, "users_org_email") {
		return User{}, "", &domain.Error{Code: domain.EConflict, Message: "a user with that email exists in this org",
			Fields: map[string]string{"email": "already in this org"}}
	}
	if err != nil {
		return User{}, "", err
	}
	tok, hash := domain.NewToken("lru_")
	_, err = tx.Exec(ctx, `INSERT INTO tokens (hash, kind, user_id) VALUES ($1, 'user', $2)`, hash, u.ID)
	return u, tok, err
}

// CreateUser adds a user to the org and returns their token, the only time
// it is seen: only its hash is stored.
func (s *Store) CreateUser(ctx context.Context, orgID, email, name string, role domain.Role, notify bool) (User, string, error) {
	var u User
	var tok string
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		u, tok, err = insertUser(ctx, tx, orgID, email, name, role, notify)
		return err
	})
	return u, tok, err
}

const userCols = `id, org_id, email, name, role, active, notify_new_leads, deactivations,
	paused, paused_until, working_hours, daily_cap, open_cap, instant_alerts`

func scanUser(r pgx.Row) (User, error) {
	var u User
	err := r.Scan(&u.ID, &u.OrgID, &u.Email, &u.Name, &u.Role, &u.Active, &u.NotifyNewLeads, &u.Deactivations,
		&u.Paused, &u.PausedUntil, &u.WorkingHours, &u.DailyCap, &u.OpenCap, &u.InstantAlerts)
	return u, err
}

// GetUser finds a user within one org: another org's user is "not found".
func (s *Store) GetUser(ctx context.Context, orgID, userID string) (User, error) {
	if !domain.ValidUUID(userID) {
		return User{}, domain.Errorf(domain.ENotFound, "user not found")
	}
	u, err := scanUser(s.db.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE id = $1 AND org_id = $2`, userID, orgID))
	return u, notFound(err, "user")
}

// UserPatch is a change to a user; a nil field is left as it is, and a
// Clear… flag sets its field to NULL (no timetable, no cap).
type UserPatch struct {
	Active         *bool        `json:"active"`
	Role           *domain.Role `json:"role"`
	NotifyNewLeads *bool        `json:"notify_new_leads"`
	InstantAlerts  *bool        `json:"instant_alerts"`
	// WorkingHours, DailyCap and OpenCap are set when non-nil; the Clear
	// flags null them.
	WorkingHours                  []domain.WorkingSpan `json:"-"`
	DailyCap, OpenCap             *int                 `json:"-"`
	ClearWorkingHours, ClearDaily bool                 `json:"-"`
	ClearOpen                     bool                 `json:"-"`
}

// UpdateUser applies p to the org's user. The owner can be neither demoted
// nor deactivated and nobody else can be made owner: an org has exactly one,
// and routing falls back on them. Making an active user inactive counts one
// more deactivation (User.Deactivations); the caller then starts the run
// that reroutes their team-owned leads.
func (s *Store) UpdateUser(ctx context.Context, orgID, userID string, p UserPatch) (User, error) {
	var u User
	if !domain.ValidUUID(userID) {
		return u, domain.Errorf(domain.ENotFound, "user not found")
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		cur, err := scanUser(tx.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE id = $1 AND org_id = $2 FOR UPDATE`, userID, orgID))
		if err != nil {
			return notFound(err, "user")
		}
		if cur.Role == domain.RoleOwner && ((p.Role != nil && *p.Role != domain.RoleOwner) || (p.Active != nil && !*p.Active)) {
			return domain.Errorf(domain.EConflict, "the org owner cannot be demoted or deactivated")
		}
		if p.Role != nil && *p.Role == domain.RoleOwner && cur.Role != domain.RoleOwner {
			return &domain.Error{Code: domain.EInvalid, Message: "an org has exactly one owner", Fields: map[string]string{"role": "cannot make a second owner"}}
		}
		// On the right of SET, active is the row's value before this change.
		u, err = scanUser(tx.QueryRow(ctx, `UPDATE users SET active = coalesce($3, active), role = coalesce($4, role),
			notify_new_leads = coalesce($5, notify_new_leads), instant_alerts = coalesce($6, instant_alerts),
			working_hours = CASE WHEN $7 THEN NULL ELSE coalesce($8::jsonb, working_hours) END,
			daily_cap = CASE WHEN $9 THEN NULL ELSE coalesce($10, daily_cap) END,
			open_cap = CASE WHEN $11 THEN NULL ELSE coalesce($12, open_cap) END,
			deactivations = deactivations + CASE WHEN active AND NOT coalesce($3, true) THEN 1 ELSE 0 END,
			deactivated_at = CASE WHEN active AND NOT coalesce($3, true) THEN now() ELSE deactivated_at END
			WHERE id = $1 AND org_id = $2 RETURNING `+userCols,
			userID, orgID, p.Active, p.Role, p.NotifyNewLeads, p.InstantAlerts,
			p.ClearWorkingHours, workingHoursJSON(p.WorkingHours), p.ClearDaily, p.DailyCap, p.ClearOpen, p.OpenCap))
		if err != nil || u.Active {
			return err
		}
		// A deactivated person is signed out of the console everywhere, in
		// the same transaction: no page loads for them after this answer.
		_, err = tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, userID)
		return err
	})
	return u, err
}

// Authenticate resolves a token hash in one query (it runs on every request).
// Inactive users' tokens stop working.
func (s *Store) Authenticate(ctx context.Context, hash []byte) (Principal, error) {
	var p Principal
	var u User
	var userID, sourceID, userOrg, sourceOrg, slug *string
	err := s.db.QueryRow(ctx, `SELECT t.kind, u.id, u.org_id, coalesce(u.email, ''), coalesce(u.name, ''), coalesce(u.role, ''),
			coalesce(u.notify_new_leads, false), t.source_id, s.org_id, s.slug, coalesce(s.name, ''), coalesce(so.name, '')
		FROM tokens t LEFT JOIN users u ON u.id = t.user_id AND u.active LEFT JOIN lead_sources s ON s.id = t.source_id
			LEFT JOIN orgs so ON so.id = s.org_id
		WHERE t.hash = $1 AND t.revoked_at IS NULL`, hash).
		Scan(&p.Kind, &userID, &userOrg, &u.Email, &u.Name, &u.Role, &u.NotifyNewLeads, &sourceID, &sourceOrg, &slug,
			&p.SourceName, &p.OrgName)
	switch {
	case err != nil:
		return p, notFound(err, "token")
	case p.Kind == domain.TokenUser && userID != nil:
		u.ID, u.OrgID, u.Active = *userID, *userOrg, true
		p.User, p.OrgID = &u, u.OrgID
	case p.Kind == domain.TokenVendor && sourceID != nil:
		p.SourceID, p.OrgID, p.Slug = *sourceID, *sourceOrg, *slug
	default: // the user was deactivated
		return Principal{}, domain.Errorf(domain.ENotFound, "token not found")
	}
	return p, nil
}

// ListUsers is the org's members, by name as a person sorts them (ICU's
// root collation, whatever the database's locale: "ada" beside "Ada", not
// after "Zoe"), then id, so equal names keep one order.
func (s *Store) ListUsers(ctx context.Context, orgID string) ([]User, error) {
	rows, err := s.db.Query(ctx, `SELECT `+userCols+` FROM users WHERE org_id = $1 ORDER BY name COLLATE "und-x-icu", id`, orgID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (User, error) { return scanUser(r) })
}

// workingHoursJSON is spans for a jsonb parameter: nil stays NULL (no
// change), an empty list is stored as [] (no hours: never working).
func workingHoursJSON(spans []domain.WorkingSpan) any {
	if spans == nil {
		return nil
	}
	b, _ := json.Marshal(spans) // plain strings cannot fail to marshal
	return string(b)
}

// PauseUser pauses the org's user until resumed, or until until when it
// is set; by is who paused them (nil: the admin token).
func (s *Store) PauseUser(ctx context.Context, orgID, userID string, until *time.Time, by *string) (User, error) {
	if !domain.ValidUUID(userID) {
		return User{}, domain.Errorf(domain.ENotFound, "user not found")
	}
	u, err := scanUser(s.db.QueryRow(ctx, `UPDATE users SET paused = true, paused_until = $3, paused_by = $4
		WHERE id = $1 AND org_id = $2 RETURNING `+userCols, userID, orgID, until, by))
	return u, notFound(err, "user")
}

// ResumeUser ends the org's user's pause.
func (s *Store) ResumeUser(ctx context.Context, orgID, userID string) (User, error) {
	if !domain.ValidUUID(userID) {
		return User{}, domain.Errorf(domain.ENotFound, "user not found")
	}
	u, err := scanUser(s.db.QueryRow(ctx, `UPDATE users SET paused = false, paused_until = NULL, paused_by = NULL
		WHERE id = $1 AND org_id = $2 RETURNING `+userCols, userID, orgID))
	return u, notFound(err, "user")
}
