-- +goose Up
-- The console's reads (issue 17). A lead list filtered by one column walked
-- leads_org_page in paging order and dropped every row that did not match:
-- a rep with few leads read the whole org (911 ms at a million leads). Each
-- filter gets an index that starts (org_id, the filter's column) and then
-- keeps the paging order, so a page reads about a page of rows whatever the
-- filter's share of the org.
CREATE INDEX leads_org_assigned_page ON leads (org_id, assigned_to, received_at DESC, id DESC);
-- owner=team is owner_user_id IS NULL, which a btree finds but does not
-- treat as an equality for ordering: the planner takes the bitmap of the
-- team's leads and sorts it when they are few, and walks leads_org_page
-- when they are most of the org (the usual case) — a page either way.
CREATE INDEX leads_org_owner_page ON leads (org_id, owner_user_id, received_at DESC, id DESC);
CREATE INDEX leads_org_status_page ON leads (org_id, status, received_at DESC, id DESC);
CREATE INDEX leads_org_source_page ON leads (org_id, source_slug, received_at DESC, id DESC);
-- Most leads are in neither place: only those that are take room.
CREATE INDEX leads_org_location_page ON leads (org_id, location, received_at DESC, id DESC) WHERE location IS NOT NULL;

-- Text search (q): a substring of the name ("first last"), email, phone
-- digits or external id, case-insensitive, in any script. pg_trgm ships
-- with PostgreSQL (Debian's postgresql package, the postgres image) and is
-- a trusted extension: the database's owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
-- The searched text, one function so the index and the query spell it the
-- same. Fields are joined by U+001F, a control character a search may not
-- contain, so no match runs from one field into the next; the name's two
-- halves by a space, so "Ada Lovelace" matches. It is lowercased by ICU's
-- root locale, not the database's: a database created with the C locale
-- lowercases ASCII only, and "ИВАН" would not find "Иван".
CREATE FUNCTION lead_search_text(first_name text, last_name text, email text, phone text, external_id text)
    RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN lower((first_name || ' ' || last_name || chr(31) || email || chr(31)
        || regexp_replace(phone, '[^0-9]', '', 'g') || chr(31) || external_id) COLLATE "und-x-icu");
CREATE INDEX leads_search ON leads USING gin (lead_search_text(first_name, last_name, email, phone, external_id) gin_trgm_ops);

-- The manager pipeline: an org's pending handovers, oldest first.
CREATE INDEX handovers_pipeline ON handovers (to_org_id, created_at, lead_id) WHERE status = 'pending';

-- +goose Down
DROP INDEX handovers_pipeline;
DROP INDEX leads_search;
DROP FUNCTION lead_search_text(text, text, text, text, text);
-- pg_trgm stays: it may have been there before, for someone else.
DROP INDEX leads_org_location_page;
DROP INDEX leads_org_source_page;
DROP INDEX leads_org_status_page;
DROP INDEX leads_org_owner_page;
DROP INDEX leads_org_assigned_page;
