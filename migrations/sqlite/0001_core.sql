-- Core schema: the built-in tables (tenants, users, memberships, credentials)
-- and the first tenant-aware table, todos. Ids are UUIDs stored as 16-byte
-- BLOBs; timestamps are RFC 3339 text in UTC.

CREATE TABLE tenants (
    id          BLOB PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    created_at  TEXT NOT NULL
) STRICT;

CREATE TABLE users (
    id          BLOB PRIMARY KEY NOT NULL,
    email       TEXT NOT NULL UNIQUE,
    name        TEXT,
    created_at  TEXT NOT NULL
) STRICT;

-- One row per sign-in method; the password payload is an argon2id PHC string.
CREATE TABLE credentials (
    user_id     BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    method      TEXT NOT NULL CHECK (method IN ('PASSWORD')),
    payload     TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (user_id, method)
) STRICT;

CREATE TABLE tenant_users (
    tenant_id   BLOB NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id     BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role        TEXT NOT NULL CHECK (role IN ('owner', 'member')),
    created_at  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
) STRICT;
CREATE INDEX tenant_users_by_user ON tenant_users (user_id);

-- Tenant-aware: tenant_id leads the primary key, as Nile and Citus require.
CREATE TABLE todos (
    tenant_id   BLOB NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          BLOB NOT NULL,
    title       TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 256),
    complete    INTEGER NOT NULL DEFAULT 0 CHECK (complete IN (0, 1)),
    estimate    TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
) STRICT;
CREATE INDEX todos_newest_first ON todos (tenant_id, created_at DESC, id DESC);

-- Logged-out session tokens, kept until they would have expired anyway.
CREATE TABLE revoked_tokens (
    jti         BLOB PRIMARY KEY NOT NULL,
    expires_at  TEXT NOT NULL
) STRICT;
