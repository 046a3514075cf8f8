-- On call: schedules (rotations), escalation policies, contact methods, and
-- pages worked by a durable queue (see src/services/paging.rs).

CREATE TABLE oncall_schedules (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    time_zone TEXT NOT NULL,
    created_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX oncall_schedules_name ON oncall_schedules (lower(name));

-- One rotation of a schedule; a later position wins where it covers time.
CREATE TABLE oncall_layers (
    id BIGSERIAL PRIMARY KEY,
    schedule_id BIGINT NOT NULL REFERENCES oncall_schedules (id) ON DELETE CASCADE,
    position INT NOT NULL,
    start_date DATE NOT NULL,
    handoff_time TIME NOT NULL,
    shift_length INT NOT NULL CHECK (shift_length BETWEEN 1 AND 1000),
    shift_unit TEXT NOT NULL CHECK (shift_unit IN ('hours', 'days', 'weeks')),
    -- Monday = bit 0; only used with a window.
    restrict_weekdays INT NOT NULL DEFAULT 127 CHECK (restrict_weekdays BETWEEN 0 AND 127),
    restrict_start TIME,
    restrict_end TIME,
    CHECK ((restrict_start IS NULL) = (restrict_end IS NULL))
);
CREATE INDEX oncall_layers_schedule ON oncall_layers (schedule_id, position);

CREATE TABLE oncall_layer_members (
    layer_id BIGINT NOT NULL REFERENCES oncall_layers (id) ON DELETE CASCADE,
    position INT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (layer_id, position)
);

CREATE TABLE oncall_overrides (
    id BIGSERIAL PRIMARY KEY,
    schedule_id BIGINT NOT NULL REFERENCES oncall_schedules (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    starts_at TIMESTAMPTZ NOT NULL,
    ends_at TIMESTAMPTZ NOT NULL CHECK (ends_at > starts_at),
    created_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX oncall_overrides_schedule ON oncall_overrides (schedule_id, ends_at);

CREATE TABLE escalation_policies (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    -- How many more times the steps run after the first pass.
    repeat_count INT NOT NULL DEFAULT 0 CHECK (repeat_count BETWEEN 0 AND 20),
    created_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX escalation_policies_name ON escalation_policies (lower(name));

CREATE TABLE escalation_steps (
    id BIGSERIAL PRIMARY KEY,
    policy_id BIGINT NOT NULL REFERENCES escalation_policies (id) ON DELETE CASCADE,
    position INT NOT NULL,
    wait_minutes INT NOT NULL CHECK (wait_minutes BETWEEN 1 AND 1440),
    UNIQUE (policy_id, position)
);

-- Who a step notifies: a schedule's on-call person, or a named user.
CREATE TABLE escalation_step_targets (
    id BIGSERIAL PRIMARY KEY,
    step_id BIGINT NOT NULL REFERENCES escalation_steps (id) ON DELETE CASCADE,
    schedule_id BIGINT REFERENCES oncall_schedules (id) ON DELETE CASCADE,
    user_id BIGINT REFERENCES users (id) ON DELETE CASCADE,
    CHECK ((schedule_id IS NULL) <> (user_id IS NULL))
);
CREATE INDEX escalation_step_targets_step ON escalation_step_targets (step_id);

-- Which policy pages for an alert source, and by default for each severity.
ALTER TABLE alert_sources ADD COLUMN escalation_policy_id BIGINT
    REFERENCES escalation_policies (id) ON DELETE SET NULL;
CREATE TABLE severity_policies (
    severity SMALLINT PRIMARY KEY CHECK (severity BETWEEN 1 AND 4),
    policy_id BIGINT NOT NULL REFERENCES escalation_policies (id) ON DELETE CASCADE
);

CREATE TABLE contact_methods (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('email', 'ntfy', 'webhook', 'slack')),
    label TEXT NOT NULL,
    address TEXT NOT NULL,
    verify_code_hash TEXT,
    verify_attempts INT NOT NULL DEFAULT 0,
    verified_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX contact_methods_user ON contact_methods (user_id);

-- "Push at once, email after 2 minutes if not acknowledged."
CREATE TABLE notification_rules (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    contact_method_id BIGINT NOT NULL REFERENCES contact_methods (id) ON DELETE CASCADE,
    delay_minutes INT NOT NULL CHECK (delay_minutes BETWEEN 0 AND 1440),
    UNIQUE (contact_method_id, delay_minutes)
);

-- One page: an incident escalating through a policy until someone acknowledges.
CREATE TABLE pages (
    id BIGSERIAL PRIMARY KEY,
    incident_id BIGINT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    policy_id BIGINT REFERENCES escalation_policies (id) ON DELETE SET NULL,
    -- 'alert' | 'manual': an alert's page also stops when its alerts resolve.
    origin TEXT NOT NULL CHECK (origin IN ('alert', 'manual')),
    status TEXT NOT NULL DEFAULT 'active'
        CHECK (status IN ('active', 'acknowledged', 'resolved', 'exhausted')),
    step INT NOT NULL DEFAULT 0,
    repeat INT NOT NULL DEFAULT 0,
    step_notified BOOLEAN NOT NULL DEFAULT false,
    -- When the current step is due (notify it, or move past it).
    next_step_at TIMESTAMPTZ,
    acknowledged_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
    acknowledged_at TIMESTAMPTZ,
    ended_at TIMESTAMPTZ,
    created_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX pages_due ON pages (next_step_at) WHERE status = 'active';
CREATE INDEX pages_incident ON pages (incident_id);

-- One message to one person for one step of a page. The unique key makes a
-- step notify each person's method once, however many instances work it.
CREATE TABLE page_notifications (
    id BIGSERIAL PRIMARY KEY,
    page_id BIGINT NOT NULL REFERENCES pages (id) ON DELETE CASCADE,
    step INT NOT NULL,
    repeat INT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- NULL: the person's account email (no notification rules of their own).
    contact_method_id BIGINT REFERENCES contact_methods (id) ON DELETE CASCADE,
    -- What the one-a-minute limit counts: 'cm:<id>' or 'user:<id>'.
    channel TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'sent', 'failed', 'cancelled')),
    due_at TIMESTAMPTZ NOT NULL,
    attempts INT NOT NULL DEFAULT 0,
    last_error TEXT,
    sent_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX page_notifications_once
    ON page_notifications (page_id, step, repeat, user_id, COALESCE(contact_method_id, 0));
CREATE INDEX page_notifications_due ON page_notifications (due_at) WHERE status = 'pending';

-- When a channel last got a message (one a minute at most); its row is the lock.
CREATE TABLE page_channels (
    channel TEXT PRIMARY KEY,
    last_sent_at TIMESTAMPTZ
);

-- Acknowledge links: one token per message, kept as a SHA-256 hash, good
-- only for acknowledging its page and only while the page is active.
CREATE TABLE page_ack_tokens (
    token_hash TEXT PRIMARY KEY,
    page_id BIGINT NOT NULL REFERENCES pages (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX page_ack_tokens_page ON page_ack_tokens (page_id);

-- Secret calendar-feed links: one per person, one per schedule.
CREATE TABLE oncall_feed_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id BIGINT UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    schedule_id BIGINT UNIQUE REFERENCES oncall_schedules (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((user_id IS NULL) <> (schedule_id IS NULL))
);

-- "You are on call for Payments from … to …": one notice per shift start,
-- however many instances look.
CREATE TABLE oncall_shift_notices (
    schedule_id BIGINT NOT NULL REFERENCES oncall_schedules (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    starts_at TIMESTAMPTZ NOT NULL,
    sent_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (schedule_id, user_id, starts_at)
);
