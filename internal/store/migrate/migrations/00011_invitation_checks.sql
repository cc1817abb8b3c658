-- +goose Up
-- When a reconciler pass last made sure a pending invitation has its run.
-- An invitation waits up to its expiry (days); without this every pass of
-- every worker found every pending invitation again and asked Temporal for
-- its run each 30 s. A pass stamps what it takes (UPDATE ... RETURNING, so
-- two workers never take one invitation in the same interval) and looks
-- again only once the interval has passed.
ALTER TABLE invitations ADD COLUMN run_checked_at timestamptz;
CREATE INDEX invitations_run_check ON invitations(run_checked_at NULLS FIRST) WHERE status = 'pending';

-- +goose Down
DROP INDEX invitations_run_check;
ALTER TABLE invitations DROP COLUMN run_checked_at;
