-- The incident room: components (the services an incident affects), incidents,
-- who holds which role, the append-only timeline, tasks and change requests.
CREATE TABLE components (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL CHECK (name <> ''),
    description TEXT NOT NULL DEFAULT '',
    group_name TEXT NOT NULL DEFAULT '',
    position INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'operational' CHECK (status IN
        ('operational', 'degraded_performance', 'partial_outage', 'major_outage', 'under_maintenance')),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX components_name_key ON components (lower(name));

CREATE TABLE incidents (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title TEXT NOT NULL CHECK (title <> ''),
    summary TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL CHECK (kind IN ('outage', 'degraded', 'security')),
    severity SMALLINT NOT NULL CHECK (severity BETWEEN 1 AND 4),
    status TEXT NOT NULL DEFAULT 'investigating' CHECK (status IN
        ('investigating', 'identified', 'monitoring', 'resolved', 'closed')),
    environment TEXT NOT NULL DEFAULT 'production',
    detection_source TEXT NOT NULL CHECK (detection_source IN ('alert', 'customer', 'staff', 'other')),
    visibility TEXT NOT NULL CHECK (visibility IN ('public', 'internal', 'restricted')),
    conference_url TEXT,
    impact_started_at TIMESTAMPTZ NOT NULL,
    detected_at TIMESTAMPTZ NOT NULL,
    declared_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    acknowledged_at TIMESTAMPTZ,
    mitigated_at TIMESTAMPTZ,
    resolved_at TIMESTAMPTZ,
    closed_at TIMESTAMPTZ,
    status_changed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    declared_by BIGINT NOT NULL REFERENCES users (id),
    customer_impact TEXT NOT NULL DEFAULT '',
    -- Optimistic locking: every change to the incident's own fields bumps it.
    version INTEGER NOT NULL DEFAULT 1,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX incidents_declared_idx ON incidents (declared_at DESC);
CREATE INDEX incidents_status_idx ON incidents (status);

CREATE TABLE incident_components (
    incident_id BIGINT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    component_id BIGINT NOT NULL REFERENCES components (id),
    PRIMARY KEY (incident_id, component_id)
);
CREATE INDEX incident_components_component_idx ON incident_components (component_id);

CREATE TABLE incident_roles (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id BIGINT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('lead', 'note_taker', 'comms_lead', 'supporting')),
    user_id BIGINT NOT NULL REFERENCES users (id),
    assigned_by BIGINT REFERENCES users (id),
    assumed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- A hand-over closes the old row and opens a new one: history is kept.
    relieved_at TIMESTAMPTZ
);
CREATE UNIQUE INDEX incident_roles_one_holder ON incident_roles (incident_id, role)
    WHERE relieved_at IS NULL AND role <> 'supporting';
CREATE UNIQUE INDEX incident_roles_supporting_once ON incident_roles (incident_id, user_id)
    WHERE relieved_at IS NULL AND role = 'supporting';
CREATE INDEX incident_roles_user_idx ON incident_roles (user_id);

CREATE TABLE timeline_entries (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id BIGINT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    occurred_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    recorded_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    author_id BIGINT REFERENCES users (id),
    kind TEXT NOT NULL CHECK (kind IN
        ('note', 'status', 'severity', 'role', 'task', 'change', 'update', 'alert', 'system', 'component')),
    body TEXT NOT NULL,
    -- Notes rendered from Markdown through the sanitiser once, at write time
    -- (entries never change); empty for entries shown as plain text.
    body_html TEXT NOT NULL DEFAULT '',
    highlighted BOOLEAN NOT NULL DEFAULT FALSE,
    -- Entries are append-only: a correction is a new entry pointing at the old one.
    corrects_id BIGINT REFERENCES timeline_entries (id)
);
CREATE INDEX timeline_entries_incident_idx ON timeline_entries (incident_id, occurred_at, id);

CREATE TABLE tasks (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id BIGINT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    title TEXT NOT NULL CHECK (title <> ''),
    details TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL CHECK (kind IN ('mitigation', 'cleanup', 'follow_up')),
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'in_progress', 'done', 'wont_do')),
    assignee_id BIGINT REFERENCES users (id),
    timebox_minutes INTEGER CHECK (timebox_minutes > 0),
    started_at TIMESTAMPTZ,
    due_at TIMESTAMPTZ,
    ticket_url TEXT,
    created_by BIGINT NOT NULL REFERENCES users (id),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    completed_at TIMESTAMPTZ
);
CREATE INDEX tasks_incident_idx ON tasks (incident_id);
CREATE INDEX tasks_assignee_idx ON tasks (assignee_id) WHERE status IN ('open', 'in_progress');

CREATE TABLE change_requests (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id BIGINT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    requested_by BIGINT NOT NULL REFERENCES users (id),
    description TEXT NOT NULL CHECK (description <> ''),
    rollback_plan TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected', 'applied')),
    decided_by BIGINT REFERENCES users (id),
    decided_at TIMESTAMPTZ,
    applied_by BIGINT REFERENCES users (id),
    applied_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX change_requests_incident_idx ON change_requests (incident_id);
