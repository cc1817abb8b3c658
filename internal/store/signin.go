package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leadrelay/leadrelay/internal/domain"
)

// SignInAsk is what an ask for a sign-in link came to. The page shows the
// same answer whatever it is; only the log and the tests tell them apart.
type SignInAsk struct {
	// LinkID is the link recorded ("" when none was).
	LinkID    string
	ExpiresAt time.Time
	// Unknown: no active user has this address. Limited: the address had
	// its allowance of links in the window.
	Unknown, Limited bool
}

// AskSignInLink records a sign-in link for email, valid for ttl, when an
// active user has that address (in any org, case-insensitive) and fewer
// than perEmail links were asked for it in the last window. The link has
// no hash yet: the activity that emails it mints the token. Asks for one
// address are serialised, so two at once cannot both pass the limit.
func (s *Store) AskSignInLink(ctx context.Context, email string, ttl time.Duration, perEmail int, window time.Duration) (SignInAsk, error) {
	var ask SignInAsk
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('signin:' || lower($1), 0))`, email); err != nil {
			return err
		}
		var known bool
		var recent int
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE lower(email) = lower($1) AND active),
				(SELECT count(*) FROM signin_links WHERE lower(email) = lower($1) AND created_at > now() - $2::interval)`,
			email, window).Scan(&known, &recent); err != nil {
			return err
		}
		switch {
		case !known:
			ask.Unknown = true
			return nil
		case recent >= perEmail:
			ask.Limited = true
			return nil
		}
		ask.LinkID = domain.NewID()
		return tx.QueryRow(ctx, `INSERT INTO signin_links (id, email, expires_at) VALUES ($1, $2, now() + $3::interval) RETURNING expires_at`,
			ask.LinkID, email, ttl).Scan(&ask.ExpiresAt)
	})
	return ask, err
}

// SignInMail is what the sign-in email needs of its link.
type SignInMail struct {
	Email     string
	ExpiresAt time.Time
}

// SetSignInHash gives a link the hash of a freshly minted token, replacing
// the hash of any earlier one (an email that failed to go out: its token is
// dead from now on). live is false when the link was used or has expired:
// there is nothing worth sending.
func (s *Store) SetSignInHash(ctx context.Context, linkID string, hash []byte) (m SignInMail, live bool, err error) {
	err = s.db.QueryRow(ctx, `UPDATE signin_links SET hash = $2 WHERE id = $1 AND used_at IS NULL AND expires_at > now()
		RETURNING email, expires_at`, linkID, hash).Scan(&m.Email, &m.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return m, false, nil
	}
	return m, err == nil, err
}

// SignInLink returns the address of a link that can still be used; a used,
// expired or unknown one is domain.ENotFound. It changes nothing: opening the
// link shows a button, and only pressing it uses the link.
func (s *Store) SignInLink(ctx context.Context, hash []byte) (string, error) {
	var email string
	err := s.db.QueryRow(ctx, `SELECT email FROM signin_links WHERE hash = $1 AND used_at IS NULL AND expires_at > now()`, hash).Scan(&email)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", domain.Errorf(domain.ENotFound, "this sign-in link was used, has expired or does not exist")
	}
	return email, err
}

// UseSignInLink uses a link up, once: of two presses at once one gets the
// address, the other domain.ENotFound, as does a used, expired or unknown link.
func (s *Store) UseSignInLink(ctx context.Context, hash []byte) (string, error) {
	var email string
	err := s.db.QueryRow(ctx, `UPDATE signin_links SET used_at = now() WHERE hash = $1 AND used_at IS NULL AND expires_at > now()
		RETURNING email`, hash).Scan(&email)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", domain.Errorf(domain.ENotFound, "this sign-in link was used, has expired or does not exist")
	}
	return email, err
}

// CreateSignInLink records a link whose token the caller minted, valid for
// ttl. Only `starter dev` uses it, to print links for the demo's people; the
// product's links are minted by the activity that emails them.
func (s *Store) CreateSignInLink(ctx context.Context, email string, hash []byte, ttl time.Duration) error {
	_, err := s.db.Exec(ctx, `INSERT INTO signin_links (id, email, hash, expires_at) VALUES ($1, $2, $3, now() + $4::interval)`,
		domain.NewID(), email, hash, ttl)
	return err
}

// Membership is one org a person is an active user of.
type Membership struct {
	UserID  string
	OrgID   string
	OrgName string
	Name    string
	Role    domain.Role
}

// Memberships are the active users with this address (case-insensitive),
// one per org, by org name.
func (s *Store) Memberships(ctx context.Context, email string) ([]Membership, error) {
	rows, err := s.db.Query(ctx, `SELECT u.id, u.org_id, o.name, u.name, u.role FROM users u JOIN orgs o ON o.id = u.org_id
		WHERE lower(u.email) = lower($1) AND u.active ORDER BY o.name, o.id`, email)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Membership, error) {
		var m Membership
		var role string
		err := r.Scan(&m.UserID, &m.OrgID, &m.OrgName, &m.Name, &role)
		m.Role = domain.Role(role)
		return m, err
	})
}

// ActAs makes the session act as userID, which must be an active user with
// the session's address; any other user id is domain.ENotFound, as another
// org's things are.
func (s *Store) ActAs(ctx context.Context, sessionHash []byte, userID string) error {
	if !domain.ValidUUID(userID) {
		return domain.Errorf(domain.ENotFound, "user not found")
	}
	tag, err := s.db.Exec(ctx, `UPDATE sessions s SET user_id = u.id FROM users u
		WHERE s.hash = $1 AND u.id = $2 AND u.active AND lower(u.email) = lower(s.email)`, sessionHash, userID)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return domain.Errorf(domain.ENotFound, "user not found")
	}
	return nil
}
