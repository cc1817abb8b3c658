-- +goose Up
-- Sub-agency invitations (SPEC §5.1). The token is minted by the email
-- activity and stored only as its hash, so it is neither in Postgres nor in
-- Temporal's history; it is NULL until the invitation email is prepared.
CREATE TABLE invitations (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id       uuid NOT NULL REFERENCES orgs(id),          -- the master
    email        text NOT NULL,
    invited_by   uuid NOT NULL REFERENCES users(id),
    token_hash   bytea UNIQUE,
    status       text NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending','accepted','declined','expired','revoked')),
    workflow_id  text NOT NULL,
    expires_at   timestamptz NOT NULL,
    sub_org_id   uuid REFERENCES orgs(id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    decided_at   timestamptz
);
-- one open invitation per (master, email)
CREATE UNIQUE INDEX invitations_one_pending ON invitations(org_id, lower(email)) WHERE status = 'pending';
CREATE INDEX invitations_org ON invitations(org_id, created_at DESC);

-- +goose Down
DROP TABLE invitations;
