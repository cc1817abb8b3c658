package activities

import (
	"context"

	"go.temporal.io/sdk/activity"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/mail"
)

// SignInEmailKey is the outbox key of a sign-in link's email: one per link.
func SignInEmailKey(linkID string) string { return "signin:" + linkID }

// SendSignInEmail mints the link's token, stores only its hash on the link
// and emails the link. The token is made here, not in the workflow, so it
// never enters Temporal's history. Once the email went out nothing is
// minted again; an attempt after a failed send mints a new token, whose
// hash replaces the last (that email never arrived, or its link is dead).
// A link already used or expired gets nothing.
func (a *Activities) SendSignInEmail(ctx context.Context, linkID string) error {
	key := SignInEmailKey(linkID)
	if sent, err := a.Outbox.Sent(ctx, key); err != nil || sent {
		return err
	}
	token, hash := domain.NewToken("lrl_")
	m, live, err := a.Store.SetSignInHash(ctx, linkID, hash)
	if err != nil {
		return err
	}
	if !live {
		activity.GetLogger(ctx).Info("sign-in link used or expired before its email: not sending", "LinkID", linkID)
		return nil
	}
	return a.deliver(ctx, mail.Email{Template: "signin", Key: key, Kind: "signin", To: m.Email,
		Data: map[string]string{"Link": a.PublicBaseURL + "/app/signin/" + token,
			"Expires": m.ExpiresAt.UTC().Format("15:04 UTC")}})
}
