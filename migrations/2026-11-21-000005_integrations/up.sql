-- Detection and integrations: alert sources and the alerts they send,
-- outgoing webhooks with their durable delivery queue, and API tokens.

CREATE TABLE alert_sources (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- In the hook URL (/hooks/alerts/{public_id}).
    public_id TEXT NOT NULL DEFAULT firebreak_public_id() UNIQUE,
    name TEXT NOT NULL CHECK (name <> ''),
    kind TEXT NOT NULL CHECK (kind IN ('alertmanager', 'grafana', 'generic')),
    -- SHA-256 of the token (hex); the token itself is shown once.
    token_hash TEXT NOT NULL,
    -- Which label carries the severity, and "label value = severity" lines.
    severity_label TEXT NOT NULL DEFAULT 'severity',
    severity_mapping TEXT NOT NULL DEFAULT '',
    default_severity SMALLINT NOT NULL DEFAULT 3 CHECK (default_severity BETWEEN 1 AND 4),
    -- Which label names the component, and "label value = component name" lines.
    component_label TEXT NOT NULL DEFAULT 'service',
    component_mapping TEXT NOT NULL DEFAULT '',
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    created_by BIGINT REFERENCES users (id),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX alert_sources_name_key ON alert_sources (lower(name));

-- Every accepted payload, raw, kept 30 days for debugging.
CREATE TABLE alert_payloads (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source_id BIGINT NOT NULL REFERENCES alert_sources (id) ON DELETE CASCADE,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    body TEXT NOT NULL,
    -- What Firebreak did with it (e.g. "opened incident 12; 2 alerts added to 9").
    outcome TEXT NOT NULL DEFAULT ''
);
CREATE INDEX alert_payloads_received_idx ON alert_payloads (received_at);
CREATE INDEX alert_payloads_source_idx ON alert_payloads (source_id, received_at DESC);

-- One row per alert (fingerprint) attached to an incident.
CREATE TABLE alerts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source_id BIGINT NOT NULL REFERENCES alert_sources (id) ON DELETE CASCADE,
    incident_id BIGINT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    fingerprint TEXT NOT NULL,
    group_key TEXT,
    name TEXT NOT NULL DEFAULT '',
    summary TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL CHECK (status IN ('firing', 'resolved')),
    labels JSONB NOT NULL DEFAULT '{}',
    starts_at TIMESTAMPTZ NOT NULL,
    ends_at TIMESTAMPTZ,
    generator_url TEXT,
    first_seen_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_seen_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (incident_id, source_id, fingerprint)
);
CREATE INDEX alerts_fingerprint_idx ON alerts (source_id, fingerprint);
CREATE INDEX alerts_group_key_idx ON alerts (source_id, group_key);

CREATE TABLE webhooks (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL CHECK (name <> ''),
    url TEXT NOT NULL CHECK (url <> ''),
    -- Kept as given: it is needed to sign each delivery.
    secret TEXT NOT NULL,
    -- incident_declared, status_changed, severity_changed, update_published, resolved, postmortem_published
    events TEXT[] NOT NULL DEFAULT '{}',
    format TEXT NOT NULL DEFAULT 'json' CHECK (format IN ('json', 'slack')),
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    created_by BIGINT REFERENCES users (id),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The durable queue: written in the transaction of the action that caused it,
-- sent by a background worker (same lease/backoff rules as the email outbox).
CREATE TABLE webhook_deliveries (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id BIGINT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    -- Sent as a header so receivers can drop repeats.
    delivery_id TEXT NOT NULL UNIQUE,
    event TEXT NOT NULL,
    incident_id BIGINT REFERENCES incidents (id) ON DELETE SET NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    locked_until TIMESTAMPTZ,
    last_status_code INTEGER,
    last_error TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    delivered_at TIMESTAMPTZ
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_webhook_idx ON webhook_deliveries (webhook_id, created_at DESC);

CREATE TABLE webhook_attempts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id BIGINT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempted_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    status_code INTEGER,
    error TEXT,
    duration_ms INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id);

-- Tokens for scripts. Each acts as its own (non sign-in) user so that
-- declared_by, timeline authors and the audit log keep working.
CREATE TABLE api_tokens (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL CHECK (name <> ''),
    -- The first characters of the token, to recognise it in lists.
    prefix TEXT NOT NULL,
    -- SHA-256 of the token (hex).
    token_hash TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('admin', 'responder', 'viewer')),
    user_id BIGINT NOT NULL REFERENCES users (id),
    created_by BIGINT REFERENCES users (id),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ
);

-- Service users behind API tokens never sign in with a password.
ALTER TABLE users ADD COLUMN is_service BOOLEAN NOT NULL DEFAULT FALSE;

-- An incident opened by an alert has no declaring person.
ALTER TABLE incidents ALTER COLUMN declared_by DROP NOT NULL;
