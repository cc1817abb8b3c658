-- +goose Up
-- Outbound webhooks (issue 19, SPEC §5.7): an org's endpoints and the outbox
-- of their deliveries. A delivery row is written in the transaction that
-- writes the timeline event, by a trigger on timeline_events, so every path
-- that writes the timeline (intake, routing, a claim, a handover, a
-- transfer, a return, an SLA step — and any added later) emits its webhook
-- without calling anything; the worker's webhook pump starts the runs that
-- send them (docs/webhooks.md).
CREATE TABLE webhook_endpoints (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id          uuid NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    url             text NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    -- event types (lead.assigned) or a family (claim.*)
    events          text[] NOT NULL CHECK (cardinality(events) > 0),
    -- whsec_ + base64 of the key: what signs, and so must be kept readable
    secret          text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- the first failure since the last success: a day of them disables it
    failing_since   timestamptz,
    disabled_at     timestamptz,
    disabled_reason text
);
CREATE INDEX webhook_endpoints_org ON webhook_endpoints (org_id, created_at);

CREATE TABLE webhook_deliveries (
    id           bigserial PRIMARY KEY,
    endpoint_id  uuid NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    org_id       uuid NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    lead_id      uuid NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
    -- the timeline event it tells of: the order of a lead's deliveries
    event_id     bigint NOT NULL,
    -- webhook-id: the same on every attempt and on a resend, so a
    -- receiver drops what it already has
    msg_id       text NOT NULL UNIQUE,
    type         text NOT NULL,
    -- the event as it was when it happened, not as the lead is when sent
    payload      jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','delivered','failed')),
    attempts     int NOT NULL DEFAULT 0,
    last_attempt_at timestamptz,
    last_status  int,           -- the receiver's HTTP status; NULL: no answer
    last_latency_ms int,
    last_error   text,
    delivered_at timestamptz,
    started_at   timestamptz,   -- when the pump last started (or found) its run
    UNIQUE (endpoint_id, event_id)
);
-- what the pump pages through, and a run's next delivery of its lead
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (endpoint_id, lead_id, event_id) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_pump ON webhook_deliveries (id) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (endpoint_id, id DESC);

-- +goose StatementBegin
-- webhook_type maps a timeline kind to its webhook event type, NULL for a
-- kind no webhook tells of (docs/webhooks.md lists them).
CREATE FUNCTION webhook_type(kind text, data jsonb) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN kind = 'received' THEN 'lead.received'
        -- routed to a user; routed to a sub-agency or a pool is not yet an assignment
        WHEN kind = 'routed' AND data->>'assigned_to' IS NOT NULL THEN 'lead.assigned'
        WHEN kind = 'assigned' THEN 'lead.assigned'
        WHEN kind = 'ownership' AND data->>'assigned_to' IS NOT NULL THEN 'lead.assigned'
        WHEN kind = 'sla_escalated' AND data->>'to' IS NOT NULL THEN 'lead.assigned'
        WHEN kind = 'worked' THEN 'lead.worked'
        WHEN kind = 'transferred' THEN 'lead.transferred'
        WHEN kind = 'returned' THEN 'lead.returned'
        WHEN kind LIKE 'handover\_%' THEN 'handover.' || substr(kind, 10)
        WHEN kind = 'claimed' THEN 'claim.claimed'
        WHEN kind = 'released' THEN 'claim.released'
        WHEN kind = 'claim_expired' THEN 'claim.expired'
    END
$$;

CREATE FUNCTION record_webhooks() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    t text := webhook_type(NEW.kind, NEW.data);
BEGIN
    IF t IS NULL THEN
        RETURN NULL;
    END IF;
    INSERT INTO webhook_deliveries (endpoint_id, org_id, lead_id, event_id, msg_id, type, payload)
    SELECT e.id, NEW.org_id, NEW.lead_id, NEW.id, 'msg_' || replace(gen_random_uuid()::text, '-', ''), t,
        jsonb_build_object(
            'schema_version', 1,
            'event_id', NEW.id,
            'kind', NEW.kind,
            'at', NEW.at,
            'message', NEW.message,
            'details', NEW.data,
            'lead', jsonb_build_object(
                'id', l.id, 'org_id', NEW.org_id, 'source', l.source_slug, 'external_id', l.external_id,
                'status', l.status, 'location', l.location,
                -- a transfer writes its event before it moves the lead
                'assigned_to', CASE WHEN NEW.data ? 'assigned_to' THEN NEW.data->'assigned_to'
                                    WHEN NEW.kind = 'sla_escalated' THEN NEW.data->'to'
                                    ELSE to_jsonb(l.assigned_to) END,
                'priority', l.priority, 'first_name', l.first_name, 'last_name', l.last_name,
                'email', l.email, 'phone', l.phone, 'city', l.city, 'state', l.state,
                'postal_code', l.postal_code, 'received_at', l.received_at, 'worked_at', l.worked_at))
    FROM webhook_endpoints e JOIN leads l ON l.id = NEW.lead_id
    WHERE e.org_id = NEW.org_id AND e.disabled_at IS NULL
      AND (t = ANY (e.events) OR split_part(t, '.', 1) || '.*' = ANY (e.events))
    ON CONFLICT (endpoint_id, event_id) DO NOTHING;
    RETURN NULL;
END $$;
-- +goose StatementEnd

CREATE TRIGGER timeline_record_webhooks AFTER INSERT ON timeline_events
    FOR EACH ROW EXECUTE FUNCTION record_webhooks();

-- +goose Down
DROP TRIGGER timeline_record_webhooks ON timeline_events;
DROP FUNCTION record_webhooks();
DROP FUNCTION webhook_type(text, jsonb);
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
