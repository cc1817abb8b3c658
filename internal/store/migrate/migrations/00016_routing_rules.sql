-- +goose Up
-- Routing rules, availability, weights, caps and repeat leads (issue 18,
-- SPEC §5.6). The source's own routing columns stay its default rule (the
-- last one, which cannot be removed); the rules before it are in rules.

ALTER TABLE lead_sources
    DROP CONSTRAINT lead_sources_routing_mode_check,
    ADD CONSTRAINT lead_sources_routing_mode_check
        CHECK (routing_mode IN ('owner','staff_evenly','sub_agencies_evenly','pending','queue','group','user')),
    -- the default rule's group (mode group) or user (mode user)
    ADD COLUMN routing_group    text,
    ADD COLUMN routing_user     uuid REFERENCES users(id),
    -- the rules before the default, in order: []domain.Rule as JSON
    ADD COLUMN rules            jsonb NOT NULL DEFAULT '[]',
    -- what happens when nobody in a rule's rotation is available
    ADD COLUMN when_nobody      text NOT NULL DEFAULT 'owner' CHECK (when_nobody IN ('next_rule','owner','pending','queue')),
    -- posts past this many a day (org-local) answer 429 cap_reached
    ADD COLUMN vendor_daily_cap int CHECK (vendor_daily_cap > 0);

-- Named groups of users a rule rotates over, each member with a weight.
CREATE TABLE groups (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id     uuid NOT NULL REFERENCES orgs(id),
    name       text NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, name)
);
CREATE TABLE group_members (
    group_id uuid NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_id  uuid NOT NULL REFERENCES users(id),
    weight   int NOT NULL DEFAULT 1 CHECK (weight BETWEEN 1 AND 100),
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members(user_id);

-- Availability and caps, per user.
ALTER TABLE users
    -- paused: true until resumed, or until paused_until when that is set
    ADD COLUMN paused         boolean NOT NULL DEFAULT false,
    ADD COLUMN paused_until   timestamptz,
    ADD COLUMN paused_by      uuid REFERENCES users(id),
    -- weekly timetable in the org's timezone: []domain.WorkingSpan; NULL: always
    ADD COLUMN working_hours  jsonb,
    -- at most this many routed leads a day (org-local) / open (unworked) leads
    ADD COLUMN daily_cap      int CHECK (daily_cap > 0),
    ADD COLUMN open_cap       int CHECK (open_cap > 0),
    -- an email at once for every lead assigned to them
    ADD COLUMN instant_alerts boolean NOT NULL DEFAULT true;

-- Repeat leads: how far back an open lead with the same email or phone
-- counts (0: off).
ALTER TABLE orgs ADD COLUMN repeat_lookback_days int NOT NULL DEFAULT 90 CHECK (repeat_lookback_days BETWEEN 0 AND 3650);

ALTER TABLE leads
    -- the open lead of the same org this one repeats, found at intake
    ADD COLUMN repeat_of uuid REFERENCES leads(id),
    -- when its assignee worked it (an open lead is assigned and not worked)
    ADD COLUMN worked_at timestamptz,
    -- digits of phone, for matching repeats whatever the punctuation
    ADD COLUMN phone_digits text GENERATED ALWAYS AS (regexp_replace(phone, '[^0-9]', '', 'g')) STORED;
CREATE INDEX leads_org_email ON leads (org_id, lower(email), received_at DESC) WHERE email <> '';
CREATE INDEX leads_org_phone ON leads (org_id, phone_digits, received_at DESC) WHERE phone <> '';
CREATE INDEX leads_open_assigned ON leads (assigned_to) WHERE assigned_to IS NOT NULL AND worked_at IS NULL;

-- Weighted rotation (store/rotation.go): one row per (source, pool), pool
-- being "staff", "group:<id>" or "subs", holding the pool's virtual clock;
-- one row per member holding what it was given and was due. A decision
-- writes the pool row, the chosen member's row, and only the rows of
-- members whose availability or weight changed since the last decision.
CREATE TABLE rotation_pools (
    source_id uuid NOT NULL REFERENCES lead_sources(id),
    pool      text NOT NULL,
    clock     double precision NOT NULL DEFAULT 0,
    decisions bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (source_id, pool)
);
CREATE TABLE rotation_members (
    source_id uuid NOT NULL,
    pool      text NOT NULL,
    member_id uuid NOT NULL,
    weight    int NOT NULL,
    given     bigint NOT NULL DEFAULT 0,
    due       double precision NOT NULL DEFAULT 0,
    mark      double precision NOT NULL DEFAULT 0,
    available boolean NOT NULL DEFAULT true,
    PRIMARY KEY (source_id, pool, member_id),
    FOREIGN KEY (source_id, pool) REFERENCES rotation_pools(source_id, pool)
);

-- One row per routing decision of a source: what the fairness report and
-- the skips it shows read.
CREATE TABLE routing_decisions (
    id        bigserial PRIMARY KEY,
    source_id uuid NOT NULL REFERENCES lead_sources(id),
    lead_id   uuid NOT NULL REFERENCES leads(id),
    at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    rule      int NOT NULL,          -- 0-based index; len(rules) is the default
    rule_name text NOT NULL,
    pool      text,                  -- the rotation's pool, when the rule rotated
    member_id uuid,                  -- who got it, when a rotation chose
    skipped   jsonb NOT NULL DEFAULT '[]' -- [{"user_id":…, "reason":…}]
);
CREATE INDEX routing_decisions_source_at ON routing_decisions (source_id, at);

-- Routed leads per user and org-local day, for the daily cap.
CREATE TABLE user_day_counts (
    user_id uuid NOT NULL REFERENCES users(id),
    day     date NOT NULL,
    n       int NOT NULL,
    PRIMARY KEY (user_id, day)
);

-- Posts per source and org-local day, for the vendor's daily cap.
CREATE TABLE source_day_counts (
    source_id uuid NOT NULL REFERENCES lead_sources(id),
    day       date NOT NULL,
    n         int NOT NULL,
    PRIMARY KEY (source_id, day)
);

-- +goose Down
DROP TABLE source_day_counts;
DROP TABLE user_day_counts;
DROP TABLE routing_decisions;
DROP TABLE rotation_members;
DROP TABLE rotation_pools;
DROP INDEX leads_open_assigned;
DROP INDEX leads_org_phone;
DROP INDEX leads_org_email;
ALTER TABLE leads DROP COLUMN phone_digits, DROP COLUMN worked_at, DROP COLUMN repeat_of;
ALTER TABLE orgs DROP COLUMN repeat_lookback_days;
ALTER TABLE users DROP COLUMN instant_alerts, DROP COLUMN open_cap, DROP COLUMN daily_cap, DROP COLUMN working_hours,
    DROP COLUMN paused_by, DROP COLUMN paused_until, DROP COLUMN paused;
DROP TABLE group_members;
DROP TABLE groups;
ALTER TABLE lead_sources DROP COLUMN vendor_daily_cap, DROP COLUMN when_nobody, DROP COLUMN rules,
    DROP COLUMN routing_user, DROP COLUMN routing_group,
    DROP CONSTRAINT lead_sources_routing_mode_check,
    ADD CONSTRAINT lead_sources_routing_mode_check
        CHECK (routing_mode IN ('owner','staff_evenly','sub_agencies_evenly','pending','queue'));
