ALTER TABLE contact_methods DROP CONSTRAINT contact_methods_webhook_secret_check;
ALTER TABLE contact_methods DROP COLUMN signing_secret;
