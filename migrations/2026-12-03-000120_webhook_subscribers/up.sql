-- A status-page subscriber can give a URL instead of reading email: each
-- public update is POSTed there as signed JSON. The address still confirms
-- the subscription (double opt-in) and gets nothing else. On confirmation the
-- URL becomes a webhook of its own (for_subscriber: not listed with the
-- admins' webhooks, never sent internal events), so deliveries go through the
-- same durable queue, signing, retries and address rules.
ALTER TABLE webhooks ADD COLUMN for_subscriber boolean NOT NULL DEFAULT false;
ALTER TABLE subscribers ADD COLUMN webhook_url text CHECK (char_length(webhook_url) <= 2000),
    ADD COLUMN webhook_id bigint REFERENCES webhooks (id) ON DELETE SET NULL;
