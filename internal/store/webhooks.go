package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leadrelay/leadrelay/internal/webhook"
)

// Outbound webhooks (issue 19, SPEC §5.7). An org's endpoints, and the
// outbox of their deliveries: one row per timeline event per subscribed
// endpoint, written in the event's own transaction by the
// timeline_record_webhooks trigger (migration 00020), with the event's
// payload frozen then. The worker's webhook pump starts one run per
// (endpoint, lead) that sends that lead's deliveries in order; a delivery
// recorded delivered is never sent again but by a person's resend.

// WebhookEndpoint is an org's registered endpoint. Its secret, what signs,
// is kept sealed (webhook.Sealer) and never read back here: the API shows
// it once, when created, and SecretHint (its masked form) after.
type WebhookEndpoint struct {
	ID             string
	OrgID          string
	URL            string
	Events         []string
	SecretHint     string
	CreatedAt      time.Time
	FailingSince   *time.Time
	DisabledAt     *time.Time
	DisabledReason string
}

const webhookCols = `id::text, org_id::text, url, events, secret_hint, created_at, failing_since, disabled_at, coalesce(disabled_reason, '')`

// CreateWebhook registers an endpoint of org with its secret sealed, and
// the secret's hint to show.
func (s *Store) CreateWebhook(ctx context.Context, orgID, url string, events []string, sealed []byte, hint string) (WebhookEndpoint, error) {
	rows, err := s.db.Query(ctx, `INSERT INTO webhook_endpoints (org_id, url, events, secret_sealed, secret_hint) VALUES ($1,$2,$3,$4,$5)
		RETURNING `+webhookCols, orgID, url, events, sealed, hint)
	if err != nil {
		return WebhookEndpoint{}, err
	}
	return pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[WebhookEndpoint])
}

// Webhooks lists org's endpoints, oldest first.
func (s *Store) Webhooks(ctx context.Context, orgID string) ([]WebhookEndpoint, error) {
	rows, err := s.db.Query(ctx, `SELECT `+webhookCols+` FROM webhook_endpoints WHERE org_id = $1 ORDER BY created_at, id`, orgID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[WebhookEndpoint])
}

// Webhook reads one endpoint of org: another org's is not found.
func (s *Store) Webhook(ctx context.Context, orgID, id string) (WebhookEndpoint, error) {
	rows, err := s.db.Query(ctx, `SELECT `+webhookCols+` FROM webhook_endpoints WHERE org_id = $1 AND id::text = $2`, orgID, id)
	if err != nil {
		return WebhookEndpoint{}, err
	}
	w, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[WebhookEndpoint])
	return w, notFound(err, "webhook")
}

// DeleteWebhook removes an endpoint of org and its deliveries: a run
// sending one finds it gone and stops.
func (s *Store) DeleteWebhook(ctx context.Context, orgID, id string) error {
	tag, err := s.db.Exec(ctx, `DELETE FROM webhook_endpoints WHERE org_id = $1 AND id::text = $2`, orgID, id)
	if err == nil && tag.RowsAffected() == 0 {
		err = pgx.ErrNoRows
	}
	return notFound(err, "webhook")
}

// EnableWebhook turns a disabled endpoint of org back on, with a fresh day
// before failures disable it again. Deliveries failed while it was off
// stay failed: a resend sends one.
func (s *Store) EnableWebhook(ctx context.Context, orgID, id string) error {
	tag, err := s.db.Exec(ctx, `UPDATE webhook_endpoints SET disabled_at = NULL, disabled_reason = NULL, failing_since = NULL
		WHERE org_id = $1 AND id::text = $2`, orgID, id)
	if err == nil && tag.RowsAffected() == 0 {
		err = pgx.ErrNoRows
	}
	return notFound(err, "webhook")
}

// WebhookDelivery is one event for one endpoint and how its sending went.
type WebhookDelivery struct {
	ID            int64
	EndpointID    string
	LeadID        string
	EventID       int64
	MsgID         string
	Type          string
	CreatedAt     time.Time
	Status        string // pending, delivered, failed
	Attempts      int
	LastAttemptAt *time.Time
	LastStatus    *int
	LastLatencyMS *int
	LastError     string
	DeliveredAt   *time.Time
}

const deliveryCols = `id, endpoint_id::text, lead_id::text, event_id, msg_id, type, created_at, status, attempts,
	last_attempt_at, last_status, last_latency_ms, coalesce(last_error, ''), delivered_at`

// WebhookDeliveries is an endpoint's delivery log, newest first, at most
// limit rows.
func (s *Store) WebhookDeliveries(ctx context.Context, endpointID string, limit int) ([]WebhookDelivery, error) {
	rows, err := s.db.Query(ctx, `SELECT `+deliveryCols+` FROM webhook_deliveries WHERE endpoint_id = $1 ORDER BY id DESC LIMIT $2`,
		endpointID, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[WebhookDelivery])
}

// WebhookDeliveriesForLead lists a lead's deliveries, in the order they are
// sent: what tests and support read.
func (s *Store) WebhookDeliveriesForLead(ctx context.Context, leadID string) ([]WebhookDelivery, error) {
	rows, err := s.db.Query(ctx, `SELECT `+deliveryCols+` FROM webhook_deliveries WHERE lead_id = $1 ORDER BY endpoint_id, event_id`, leadID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[WebhookDelivery])
}

// ResendWebhookDelivery puts one delivery of an endpoint of org back in the
// outbox, delivered or failed: a person asked for it again. It keeps its
// webhook-id, so a receiver that has it can tell. The pump starts its run.
func (s *Store) ResendWebhookDelivery(ctx context.Context, orgID, endpointID string, id int64) error {
	tag, err := s.db.Exec(ctx, `UPDATE webhook_deliveries d SET status = 'pending', started_at = NULL, delivered_at = NULL
		FROM webhook_endpoints e WHERE e.id = d.endpoint_id AND e.org_id = $1 AND e.id::text = $2 AND d.id = $3`,
		orgID, endpointID, id)
	if err == nil && tag.RowsAffected() == 0 {
		err = pgx.ErrNoRows
	}
	return notFound(err, "delivery")
}

// WebhookRun names the run that sends one lead's deliveries to one endpoint.
type WebhookRun struct {
	EndpointID string
	LeadID     string
	OrgID      string
	Restart    bool  // started before and still pending: what the reconciled metric counts
	DeliveryID int64 // the page's last delivery of the pair, for paging
}

// WebhookRunsToStart pages, by delivery id after after, through pending
// deliveries whose run was never started or last started before
// restartBefore, one per (endpoint, lead) in the page: what the pump
// starts, or finds running.
func (s *Store) WebhookRunsToStart(ctx context.Context, restartBefore time.Time, after int64, limit int) ([]WebhookRun, error) {
	rows, err := s.db.Query(ctx, `SELECT endpoint_id::text, lead_id::text, org_id::text, bool_or(started_at IS NOT NULL), max(id) FROM (
			SELECT id, endpoint_id, lead_id, org_id, started_at FROM webhook_deliveries
			WHERE status = 'pending' AND (started_at IS NULL OR started_at < $1) AND id > $2 ORDER BY id LIMIT $3) p
		GROUP BY endpoint_id, lead_id, org_id ORDER BY max(id)`, restartBefore, after, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[WebhookRun])
}

// WebhookRunStarted records that the pair's pending deliveries up to
// throughID have their run started or found running.
func (s *Store) WebhookRunStarted(ctx context.Context, endpointID, leadID string, throughID int64) error {
	_, err := s.db.Exec(ctx, `UPDATE webhook_deliveries SET started_at = now()
		WHERE endpoint_id = $1 AND lead_id = $2 AND status = 'pending' AND id <= $3`, endpointID, leadID, throughID)
	return err
}

// NextWebhookDelivery is the id of the lead's first pending delivery to the
// endpoint, in the order of its timeline; 0 when none is left.
func (s *Store) NextWebhookDelivery(ctx context.Context, endpointID, leadID string) (int64, error) {
	var id int64
	err := s.db.QueryRow(ctx, `SELECT id FROM webhook_deliveries WHERE endpoint_id = $1 AND lead_id = $2 AND status = 'pending'
		ORDER BY event_id LIMIT 1`, endpointID, leadID).Scan(&id)
	if err == pgx.ErrNoRows {
		return 0, nil
	}
	return id, err
}

// WebhookMessage is what one attempt sends, read as it starts.
type WebhookMessage struct {
	ID, OrgID, LeadID string
	MsgID, Type       string
	CreatedAt         time.Time
	Payload           json.RawMessage
	Status            string // delivered or failed: nothing to send
	URL               string
	// SealedSecret is the endpoint's secret as webhook.Sealer sealed it;
	// Secret is one saved in the clear before migration 00021 and not
	// sealed yet (SealWebhookSecrets), else empty.
	SealedSecret []byte
	Secret       string
	Disabled     bool
}

// WebhookMessage reads a delivery with its endpoint.
func (s *Store) WebhookMessage(ctx context.Context, id int64) (WebhookMessage, error) {
	var m WebhookMessage
	err := s.db.QueryRow(ctx, `SELECT d.endpoint_id::text, d.org_id::text, d.lead_id::text, d.msg_id, d.type, d.created_at, d.payload,
			d.status, e.url, e.secret_sealed, coalesce(e.secret, ''), e.disabled_at IS NOT NULL
		FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE d.id = $1`, id).
		Scan(&m.ID, &m.OrgID, &m.LeadID, &m.MsgID, &m.Type, &m.CreatedAt, &m.Payload, &m.Status, &m.URL, &m.SealedSecret, &m.Secret, &m.Disabled)
	return m, notFound(err, "delivery")
}

// SealWebhookSecrets seals the secrets saved in the clear before migration
// 00021 and empties the clear column, a row at a time so a racing start
// of the other process seals each once. It answers how many it sealed.
func (s *Store) SealWebhookSecrets(ctx context.Context, sealer *webhook.Sealer) (int, error) {
	n := 0
	for {
		done := false
		err := s.inTx(ctx, func(tx pgx.Tx) error {
			var id, secret string
			err := tx.QueryRow(ctx, `SELECT id::text, secret FROM webhook_endpoints WHERE secret IS NOT NULL
				LIMIT 1 FOR UPDATE SKIP LOCKED`).Scan(&id, &secret)
			if errors.Is(err, pgx.ErrNoRows) {
				done = true
				return nil
			}
			if err != nil {
				return err
			}
			sealed, err := sealer.Seal(secret)
			if err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `UPDATE webhook_endpoints SET secret_sealed = $2, secret_hint = $3, secret = NULL WHERE id = $1`,
				id, sealed, webhook.Mask(secret))
			return err
		})
		if err != nil || done {
			return n, err
		}
		n++
	}
}

// WebhookAttempt is how one attempt went.
type WebhookAttempt struct {
	DeliveryID int64
	OK         bool // a 2xx: delivered
	Status     int  // 0: no answer
	Latency    time.Duration
	Error      string
}

// WebhookDisabled is an endpoint a failed attempt has just disabled, and
// whom to tell.
type WebhookDisabled struct {
	EndpointID, OrgID, URL string
	FailingSince           time.Time
	OwnerEmail, OwnerName  string
}

// webhookFailDay is how long an endpoint fails every delivery before it is
// disabled.
const webhookFailDay = 24 * time.Hour

// RecordWebhookAttempt records an attempt on its delivery and endpoint. A
// 2xx marks the delivery delivered (the first one counts: a delivery
// recorded delivered is never sent again) and the endpoint healthy; a
// failure starts, or continues, the endpoint's failing streak, and when
// the streak has lasted a day disables the endpoint and returns it (nil
// otherwise) for its owner to be told.
func (s *Store) RecordWebhookAttempt(ctx context.Context, a WebhookAttempt) (*WebhookDisabled, error) {
	var status, latency any
	if a.Status != 0 {
		status = a.Status
	}
	latency = int(a.Latency / time.Millisecond)
	var disabled *WebhookDisabled
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var endpointID string
		err := tx.QueryRow(ctx, `UPDATE webhook_deliveries SET attempts = attempts + 1, last_attempt_at = now(), last_status = $2,
				last_latency_ms = $3, last_error = nullif($4, ''),
				status = CASE WHEN $5 AND status = 'pending' THEN 'delivered' ELSE status END,
				delivered_at = CASE WHEN $5 AND status = 'pending' THEN now() ELSE delivered_at END
			WHERE id = $1 RETURNING endpoint_id::text`, a.DeliveryID, status, latency, a.Error, a.OK).Scan(&endpointID)
		if err != nil {
			return notFound(err, "delivery")
		}
		if a.OK {
			_, err := tx.Exec(ctx, `UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL`, endpointID)
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE webhook_endpoints SET failing_since = now()
			WHERE id = $1 AND failing_since IS NULL`, endpointID); err != nil {
			return err
		}
		d := WebhookDisabled{EndpointID: endpointID}
		err = tx.QueryRow(ctx, `UPDATE webhook_endpoints e SET disabled_at = now(), disabled_reason = 'every delivery failed for a day'
			WHERE id = $1 AND disabled_at IS NULL AND failing_since <= now() - make_interval(secs => $2)
			RETURNING org_id::text, url, failing_since,
				coalesce((SELECT email FROM users u WHERE u.org_id = e.org_id AND u.role = 'owner' AND u.active), ''),
				coalesce((SELECT name FROM users u WHERE u.org_id = e.org_id AND u.role = 'owner' AND u.active), '')`,
			endpointID, webhookFailDay.Seconds()).Scan(&d.OrgID, &d.URL, &d.FailingSince, &d.OwnerEmail, &d.OwnerName)
		if err == pgx.ErrNoRows {
			return nil // failing for less than a day, or disabled already
		}
		disabled = &d
		return err
	})
	return disabled, err
}

// FailWebhookDelivery records a delivery failed for good (a day of
// attempts, or its endpoint disabled), so the lead's next one goes.
func (s *Store) FailWebhookDelivery(ctx context.Context, id int64, reason string) error {
	_, err := s.db.Exec(ctx, `UPDATE webhook_deliveries SET status = 'failed', last_error = coalesce(last_error, $2)
		WHERE id = $1 AND status = 'pending'`, id, reason)
	return err
}

// WebhookByID reads an endpoint whatever its org: for the worker, which
// holds its id from a delivery.
func (s *Store) WebhookByID(ctx context.Context, id string) (WebhookEndpoint, error) {
	rows, err := s.db.Query(ctx, `SELECT `+webhookCols+` FROM webhook_endpoints WHERE id::text = $1`, id)
	if err != nil {
		return WebhookEndpoint{}, err
	}
	w, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[WebhookEndpoint])
	return w, notFound(err, "webhook")
}

// OrgOwnerAddress is the email and name of the org's active owner; empty
// when it has none.
func (s *Store) OrgOwnerAddress(ctx context.Context, orgID string) (email, name string, err error) {
	err = s.db.QueryRow(ctx, `SELECT email, name FROM users WHERE org_id = $1 AND role = 'owner' AND active`, orgID).Scan(&email, &name)
	if err == pgx.ErrNoRows {
		return "", "", nil
	}
	return email, name, err
}
