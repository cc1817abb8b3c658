package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/failure"
	"github.com/leadrelay/leadrelay/internal/mail"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/internal/webhook"
)

// WebhookPair names one lead's deliveries to one endpoint: what one run
// sends, in order.
type WebhookPair struct {
	EndpointID string `json:"endpoint_id"`
	LeadID     string `json:"lead_id"`
}

// NextWebhook is the id of the pair's first pending delivery in the
// order of the lead's timeline; 0 when none is left.
func (a *Activities) NextWebhook(ctx context.Context, p WebhookPair) (int64, error) {
	return a.Store.NextWebhookDelivery(ctx, p.EndpointID, p.LeadID)
}

// WebhookSend names one delivery: its id only. The payload, the URL and the
// secret stay in PostgreSQL (the secret must never reach the history).
type WebhookSend struct {
	DeliveryID int64 `json:"delivery_id"`
}

// WebhookOutcome is how a delivery ended.
type WebhookOutcome struct {
	Outcome string `json:"outcome"` // one of the Webhook* outcomes
	// DisabledAt is set when the endpoint is disabled: the run emails its
	// owner once per disablement (the outbox key holds the time).
	DisabledAt *time.Time `json:"disabled_at,omitempty"`
	EndpointID string     `json:"endpoint_id,omitempty"`
}

// Webhook delivery outcomes.
const (
	WebhookDelivered = "delivered" // a 2xx, now or before
	WebhookFailed    = "failed"    // given up: its day of retries, or the endpoint disabled
	WebhookGone      = "gone"      // the endpoint or the lead was deleted
)

// webhookErrorType marks a failed attempt Temporal should retry.
const webhookErrorType = "webhook_attempt"

// webhookKind is the disabled endpoint email's kind, in the metrics and the outbox.
const webhookKind = "webhook_disabled"

// webhookBody is what every delivery POSTs (the WebhookEvent schema of
// internal/api/openapi.json): the type, when the event happened, and the
// payload frozen when it did.
type webhookBody struct {
	Type      string          `json:"type"`
	Timestamp time.Time       `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// DeliverWebhook makes one attempt at one delivery. A delivery recorded
// delivered is not sent again: the check comes first, so a retry after a
// 2xx whose recording succeeded sends nothing (only a crash between the
// receiver's 2xx and its recording can send twice, with the same
// webhook-id). Every attempt is recorded on the delivery and its endpoint;
// one that fails comes back as a retryable error, so Temporal retries it
// with backoff until the activity's schedule-to-close (24 h) ends. A day
// of failures disables the endpoint; then this and every delivery after it
// fail at once.
func (a *Activities) DeliverWebhook(ctx context.Context, s WebhookSend) (WebhookOutcome, error) {
	m, err := a.Store.WebhookMessage(ctx, s.DeliveryID)
	if domain.ErrorCode(err) == domain.ENotFound {
		return WebhookOutcome{Outcome: WebhookGone}, nil
	}
	if err != nil {
		return WebhookOutcome{}, err
	}
	out := WebhookOutcome{EndpointID: m.ID}
	switch {
	case m.Status == "delivered":
		out.Outcome = WebhookDelivered
		return out, nil
	case m.Status == "failed":
		out.Outcome = WebhookFailed
		return out, nil
	case m.Disabled:
		return a.webhookDisabled(ctx, s.DeliveryID, m.ID)
	}
	body, err := json.Marshal(webhookBody{Type: m.Type, Timestamp: m.CreatedAt.UTC(), Data: m.Payload})
	if err != nil {
		return out, err
	}
	attempt := store.WebhookAttempt{DeliveryID: s.DeliveryID}
	var status int
	var latency time.Duration
	// A secret that does not open (no key, another key) fails the attempt
	// like an endpoint that does not answer: it is in the delivery log,
	// retried, and a day of it disables the endpoint and tells its owner.
	key, sendErr := a.webhookKey(m)
	if sendErr == nil {
		status, latency, sendErr = a.postWebhook(ctx, m.URL, key, m.MsgID, body)
	}
	attempt.Status, attempt.Latency = status, latency
	switch {
	case sendErr != nil:
		attempt.Error = sendErr.Error()
	case status >= 200 && status < 300:
		attempt.OK = true
	default:
		attempt.Error = "HTTP " + strconv.Itoa(status)
	}
	// The record must not be lost to the activity's deadline or a PostgreSQL
	// restart: it is what keeps a 2xx from being sent again.
	var disabled *store.WebhookDisabled
	err = store.WhileUnreachable(ctx, func(ctx context.Context) error {
		var err error
		disabled, err = a.Store.RecordWebhookAttempt(ctx, attempt)
		return err
	})
	if err != nil {
		return out, err
	}
	log := activity.GetLogger(ctx)
	if attempt.OK {
		log.Info("webhook delivered", "DeliveryID", s.DeliveryID, "LeadID", m.LeadID, "Type", m.Type, "Status", status)
		out.Outcome = WebhookDelivered
		return out, nil
	}
	if disabled != nil {
		log.Warn("webhook endpoint disabled after a day of failures", "EndpointID", m.ID)
		return a.webhookDisabled(ctx, s.DeliveryID, m.ID)
	}
	log.Info("webhook attempt failed, will retry", "DeliveryID", s.DeliveryID, "LeadID", m.LeadID, "Error", attempt.Error)
	return out, temporal.NewApplicationError(attempt.Error, webhookErrorType)
}

// webhookKey opens the endpoint's sealed secret (or takes one saved in the
// clear before secrets were sealed) and decodes the key it stands for.
func (a *Activities) webhookKey(m store.WebhookMessage) ([]byte, error) {
	secret := m.Secret
	if len(m.SealedSecret) > 0 {
		var err error
		if secret, err = a.Sealer.Open(m.SealedSecret); err != nil {
			return nil, err
		}
	}
	key, err := webhook.SecretKey(secret)
	if err != nil {
		// Saved through the API, which checks it: a row edited by hand.
		return nil, errors.New("the endpoint's secret is malformed")
	}
	return key, nil
}

// webhookDisabled fails a delivery whose endpoint is disabled and says
// when it was, for the owner's email.
func (a *Activities) webhookDisabled(ctx context.Context, deliveryID int64, endpointID string) (WebhookOutcome, error) {
	if err := a.Store.FailWebhookDelivery(ctx, deliveryID, "the endpoint is disabled"); err != nil {
		return WebhookOutcome{}, err
	}
	e, err := a.Store.WebhookByID(ctx, endpointID)
	if domain.ErrorCode(err) == domain.ENotFound {
		return WebhookOutcome{Outcome: WebhookGone}, nil
	}
	if err != nil {
		return WebhookOutcome{}, err
	}
	return WebhookOutcome{Outcome: WebhookFailed, DisabledAt: e.DisabledAt, EndpointID: endpointID}, nil
}

// postWebhook POSTs one signed message through the guarded client and
// says how the receiver answered: its status (0: no answer), how long it
// took, and why it failed when it did not answer. The receiver's body is
// read (a little) and dropped.
func (a *Activities) postWebhook(ctx context.Context, url string, key []byte, msgID string, body []byte) (int, time.Duration, error) {
	if a.Webhooks == nil {
		return 0, 0, failure.New(domain.EInternal, "the worker has no webhook client", nil)
	}
	req, err := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "leadrelay-webhooks/1")
	for k, v := range webhook.Headers(key, msgID, time.Now(), body) {
		req.Header.Set(k, v)
	}
	start := time.Now()
	resp, err := a.Webhooks.Do(req)
	latency := time.Since(start)
	if err != nil {
		return 0, latency, fmt.Errorf("no answer: %w", unwrapURL(err))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	return resp.StatusCode, latency, nil
}

// unwrapURL drops net/http's "Post \"<url>\": " prefix (its *url.Error):
// the URL is on the endpoint already, and may hold a token in its query.
func unwrapURL(err error) error {
	if ue := (*url.Error)(nil); errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// WebhookFailure says why a delivery was given up.
type WebhookFailure struct {
	DeliveryID int64  `json:"delivery_id"`
	Reason     string `json:"reason"`
}

// FailWebhook records a delivery failed for good, after its day of
// retries: the lead's next delivery goes.
func (a *Activities) FailWebhook(ctx context.Context, f WebhookFailure) error {
	return a.Store.FailWebhookDelivery(ctx, f.DeliveryID, f.Reason)
}

// WebhookDisabledNotice names a disabled endpoint whose owner is told.
type WebhookDisabledNotice struct {
	EndpointID string    `json:"endpoint_id"`
	DisabledAt time.Time `json:"disabled_at"`
}

// webhookDisabledEmail is the data of templates/webhook_disabled.*.
type webhookDisabledEmail struct {
	OwnerName, URL, Reason, ConsoleURL string
}

// WebhookDisabledKey is the outbox key of a disablement's one email: every
// run that finds the endpoint disabled asks, the first one sends.
func WebhookDisabledKey(endpointID string, at time.Time) string {
	return "webhook_disabled:" + endpointID + ":" + strconv.FormatInt(at.Unix(), 10)
}

// EmailWebhookDisabled emails the org's owner that the endpoint was
// disabled, once per disablement. An endpoint enabled again since, or
// deleted, or an org without an active owner, sends nothing.
func (a *Activities) EmailWebhookDisabled(ctx context.Context, n WebhookDisabledNotice) error {
	e, err := a.Store.WebhookByID(ctx, n.EndpointID)
	if domain.ErrorCode(err) == domain.ENotFound {
		return nil
	}
	if err != nil {
		return err
	}
	if e.DisabledAt == nil || !e.DisabledAt.Equal(n.DisabledAt) {
		return nil
	}
	to, name, err := a.Store.OrgOwnerAddress(ctx, e.OrgID)
	if err != nil || to == "" {
		return err
	}
	return a.deliver(ctx, mail.Email{Template: "webhook_disabled", Kind: webhookKind, Key: WebhookDisabledKey(e.ID, n.DisabledAt),
		To: to, OrgID: e.OrgID, Data: webhookDisabledEmail{OwnerName: oneLine(name), URL: oneLine(e.URL),
			Reason: e.DisabledReason, ConsoleURL: a.PublicBaseURL + "/app/webhooks"}})
}
