-- +goose Up
-- Return rules per source (SPEC §5.7, issue 19): how long after its arrival
-- a lead may be returned (NULL: any time) and the reasons a return may give
-- (empty: any). Existing sources get neither, so they keep working as before.
ALTER TABLE lead_sources
    ADD COLUMN return_window  interval CHECK (return_window IS NULL OR return_window BETWEEN interval '1 minute' AND interval '90 days'),
    ADD COLUMN return_reasons text[] NOT NULL DEFAULT '{}' CHECK (cardinality(return_reasons) <= 50);
-- GET /v1/returns: one vendor key's source's returns, oldest first, after a
-- time and a cursor, read as a range of this index rather than a scan.
CREATE INDEX lead_returns_by_source ON lead_returns(source_id, returned_at, lead_id);

-- +goose Down
DROP INDEX lead_returns_by_source;
ALTER TABLE lead_sources DROP COLUMN return_reasons, DROP COLUMN return_window;
