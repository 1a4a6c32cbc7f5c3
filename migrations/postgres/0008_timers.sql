-- A running timer per user (ARCHITECTURE.md, "Timers"): at most one, on a
-- task of one of their tenants. A user's row, not tenant data (one per user
-- across tenants): on Citus, a reference table. Stopping deletes the row.
CREATE TABLE users.timers (
    user_id     uuid PRIMARY KEY REFERENCES users.users (id) ON DELETE CASCADE,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    todo_id     uuid NOT NULL,
    started_at  timestamptz NOT NULL
);
GRANT SELECT, INSERT, UPDATE, DELETE ON users.timers TO aswan_app;
