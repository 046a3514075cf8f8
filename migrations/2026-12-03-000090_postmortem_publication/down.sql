DROP TABLE postmortem_hidden_entries;
ALTER TABLE postmortems DROP COLUMN summary_public;
