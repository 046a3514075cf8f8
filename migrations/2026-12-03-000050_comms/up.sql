-- "Send update" carries an idempotency key: a double click or a retried POST
-- finds the update it already sent instead of sending a second one.
ALTER TABLE incident_updates ADD COLUMN idempotency_key TEXT;
CREATE UNIQUE INDEX incident_updates_idempotency_key ON incident_updates (incident_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

-- Each subscriber's preferences link: its own token, good only for choosing
-- components (the older token confirms and unsubscribes).
ALTER TABLE subscribers ADD COLUMN manage_token TEXT NOT NULL
    DEFAULT replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', '');
CREATE UNIQUE INDEX subscribers_manage_token ON subscribers (manage_token);
