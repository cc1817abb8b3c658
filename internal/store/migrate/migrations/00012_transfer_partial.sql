-- +goose Up
-- Each batch of a transfer re-checks the orgs' link and the master's
-- settings (SPEC §5.3) under their row locks. The first batch that finds
-- they no longer carry the transfer records why in stopped; it and every
-- later batch fail their leads with that reason, and the transfer ends
-- 'partial': a relink or a setting turned back on does not restart a
-- transfer its sender saw stop.
ALTER TABLE transfers ADD COLUMN stopped text;
ALTER TABLE transfers DROP CONSTRAINT transfers_status_check;
ALTER TABLE transfers ADD CONSTRAINT transfers_status_check CHECK (status IN ('running','completed','partial'));

-- +goose Down
UPDATE transfers SET status = 'completed' WHERE status = 'partial';
ALTER TABLE transfers DROP CONSTRAINT transfers_status_check;
ALTER TABLE transfers ADD CONSTRAINT transfers_status_check CHECK (status IN ('running','completed'));
ALTER TABLE transfers DROP COLUMN stopped;
