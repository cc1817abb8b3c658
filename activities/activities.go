// Package activities holds every side effect leadrelay's workflows perform.
// Activities are methods on one struct holding the dependencies; workflows call
// them through a nil *Activities, so the method value names the activity.
//
// Each activity takes and returns its own types, declared here and mapped to
// store types inside: what Temporal records is this package's contract, not
// the database's. Those types carry ids, never a lead's or a person's data
// (docs/architecture.md: what Temporal's history holds); an activity reads what it needs.
package activities

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	gomail "github.com/wneessen/go-mail"
	"go.temporal.io/sdk/activity"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/failure"
	"github.com/leadrelay/leadrelay/internal/mail"
	"github.com/leadrelay/leadrelay/internal/metrics"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/internal/webhook"
)

// Activities holds what the side effects need; one value is registered
// with the worker.
type Activities struct {
	Store         *store.Store
	Outbox        *mail.Outbox
	PublicBaseURL string
	// StartHandover starts, or finds, the run that waits for a handed-over
	// lead's review. internal/app wires runs.Starter.Handover here: this
	// package cannot import the workflows that call it.
	StartHandover func(ctx context.Context, h HandoverRun) error
	// StartLeadHop starts, or finds, a sub-agency hop run of a lead's
	// routing: what a distribution does with each lead it passes down.
	// internal/app wires runs.Starter.LeadHop here, for the same reason.
	StartLeadHop func(ctx context.Context, h HopRun) error
	// Metrics counts what the activities commit (nil: not counted).
	Metrics *metrics.Metrics
	// Webhooks sends webhook deliveries: webhook.Guard's client, which
	// checks every address it dials (nil: deliveries fail).
	Webhooks *http.Client
	// Sealer opens webhook endpoints' secrets (WEBHOOK_SECRET_KEY; nil:
	// every delivery fails, saying so, until the worker has the key).
	Sealer *webhook.Sealer
}

// deliverOrRecord is deliver for an email among others: a permanent refusal
// is recorded as failed (on the lead's timeline when it is about one) and
// reported as refused, with the recording's error, so the caller goes on to
// the next address; any other error is deliver's. A retry caused by another
// address's outage asks the server again: it can only refuse again or
// deliver once.
func (a *Activities) deliverOrRecord(ctx context.Context, e mail.Email) (refused bool, err error) {
	err = a.deliver(ctx, e)
	if failure.Code(err) != domain.ERefused {
		return false, err
	}
	return true, a.Store.RecordEmailFailure(ctx, e.Key, e.LeadID, e.OrgID, failure.Message(err))
}

// deliver sends one email through the outbox and says how it went in the
// vocabulary of internal/failure: an SMTP outage comes back retryable, so
// the email is delayed, never dropped; a permanent refusal (5xx to the
// recipient or the content) comes back typed domain.ERefused, a broken
// template domain.EInternal, both never retried. An email about a lead is
// written on its timeline once sent, but an instant alert: the assignment
// it tells of is already there, and a line per assignment arriving a moment
// after it would only push the assignment down (its delivery is in
// email_deliveries; a failure still goes on the timeline).
func (a *Activities) deliver(ctx context.Context, e mail.Email) error {
	log := activity.GetLogger(ctx)
	sent, err := a.Outbox.Deliver(ctx, e)
	switch {
	case errors.Is(err, mail.ErrRefused):
		a.Metrics.EmailFailed(e.Kind, "refused")
		log.Warn("email refused for good", "Key", e.Key, "LeadID", e.LeadID, "Error", err)
		return failure.New(domain.ERefused, e.Kind+" email to "+e.To+" refused: "+smtpReply(err), nil)
	case errors.Is(err, mail.ErrSMTP):
		a.Metrics.EmailRetried(e.Kind)
		log.Warn("email not sent, will retry", "Key", e.Key, "LeadID", e.LeadID, "Error", err)
		// go-mail's words name the recipients; Temporal records the last
		// attempt's error, so it gets the reply code only.
		return fmt.Errorf("%s email not sent, will retry: %s", e.Kind, smtpReply(err))
	case errors.Is(err, mail.ErrTemplate):
		return failure.New(domain.EInternal, err.Error(), err)
	case err != nil:
		return err
	case !sent:
		log.Info("email already sent: not sending again", "Key", e.Key, "LeadID", e.LeadID)
		return nil
	}
	if e.LeadID != "" && e.Kind != alertKind {
		// Best effort: the email went out; a lost timeline line must not
		// make a retry look like it needs sending again (the outbox would
		// not resend it anyway).
		_ = a.Store.AddLeadEvent(context.WithoutCancel(ctx), e.LeadID, e.OrgID, "email", "leadrelay",
			e.Kind+" email sent to "+e.To)
	}
	a.Metrics.EmailSent(e.Kind)
	log.Info("email sent", "Key", e.Key, "Kind", e.Kind, "LeadID", e.LeadID)
	return nil
}

// smtpReply is the server's reply code without go-mail's longer wrapping,
// which names the recipients; or, when no reply came, the connection error.
func smtpReply(err error) string {
	var se *gomail.SendError
	if errors.As(err, &se) {
		if se.ErrorCode() == 0 {
			return "SMTP " + se.Reason.String()
		}
		return fmt.Sprintf("SMTP %d %s", se.ErrorCode(), se.EnhancedStatusCode())
	}
	return strings.TrimPrefix(err.Error(), mail.ErrSMTP.Error()+"\n")
}

// Noop is the benchmark's unit of engine work: one local activity that does nothing.
func (a *Activities) Noop(ctx context.Context) error { return nil }
