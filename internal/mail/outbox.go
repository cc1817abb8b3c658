package mail

import (
	"context"
	"errors"

	gomail "github.com/wneessen/go-mail"

	"github.com/leadrelay/leadrelay/internal/store"
)

// Email asks for one templated email to one recipient.
type Email struct {
	Template string // templates/<name>.txt and .html
	Key      string // unique business key: one key is sent at most once
	Kind     string // purchase, invitation, confirmation, ...
	To       string
	OrgID    string
	LeadID   string
	Data     any // template fields
}

// Outbox is the one way leadrelay sends email: every send is recorded under
// its key before it goes out and marked after, and its Message-ID derives
// from the key.
type Outbox struct {
	Store  *store.Store
	Sender *Sender
}

// ErrSMTP marks a failed SMTP conversation: retry it.
var ErrSMTP = errors.New("smtp")

// ErrRefused marks a permanent refusal of this message (an SMTP 5xx to its
// recipient or its content): retrying the same message cannot help.
var ErrRefused = errors.New("smtp refused for good")

// Sent reports whether the email with this key already went out.
func (o *Outbox) Sent(ctx context.Context, key string) (bool, error) {
	return o.Store.DeliverySent(ctx, key)
}

// Deliver sends e unless its key was sent before; sent reports whether this
// call sent it. A template error is permanent; an SMTP error is ErrSMTP.
func (o *Outbox) Deliver(ctx context.Context, e Email) (sent bool, err error) {
	msg, err := Render(e.Template, e.Key, e.To, o.Sender.Domain, e.Data)
	if err != nil {
		return false, err
	}
	d := store.Delivery{Key: e.Key, MessageID: msg.MessageID, Kind: e.Kind, To: e.To, Subject: msg.Subject}
	if e.OrgID != "" {
		d.OrgID = &e.OrgID
	}
	if e.LeadID != "" {
		d.LeadID = &e.LeadID
	}
	already, err := o.Store.BeginDelivery(ctx, d)
	if err != nil || already {
		return false, err
	}
	if err := o.Sender.Send(ctx, msg); err != nil {
		_ = o.Store.MarkFailed(context.WithoutCancel(ctx), e.Key, err.Error())
		if refusedForGood(err) {
			return false, errors.Join(ErrRefused, err)
		}
		return false, errors.Join(ErrSMTP, err)
	}
	// A crash between Send and MarkSent resends once with the same Message-ID;
	// that window is the only way a second copy can arise (docs/architecture.md, Emails).
	// A PostgreSQL restart there is waited out, not a reason to send again.
	return true, store.WhileUnreachable(ctx, func(ctx context.Context) error { return o.Store.MarkSent(ctx, e.Key) })
}

// refusedForGood is a 5xx to RCPT TO (no such mailbox, relaying denied for
// it) or after the message's data (content refused): about this message.
// A 5xx to MAIL FROM or AUTH is about our configuration (a wrong MAIL_FROM,
// credentials): it stays retryable, so fixing the configuration sends
// everything that waited.
func refusedForGood(err error) bool {
	var se *gomail.SendError
	if !errors.As(err, &se) || se.ErrorCode() < 500 || se.ErrorCode() > 599 {
		return false
	}
	return se.Reason == gomail.ErrSMTPRcptTo || se.Reason == gomail.ErrSMTPDataClose
}
