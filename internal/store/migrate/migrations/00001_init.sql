-- +goose Up
-- The whole data model of leadrelay. Later issues add columns and tables to it;
-- the shapes below already carry org links, queue state and email deliveries.

CREATE TABLE orgs (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    timezone         text NOT NULL DEFAULT 'UTC',
    -- master/sub-agency link: a child has at most one parent (issue: linking).
    parent_id        uuid REFERENCES orgs(id),
    linked_at        timestamptz,
    cross_silo       boolean NOT NULL DEFAULT false,
    handover_enabled boolean NOT NULL DEFAULT false,
    -- how long a claimed queue lead may sit unworked before it goes back.
    claim_window     interval NOT NULL DEFAULT '30 minutes',
    created_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (parent_id IS NULL OR parent_id <> id)
);
CREATE INDEX orgs_parent ON orgs(parent_id) WHERE parent_id IS NOT NULL;

CREATE TABLE users (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id           uuid NOT NULL REFERENCES orgs(id),
    email            text NOT NULL,
    name             text NOT NULL,
    role             text NOT NULL CHECK (role IN ('owner','admin','manager','professional','staff')),
    active           boolean NOT NULL DEFAULT true,
    notify_new_leads boolean NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_org_email ON users(org_id, lower(email));
CREATE INDEX users_email ON users(lower(email));
-- exactly one owner per org
CREATE UNIQUE INDEX users_one_owner ON users(org_id) WHERE role = 'owner';

CREATE TABLE lead_sources (
    id                           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id                       uuid NOT NULL REFERENCES orgs(id),
    slug                         text NOT NULL CHECK (slug ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
    name                         text NOT NULL,
    routing_mode                 text NOT NULL CHECK (routing_mode IN ('owner','staff_evenly','sub_agencies_evenly','pending','queue')),
    routing_sub_agencies         uuid[] NOT NULL DEFAULT '{}',
    queue_delay                  interval NOT NULL DEFAULT '0',
    force_location               text CHECK (force_location IN ('pending','queue')),
    priority                     text NOT NULL DEFAULT 'normal' CHECK (priority IN ('normal','medium','high')),
    purchase_notification_emails text[] NOT NULL DEFAULT '{}',
    return_notification_emails   text[] NOT NULL DEFAULT '{}',
    include_comments_on_return   boolean NOT NULL DEFAULT false,
    return_template              text,
    -- rotation clock: bumped under a row lock once per routing decision.
    rotation_seq                 bigint NOT NULL DEFAULT 0,
    created_at                   timestamptz NOT NULL DEFAULT now(),
    updated_at                   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, slug)
);

-- Every token is stored only as its SHA-256. kind says what it may do.
CREATE TABLE tokens (
    hash       bytea PRIMARY KEY,
    kind       text NOT NULL CHECK (kind IN ('user','vendor')),
    user_id    uuid REFERENCES users(id),
    source_id  uuid REFERENCES lead_sources(id),
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    CHECK ((kind = 'user' AND user_id IS NOT NULL) OR (kind = 'vendor' AND source_id IS NOT NULL))
);
CREATE UNIQUE INDEX tokens_one_vendor_key ON tokens(source_id) WHERE kind = 'vendor' AND revoked_at IS NULL;

-- Rotation state for "evenly" modes: member is a user (staff_evenly) or an org
-- (sub_agencies_evenly). Least-recently-chosen wins, so a returning member gets
-- one turn, not a catch-up surge.
CREATE TABLE rotation_state (
    source_id  uuid NOT NULL REFERENCES lead_sources(id),
    member_id  uuid NOT NULL,
    last_seq   bigint NOT NULL,
    PRIMARY KEY (source_id, member_id)
);

CREATE TABLE leads (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id         uuid NOT NULL REFERENCES orgs(id),      -- the org that holds it now
    intake_org_id  uuid NOT NULL REFERENCES orgs(id),      -- the org whose source received it
    source_id      uuid NOT NULL REFERENCES lead_sources(id),
    source_slug    text NOT NULL,
    external_id    text NOT NULL CHECK (length(external_id) BETWEEN 1 AND 128),
    kind           text NOT NULL DEFAULT 'lead' CHECK (kind IN ('lead','team_member')),
    status         text NOT NULL DEFAULT 'new',
    location       text CHECK (location IN ('pending','queue')),
    requested_location text CHECK (requested_location IN ('pending','queue')),
    owner_user_id  uuid REFERENCES users(id),              -- NULL: team-owned
    assigned_to    uuid REFERENCES users(id),
    priority       text NOT NULL DEFAULT 'normal',
    first_name     text NOT NULL DEFAULT '',
    last_name      text NOT NULL DEFAULT '',
    email          text NOT NULL DEFAULT '',
    phone          text NOT NULL DEFAULT '',
    street         text NOT NULL DEFAULT '',
    city           text NOT NULL DEFAULT '',
    state          text NOT NULL DEFAULT '',
    postal_code    text NOT NULL DEFAULT '',
    company        text NOT NULL DEFAULT '',
    rating         text NOT NULL DEFAULT '',
    notes          text NOT NULL DEFAULT '',
    attributes     jsonb NOT NULL DEFAULT '{}',
    workflow_id    text NOT NULL,
    available_at   timestamptz,                            -- queue: claimable from
    received_at    timestamptz NOT NULL DEFAULT now(),
    routed_at      timestamptz,                            -- NULL until the routing decision commits
    updated_at     timestamptz NOT NULL DEFAULT now(),
    -- the idempotency key that outlives Temporal's retention
    UNIQUE (source_id, external_id)
);
CREATE INDEX leads_org_page ON leads(org_id, received_at DESC, id DESC);
CREATE INDEX leads_assigned ON leads(assigned_to) WHERE assigned_to IS NOT NULL;
CREATE INDEX leads_unrouted ON leads(received_at) WHERE routed_at IS NULL;
CREATE INDEX leads_queue ON leads(org_id, priority, available_at) WHERE location = 'queue';

CREATE TABLE labels (
    id     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id uuid NOT NULL REFERENCES orgs(id),
    name   text NOT NULL,
    UNIQUE (org_id, name)
);
CREATE TABLE lead_labels (
    lead_id  uuid NOT NULL REFERENCES leads(id),
    label_id uuid NOT NULL REFERENCES labels(id),
    PRIMARY KEY (lead_id, label_id)
);

-- The append-only history of a lead.
CREATE TABLE timeline_events (
    id       bigserial PRIMARY KEY,
    lead_id  uuid NOT NULL REFERENCES leads(id),
    org_id   uuid NOT NULL REFERENCES orgs(id),
    at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    kind     text NOT NULL,
    actor    text NOT NULL,
    message  text NOT NULL,
    data     jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX timeline_lead ON timeline_events(lead_id, id);

-- Every email, by a unique business key. message_id is derived from the key,
-- so a resend after a crash carries the same Message-ID.
CREATE TABLE email_deliveries (
    key         text PRIMARY KEY,
    message_id  text NOT NULL UNIQUE,
    kind        text NOT NULL,
    org_id      uuid REFERENCES orgs(id),
    lead_id     uuid REFERENCES leads(id),
    to_addr     text NOT NULL,
    subject     text NOT NULL,
    status      text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','sent')),
    attempts    int NOT NULL DEFAULT 0,
    last_error  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    sent_at     timestamptz
);

-- +goose Down
DROP TABLE email_deliveries;
DROP TABLE timeline_events;
DROP TABLE lead_labels;
DROP TABLE labels;
DROP TABLE leads;
DROP TABLE rotation_state;
DROP TABLE tokens;
DROP TABLE lead_sources;
DROP TABLE users;
DROP TABLE orgs;
