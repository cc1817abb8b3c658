-- +goose Up
-- Every token minted for an invitation stays valid while the invitation is
-- pending: if a crash makes the email activity send again (with a new token),
-- the link in the first copy must still work. Single use is the invitation's
-- status, which closes them all at once.
CREATE TABLE invitation_tokens (
    hash          bytea PRIMARY KEY,
    invitation_id uuid NOT NULL REFERENCES invitations(id),
    created_at    timestamptz NOT NULL DEFAULT now()
);
INSERT INTO invitation_tokens (hash, invitation_id) SELECT token_hash, id FROM invitations WHERE token_hash IS NOT NULL;
ALTER TABLE invitations DROP COLUMN token_hash;

-- +goose Down
ALTER TABLE invitations ADD COLUMN token_hash bytea UNIQUE;
UPDATE invitations i SET token_hash = (SELECT hash FROM invitation_tokens t WHERE t.invitation_id = i.id ORDER BY created_at LIMIT 1);
DROP TABLE invitation_tokens;
