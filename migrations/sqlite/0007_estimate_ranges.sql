-- Estimate ranges and calibration (ARCHITECTURE.md, "Estimates"):
-- estimate_low_minutes / estimate_high_minutes: the range the similar
-- tasks' spread gives around the point estimate (null without two of them);
-- estimate_model_minutes: the chat model's own number before this tenant's
-- calibration adjusted it (null for history estimates), so that later
-- calibration compares actuals with what the model said, not with what it
-- was adjusted to.
ALTER TABLE todos ADD COLUMN estimate_low_minutes INTEGER CHECK (estimate_low_minutes > 0);
ALTER TABLE todos ADD COLUMN estimate_high_minutes INTEGER CHECK (estimate_high_minutes > 0);
ALTER TABLE todos ADD COLUMN estimate_model_minutes INTEGER CHECK (estimate_model_minutes > 0);
-- Calibration reads a tenant's latest timed, model-estimated todos: a
-- partial index keeps that a short range scan however many todos it has.
CREATE INDEX todos_timed_by_model ON todos (tenant_id, updated_at DESC, id DESC)
    WHERE actual_minutes IS NOT NULL AND estimate_model_minutes IS NOT NULL;
