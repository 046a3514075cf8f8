UPDATE page_notifications SET status = 'pending' WHERE status = 'sending';
DROP INDEX page_notifications_due;
CREATE INDEX page_notifications_due ON page_notifications (due_at) WHERE status = 'pending';
ALTER TABLE page_notifications DROP CONSTRAINT page_notifications_status_check;
ALTER TABLE page_notifications ADD CONSTRAINT page_notifications_status_check
    CHECK (status IN ('pending', 'sent', 'failed', 'cancelled'));
