package activities

import (
	"context"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/failure"
	"github.com/leadrelay/leadrelay/internal/mail"
	"github.com/leadrelay/leadrelay/internal/store"
)

// InvitationEmailKey is the outbox key of an invitation's email.
func InvitationEmailKey(invitationID string) string { return "invitation:" + invitationID }

// ConfirmationEmailKey is the outbox key of the email that tells the
// master's owner an invitation was accepted.
func ConfirmationEmailKey(invitationID string) string { return "confirmation:" + invitationID }

// SendInvitationEmail mints a token for the invitation, stores only its hash,
// and emails the link. The token is made here, not in the workflow, so it
// never enters Temporal's history. If the email already went out, nothing is
// minted; if a crash makes this send again, the new token joins the first
// (both links work until the invitation is answered); if the invitation is
// no longer pending (revoked first), nothing is sent.
func (a *Activities) SendInvitationEmail(ctx context.Context, invitationID string) error {
	key := InvitationEmailKey(invitationID)
	if sent, err := a.Outbox.Sent(ctx, key); err != nil || sent {
		return err
	}
	token, hash := domain.NewToken("lri_")
	m, pending, err := a.Store.AddInvitationToken(ctx, invitationID, hash)
	if err != nil || !pending {
		return err
	}
	return a.deliver(ctx, mail.Email{Template: "invitation", Key: key, Kind: "invitation", To: m.Email,
		Data: map[string]string{"InviterName": m.InviterName, "InviterEmail": m.InviterEmail, "MasterName": m.MasterName,
			"Link": a.PublicBaseURL + "/invitations/" + token, "Expires": m.ExpiresAt.UTC().Format(domain.DateLayout)}})
}

// AcceptInput is an accept of an invitation. Its JSON keys are those of the
// request the first shape recorded.
type AcceptInput struct {
	InvitationID string `json:"invitation_id"`
	OrgID        string `json:"org_id,omitempty"`  // which of the invitee's orgs to link; "" when they own one
	UserID       string `json:"user_id,omitempty"` // the owner whose token came along, checked against the org
}

// Link is the link an accept made: ids only.
type Link struct {
	MasterOrgID string `json:"master_org_id"`
	SubOrgID    string `json:"sub_org_id"`
}

// AcceptInvitation links the orgs (one transaction; idempotent on retry). A
// refusal comes back typed with its domain code (internal/failure).
func (a *Activities) AcceptInvitation(ctx context.Context, in AcceptInput) (Link, error) {
	res, err := a.Store.AcceptInvitation(ctx, store.AcceptRequest{InvitationID: in.InvitationID, OrgID: in.OrgID, UserID: in.UserID})
	if err != nil {
		return Link{}, failure.FromDomain(err)
	}
	a.Metrics.Invitation(domain.InviteAccepted)
	return Link{MasterOrgID: res.MasterOrgID, SubOrgID: res.SubOrgID}, nil
}

// CloseInvitation is an ending without a link.
type CloseInvitation struct {
	InvitationID string
	Status       string // declined, revoked, expired
}

// CloseInvitation records how an invitation ended without a link.
func (a *Activities) CloseInvitation(ctx context.Context, c CloseInvitation) error {
	if err := a.Store.CloseInvitation(ctx, c.InvitationID, c.Status); err != nil {
		return failure.FromDomain(err)
	}
	a.Metrics.Invitation(c.Status)
	return nil
}

// SendConfirmationEmail tells the master's owner that the invitation was
// accepted and by whom; names and addresses are read here, not carried by
// the workflow.
func (a *Activities) SendConfirmationEmail(ctx context.Context, invitationID string) error {
	n, err := a.Store.LinkNotice(ctx, invitationID)
	if err != nil {
		return failure.FromDomain(err)
	}
	return a.deliver(ctx, mail.Email{Template: "confirmation", Key: ConfirmationEmailKey(invitationID), Kind: "confirmation",
		To: n.MasterOwnerEmail, OrgID: n.MasterOrgID,
		Data: map[string]string{"MasterName": n.MasterName, "MasterOwnerName": n.MasterOwnerName,
			"SubName": n.SubName, "SubOwnerEmail": n.SubOwnerEmail}})
}
