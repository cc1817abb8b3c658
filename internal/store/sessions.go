package store

import (
	"context"
	"time"

	"github.com/leadrelay/leadrelay/internal/domain"
)

// Session is a signed-in browser (the console's cookie), found by the
// hash of its token.
type Session struct {
	Email     string
	CreatedAt time.Time
	ExpiresAt time.Time
	// User is the org membership the session acts as; nil until the person
	// picks one of their orgs. Principal is that user as the API knows it.
	User      *User
	Principal Principal
	OrgName   string // the org of User
	// Orgs counts the orgs the session's address is an active user of: more
	// than one, and the pages offer to switch.
	Orgs int
}

// CreateSession records a session for email, acting as userID when it is
// not empty, valid until expires (the absolute lifetime).
func (s *Store) CreateSession(ctx context.Context, hash []byte, email, userID string, expires time.Time) error {
	var uid *string
	if userID != "" {
		uid = &userID
	}
	_, err := s.db.Exec(ctx, `INSERT INTO sessions (hash, email, user_id, expires_at) VALUES ($1, $2, $3, $4)`,
		hash, email, uid, expires)
	return err
}

// SessionByHash returns the live session with this token hash and marks it
// seen. A session idle for longer than idle, past its absolute lifetime, or
// acting as a user who was deactivated is not found (and is deleted, so an
// old cookie can never come back).
func (s *Store) SessionByHash(ctx context.Context, hash []byte, idle time.Duration) (Session, error) {
	var ss Session
	var uid, org, email, name, role, orgName *string
	var notify, active *bool
	var lastSeen time.Time
	err := s.db.QueryRow(ctx, `SELECT s.email, s.created_at, s.expires_at, s.last_seen_at,
			u.id, u.org_id, u.email, u.name, u.role, u.notify_new_leads, u.active, o.name,
			(SELECT count(*) FROM users m WHERE lower(m.email) = lower(s.email) AND m.active)
		FROM sessions s LEFT JOIN users u ON u.id = s.user_id LEFT JOIN orgs o ON o.id = u.org_id WHERE s.hash = $1`, hash).
		Scan(&ss.Email, &ss.CreatedAt, &ss.ExpiresAt, &lastSeen, &uid, &org, &email, &name, &role, &notify, &active, &orgName, &ss.Orgs)
	if err != nil {
		return Session{}, notFound(err, "session")
	}
	now := time.Now()
	if !now.Before(ss.ExpiresAt) || now.Sub(lastSeen) > idle || (uid != nil && !*active) {
		_, _ = s.db.Exec(ctx, `DELETE FROM sessions WHERE hash = $1`, hash)
		return Session{}, domain.Errorf(domain.ENotFound, "session not found")
	}
	if uid != nil {
		u := User{ID: *uid, OrgID: *org, Email: *email, Name: *name, Role: domain.Role(*role), NotifyNewLeads: *notify, Active: true}
		ss.User, ss.OrgName = &u, *orgName
		ss.Principal = Principal{Kind: domain.TokenUser, User: &u, OrgID: u.OrgID, OrgName: *orgName}
	}
	// Touch at most once a minute: a page of requests is one write, not many.
	if now.Sub(lastSeen) > time.Minute {
		_, err = s.db.Exec(ctx, `UPDATE sessions SET last_seen_at = now() WHERE hash = $1`, hash)
	}
	return ss, err
}

// DeleteSession ends one session (sign-out).
func (s *Store) DeleteSession(ctx context.Context, hash []byte) error {
	_, err := s.db.Exec(ctx, `DELETE FROM sessions WHERE hash = $1`, hash)
	return err
}
