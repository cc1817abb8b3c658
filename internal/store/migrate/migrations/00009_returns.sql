-- +goose Up
-- A lead returned to its vendor (SPEC §5.5), at most once. The comments are
-- free text a user typed for the vendor: they stay here, and the run that
-- emails the source's return addresses carries only the lead's id.
CREATE TABLE lead_returns (
    lead_id     uuid PRIMARY KEY REFERENCES leads(id),
    org_id      uuid NOT NULL REFERENCES orgs(id),          -- the org that held the lead and returned it
    source_id   uuid NOT NULL REFERENCES lead_sources(id),  -- the source that received it: whose addresses are told
    reason      text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    comments    text NOT NULL DEFAULT '' CHECK (length(comments) <= 5000),
    returned_by text NOT NULL,                              -- user id, or 'admin'
    workflow_id text NOT NULL,
    returned_at timestamptz NOT NULL DEFAULT now(),
    notified_at timestamptz                                 -- every address emailed, or its failure recorded
);
-- The reconciler looks for returns whose emails never went out.
CREATE INDEX lead_returns_unnotified ON lead_returns(returned_at, lead_id) WHERE notified_at IS NULL;

-- +goose Down
DROP TABLE lead_returns;
