-- +goose Up
-- The feed's page is read by (org_id, -id): an order the primary key
-- cannot give. By (org_id, id DESC), the planner read an org that holds
-- most of the feed backwards through the primary key, filtering on org_id,
-- and a quiet org whose last event was older than the busier orgs' newest
-- walked all of those first (issue 20; docs/scale.md, "feed page").
CREATE INDEX feed_org_page ON feed_events(org_id, (-id));
DROP INDEX feed_org;

-- +goose Down
CREATE INDEX feed_org ON feed_events(org_id, id DESC);
DROP INDEX feed_org_page;
