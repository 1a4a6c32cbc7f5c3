-- A running timer per user (ARCHITECTURE.md, "Timers"): at most one, on a
-- task of one of their tenants. Stopping deletes the row.
CREATE TABLE timers (
    user_id     BLOB PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tenant_id   BLOB NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    todo_id     BLOB NOT NULL,
    started_at  TEXT NOT NULL
) STRICT;
