-- +goose Up
-- How long a closed lead's timeline and feed events are kept in full
-- (issue 20): NULL keeps them for ever, the default. The purge
-- (store.PurgeClosedEvents) finds a lead's feed events by lead.
ALTER TABLE orgs ADD COLUMN retention_days int CHECK (retention_days BETWEEN 30 AND 3650);
CREATE INDEX feed_lead ON feed_events(lead_id, id);

-- +goose Down
DROP INDEX feed_lead;
ALTER TABLE orgs DROP COLUMN retention_days;
