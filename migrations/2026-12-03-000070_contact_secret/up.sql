-- A signed-webhook contact method gets its own random signing secret, shown to
-- its owner once when it is added. Until now pages were signed with a key
-- derived from the person's id, which anyone could work out. Methods added
-- before this get a fresh random secret (gen_random_uuid draws from the
-- server's strong random source); their owners add them again to learn it.
ALTER TABLE contact_methods ADD COLUMN signing_secret TEXT;
UPDATE contact_methods
SET signing_secret = 'whsec_' || replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', '')
WHERE kind = 'webhook';
ALTER TABLE contact_methods ADD CONSTRAINT contact_methods_webhook_secret_check
    CHECK ((kind = 'webhook') = (signing_secret IS NOT NULL));
