package api

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/internal/webhook"
)

// Outbound webhooks (SPEC §5.7, docs/webhooks.md): the org's owner and
// admins register endpoints; the worker delivers to them. The secret is
// shown in full once, in the answer that creates it, and masked after.

// webhookIn is the body of POST /v1/orgs/{org}/webhooks.
type webhookIn struct {
	URL    string   `json:"url"`
	Events []string `json:"events"`
	Secret string   `json:"secret"` // empty: one is generated
}

// WebhookOut is an endpoint as the API shows it; the console reads the
// answers into it too.
type WebhookOut struct {
	ID             string     `json:"id"`
	URL            string     `json:"url"`
	Events         []string   `json:"events"`
	Secret         string     `json:"secret"`
	Enabled        bool       `json:"enabled"`
	CreatedAt      time.Time  `json:"created_at"`
	FailingSince   *time.Time `json:"failing_since"`
	DisabledAt     *time.Time `json:"disabled_at"`
	DisabledReason string     `json:"disabled_reason,omitempty"`
	// Deliveries is the delivery log, newest first: in GET of one endpoint.
	Deliveries []DeliveryOut `json:"deliveries,omitempty"`
}

// DeliveryOut is one delivery of the log and how its last attempt went.
type DeliveryOut struct {
	ID            int64      `json:"id"`
	WebhookID     string     `json:"webhook_id"` // the webhook-id header
	Type          string     `json:"type"`
	LeadID        string     `json:"lead_id"`
	Status        string     `json:"status"`
	Attempts      int        `json:"attempts"`
	CreatedAt     time.Time  `json:"created_at"`
	LastAttemptAt *time.Time `json:"last_attempt_at"`
	LastStatus    *int       `json:"last_status"`
	LastLatencyMS *int       `json:"last_latency_ms"`
	LastError     string     `json:"last_error,omitempty"`
	DeliveredAt   *time.Time `json:"delivered_at"`
}

// deliveryLog is how many deliveries GET of one endpoint shows.
const deliveryLog = 100

// webhookView shows an endpoint with its secret's hint, or with secret
// itself in the answer that creates it (the only place it is in the clear).
func webhookView(e store.WebhookEndpoint, secret string) WebhookOut {
	if secret == "" {
		secret = e.SecretHint
	}
	return WebhookOut{ID: e.ID, URL: e.URL, Events: e.Events, Secret: secret, Enabled: e.DisabledAt == nil,
		CreatedAt: e.CreatedAt, FailingSince: e.FailingSince, DisabledAt: e.DisabledAt, DisabledReason: e.DisabledReason}
}

// guard is the address check of webhook URLs, as WEBHOOK_ALLOW_PRIVATE says.
func (s *Server) guard() webhook.Guard {
	return webhook.Guard{AllowPrivate: s.Cfg.WebhookAllowPrivate}
}

// createWebhook registers an endpoint: 201 with its secret, in full this
// once. A URL whose host resolves to a forbidden address is 422 on url. A
// server without WEBHOOK_SECRET_KEY has nowhere safe to keep a secret:
// 503, nothing written.
func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request) {
	org := r.PathValue("org")
	if _, err := s.member(r, org, true); err != nil {
		writeErr(w, err)
		return
	}
	if s.sealer == nil {
		writeErr(w, domain.Errorf(domain.EUnavailable, "%s", webhook.ErrNoKey))
		return
	}
	var in webhookIn
	if err := decode(w, r, smallBody, &in); err != nil {
		writeErr(w, err)
		return
	}
	e := domain.WebhookEndpoint{URL: in.URL, Events: in.Events}
	err := e.Validate()
	fields := domain.FieldErrors{}
	var de *domain.Error
	if errors.As(err, &de) {
		fields = de.Fields
	} else if err != nil {
		writeErr(w, err)
		return
	}
	if in.Secret == "" {
		in.Secret = webhook.NewSecret()
	} else if _, err := webhook.SecretKey(in.Secret); err != nil {
		fields.Add("secret", err.Error())
	}
	if _, bad := fields["url"]; !bad {
		if err := s.guard().CheckURL(r.Context(), e.URL); err != nil {
			fields.Add("url", err.Error())
		}
	}
	if err := fields.Err("invalid webhook endpoint"); err != nil {
		writeErr(w, err)
		return
	}
	sealed, err := s.sealer.Seal(in.Secret)
	if err != nil {
		writeErr(w, err)
		return
	}
	saved, err := s.Store.CreateWebhook(r.Context(), org, e.URL, e.Events, sealed, webhook.Mask(in.Secret))
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 201, webhookView(saved, in.Secret))
}

// listWebhooks lists the org's endpoints, secrets masked.
func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request) {
	org := r.PathValue("org")
	if _, err := s.member(r, org, true); err != nil {
		writeErr(w, err)
		return
	}
	list, err := s.Store.Webhooks(r.Context(), org)
	if err != nil {
		writeErr(w, err)
		return
	}
	out := make([]WebhookOut, len(list))
	for i, e := range list {
		out[i] = webhookView(e, "")
	}
	writeJSON(w, 200, map[string]any{"webhooks": out})
}

// getWebhook shows one endpoint, secret masked, with its delivery log.
func (s *Server) getWebhook(w http.ResponseWriter, r *http.Request) {
	org := r.PathValue("org")
	if _, err := s.member(r, org, true); err != nil {
		writeErr(w, err)
		return
	}
	e, err := s.Store.Webhook(r.Context(), org, r.PathValue("id"))
	if err != nil {
		writeErr(w, err)
		return
	}
	log, err := s.Store.WebhookDeliveries(r.Context(), e.ID, deliveryLog)
	if err != nil {
		writeErr(w, err)
		return
	}
	out := webhookView(e, "")
	out.Deliveries = make([]DeliveryOut, len(log))
	for i, d := range log {
		out.Deliveries[i] = DeliveryOut{ID: d.ID, WebhookID: d.MsgID, Type: d.Type, LeadID: d.LeadID, Status: d.Status,
			Attempts: d.Attempts, CreatedAt: d.CreatedAt, LastAttemptAt: d.LastAttemptAt, LastStatus: d.LastStatus,
			LastLatencyMS: d.LastLatencyMS, LastError: d.LastError, DeliveredAt: d.DeliveredAt}
	}
	writeJSON(w, 200, out)
}

// deleteWebhook removes an endpoint and its deliveries; one being sent
// stops at its next attempt.
func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request) {
	org := r.PathValue("org")
	if _, err := s.member(r, org, true); err != nil {
		writeErr(w, err)
		return
	}
	if err := s.Store.DeleteWebhook(r.Context(), org, r.PathValue("id")); err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 200, map[string]bool{"deleted": true})
}

// enableWebhook turns a disabled endpoint back on; its later events are
// delivered, and a resend sends one it missed.
func (s *Server) enableWebhook(w http.ResponseWriter, r *http.Request) {
	org := r.PathValue("org")
	if _, err := s.member(r, org, true); err != nil {
		writeErr(w, err)
		return
	}
	if err := s.Store.EnableWebhook(r.Context(), org, r.PathValue("id")); err != nil {
		writeErr(w, err)
		return
	}
	s.getWebhook(w, r)
}

// resendWebhook puts one delivery back in the outbox, with its webhook-id:
// the worker's pump sends it within a second or so. 202: queued, not sent.
func (s *Server) resendWebhook(w http.ResponseWriter, r *http.Request) {
	org := r.PathValue("org")
	if _, err := s.member(r, org, true); err != nil {
		writeErr(w, err)
		return
	}
	id, err := strconv.ParseInt(r.PathValue("delivery"), 10, 64)
	if err != nil || id <= 0 {
		writeErr(w, domain.Errorf(domain.ENotFound, "delivery not found"))
		return
	}
	if err := s.Store.ResendWebhookDelivery(r.Context(), org, r.PathValue("id"), id); err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 202, map[string]any{"queued": true, "delivery": id})
}
