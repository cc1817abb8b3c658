package activities

import (
	"context"
	"errors"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/mail"
	"github.com/leadrelay/leadrelay/internal/store"
)

// InvitationEmailKey is the outbox key of an invitation's email.
func InvitationEmailKey(invitationID string) string { return "invitation:" + invitationID }

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
	_, err = a.Outbox.Deliver(ctx, mail.Email{Template: "invitation", Key: key, Kind: "invitation", To: m.Email,
		Data: map[string]string{"InviterName": m.InviterName, "InviterEmail": m.InviterEmail, "MasterName": m.MasterName,
			"Link": a.PublicBaseURL + "/invitations/" + token, "Expires": m.ExpiresAt.UTC().Format(domain.DateLayout)}})
	if errors.Is(err, mail.ErrSMTP) {
		activity.GetLogger(ctx).Warn("invitation email not sent, will retry", "InvitationID", invitationID, "Error", err)
	}
	return err
}

// AcceptInvitation links the orgs (one transaction; idempotent on retry).
func (a *Activities) AcceptInvitation(ctx context.Context, req store.AcceptRequest) (store.AcceptResult, error) {
	res, err := a.Store.AcceptInvitation(ctx, req)
	return res, asApplicationError(err)
}

type CloseInvitation struct {
	InvitationID string
	Status       string // declined, revoked, expired
}

// CloseInvitation records how an invitation ended without a link.
func (a *Activities) CloseInvitation(ctx context.Context, c CloseInvitation) error {
	return asApplicationError(a.Store.CloseInvitation(ctx, c.InvitationID, c.Status))
}

// asApplicationError turns a refusal (conflict, invalid, ...) into a
// non-retryable error whose type is the domain code and whose details are
// the field messages, so it reaches the HTTP caller intact through the
// workflow's Update. Anything else stays retryable.
func asApplicationError(err error) error {
	var e *domain.Error
	if err == nil || !errors.As(err, &e) || e.Code == domain.EInternal || e.Code == domain.EUnavailable {
		return err
	}
	return temporal.NewApplicationErrorWithOptions(e.Message, e.Code, temporal.ApplicationErrorOptions{
		NonRetryable: true, Details: []any{e.Fields}})
}

// FromApplicationError is asApplicationError's inverse, for the API.
func FromApplicationError(err error) error {
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) {
		return err
	}
	switch ae.Type() {
	case domain.EConflict, domain.EInvalid, domain.ENotFound, domain.EForbidden:
	default:
		return err
	}
	var fields map[string]string
	if ae.HasDetails() {
		_ = ae.Details(&fields)
	}
	return &domain.Error{Code: ae.Type(), Message: ae.Message(), Fields: fields}
}
