package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leadrelay/leadrelay/internal/domain"
)

// Invitation offers an email's owner to link one of their orgs under OrgID
// as a sub-agency; its workflow waits for the answer until ExpiresAt.
type Invitation struct {
	ID         string     `json:"id"`
	OrgID      string     `json:"org_id"`
	Email      string     `json:"email"`
	Status     string     `json:"status"`
	WorkflowID string     `json:"workflow_id"`
	ExpiresAt  time.Time  `json:"expires_at"`
	CreatedAt  time.Time  `json:"created_at"`
	DecidedAt  *time.Time `json:"decided_at,omitempty"`
	SubOrgID   *string    `json:"sub_org_id,omitempty"`
}

// Effective reports an unanswered invitation past its expiry as expired even
// before its workflow's timer has recorded it.
func (i Invitation) Effective(now time.Time) string {
	if i.Status == domain.InvitePending && !now.Before(i.ExpiresAt) {
		return domain.InviteExpired
	}
	return i.Status
}

const inviteCols = `id, org_id, email, status, workflow_id, expires_at, created_at, decided_at, sub_org_id`

func scanInvite(r pgx.Row) (Invitation, error) {
	var i Invitation
	err := r.Scan(&i.ID, &i.OrgID, &i.Email, &i.Status, &i.WorkflowID, &i.ExpiresAt, &i.CreatedAt, &i.DecidedAt, &i.SubOrgID)
	return i, err
}

// OwnedOrg is an organization a given email owns.
type OwnedOrg struct {
	ID, Name, OwnerID string
}

func ownedOrgs(ctx context.Context, db interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, email string) ([]OwnedOrg, error) {
	rows, err := db.Query(ctx, `SELECT o.id, o.name, u.id FROM users u JOIN orgs o ON o.id = u.org_id
		WHERE u.role = 'owner' AND lower(u.email) = lower($1) ORDER BY o.created_at, o.id`, email)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[OwnedOrg])
}

// CreateInvitation records an invitation from org's owner to email. It refuses
// what can already be seen to fail: an open invitation to the same email, and
// an email whose every owned org cannot be linked (the org itself, already
// linked, already has a master, would close a cycle).
func (s *Store) CreateInvitation(ctx context.Context, orgID, email string, ttl time.Duration, workflowID func(id string) string) (Invitation, error) {
	var inv Invitation
	email = strings.TrimSpace(email)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var ownerID, ownerEmail string
		if err := tx.QueryRow(ctx, `SELECT id, email FROM users WHERE org_id = $1 AND role = 'owner'`, orgID).Scan(&ownerID, &ownerEmail); err != nil {
			return notFound(err, "org")
		}
		owned, err := ownedOrgs(ctx, tx, email)
		if err != nil {
			return err
		}
		var why string
		for _, o := range owned {
			if why, err = linkRefusal(ctx, tx, orgID, o.ID); err != nil {
				return err
			}
			if why == "" {
				break
			}
		}
		if why != "" {
			if len(owned) == 1 && owned[0].ID == orgID {
				why = "you cannot invite your own organization"
			}
			return &domain.Error{Code: domain.EConflict, Message: why, Fields: map[string]string{"email": why}}
		}
		// A pending invitation past its expiry whose close never landed (its
		// run was lost) must not block inviting the same email again.
		if _, err := tx.Exec(ctx, `UPDATE invitations SET status = 'expired', decided_at = now()
			WHERE org_id = $1 AND lower(email) = lower($2) AND status = 'pending' AND expires_at <= now()`, orgID, email); err != nil {
			return err
		}
		id := domain.NewID()
		inv, err = scanInvite(tx.QueryRow(ctx, `INSERT INTO invitations (id, org_id, email, invited_by, workflow_id, expires_at)
			VALUES ($1, $2, $3, $4, $5, now() + $6::interval) RETURNING `+inviteCols, id, orgID, email, ownerID, workflowID(id), ttl))
		if isUnique(err, "invitations_one_pending") {
			return &domain.Error{Code: domain.EConflict, Message: "an invitation to that email is already pending",
				Fields: map[string]string{"email": "already invited; revoke the pending invitation first"}}
		}
		return err
	})
	return inv, err
}

// GetInvitation returns one of the org's invitations; another org's is "not
// found", never "forbidden".
func (s *Store) GetInvitation(ctx context.Context, orgID, id string) (Invitation, error) {
	if !domain.ValidUUID(id) {
		return Invitation{}, domain.Errorf(domain.ENotFound, "invitation not found")
	}
	inv, err := scanInvite(s.db.QueryRow(ctx, `SELECT `+inviteCols+` FROM invitations WHERE id = $1 AND org_id = $2`, id, orgID))
	return inv, notFound(err, "invitation")
}

// ListInvitations returns the org's invitations, newest first, at most 500.
func (s *Store) ListInvitations(ctx context.Context, orgID string) ([]Invitation, error) {
	rows, err := s.db.Query(ctx, `SELECT `+inviteCols+` FROM invitations WHERE org_id = $1 ORDER BY created_at DESC, id LIMIT 500`, orgID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Invitation, error) { return scanInvite(r) })
}

// InvitationView is what the invitation page shows: who invites whom, and the
// invitee's own orgs to choose from. It is found by the token hash alone.
type InvitationView struct {
	Invitation
	MasterName  string
	InviterName string
	Owned       []OwnedOrg
}

// InvitationByToken finds the invitation a link's token opens, with what its
// page shows.
func (s *Store) InvitationByToken(ctx context.Context, hash []byte) (InvitationView, error) {
	var v InvitationView
	err := s.db.QueryRow(ctx, `SELECT i.id, i.org_id, i.email, i.status, i.workflow_id, i.expires_at, i.created_at, i.decided_at,
			i.sub_org_id, o.name, u.name
		FROM invitation_tokens t JOIN invitations i ON i.id = t.invitation_id
			JOIN orgs o ON o.id = i.org_id JOIN users u ON u.id = i.invited_by WHERE t.hash = $1`, hash).
		Scan(&v.ID, &v.OrgID, &v.Email, &v.Status, &v.WorkflowID, &v.ExpiresAt, &v.CreatedAt, &v.DecidedAt, &v.SubOrgID,
			&v.MasterName, &v.InviterName)
	if err != nil {
		return v, notFound(err, "invitation")
	}
	v.Owned, err = ownedOrgs(ctx, s.db, v.Email)
	return v, err
}

// InviteMail is what the invitation email needs.
type InviteMail struct {
	Email, MasterName, InviterName, InviterEmail string
	ExpiresAt                                    time.Time
}

// AddInvitationToken stores the hash of a freshly minted token for a pending
// invitation (earlier tokens stay valid); ok is false when the invitation is
// no longer pending.
func (s *Store) AddInvitationToken(ctx context.Context, id string, hash []byte) (InviteMail, bool, error) {
	var m InviteMail
	err := s.db.QueryRow(ctx, `WITH ins AS (
			INSERT INTO invitation_tokens (hash, invitation_id) SELECT $2, id FROM invitations WHERE id = $1 AND status = 'pending'
			RETURNING invitation_id)
		SELECT i.email, o.name, u.name, u.email, i.expires_at FROM ins JOIN invitations i ON i.id = ins.invitation_id
			JOIN orgs o ON o.id = i.org_id JOIN users u ON u.id = i.invited_by`, id, hash).
		Scan(&m.Email, &m.MasterName, &m.InviterName, &m.InviterEmail, &m.ExpiresAt)
	if err == pgx.ErrNoRows {
		return m, false, nil
	}
	return m, err == nil, err
}

// DueInvitations takes up to limit invitations still pending, created
// before cutoff, that no reconciler pass has checked in the interval every
// before now (or ever), and stamps them checked at now: the reconciler makes
// sure each has its run, or closes it once past its expiry. A pending
// invitation waits days, and its run, once found, needs no second look
// every 30 s (that run closes it at its expiry; a pass closes it at the
// next check if the run could not, and until then it reads as expired,
// Invitation.Effective). The stamp is the take: concurrent passes (one per
// worker) skip each other's rows and never check one invitation twice in an
// interval. now is the pass's clock, the same for each of its pages, so a
// page never finds what an earlier page of the pass stamped; called again,
// it returns the next ones, and fewer than limit means there are no more.
func (s *Store) DueInvitations(ctx context.Context, cutoff, now time.Time, every time.Duration, limit int) ([]Invitation, error) {
	rows, err := s.db.Query(ctx, `UPDATE invitations SET run_checked_at = $2
		FROM (SELECT id AS due_id FROM invitations
			WHERE status = 'pending' AND created_at < $1 AND (run_checked_at IS NULL OR run_checked_at <= $3)
			ORDER BY run_checked_at NULLS FIRST, id LIMIT $4 FOR UPDATE SKIP LOCKED) due
		WHERE id = due.due_id RETURNING `+inviteCols, cutoff, now, now.Add(-every), limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Invitation, error) { return scanInvite(r) })
}

// CloseInvitation moves a pending invitation to declined, revoked or expired.
// Closing one that is already closed the same way is not an error (a retried
// activity); closing one closed otherwise is a conflict.
func (s *Store) CloseInvitation(ctx context.Context, id, status string) error {
	var got string
	err := s.db.QueryRow(ctx, `WITH upd AS (
			UPDATE invitations SET status = $2, decided_at = now() WHERE id = $1 AND status = 'pending' RETURNING status)
		SELECT status FROM upd UNION ALL SELECT status FROM invitations WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM upd)`, id, status).Scan(&got)
	if err != nil {
		return notFound(err, "invitation")
	}
	if got != status {
		return domain.Errorf(domain.EConflict, "this invitation was already %s", got)
	}
	return nil
}

// AcceptRequest comes from the invitation link: the token proved the mailbox;
// OrgID chooses among the invitee's orgs; UserID, when a user token came
// along, must be the chosen org's owner.
type AcceptRequest struct {
	InvitationID string `json:"invitation_id"`
	OrgID        string `json:"org_id,omitempty"`
	UserID       string `json:"user_id,omitempty"`
}

// AcceptResult is the link an acceptance made, with what the confirmation
// email needs.
type AcceptResult struct {
	MasterOrgID string `json:"master_org_id"`
	SubOrgID    string `json:"sub_org_id"`
	// for the confirmation email
	MasterName       string `json:"master_name"`
	MasterOwnerEmail string `json:"master_owner_email"`
	MasterOwnerName  string `json:"master_owner_name"`
	SubName          string `json:"sub_name"`
	SubOwnerEmail    string `json:"sub_owner_email"`
}

// AcceptInvitation links the invitee's org under the master and marks the
// invitation accepted, in one transaction. Run again after it committed, it
// returns the same result.
func (s *Store) AcceptInvitation(ctx context.Context, req AcceptRequest) (AcceptResult, error) {
	var res AcceptResult
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		inv, err := scanInvite(tx.QueryRow(ctx, `SELECT `+inviteCols+` FROM invitations WHERE id = $1 FOR UPDATE`, req.InvitationID))
		if err != nil {
			return notFound(err, "invitation")
		}
		switch {
		case inv.Status == domain.InviteAccepted && inv.SubOrgID != nil:
			res.MasterOrgID, res.SubOrgID = inv.OrgID, *inv.SubOrgID
		case inv.Status != domain.InvitePending:
			return domain.Errorf(domain.EConflict, "this invitation was already %s", inv.Status)
		case !time.Now().Before(inv.ExpiresAt):
			return domain.Errorf(domain.EConflict, "this invitation has expired")
		default:
			owned, err := ownedOrgs(ctx, tx, inv.Email)
			if err != nil {
				return err
			}
			var chosen *OwnedOrg
			for i := range owned {
				if owned[i].ID == req.OrgID || (req.OrgID == "" && len(owned) == 1) {
					chosen = &owned[i]
				}
			}
			switch {
			case len(owned) == 0:
				return domain.Errorf(domain.EConflict, "%s owns no organization yet: create one, then accept", inv.Email)
			case chosen == nil && req.OrgID == "":
				return &domain.Error{Code: domain.EInvalid, Message: "choose which of your organizations to link",
					Fields: map[string]string{"org_id": fmt.Sprintf("one of the %d organizations you own", len(owned))}}
			case chosen == nil:
				return &domain.Error{Code: domain.EInvalid, Message: "invalid org_id",
					Fields: map[string]string{"org_id": "not an organization owned by the invited email"}}
			case req.UserID != "" && req.UserID != chosen.OwnerID:
				return domain.Errorf(domain.EForbidden, "the token sent along is not the invited owner's")
			}
			if err := linkTx(ctx, tx, inv.OrgID, chosen.ID); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE invitations SET status = 'accepted', sub_org_id = $2, decided_at = now() WHERE id = $1`,
				inv.ID, chosen.ID); err != nil {
				return err
			}
			res.MasterOrgID, res.SubOrgID = inv.OrgID, chosen.ID
		}
		return tx.QueryRow(ctx, `SELECT m.name, mu.email, mu.name, c.name, cu.email
			FROM orgs m JOIN users mu ON mu.org_id = m.id AND mu.role = 'owner', orgs c JOIN users cu ON cu.org_id = c.id AND cu.role = 'owner'
			WHERE m.id = $1 AND c.id = $2`, res.MasterOrgID, res.SubOrgID).
			Scan(&res.MasterName, &res.MasterOwnerEmail, &res.MasterOwnerName, &res.SubName, &res.SubOwnerEmail)
	})
	return res, err
}

// SubAgency is an org linked under a master, as the master's owner sees it.
type SubAgency struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	OwnerEmail string    `json:"owner_email"`
	LinkedAt   time.Time `json:"linked_at"`
}

// SubAgencies lists the org's sub-agencies, oldest link first.
func (s *Store) SubAgencies(ctx context.Context, orgID string) ([]SubAgency, error) {
	rows, err := s.db.Query(ctx, `SELECT o.id, o.name, u.email, o.linked_at FROM orgs o JOIN users u ON u.org_id = o.id AND u.role = 'owner'
		WHERE o.parent_id = $1 ORDER BY o.linked_at, o.id`, orgID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[SubAgency])
}

// Unlink ends a master/sub-agency link and drops the sub-agency from the
// master's sub_agencies_evenly rotations. Pending handovers the link
// allowed are withdrawn in the same transaction (withdrawStranded) and
// returned, so the caller can tell their runs.
func (s *Store) Unlink(ctx context.Context, master, sub string) ([]Handover, error) {
	var withdrawn []Handover
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE orgs SET parent_id = NULL, linked_at = NULL WHERE id = $1 AND parent_id = $2`, sub, master)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return domain.Errorf(domain.ENotFound, "sub-agency not found")
		}
		_, err = tx.Exec(ctx, `UPDATE lead_sources SET routing_sub_agencies = array_remove(routing_sub_agencies, $2::uuid), updated_at = now()
			WHERE org_id = $1 AND $2::uuid = ANY(routing_sub_agencies)`, master, sub)
		if err != nil {
			return err
		}
		withdrawn, err = withdrawStranded(ctx, tx, []string{master, sub})
		return err
	})
	if err != nil {
		return nil, err
	}
	return withdrawn, nil
}
