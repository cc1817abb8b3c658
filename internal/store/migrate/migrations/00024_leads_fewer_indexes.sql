-- +goose Up
-- Two indexes of leads that later ones replaced, dropped: every insert and
-- every move of a lead wrote them, and at a million leads each index a
-- move touches is a page to read and write (docs/benchmark.md, "At
-- scale"). The claim order reads leads_claim_order (migration 00008), not
-- leads_queue; a user's leads are read by leads_org_assigned_page (a rep's
-- list, a deactivation's reroute) or leads_open_assigned (open caps), not
-- leads_assigned. Users are never deleted, so no foreign key check needs
-- assigned_to alone. store.TestHotQueriesUseIndexes holds every hot read.
DROP INDEX leads_queue;
DROP INDEX leads_assigned;

-- +goose Down
CREATE INDEX leads_assigned ON leads(assigned_to) WHERE assigned_to IS NOT NULL;
CREATE INDEX leads_queue ON leads(org_id, priority, available_at) WHERE location = 'queue';
