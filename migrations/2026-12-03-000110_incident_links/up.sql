-- How incidents relate to each other. A duplicate points at the incident
-- where the work happens and is resolved with it leaving the active list; a
-- false alarm stays on record but out of the reports; related incidents link
-- both ways (one row per pair, the smaller id first).
ALTER TABLE incidents ADD COLUMN duplicate_of bigint REFERENCES incidents (id) ON DELETE SET NULL,
    ADD CONSTRAINT incidents_not_own_duplicate CHECK (duplicate_of <> id);
ALTER TABLE incidents ADD COLUMN false_alarm boolean NOT NULL DEFAULT false;
CREATE INDEX incidents_duplicate_of ON incidents (duplicate_of) WHERE duplicate_of IS NOT NULL;

CREATE TABLE related_incidents (
    incident_id bigint NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    related_id bigint NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    linked_by bigint REFERENCES users (id) ON DELETE SET NULL,
    linked_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (incident_id, related_id),
    CHECK (incident_id < related_id)
);
CREATE INDEX related_incidents_related ON related_incidents (related_id);
