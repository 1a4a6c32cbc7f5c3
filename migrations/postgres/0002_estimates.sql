-- AI time estimates: the estimate's state and basis, the actual duration,
-- and the model that made the embedding (the column came with 0001).
ALTER TABLE todos
    ADD COLUMN estimate_status text NOT NULL DEFAULT 'off'
        CHECK (estimate_status IN ('pending', 'ready', 'failed', 'off')),
    ADD COLUMN estimate_minutes integer,
    ADD COLUMN estimate_basis jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN estimate_error text,
    ADD COLUMN actual_minutes integer CHECK (actual_minutes > 0),
    ADD COLUMN embedding_model text;

-- The durable queue of estimates to compute. Shared (ids only, no content;
-- no RLS), so a worker can find work across tenants; it then reads and writes
-- the todo inside that tenant's context. Several servers claim jobs with
-- FOR UPDATE SKIP LOCKED.
CREATE TABLE estimate_jobs (
    tenant_id     uuid NOT NULL,
    todo_id       uuid NOT NULL,
    attempts      integer NOT NULL DEFAULT 0,
    next_at       timestamptz NOT NULL DEFAULT now(),
    locked_until  timestamptz,
    last_error    text,
    PRIMARY KEY (tenant_id, todo_id),
    FOREIGN KEY (tenant_id, todo_id) REFERENCES todos (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX estimate_jobs_due ON estimate_jobs (next_at);
GRANT SELECT, INSERT, UPDATE, DELETE ON estimate_jobs TO aswan_app;
