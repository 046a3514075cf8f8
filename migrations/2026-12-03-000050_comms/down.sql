DROP INDEX incident_updates_idempotency_key;
ALTER TABLE incident_updates DROP COLUMN idempotency_key;
