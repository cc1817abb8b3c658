-- +goose Up
-- Claims from the queue (SPEC §5.5). Each claim of a lead is a row numbered
-- per lead (seq), so a re-claim after an expiry is a new claim with a run of
-- its own (claim/<lead>/<seq>). Every change to a claim happens under the
-- lead's row lock, so the row needs no lock of its own.
CREATE TABLE lead_claims (
    lead_id        uuid NOT NULL REFERENCES leads(id),
    seq            int NOT NULL,
    org_id         uuid NOT NULL REFERENCES orgs(id),   -- the org the lead was claimed in
    user_id        uuid NOT NULL REFERENCES users(id),  -- who claimed it
    claimed_at     timestamptz NOT NULL DEFAULT now(),
    -- claimed_at plus the org's claim window at the time of the claim: a
    -- later change of the window does not move a claim already running.
    expires_at     timestamptz NOT NULL,
    status         text NOT NULL DEFAULT 'open'
                   CHECK (status IN ('open','worked','released','invalid','expired','ended')),
    worked_at      timestamptz,
    closed_at      timestamptz,
    -- set once Temporal took the claim's run; the reconciler starts the
    -- runs of open claims without it.
    run_started_at timestamptz,
    PRIMARY KEY (lead_id, seq)
);
CREATE UNIQUE INDEX lead_claims_one_open ON lead_claims(lead_id) WHERE status = 'open';

-- The claim order: highest priority, then the oldest lead. An index in that
-- order lets FOR UPDATE SKIP LOCKED stop at the first free row.
CREATE INDEX leads_claim_order ON leads(org_id, (CASE priority WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END), received_at, id)
    WHERE location = 'queue';

-- +goose Down
DROP INDEX leads_claim_order;
DROP TABLE lead_claims;
