-- The title the public sees (status page, its feeds and API, subscriber
-- emails) when it should differ from the internal one ("Payments degraded"
-- rather than "Stripe webhook secret rotated by mistake"). Empty: the title.
ALTER TABLE incidents ADD COLUMN public_title text NOT NULL DEFAULT ''
    CHECK (char_length(public_title) <= 200);
