-- +goose Up
-- A deactivated agent's team-owned leads are rerouted by a workflow named
-- after the deactivation (reroute/<user>/<deactivations>): the count makes a
-- repeated PATCH of an inactive user find the same run, and a later
-- deactivation (after a reactivation) start a new one. deactivated_at lets the
-- reconciler leave a fresh deactivation to the API's own start.
ALTER TABLE users ADD COLUMN deactivations integer NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN deactivated_at timestamptz;
-- Users made inactive before rerouting existed count as deactivated once, now:
-- the reconciler then reroutes the team-owned leads still assigned to them,
-- which nobody could otherwise work.
UPDATE users SET deactivations = 1, deactivated_at = now() WHERE NOT active;

-- +goose Down
ALTER TABLE users DROP COLUMN deactivated_at;
ALTER TABLE users DROP COLUMN deactivations;
