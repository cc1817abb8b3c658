-- +goose Up
-- Instant alerts (issue 18): the outbox of "a lead was assigned to you"
-- emails. A row is written in the transaction that assigns the lead, by a
-- trigger on leads.assigned_to, so every path that assigns (routing, a
-- reroute, a claim, a handover accepted, a transfer, by hand, in bulk, a
-- transfer of ownership — and any added later) records its alert without
-- waiting on an email; the worker's alert pump starts a run per row.
CREATE TABLE alerts (
    id          bigserial PRIMARY KEY,
    lead_id     uuid NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
    org_id      uuid NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- the assigning transaction: one assignment of a lead to a user is one
    -- alert, however often that transaction's statements touch the row
    assigned_tx bigint NOT NULL DEFAULT txid_current(),
    created_at  timestamptz NOT NULL DEFAULT now(),
    started_at  timestamptz, -- when a run was last started (or found) for it
    done_at     timestamptz, -- sent, skipped (alerts turned off) or recorded failed
    outcome     text CHECK (outcome IN ('sent','skipped','failed')),
    UNIQUE (lead_id, user_id, assigned_tx)
);
-- what the pump and the reconciler page through
CREATE INDEX alerts_pending ON alerts (id) WHERE done_at IS NULL;

-- +goose StatementBegin
CREATE FUNCTION record_alert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.assigned_to IS NOT NULL AND (TG_OP = 'INSERT' OR NEW.assigned_to IS DISTINCT FROM OLD.assigned_to) THEN
        INSERT INTO alerts (lead_id, org_id, user_id)
        SELECT NEW.id, NEW.org_id, u.id FROM users u WHERE u.id = NEW.assigned_to AND u.instant_alerts
        ON CONFLICT (lead_id, user_id, assigned_tx) DO NOTHING;
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd

CREATE TRIGGER leads_record_alert AFTER INSERT OR UPDATE OF assigned_to ON leads
    FOR EACH ROW EXECUTE FUNCTION record_alert();

-- +goose Down
DROP TRIGGER leads_record_alert ON leads;
DROP FUNCTION record_alert();
DROP TABLE alerts;
