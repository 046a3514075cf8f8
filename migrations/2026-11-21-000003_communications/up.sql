-- Telling people: public ids, the component status log, stakeholder groups,
-- incident updates, scheduled maintenance, status-page subscribers, the email
-- outbox and a generic request log for rate limits.

-- Short random ids (as Statuspage uses) for everything shown publicly, so the
-- status page and its API never reveal internal ids or how many rows exist.
CREATE FUNCTION firebreak_public_id() RETURNS TEXT LANGUAGE SQL VOLATILE AS
$$ SELECT substr(replace(gen_random_uuid()::text, '-', ''), 1, 12) $$;

ALTER TABLE incidents ADD COLUMN public_id TEXT NOT NULL DEFAULT firebreak_public_id();
CREATE UNIQUE INDEX incidents_public_id_key ON incidents (public_id);
ALTER TABLE components ADD COLUMN public_id TEXT NOT NULL DEFAULT firebreak_public_id();
CREATE UNIQUE INDEX components_public_id_key ON components (public_id);

CREATE TABLE stakeholder_groups (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL CHECK (name <> ''),
    description TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX stakeholder_groups_name_key ON stakeholder_groups (lower(name));

CREATE TABLE stakeholder_members (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    group_id BIGINT NOT NULL REFERENCES stakeholder_groups (id) ON DELETE CASCADE,
    name TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL CHECK (email <> '')
);
CREATE UNIQUE INDEX stakeholder_members_email_key ON stakeholder_members (group_id, lower(email));

-- Which groups get an incident's internal updates.
CREATE TABLE incident_stakeholder_groups (
    incident_id BIGINT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    group_id BIGINT NOT NULL REFERENCES stakeholder_groups (id) ON DELETE CASCADE,
    PRIMARY KEY (incident_id, group_id)
);

CREATE TABLE incident_updates (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id TEXT NOT NULL DEFAULT firebreak_public_id() UNIQUE,
    incident_id BIGINT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    status TEXT NOT NULL CHECK (status IN ('investigating', 'identified', 'monitoring', 'resolved')),
    audience TEXT NOT NULL CHECK (audience IN ('internal', 'public', 'both')),
    -- The template's fields as the communications lead left them...
    impact TEXT NOT NULL DEFAULT '',
    actions TEXT NOT NULL DEFAULT '',
    impact_started_at TIMESTAMPTZ NOT NULL,
    next_update_at TIMESTAMPTZ,
    -- ...and the message exactly as it was sent and published.
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    created_by BIGINT REFERENCES users (id),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX incident_updates_incident_idx ON incident_updates (incident_id, created_at);
CREATE INDEX incident_updates_public_idx ON incident_updates (created_at DESC) WHERE audience <> 'internal';

CREATE TABLE maintenances (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id TEXT NOT NULL DEFAULT firebreak_public_id() UNIQUE,
    title TEXT NOT NULL CHECK (title <> ''),
    message TEXT NOT NULL DEFAULT '',
    starts_at TIMESTAMPTZ NOT NULL,
    ends_at TIMESTAMPTZ NOT NULL,
    status TEXT NOT NULL DEFAULT 'scheduled' CHECK (status IN ('scheduled', 'in_progress', 'completed', 'cancelled')),
    started_at TIMESTAMPTZ,
    completed_at TIMESTAMPTZ,
    created_by BIGINT REFERENCES users (id),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (ends_at > starts_at)
);
CREATE INDEX maintenances_window_idx ON maintenances (starts_at, ends_at);

CREATE TABLE maintenance_components (
    maintenance_id BIGINT NOT NULL REFERENCES maintenances (id) ON DELETE CASCADE,
    component_id BIGINT NOT NULL REFERENCES components (id) ON DELETE CASCADE,
    PRIMARY KEY (maintenance_id, component_id)
);

-- Every component status change: the source of the uptime bars.
CREATE TABLE component_status_changes (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    component_id BIGINT NOT NULL REFERENCES components (id) ON DELETE CASCADE,
    old_status TEXT NOT NULL,
    new_status TEXT NOT NULL,
    changed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    changed_by BIGINT REFERENCES users (id),
    incident_id BIGINT REFERENCES incidents (id) ON DELETE SET NULL,
    update_id BIGINT REFERENCES incident_updates (id) ON DELETE SET NULL,
    maintenance_id BIGINT REFERENCES maintenances (id) ON DELETE SET NULL
);
CREATE INDEX component_status_changes_idx ON component_status_changes (component_id, changed_at);

CREATE TABLE subscribers (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email TEXT NOT NULL CHECK (email <> ''),
    -- The secret in confirm and unsubscribe links.
    token TEXT NOT NULL UNIQUE,
    all_components BOOLEAN NOT NULL DEFAULT TRUE,
    confirmed_at TIMESTAMPTZ,
    confirmation_sent_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX subscribers_email_key ON subscribers (lower(email));

CREATE TABLE subscriber_components (
    subscriber_id BIGINT NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    component_id BIGINT NOT NULL REFERENCES components (id) ON DELETE CASCADE,
    PRIMARY KEY (subscriber_id, component_id)
);
CREATE INDEX subscriber_components_component_idx ON subscriber_components (component_id);

-- Requests counted for rate limits (e.g. subscribe per address, per client).
CREATE TABLE request_log (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX request_log_idx ON request_log (bucket, key, at);

-- Every email, written in the same transaction as its cause and sent by the
-- background worker. A row is claimed by setting locked_until; a worker that
-- dies leaves the lease to expire and the row is tried again.
CREATE TABLE outbox (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Chosen at enqueue time so a retried message keeps its Message-ID.
    message_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    to_address TEXT NOT NULL,
    to_name TEXT NOT NULL DEFAULT '',
    subject TEXT NOT NULL,
    text_body TEXT NOT NULL,
    html_body TEXT NOT NULL,
    -- One-click unsubscribe URL (RFC 8058), for mail to subscribers.
    list_unsubscribe TEXT,
    -- An iCalendar attachment (text/calendar) and its METHOD, for invitations.
    calendar TEXT,
    calendar_method TEXT,
    incident_id BIGINT REFERENCES incidents (id) ON DELETE SET NULL,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    locked_until TIMESTAMPTZ,
    last_error TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    sent_at TIMESTAMPTZ
);
CREATE INDEX outbox_due_idx ON outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX outbox_status_idx ON outbox (status, created_at DESC);

CREATE TABLE outbox_attempts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    outbox_id BIGINT NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
    attempted_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- NULL when the server accepted the message.
    error TEXT
);
CREATE INDEX outbox_attempts_idx ON outbox_attempts (outbox_id);
