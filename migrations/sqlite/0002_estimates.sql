-- AI time estimates: the estimate's state and basis, the actual duration,
-- the title's embedding (little-endian f32s) and the model that made it.
ALTER TABLE todos ADD COLUMN estimate_status TEXT NOT NULL DEFAULT 'off'
    CHECK (estimate_status IN ('pending', 'ready', 'failed', 'off'));
ALTER TABLE todos ADD COLUMN estimate_minutes INTEGER;
ALTER TABLE todos ADD COLUMN estimate_basis TEXT NOT NULL DEFAULT '[]';
ALTER TABLE todos ADD COLUMN estimate_error TEXT;
ALTER TABLE todos ADD COLUMN actual_minutes INTEGER CHECK (actual_minutes > 0);
ALTER TABLE todos ADD COLUMN embedding BLOB;
ALTER TABLE todos ADD COLUMN embedding_model TEXT;

-- The durable queue of estimates to compute. Shared (ids only, no content),
-- so a worker can find work across tenants; it then reads and writes the
-- todo through that tenant's handle.
CREATE TABLE estimate_jobs (
    tenant_id     BLOB NOT NULL,
    todo_id       BLOB NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    next_at       TEXT NOT NULL,
    locked_until  TEXT,
    last_error    TEXT,
    PRIMARY KEY (tenant_id, todo_id),
    FOREIGN KEY (tenant_id, todo_id) REFERENCES todos (tenant_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX estimate_jobs_due ON estimate_jobs (next_at);
