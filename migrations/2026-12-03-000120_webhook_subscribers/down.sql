DELETE FROM webhooks WHERE for_subscriber;
ALTER TABLE subscribers DROP COLUMN webhook_id, DROP COLUMN webhook_url;
ALTER TABLE webhooks DROP COLUMN for_subscriber;
