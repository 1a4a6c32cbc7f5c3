-- A new estimate state, 'insufficient_history': the history estimator found
-- no similar task with a duration. SQLite cannot alter a CHECK constraint,
-- so todos is rebuilt (same columns, same order) and the estimate queue that
-- references it is set aside and restored around the rebuild.
CREATE TABLE estimate_jobs_kept AS SELECT * FROM estimate_jobs;
DROP TABLE estimate_jobs;

CREATE TABLE todos_next (
    tenant_id        BLOB NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id               BLOB NOT NULL,
    title            TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 256),
    complete         INTEGER NOT NULL DEFAULT 0 CHECK (complete IN (0, 1)),
    estimate         TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    estimate_status  TEXT NOT NULL DEFAULT 'off'
        CHECK (estimate_status IN ('pending', 'ready', 'insufficient_history', 'failed', 'off')),
    estimate_minutes INTEGER,
    estimate_basis   TEXT NOT NULL DEFAULT '[]',
    estimate_error   TEXT,
    actual_minutes   INTEGER CHECK (actual_minutes > 0),
    embedding        BLOB,
    embedding_model  TEXT,
    PRIMARY KEY (tenant_id, id)
) STRICT;
INSERT INTO todos_next SELECT * FROM todos;
DROP TABLE todos;
ALTER TABLE todos_next RENAME TO todos;
CREATE INDEX todos_newest_first ON todos (tenant_id, created_at DESC, id DESC);

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
INSERT INTO estimate_jobs SELECT * FROM estimate_jobs_kept;
DROP TABLE estimate_jobs_kept;
