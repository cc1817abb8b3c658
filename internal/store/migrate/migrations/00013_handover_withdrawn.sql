-- +goose Up
-- A pending handover whose link or setting went away (the orgs unlinked,
-- handover_enabled or cross_silo turned off) goes back to the sender as
-- withdrawn: nobody in the receiving org may decide it any more.
ALTER TABLE handovers DROP CONSTRAINT handovers_status_check;
ALTER TABLE handovers ADD CONSTRAINT handovers_status_check
    CHECK (status IN ('pending','accepted','rejected','expired','withdrawn'));

-- +goose Down
UPDATE handovers SET status = 'expired' WHERE status = 'withdrawn';
ALTER TABLE handovers DROP CONSTRAINT handovers_status_check;
ALTER TABLE handovers ADD CONSTRAINT handovers_status_check
    CHECK (status IN ('pending','accepted','rejected','expired'));
