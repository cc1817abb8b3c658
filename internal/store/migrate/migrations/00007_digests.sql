-- +goose Up
-- The next-day new-lead digest (SPEC §5.4): one row per digest batch of an
-- org-local day. A day has one batch under NEW_LEAD_DIGEST_AT; under
-- NEW_LEAD_DIGEST_DELAY each batch covers the arrivals from its first until
-- the delay has passed, and a later arrival that day opens the next batch.
-- The worker's sweep writes a row when it finds arrivals no batch covers and
-- starts (or finds) the batch's run; the run marks it sent or failed.
CREATE TABLE digests (
    org_id      uuid NOT NULL REFERENCES orgs(id),
    day         date NOT NULL,                          -- org-local
    batch       int NOT NULL DEFAULT 0,
    from_at     timestamptz NOT NULL,                   -- arrivals at or after this ...
    until_at    timestamptz NOT NULL,                   -- ... and before this are the batch's
    fire_at     timestamptz NOT NULL,                   -- when the run sends it
    workflow_id text NOT NULL,
    status      text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','sent','failed')),
    leads       int,                                    -- how many it listed, once built
    created_at  timestamptz NOT NULL DEFAULT now(),
    started_at  timestamptz,                            -- the last start that started or found its run
    sent_at     timestamptz,
    PRIMARY KEY (org_id, day, batch),
    CHECK (from_at < until_at)
);
CREATE INDEX digests_pending ON digests(started_at NULLS FIRST) WHERE status = 'pending';

-- What the sweep and the digest read arrivals by: posted leads by the time
-- their routing committed, transferred ones by their arrival; and whether a
-- lead ever moved (then its arrival row, not its posting, counts).
CREATE INDEX leads_routed ON leads(routed_at) WHERE routed_at IS NOT NULL;
CREATE INDEX lead_arrivals_at ON lead_arrivals(at);
CREATE INDEX lead_arrivals_lead ON lead_arrivals(lead_id);
CREATE INDEX handovers_lead ON handovers(lead_id);

-- +goose Down
DROP INDEX handovers_lead;
DROP INDEX lead_arrivals_lead;
DROP INDEX lead_arrivals_at;
DROP INDEX leads_routed;
DROP TABLE digests;
