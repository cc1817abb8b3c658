-- +goose Up
-- An endpoint's secret is kept sealed (AES-256-GCM under WEBHOOK_SECRET_KEY,
-- which the database never sees), with its masked hint for the API to show.
-- Secrets saved in the clear before this are sealed by the API or worker
-- that next starts with the key (store.SealWebhookSecrets), which empties
-- the clear column; until then a delivery still signs with them.
ALTER TABLE webhook_endpoints
    ALTER COLUMN secret DROP NOT NULL,
    ADD COLUMN secret_sealed bytea,
    ADD COLUMN secret_hint   text NOT NULL DEFAULT 'whsec_…',
    ADD CONSTRAINT webhook_endpoints_secret_kept CHECK (secret IS NOT NULL OR secret_sealed IS NOT NULL);

-- +goose Down
ALTER TABLE webhook_endpoints DROP CONSTRAINT webhook_endpoints_secret_kept;
ALTER TABLE webhook_endpoints DROP COLUMN secret_hint, DROP COLUMN secret_sealed;
ALTER TABLE webhook_endpoints ALTER COLUMN secret SET NOT NULL;
