-- +goose Up
-- An email refused for good (an SMTP 5xx, or retries exhausted) is recorded
-- as failed; routing never waits for it.
ALTER TABLE email_deliveries DROP CONSTRAINT email_deliveries_status_check;
ALTER TABLE email_deliveries ADD CONSTRAINT email_deliveries_status_check CHECK (status IN ('pending','sent','failed'));
-- The reconciler pages unrouted leads by (received_at, id).
DROP INDEX leads_unrouted;
CREATE INDEX leads_unrouted ON leads(received_at, id) WHERE routed_at IS NULL;

-- +goose Down
DROP INDEX leads_unrouted;
CREATE INDEX leads_unrouted ON leads(received_at) WHERE routed_at IS NULL;
UPDATE email_deliveries SET status = 'pending' WHERE status = 'failed';
ALTER TABLE email_deliveries DROP CONSTRAINT email_deliveries_status_check;
ALTER TABLE email_deliveries ADD CONSTRAINT email_deliveries_status_check CHECK (status IN ('pending','sent'));
