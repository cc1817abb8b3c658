-- +goose Up
-- A distribution takes one org's pending leads of one source through a
-- routing mode (SPEC §5.5): on a Temporal Schedule's slot, or on demand. The
-- slot is the idempotency key that outlives Temporal's retention: a schedule
-- that fires twice for one slot finds the first distribution and moves
-- nothing.
CREATE TABLE distributions (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id       uuid NOT NULL REFERENCES orgs(id),
    source_id    uuid NOT NULL REFERENCES lead_sources(id),
    slug         text NOT NULL,
    -- 'schedule:<name>@<nominal time, RFC 3339 UTC>' or 'on-demand:<key>'
    slot         text NOT NULL,
    schedule     text,                                   -- the schedule's name; NULL on demand
    mode         text NOT NULL CHECK (mode IN ('owner','staff_evenly','sub_agencies_evenly')),
    workflow_id  text NOT NULL,
    total        int NOT NULL,                           -- pending when it began
    distributed  int NOT NULL DEFAULT 0,
    passed_down  int NOT NULL DEFAULT 0,
    batches      int NOT NULL DEFAULT 0,
    status       text NOT NULL DEFAULT 'running' CHECK (status IN ('running','completed')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    UNIQUE (org_id, source_id, slot)
);
CREATE INDEX distributions_running ON distributions(created_at) WHERE status = 'running';

-- One row per batch once its transaction commits: a retried batch returns
-- what it did the first time instead of taking the next leads.
CREATE TABLE distribution_batches (
    distribution_id uuid NOT NULL REFERENCES distributions(id),
    seq             int NOT NULL,
    last_lead       uuid,                                -- where the next batch starts
    distributed     int NOT NULL,
    passed_down     int NOT NULL,
    more            boolean NOT NULL,
    PRIMARY KEY (distribution_id, seq)
);

-- What a distribution did with each lead: assigned it, or passed it down to
-- a sub-agency whose own routing (a hop run) places it.
CREATE TABLE distribution_leads (
    distribution_id uuid NOT NULL REFERENCES distributions(id),
    lead_id         uuid NOT NULL REFERENCES leads(id),
    seq             int NOT NULL,
    assigned_to     uuid REFERENCES users(id),
    sub_org_id      uuid REFERENCES orgs(id),
    at              timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (distribution_id, lead_id)
);
CREATE INDEX distribution_leads_batch ON distribution_leads(distribution_id, seq);
CREATE INDEX distribution_leads_hops ON distribution_leads(lead_id, at) WHERE sub_org_id IS NOT NULL;

-- What a distribution pages through: an org's pending leads of one slug.
CREATE INDEX leads_pending ON leads(org_id, source_slug, id) WHERE location = 'pending';

-- +goose Down
DROP INDEX leads_pending;
DROP TABLE distribution_leads;
DROP TABLE distribution_batches;
DROP TABLE distributions;
