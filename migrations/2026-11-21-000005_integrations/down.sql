-- (incidents opened by alerts stay without declared_by; restore a user before re-adding NOT NULL)
ALTER TABLE users DROP COLUMN is_service;
DROP TABLE api_tokens;
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
DROP TABLE alerts;
DROP TABLE alert_payloads;
DROP TABLE alert_sources;
