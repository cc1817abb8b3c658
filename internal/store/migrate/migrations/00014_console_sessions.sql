-- +goose Up
-- The console's sign-in (SPEC §8): a single-use emailed link, then a session
-- cookie. Only hashes of both are kept; the plain values live in the email
-- and the browser.
CREATE TABLE signin_links (
    id          uuid PRIMARY KEY,
    email       text NOT NULL,
    hash        bytea UNIQUE,          -- NULL until the email's activity mints the token
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX signin_links_email ON signin_links(lower(email), created_at);

-- A session belongs to one email; user_id is the org membership it acts as
-- (NULL until a person who is a user in several orgs has picked one).
CREATE TABLE sessions (
    hash          bytea PRIMARY KEY,
    email         text NOT NULL,
    user_id       uuid REFERENCES users(id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL   -- the absolute lifetime
);
CREATE INDEX sessions_user ON sessions(user_id);
CREATE INDEX sessions_email ON sessions(lower(email));

-- +goose Down
DROP TABLE sessions;
DROP TABLE signin_links;
