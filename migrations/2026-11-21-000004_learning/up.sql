-- Learning after an incident: the post-mortem document, its review meeting,
-- follow-up priorities, the overdue digest's ledger and runbooks.

-- One post-mortem per incident, created with the incident.
CREATE TABLE postmortems (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id BIGINT NOT NULL UNIQUE REFERENCES incidents (id) ON DELETE CASCADE,
    status TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'in_review', 'reviewed', 'published')),
    owner_id BIGINT REFERENCES users (id),
    -- When Firebreak drafted the facts (on resolution); NULL before.
    drafted_at TIMESTAMPTZ,
    -- The sections people write (Markdown).
    summary TEXT NOT NULL DEFAULT '',
    customer_impact TEXT NOT NULL DEFAULT '',
    detection TEXT NOT NULL DEFAULT '',
    root_cause TEXT NOT NULL DEFAULT '',
    trigger TEXT NOT NULL DEFAULT '',
    resolution TEXT NOT NULL DEFAULT '',
    went_well TEXT NOT NULL DEFAULT '',
    went_badly TEXT NOT NULL DEFAULT '',
    got_lucky TEXT NOT NULL DEFAULT '',
    lessons TEXT NOT NULL DEFAULT '',
    -- The drafted facts (header, metrics, timeline...) frozen as Markdown at publication.
    published_facts TEXT,
    published_at TIMESTAMPTZ,
    published_by BIGINT REFERENCES users (id),
    -- Optimistic locking: every save bumps it.
    version INTEGER NOT NULL DEFAULT 1,
    updated_by BIGINT REFERENCES users (id),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Full-text search over the written sections (the incident title is
    -- searched alongside it at query time). Not in the Diesel schema.
    search tsvector GENERATED ALWAYS AS (to_tsvector('english',
        summary || ' ' || customer_impact || ' ' || detection || ' ' || root_cause || ' ' || trigger || ' ' ||
        resolution || ' ' || went_well || ' ' || went_badly || ' ' || got_lucky || ' ' || lessons)) STORED
);
CREATE INDEX postmortems_search_idx ON postmortems USING gin (search);
CREATE INDEX postmortems_published_idx ON postmortems (published_at DESC) WHERE status = 'published';
INSERT INTO postmortems (incident_id) SELECT id FROM incidents;

-- A review meeting; rescheduling bumps sequence (same uid), cancelling sets cancelled_at.
CREATE TABLE review_meetings (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    postmortem_id BIGINT NOT NULL REFERENCES postmortems (id) ON DELETE CASCADE,
    uid TEXT NOT NULL UNIQUE,
    sequence INTEGER NOT NULL DEFAULT 0,
    starts_at TIMESTAMPTZ NOT NULL,
    ends_at TIMESTAMPTZ NOT NULL,
    -- The organiser's time zone when it was scheduled (IANA name), for display.
    time_zone TEXT NOT NULL DEFAULT 'UTC',
    location TEXT NOT NULL DEFAULT '',
    conference_url TEXT,
    organizer_id BIGINT NOT NULL REFERENCES users (id),
    cancelled_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (ends_at > starts_at)
);
CREATE UNIQUE INDEX review_meetings_one_active ON review_meetings (postmortem_id) WHERE cancelled_at IS NULL;

CREATE TABLE review_meeting_invitees (
    meeting_id BIGINT NOT NULL REFERENCES review_meetings (id) ON DELETE CASCADE,
    email TEXT NOT NULL CHECK (email = lower(email) AND email <> ''),
    name TEXT NOT NULL DEFAULT '',
    user_id BIGINT REFERENCES users (id),
    -- Taken off the list at a reschedule (they were sent a cancellation).
    removed_at TIMESTAMPTZ,
    PRIMARY KEY (meeting_id, email)
);

-- Follow-ups have a priority; owner and due date use tasks.assignee_id and due_at.
ALTER TABLE tasks ADD COLUMN priority TEXT NOT NULL DEFAULT 'medium' CHECK (priority IN ('high', 'medium', 'low'));
CREATE INDEX tasks_open_due_idx ON tasks (due_at) WHERE status IN ('open', 'in_progress');

-- One row per owner per day a digest was sent: the primary key keeps several
-- instances from sending the same digest twice.
CREATE TABLE followup_digests (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    digest_date DATE NOT NULL,
    sent_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, digest_date)
);

CREATE TABLE runbooks (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title TEXT NOT NULL CHECK (title <> ''),
    -- Markdown; rendered through the sanitiser when shown.
    steps TEXT NOT NULL DEFAULT '',
    -- Alert names (e.g. Alertmanager's alertname) this runbook applies to.
    alert_names TEXT[] NOT NULL DEFAULT '{}',
    -- The done mitigation task it was started from, if any.
    source_task_id BIGINT REFERENCES tasks (id) ON DELETE SET NULL,
    created_by BIGINT REFERENCES users (id),
    updated_by BIGINT REFERENCES users (id),
    version INTEGER NOT NULL DEFAULT 1,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX runbooks_alert_names_idx ON runbooks USING gin (alert_names);

CREATE TABLE runbook_components (
    runbook_id BIGINT NOT NULL REFERENCES runbooks (id) ON DELETE CASCADE,
    component_id BIGINT NOT NULL REFERENCES components (id) ON DELETE CASCADE,
    PRIMARY KEY (runbook_id, component_id)
);
CREATE INDEX runbook_components_component_idx ON runbook_components (component_id);
