-- Core schema on PostgreSQL. The built-in tables mirror Nile's names
-- (tenants, users.users, users.tenant_users, auth.credentials) so the same
-- SQL can later run on Nile; todos is the first tenant-aware table.

CREATE EXTENSION IF NOT EXISTS vector;

CREATE SCHEMA IF NOT EXISTS users;
CREATE SCHEMA IF NOT EXISTS auth;

CREATE TABLE tenants (
    id          uuid PRIMARY KEY,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users.users (
    id          uuid PRIMARY KEY,
    email       text NOT NULL UNIQUE,
    name        text,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per sign-in method; the payload holds an argon2id PHC string.
CREATE TABLE auth.credentials (
    user_id     uuid NOT NULL REFERENCES users.users (id) ON DELETE CASCADE,
    method      text NOT NULL CHECK (method IN ('PASSWORD')),
    payload     jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, method)
);

-- Logged-out session tokens, kept until they would have expired anyway.
CREATE TABLE auth.revoked_tokens (
    jti         uuid PRIMARY KEY,
    expires_at  timestamptz NOT NULL
);

CREATE TABLE users.tenant_users (
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users.users (id) ON DELETE CASCADE,
    role        text NOT NULL CHECK (role IN ('owner', 'member')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, user_id)
);
CREATE INDEX tenant_users_by_user ON users.tenant_users (user_id);

-- Tenant-aware: tenant_id leads the primary key (Nile and Citus require it).
CREATE TABLE todos (
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          uuid NOT NULL,
    title       varchar(256) NOT NULL CHECK (length(title) >= 1),
    complete    boolean NOT NULL DEFAULT false,
    estimate    text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    embedding   vector,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX todos_newest_first ON todos (tenant_id, created_at DESC, id DESC);

-- Row-level security: a tenant-aware row is visible and writable only inside
-- its tenant's context, set per transaction with
-- set_config('nile.tenant_id', …, true). No context: nothing (fail closed).
ALTER TABLE todos ENABLE ROW LEVEL SECURITY;
ALTER TABLE todos FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON todos
    USING (tenant_id = NULLIF(current_setting('nile.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('nile.tenant_id', true), '')::uuid);

-- The role the server's queries run as: not a superuser, cannot bypass RLS,
-- owns nothing, may only read and write rows. Roles are cluster-wide, so
-- another database of the same cluster may have made it already.
DO $$
BEGIN
    CREATE ROLE aswan_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;
DO $$
BEGIN
    -- The migrating user must be able to SET ROLE aswan_app.
    EXECUTE format('GRANT aswan_app TO %I', current_user);
EXCEPTION WHEN duplicate_object OR unique_violation OR insufficient_privilege THEN
    NULL;
END
$$;
GRANT USAGE ON SCHEMA public, users, auth TO aswan_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON
    tenants, users.users, users.tenant_users, auth.credentials, auth.revoked_tokens, todos
    TO aswan_app;
