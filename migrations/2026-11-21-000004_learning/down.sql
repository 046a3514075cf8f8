DROP TABLE runbook_components;
DROP TABLE runbooks;
DROP TABLE followup_digests;
DROP INDEX tasks_open_due_idx;
ALTER TABLE tasks DROP COLUMN priority;
DROP TABLE review_meeting_invitees;
DROP TABLE review_meetings;
DROP TABLE postmortems;
