-- A new estimate state, 'insufficient_history': the history estimator found
-- no similar task with a duration.
ALTER TABLE todos DROP CONSTRAINT todos_estimate_status_check;
ALTER TABLE todos ADD CONSTRAINT todos_estimate_status_check
    CHECK (estimate_status IN ('pending', 'ready', 'insufficient_history', 'failed', 'off'));
