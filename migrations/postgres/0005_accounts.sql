-- Accounts people can trust (ARCHITECTURE.md, "Accounts"): verified emails,
-- sessions one can list and end, API tokens, single-use email links and
-- invitations. All global (not tenant-aware): on Citus, reference tables.

ALTER TABLE users.users ADD COLUMN email_verified_at timestamptz;

-- One row per sign-in; the session token's `jti` is its id. A token is live
-- while its row is (not revoked, not expired); this replaces the list of
-- revoked tokens, so tokens issued before this migration have ended.
CREATE TABLE auth.sessions (
    id            uuid PRIMARY KEY,
    user_id       uuid NOT NULL REFERENCES users.users (id) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL,
    last_seen_at  timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    revoked_at    timestamptz,
    user_agent    text,
    ip            text
);
CREATE INDEX sessions_by_user ON auth.sessions (user_id);
DROP TABLE auth.revoked_tokens;

-- Personal API tokens: only their SHA-256 is kept.
CREATE TABLE auth.api_tokens (
    id            uuid PRIMARY KEY,
    user_id       uuid NOT NULL REFERENCES users.users (id) ON DELETE CASCADE,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    token_hash    text NOT NULL UNIQUE,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz,
    last_used_at  timestamptz,
    revoked_at    timestamptz
);
CREATE INDEX api_tokens_by_user ON auth.api_tokens (user_id);

-- Single-use links sent by email (verification, password reset), hashed;
-- `email` is the address it was sent to.
CREATE TABLE auth.email_tokens (
    token_hash  text PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users.users (id) ON DELETE CASCADE,
    purpose     text NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
    email       text NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX email_tokens_by_user ON auth.email_tokens (user_id);

-- Pending invitations to a tenant; the token is single-use and hashed.
CREATE TABLE users.invitations (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    email       text NOT NULL,
    role        text NOT NULL CHECK (role IN ('owner', 'member')),
    token_hash  text NOT NULL UNIQUE,
    invited_by  uuid REFERENCES users.users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    UNIQUE (tenant_id, email)
);

GRANT SELECT, INSERT, UPDATE, DELETE ON
    auth.sessions, auth.api_tokens, auth.email_tokens, users.invitations
    TO aswan_app;
