// Package activities holds every side effect leadrelay's workflows perform.
// Activities are methods on one struct holding the dependencies; workflows call
// them through a nil *Activities, so the method value names the activity.
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

type Activities struct {
	Store         *store.Store
	Mail          *mail.Sender
	PublicBaseURL string
}

// RouteLead makes (or, on a retry, re-reads) the routing decision of one lead.
// It runs as a local activity: one Postgres transaction, no round trip to the
// server between deciding and recording.
func (a *Activities) RouteLead(ctx context.Context, leadID string) (store.Decision, error) {
	d, err := a.Store.RouteLead(ctx, leadID)
	if err != nil {
		if domain.ErrorCode(err) == domain.ENotFound {
			return d, temporal.NewNonRetryableApplicationError(err.Error(), "LeadNotFound", err)
		}
		return d, err
	}
	activity.GetLogger(ctx).Info("lead routed", "LeadID", leadID, "Location", d.Location,
		"AssignedTo", d.AssignedTo, "Reason", d.Reason, "AlreadyRouted", d.AlreadyRouted)
	return d, nil
}

// Email asks for one templated email to one recipient.
type Email struct {
	Template string // templates/<name>.txt and .html in internal/mail
	Key      string // unique business key: the same key is never sent twice
	Kind     string // purchase, invitation, ...
	To       string
	OrgID    string
	LeadID   string
	Data     map[string]string // template fields
}

// SendEmail records the email under its key, sends it unless a previous
// attempt already did, and marks it sent. An SMTP error is returned so the
// activity is retried with backoff: an outage delays the email, never drops it.
func (a *Activities) SendEmail(ctx context.Context, e Email) error {
	msg, err := mail.Render(e.Template, e.Key, e.To, a.Mail.Domain, e.Data)
	if err != nil {
		return temporal.NewNonRetryableApplicationError(err.Error(), "BadTemplate", err)
	}
	d := store.Delivery{Key: e.Key, MessageID: msg.MessageID, Kind: e.Kind, To: e.To, Subject: msg.Subject}
	if e.OrgID != "" {
		d.OrgID = &e.OrgID
	}
	if e.LeadID != "" {
		d.LeadID = &e.LeadID
	}
	sent, err := a.Store.BeginDelivery(ctx, d)
	if err != nil {
		return err
	}
	log := activity.GetLogger(ctx)
	if sent {
		log.Info("email already sent: not sending again", "Key", e.Key, "LeadID", e.LeadID)
		return nil
	}
	if err := a.Mail.Send(ctx, msg); err != nil {
		_ = a.Store.MarkFailed(context.WithoutCancel(ctx), e.Key, err.Error())
		log.Warn("email not sent, will retry", "Key", e.Key, "LeadID", e.LeadID, "Error", err)
		return errors.Join(errors.New("smtp"), err)
	}
	// A crash between Send and MarkSent resends once with the same Message-ID;
	// that window is the only way a second copy can arise (see README).
	if err := a.Store.MarkSent(context.WithoutCancel(ctx), e.Key); err != nil {
		return err
	}
	if e.LeadID != "" {
		_ = a.Store.AddLeadEvent(context.WithoutCancel(ctx), e.LeadID, e.OrgID, "email", "leadrelay",
			e.Kind+" email sent to "+e.To)
	}
	log.Info("email sent", "Key", e.Key, "LeadID", e.LeadID, "MessageID", msg.MessageID)
	return nil
}

// Noop is the benchmark's unit of engine work: one local activity that does nothing.
func (a *Activities) Noop(ctx context.Context) error { return nil }
