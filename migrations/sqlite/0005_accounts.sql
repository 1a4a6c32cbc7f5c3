-- Accounts people can trust (ARCHITECTURE.md, "Accounts"): verified emails,
-- sessions one can list and end, API tokens, single-use email links and
-- invitations.

ALTER TABLE users ADD COLUMN email_verified_at TEXT;

-- One row per sign-in; the session token's `jti` is its id. A token is live
-- while its row is (not revoked, not expired); this replaces the list of
-- revoked tokens, so tokens issued before this migration have ended.
CREATE TABLE sessions (
    id            BLOB PRIMARY KEY NOT NULL,
    user_id       BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    TEXT NOT NULL,
    last_seen_at  TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    revoked_at    TEXT,
    user_agent    TEXT,
    ip            TEXT
) STRICT;
CREATE INDEX sessions_by_user ON sessions (user_id);
DROP TABLE revoked_tokens;

-- Personal API tokens: only their SHA-256 is kept.
CREATE TABLE api_tokens (
    id            BLOB PRIMARY KEY NOT NULL,
    user_id       BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    token_hash    TEXT NOT NULL UNIQUE,
    created_at    TEXT NOT NULL,
    expires_at    TEXT,
    last_used_at  TEXT,
    revoked_at    TEXT
) STRICT;
CREATE INDEX api_tokens_by_user ON api_tokens (user_id);

-- Single-use links sent by email (verification, password reset), hashed;
-- `email` is the address it was sent to.
CREATE TABLE email_tokens (
    token_hash  TEXT PRIMARY KEY NOT NULL,
    user_id     BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose     TEXT NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
    email       TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
) STRICT;
CREATE INDEX email_tokens_by_user ON email_tokens (user_id);

-- Pending invitations to a tenant; the token is single-use and hashed.
CREATE TABLE invitations (
    id          BLOB PRIMARY KEY NOT NULL,
    tenant_id   BLOB NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    email       TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('owner', 'member')),
    token_hash  TEXT NOT NULL UNIQUE,
    invited_by  BLOB REFERENCES users (id) ON DELETE SET NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    UNIQUE (tenant_id, email)
) STRICT;
