-- Inactivity auto-close: router tells session each conversation's work-stream setting with every
-- routing update; the auto-closer closes conversations idle for longer (CLOSE_REASON_INACTIVITY).
-- NULL means never. Due conversations are found through conversations_by_state
-- (state, last_activity_at), which already exists.
ALTER TABLE session.conversations ADD COLUMN auto_close_after interval;
