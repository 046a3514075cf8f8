-- A page message to an HTTP contact method (ntfy, a webhook, Slack) is sent
-- after the channel's lock is released, so a slow receiver holds no row
-- locks. Meanwhile its row is 'sending' with `due_at` as the lease: if the
-- instance dies before recording the outcome, the row is due again when the
-- lease runs out and another instance sends it (at least once, never lost).
ALTER TABLE page_notifications DROP CONSTRAINT page_notifications_status_check;
ALTER TABLE page_notifications ADD CONSTRAINT page_notifications_status_check
    CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'cancelled'));
DROP INDEX page_notifications_due;
CREATE INDEX page_notifications_due ON page_notifications (due_at) WHERE status IN ('pending', 'sending');
