-- What a post-mortem's publication makes public, chosen by whoever publishes:
-- its summary goes on the public status page only when they said so, after
-- seeing it. Post-mortems published before this choice existed keep showing
-- their summary, as they did.
ALTER TABLE postmortems ADD COLUMN summary_public boolean NOT NULL DEFAULT false;
UPDATE postmortems SET summary_public = true WHERE status = 'published';

-- Timeline entries the author leaves out of the published facts (a note that
-- names a customer, a false lead). The room's timeline keeps them.
CREATE TABLE postmortem_hidden_entries (
    postmortem_id bigint NOT NULL REFERENCES postmortems (id) ON DELETE CASCADE,
    entry_id bigint NOT NULL REFERENCES timeline_entries (id) ON DELETE CASCADE,
    hidden_by bigint REFERENCES users (id) ON DELETE SET NULL,
    hidden_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (postmortem_id, entry_id)
);
