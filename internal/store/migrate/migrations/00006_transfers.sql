-- +goose Up
-- A transfer request (SPEC §5.3): its leads are items moved in batches by
-- one workflow; an item that cannot move is recorded with its reason.
CREATE TABLE transfers (
    id              uuid PRIMARY KEY,
    org_id          uuid NOT NULL REFERENCES orgs(id),   -- the sending org
    to_org_id       uuid NOT NULL REFERENCES orgs(id),
    mode            text NOT NULL CHECK (mode IN ('owner','staff_evenly','manager_review')),
    requested_by    text NOT NULL,                       -- user id, or 'admin'
    idempotency_key text,
    request_hash    bytea NOT NULL,                      -- a reused key with another body is refused
    workflow_id     text NOT NULL,
    total           int NOT NULL,
    status          text NOT NULL DEFAULT 'running' CHECK (status IN ('running','completed')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    completed_at    timestamptz,
    UNIQUE (org_id, idempotency_key)
);
CREATE INDEX transfers_running ON transfers(created_at) WHERE status = 'running';

CREATE TABLE transfer_items (
    transfer_id uuid NOT NULL REFERENCES transfers(id),
    seq         int NOT NULL,
    lead_id     uuid NOT NULL,                           -- no FK: an id naming no lead is recorded as failed
    status      text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','moved','failed')),
    error       text,
    PRIMARY KEY (transfer_id, seq)
);

-- Where staff_evenly transfers into an org continue their rotation.
ALTER TABLE orgs ADD COLUMN transfer_rotation_seq bigint NOT NULL DEFAULT 0;

-- The sales feed: handover and transfer events, per org.
CREATE TABLE feed_events (
    id           bigserial PRIMARY KEY,
    org_id       uuid NOT NULL REFERENCES orgs(id),
    at           timestamptz NOT NULL DEFAULT clock_timestamp(),
    kind         text NOT NULL,
    lead_id      uuid NOT NULL REFERENCES leads(id),
    other_org_id uuid REFERENCES orgs(id),
    transfer_id  uuid REFERENCES transfers(id),
    actor        text NOT NULL,
    message      text NOT NULL
);
CREATE INDEX feed_org ON feed_events(org_id, id DESC);

-- Leads that arrived in an org other than by a vendor's post; the next-day
-- digest (SPEC §5.4) lists these beside the posted ones. A team member moved
-- in is not here: it triggers a retention update instead.
CREATE TABLE lead_arrivals (
    org_id      uuid NOT NULL REFERENCES orgs(id),
    lead_id     uuid NOT NULL REFERENCES leads(id),
    transfer_id uuid NOT NULL REFERENCES transfers(id),
    at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, lead_id, transfer_id)
);

-- Campaigns, campaign subscriptions and triggers an org attached to a lead:
-- its own automation, which does not travel with a transferred lead.
CREATE TABLE lead_automations (
    lead_id uuid NOT NULL REFERENCES leads(id),
    org_id  uuid NOT NULL REFERENCES orgs(id),
    kind    text NOT NULL CHECK (kind IN ('campaign','subscription','trigger')),
    name    text NOT NULL,
    PRIMARY KEY (lead_id, kind, name)
);

-- A lead handed over (manager_review) waits in the receiving org's manager
-- pipeline; the sender's assignment and location are kept to restore on a rejection.
CREATE TABLE handovers (
    lead_id            uuid NOT NULL REFERENCES leads(id),
    transfer_id        uuid NOT NULL REFERENCES transfers(id),
    from_org_id        uuid NOT NULL REFERENCES orgs(id),
    to_org_id          uuid NOT NULL REFERENCES orgs(id),
    prev_assigned_to   uuid REFERENCES users(id),
    prev_location      text,
    status             text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','accepted','rejected','expired')),
    answer_id          uuid,                                -- the answer that decided it (handover_answers)
    created_at         timestamptz NOT NULL DEFAULT now(),
    decided_at         timestamptz,
    PRIMARY KEY (transfer_id, lead_id)
);
CREATE UNIQUE INDEX handovers_one_pending ON handovers(lead_id) WHERE status = 'pending';

-- An answer to a handover, written by the API before the workflow applies
-- it, so the history carries the answer's id and not the manager's words.
CREATE TABLE handover_answers (
    id          uuid PRIMARY KEY,
    lead_id     uuid NOT NULL REFERENCES leads(id),
    transfer_id uuid NOT NULL REFERENCES transfers(id),
    kind        text NOT NULL CHECK (kind IN ('accept','reject')),
    actor       uuid NOT NULL REFERENCES users(id),
    assign_to   uuid REFERENCES users(id),
    reason      text,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE handover_answers;
DROP TABLE handovers;
DROP TABLE lead_automations;
DROP TABLE lead_arrivals;
DROP TABLE feed_events;
ALTER TABLE orgs DROP COLUMN transfer_rotation_seq;
DROP TABLE transfer_items;
DROP TABLE transfers;
