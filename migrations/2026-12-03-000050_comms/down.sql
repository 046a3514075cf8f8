DROP INDEX subscribers_manage_token;
ALTER TABLE subscribers DROP COLUMN manage_token;
DROP INDEX incident_updates_idempotency_key;
ALTER TABLE incident_updates DROP COLUMN idempotency_key;
