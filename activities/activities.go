// Package activities holds every side effect leadrelay's workflows perform.
// Activities are methods on one struct holding the dependencies; workflows call
// them through a nil *Activities, so the method value names the activity.
package activities

import (
	"context"
	"errors"
	"fmt"

	gomail "github.com/wneessen/go-mail"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/mail"
	"github.com/leadrelay/leadrelay/internal/store"
)

type Activities struct {
	Store         *store.Store
	Outbox        *mail.Outbox
	PublicBaseURL string
}

// RouteLead makes (or, on a retry, re-reads) one org's routing decision for
// a lead. It runs as a local activity: one Postgres transaction, no round
// trip to the server between deciding and recording.
func (a *Activities) RouteLead(ctx context.Context, req store.RouteRequest) (store.Decision, error) {
	leadID := req.LeadID
	d, err := a.Store.RouteLead(ctx, req)
	if err != nil {
		if domain.ErrorCode(err) == domain.ENotFound {
			return d, temporal.NewNonRetryableApplicationError(err.Error(), "LeadNotFound", err)
		}
		return d, err
	}
	activity.GetLogger(ctx).Info("lead routed", "LeadID", leadID, "Location", d.Location,
		"AssignedTo", d.AssignedTo, "FanOutTo", d.FanOutTo, "Reason", d.Reason, "AlreadyRouted", d.AlreadyRouted)
	return d, nil
}

// Email asks for one templated email to one recipient (see mail.Outbox).
type Email struct {
	Template string // templates/<name>.txt and .html in internal/mail
	Key      string // unique business key: the same key is never sent twice
	Kind     string // purchase, invitation, confirmation, ...
	To       string
	OrgID    string
	LeadID   string
	Data     map[string]string // template fields; LeadURL is added for an email about a lead
}

// SendEmail sends one email through the outbox. An SMTP error is returned so
// the activity is retried with backoff: an outage delays the email, never
// drops it, and the outbox never sends one key twice.
func (a *Activities) SendEmail(ctx context.Context, e Email) error {
	log := activity.GetLogger(ctx)
	if e.LeadID != "" {
		// Links come from this worker's PUBLIC_BASE_URL, as in every email.
		data := map[string]string{"LeadURL": a.PublicBaseURL + "/v1/leads/" + e.LeadID}
		for k, v := range e.Data {
			data[k] = v
		}
		e.Data = data
	}
	sent, err := a.Outbox.Deliver(ctx, mail.Email{Template: e.Template, Key: e.Key, Kind: e.Kind, To: e.To,
		OrgID: e.OrgID, LeadID: e.LeadID, Data: e.Data})
	switch {
	case errors.Is(err, mail.ErrRefused):
		log.Warn("email refused for good", "Key", e.Key, "LeadID", e.LeadID, "Error", err)
		return temporal.NewNonRetryableApplicationError(e.Kind+" email to "+e.To+" refused: "+smtpReply(err), "EmailRefused", err)
	case errors.Is(err, mail.ErrSMTP):
		log.Warn("email not sent, will retry", "Key", e.Key, "LeadID", e.LeadID, "Error", err)
		return err
	case errors.Is(err, mail.ErrTemplate):
		return temporal.NewNonRetryableApplicationError(err.Error(), "BadTemplate", err)
	case err != nil:
		return err
	case !sent:
		log.Info("email already sent: not sending again", "Key", e.Key, "LeadID", e.LeadID)
		return nil
	}
	if e.LeadID != "" {
		_ = a.Store.AddLeadEvent(context.WithoutCancel(ctx), e.LeadID, e.OrgID, "email", "leadrelay",
			e.Kind+" email sent to "+e.To)
	}
	log.Info("email sent", "Key", e.Key, "Kind", e.Kind, "LeadID", e.LeadID)
	return nil
}

// EmailFailure names an email that will not be sent, and why.
type EmailFailure struct {
	Key, Kind, To, OrgID, LeadID string
	Reason                       string
}

// RecordEmailFailure marks an email failed for good and writes it on the
// lead's timeline: the lead was routed regardless, and whoever reads the
// timeline learns that the notification did not go out.
func (a *Activities) RecordEmailFailure(ctx context.Context, f EmailFailure) error {
	msg := f.Kind + " email to " + f.To + " failed: " + f.Reason
	if err := a.Store.RecordEmailFailure(ctx, f.Key, f.LeadID, f.OrgID, msg); err != nil {
		return err
	}
	activity.GetLogger(ctx).Warn("email recorded as failed", "Key", f.Key, "LeadID", f.LeadID, "Reason", f.Reason)
	return nil
}

// smtpReply keeps the server's words out of go-mail's longer wrapping.
func smtpReply(err error) string {
	var se *gomail.SendError
	if errors.As(err, &se) {
		return fmt.Sprintf("SMTP %d %s", se.ErrorCode(), se.EnhancedStatusCode())
	}
	return err.Error()
}

// Noop is the benchmark's unit of engine work: one local activity that does nothing.
func (a *Activities) Noop(ctx context.Context) error { return nil }
