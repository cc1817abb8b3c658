-- +goose Up
-- SLA escalation (issue 19, SPEC §5.7). A source's SLA (domain.SLA) is one
-- jsonb value: it is read with the source and never queried into. An org's
-- business hours (domain.BusinessHours: a weekly timetable and holidays)
-- are what an SLA with business_hours counts.
ALTER TABLE lead_sources ADD COLUMN sla jsonb;
ALTER TABLE orgs ADD COLUMN business_hours jsonb;

-- One row per SLA: a routing decision that gave a lead of an SLA source to
-- a person. Written in the routing transaction; the worker's SLA pump
-- starts its run (as the alert pump does for alerts). The row is the SLA's
-- state: who has the lead now, which step, whom it went to, the deadline.
CREATE TABLE lead_slas (
    id          bigserial PRIMARY KEY,
    lead_id     uuid NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
    org_id      uuid NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    source_id   uuid NOT NULL REFERENCES lead_sources(id) ON DELETE CASCADE,
    pool        text NOT NULL DEFAULT '', -- the rotation the lead came from (store.Pool key); '': none to escalate within
    user_id     uuid NOT NULL REFERENCES users(id),  -- the assignee the clock runs for
    tried       uuid[] NOT NULL,                     -- everyone it went to, in order
    step        int NOT NULL DEFAULT 0 CHECK (step BETWEEN 0 AND 10),
    deadline    timestamptz NOT NULL,
    status      text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'stopped', 'done')),
    outcome     text, -- stopped: worked, returned, invalid, moved, reassigned; done: the fallback it ended with
    created_at  timestamptz NOT NULL DEFAULT now(),
    ended_at    timestamptz,
    started_at  timestamptz, -- when the pump last started (or found) its run
    signalled_at timestamptz -- when the pump told a stopped SLA's run to end
);
-- one SLA per lead at a time: a reroute or a second routing does not start another
CREATE UNIQUE INDEX lead_slas_running ON lead_slas (lead_id) WHERE status = 'running';
-- what the pump pages through: to start, and stopped ones whose run still waits
CREATE INDEX lead_slas_to_start ON lead_slas (id) WHERE started_at IS NULL;
CREATE INDEX lead_slas_to_signal ON lead_slas (id) WHERE status <> 'running' AND signalled_at IS NULL;

-- Any change that settles the lead stops its SLA in the same transaction,
-- whichever path made it (worked, returned, invalid, transferred, handed
-- over, claimed, assigned by hand): the SLA's own escalation first moves
-- the row to the new assignee, so it does not stop itself.
-- +goose StatementBegin
CREATE FUNCTION stop_sla() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE lead_slas s SET status = 'stopped', ended_at = now(),
        outcome = CASE
            WHEN NEW.worked_at IS NOT NULL THEN 'worked'
            WHEN NEW.status = 'returned' THEN 'returned'
            WHEN NEW.status = 'invalid' THEN 'invalid'
            WHEN NEW.org_id <> s.org_id THEN 'moved'
            ELSE 'reassigned' END
    WHERE s.lead_id = NEW.id AND s.status = 'running'
      AND (NEW.worked_at IS NOT NULL OR NEW.status NOT IN ('new', 'onboarding') OR NEW.org_id <> s.org_id
           OR NEW.assigned_to IS DISTINCT FROM s.user_id);
    RETURN NULL;
END $$;
-- +goose StatementEnd

CREATE TRIGGER leads_stop_sla AFTER UPDATE OF assigned_to, status, worked_at, org_id ON leads
    FOR EACH ROW EXECUTE FUNCTION stop_sla();

-- +goose Down
DROP TRIGGER leads_stop_sla ON leads;
DROP FUNCTION stop_sla();
DROP TABLE lead_slas;
ALTER TABLE orgs DROP COLUMN business_hours;
ALTER TABLE lead_sources DROP COLUMN sla;
