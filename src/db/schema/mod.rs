// @generated automatically by Diesel CLI.

diesel::table! {
    audit_log (id) {
        id -> Int8,
        actor_id -> Nullable<Int8>,
        action -> Text,
        subject -> Text,
        detail -> Text,
        client_addr -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    change_requests (id) {
        id -> Int8,
        incident_id -> Int8,
        requested_by -> Int8,
        description -> Text,
        rollback_plan -> Text,
        status -> Text,
        decided_by -> Nullable<Int8>,
        decided_at -> Nullable<Timestamptz>,
        applied_by -> Nullable<Int8>,
        applied_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    component_status_changes (id) {
        id -> Int8,
        component_id -> Int8,
        old_status -> Text,
        new_status -> Text,
        changed_at -> Timestamptz,
        changed_by -> Nullable<Int8>,
        incident_id -> Nullable<Int8>,
        update_id -> Nullable<Int8>,
        maintenance_id -> Nullable<Int8>,
    }
}

diesel::table! {
    components (id) {
        id -> Int8,
        name -> Text,
        description -> Text,
        group_name -> Text,
        position -> Int4,
        status -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        public_id -> Text,
    }
}

diesel::table! {
    incident_components (incident_id, component_id) {
        incident_id -> Int8,
        component_id -> Int8,
    }
}

diesel::table! {
    incident_roles (id) {
        id -> Int8,
        incident_id -> Int8,
        role -> Text,
        user_id -> Int8,
        assigned_by -> Nullable<Int8>,
        assumed_at -> Timestamptz,
        relieved_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    incident_stakeholder_groups (incident_id, group_id) {
        incident_id -> Int8,
        group_id -> Int8,
    }
}

diesel::table! {
    incident_updates (id) {
        id -> Int8,
        public_id -> Text,
        incident_id -> Int8,
        status -> Text,
        audience -> Text,
        impact -> Text,
        actions -> Text,
        impact_started_at -> Timestamptz,
        next_update_at -> Nullable<Timestamptz>,
        subject -> Text,
        body -> Text,
        created_by -> Nullable<Int8>,
        created_at -> Timestamptz,
        idempotency_key -> Nullable<Text>,
    }
}

diesel::table! {
    incidents (id) {
        id -> Int8,
        title -> Text,
        summary -> Text,
        kind -> Text,
        severity -> Int2,
        status -> Text,
        environment -> Text,
        detection_source -> Text,
        visibility -> Text,
        conference_url -> Nullable<Text>,
        impact_started_at -> Timestamptz,
        detected_at -> Timestamptz,
        declared_at -> Timestamptz,
        acknowledged_at -> Nullable<Timestamptz>,
        mitigated_at -> Nullable<Timestamptz>,
        resolved_at -> Nullable<Timestamptz>,
        closed_at -> Nullable<Timestamptz>,
        status_changed_at -> Timestamptz,
        declared_by -> Nullable<Int8>,
        customer_impact -> Text,
        version -> Int4,
        updated_at -> Timestamptz,
        public_id -> Text,
        public_title -> Text,
        duplicate_of -> Nullable<Int8>,
        false_alarm -> Bool,
    }
}

diesel::table! {
    maintenance_components (maintenance_id, component_id) {
        maintenance_id -> Int8,
        component_id -> Int8,
    }
}

diesel::table! {
    maintenances (id) {
        id -> Int8,
        public_id -> Text,
        title -> Text,
        message -> Text,
        starts_at -> Timestamptz,
        ends_at -> Timestamptz,
        status -> Text,
        started_at -> Nullable<Timestamptz>,
        completed_at -> Nullable<Timestamptz>,
        created_by -> Nullable<Int8>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        notify_scheduled -> Bool,
        notify_started -> Bool,
        notify_completed -> Bool,
    }
}

diesel::table! {
    outbox (id) {
        id -> Int8,
        message_id -> Text,
        kind -> Text,
        to_address -> Text,
        to_name -> Text,
        subject -> Text,
        text_body -> Text,
        html_body -> Text,
        list_unsubscribe -> Nullable<Text>,
        calendar -> Nullable<Text>,
        calendar_method -> Nullable<Text>,
        incident_id -> Nullable<Int8>,
        status -> Text,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        locked_until -> Nullable<Timestamptz>,
        last_error -> Nullable<Text>,
        created_at -> Timestamptz,
        sent_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    outbox_attempts (id) {
        id -> Int8,
        outbox_id -> Int8,
        attempted_at -> Timestamptz,
        error -> Nullable<Text>,
    }
}

diesel::table! {
    oidc_sign_ins (id_hash) {
        id_hash -> Bytea,
        state -> Text,
        nonce -> Text,
        pkce_verifier -> Text,
        next_path -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    request_log (id) {
        id -> Int8,
        bucket -> Text,
        key -> Text,
        at -> Timestamptz,
    }
}

diesel::table! {
    sign_in_failures (id) {
        id -> Int8,
        email -> Text,
        client_addr -> Text,
        failed_at -> Timestamptz,
    }
}

diesel::table! {
    stakeholder_groups (id) {
        id -> Int8,
        name -> Text,
        description -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    stakeholder_members (id) {
        id -> Int8,
        group_id -> Int8,
        name -> Text,
        email -> Text,
    }
}

diesel::table! {
    subscriber_components (subscriber_id, component_id) {
        subscriber_id -> Int8,
        component_id -> Int8,
    }
}

diesel::table! {
    subscribers (id) {
        id -> Int8,
        email -> Text,
        token -> Text,
        all_components -> Bool,
        confirmed_at -> Nullable<Timestamptz>,
        confirmation_sent_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        manage_token -> Text,
        webhook_url -> Nullable<Text>,
        webhook_id -> Nullable<Int8>,
    }
}

diesel::table! {
    tasks (id) {
        id -> Int8,
        incident_id -> Int8,
        title -> Text,
        details -> Text,
        kind -> Text,
        status -> Text,
        assignee_id -> Nullable<Int8>,
        timebox_minutes -> Nullable<Int4>,
        started_at -> Nullable<Timestamptz>,
        due_at -> Nullable<Timestamptz>,
        ticket_url -> Nullable<Text>,
        created_by -> Int8,
        created_at -> Timestamptz,
        completed_at -> Nullable<Timestamptz>,
        priority -> Text,
    }
}

diesel::table! {
    timeline_entries (id) {
        id -> Int8,
        incident_id -> Int8,
        occurred_at -> Timestamptz,
        recorded_at -> Timestamptz,
        author_id -> Nullable<Int8>,
        kind -> Text,
        body -> Text,
        body_html -> Text,
        highlighted -> Bool,
        corrects_id -> Nullable<Int8>,
    }
}

diesel::table! {
    users (id) {
        id -> Int8,
        email -> Text,
        display_name -> Text,
        password_hash -> Text,
        role -> Text,
        disabled -> Bool,
        time_zone -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        is_service -> Bool,
        oidc_issuer -> Nullable<Text>,
        oidc_subject -> Nullable<Text>,
    }
}

diesel::table! {
    postmortems (id) {
        id -> Int8,
        incident_id -> Int8,
        status -> Text,
        owner_id -> Nullable<Int8>,
        drafted_at -> Nullable<Timestamptz>,
        summary -> Text,
        customer_impact -> Text,
        detection -> Text,
        root_cause -> Text,
        trigger -> Text,
        resolution -> Text,
        went_well -> Text,
        went_badly -> Text,
        got_lucky -> Text,
        lessons -> Text,
        published_facts -> Nullable<Text>,
        published_at -> Nullable<Timestamptz>,
        published_by -> Nullable<Int8>,
        version -> Int4,
        updated_by -> Nullable<Int8>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        summary_public -> Bool,
    }
}

diesel::table! {
    review_meetings (id) {
        id -> Int8,
        postmortem_id -> Int8,
        uid -> Text,
        sequence -> Int4,
        starts_at -> Timestamptz,
        ends_at -> Timestamptz,
        time_zone -> Text,
        location -> Text,
        conference_url -> Nullable<Text>,
        organizer_id -> Int8,
        cancelled_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    review_meeting_invitees (meeting_id, email) {
        meeting_id -> Int8,
        email -> Text,
        name -> Text,
        user_id -> Nullable<Int8>,
        removed_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    followup_digests (user_id, digest_date) {
        user_id -> Int8,
        digest_date -> Date,
        sent_at -> Timestamptz,
    }
}

diesel::table! {
    runbooks (id) {
        id -> Int8,
        title -> Text,
        steps -> Text,
        alert_names -> Array<Text>,
        source_task_id -> Nullable<Int8>,
        created_by -> Nullable<Int8>,
        updated_by -> Nullable<Int8>,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    runbook_components (runbook_id, component_id) {
        runbook_id -> Int8,
        component_id -> Int8,
    }
}

diesel::table! {
    alert_sources (id) {
        id -> Int8,
        public_id -> Text,
        name -> Text,
        kind -> Text,
        token_hash -> Text,
        severity_label -> Text,
        severity_mapping -> Text,
        default_severity -> Int2,
        component_label -> Text,
        component_mapping -> Text,
        enabled -> Bool,
        created_by -> Nullable<Int8>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        escalation_policy_id -> Nullable<Int8>,
    }
}

diesel::table! {
    alert_payloads (id) {
        id -> Int8,
        source_id -> Int8,
        received_at -> Timestamptz,
        body -> Text,
        outcome -> Text,
    }
}

diesel::table! {
    alerts (id) {
        id -> Int8,
        source_id -> Int8,
        incident_id -> Int8,
        fingerprint -> Text,
        group_key -> Nullable<Text>,
        name -> Text,
        summary -> Text,
        status -> Text,
        labels -> Jsonb,
        starts_at -> Timestamptz,
        ends_at -> Nullable<Timestamptz>,
        generator_url -> Nullable<Text>,
        first_seen_at -> Timestamptz,
        last_seen_at -> Timestamptz,
    }
}

diesel::table! {
    webhooks (id) {
        id -> Int8,
        name -> Text,
        url -> Text,
        secret -> Text,
        events -> Array<Text>,
        format -> Text,
        enabled -> Bool,
        created_by -> Nullable<Int8>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        for_subscriber -> Bool,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Int8,
        webhook_id -> Int8,
        delivery_id -> Text,
        event -> Text,
        incident_id -> Nullable<Int8>,
        body -> Text,
        status -> Text,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        locked_until -> Nullable<Timestamptz>,
        last_status_code -> Nullable<Int4>,
        last_error -> Nullable<Text>,
        created_at -> Timestamptz,
        delivered_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    webhook_attempts (id) {
        id -> Int8,
        delivery_id -> Int8,
        attempted_at -> Timestamptz,
        status_code -> Nullable<Int4>,
        error -> Nullable<Text>,
        duration_ms -> Int4,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> Int8,
        name -> Text,
        prefix -> Text,
        token_hash -> Text,
        role -> Text,
        user_id -> Int8,
        created_by -> Nullable<Int8>,
        created_at -> Timestamptz,
        last_used_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::joinable!(audit_log -> users (actor_id));
diesel::joinable!(change_requests -> incidents (incident_id));
diesel::joinable!(component_status_changes -> components (component_id));
diesel::joinable!(incident_components -> components (component_id));
diesel::joinable!(incident_components -> incidents (incident_id));
diesel::joinable!(incident_roles -> incidents (incident_id));
diesel::joinable!(incident_stakeholder_groups -> incidents (incident_id));
diesel::joinable!(incident_stakeholder_groups -> stakeholder_groups (group_id));
diesel::joinable!(incident_updates -> incidents (incident_id));
diesel::joinable!(maintenance_components -> components (component_id));
diesel::joinable!(maintenance_components -> maintenances (maintenance_id));
diesel::joinable!(outbox_attempts -> outbox (outbox_id));
diesel::joinable!(stakeholder_members -> stakeholder_groups (group_id));
diesel::joinable!(subscriber_components -> components (component_id));
diesel::joinable!(subscriber_components -> subscribers (subscriber_id));
diesel::joinable!(tasks -> incidents (incident_id));
diesel::joinable!(timeline_entries -> incidents (incident_id));
diesel::joinable!(postmortems -> incidents (incident_id));
diesel::joinable!(review_meetings -> postmortems (postmortem_id));
diesel::joinable!(review_meeting_invitees -> review_meetings (meeting_id));
diesel::joinable!(runbook_components -> runbooks (runbook_id));
diesel::joinable!(runbook_components -> components (component_id));
diesel::joinable!(alert_payloads -> alert_sources (source_id));
diesel::joinable!(alerts -> alert_sources (source_id));
diesel::joinable!(alerts -> incidents (incident_id));
diesel::joinable!(webhook_deliveries -> webhooks (webhook_id));
diesel::joinable!(webhook_attempts -> webhook_deliveries (delivery_id));

diesel::allow_tables_to_appear_in_same_query!(
    alert_payloads,
    alert_sources,
    alerts,
    api_tokens,
    audit_log,
    change_requests,
    component_status_changes,
    components,
    followup_digests,
    incident_components,
    incident_roles,
    incident_stakeholder_groups,
    incident_updates,
    incidents,
    maintenance_components,
    maintenances,
    oidc_sign_ins,
    outbox,
    outbox_attempts,
    postmortems,
    request_log,
    review_meeting_invitees,
    review_meetings,
    runbook_components,
    runbooks,
    sign_in_failures,
    stakeholder_groups,
    stakeholder_members,
    subscriber_components,
    subscribers,
    tasks,
    timeline_entries,
    users,
    webhook_attempts,
    webhook_deliveries,
    webhooks,
);

// On call (migration 2026-12-03-000030_oncall): its own file, self-contained.
mod oncall;
pub use oncall::*;

// Server-side sessions (migration 2026-12-03-000060_sessions).

diesel::table! {
    user_sessions (id) {
        id -> Int8,
        token_hash -> Bytea,
        user_id -> Int8,
        created_at -> Timestamptz,
        last_seen_at -> Timestamptz,
        client_addr -> Text,
        user_agent -> Text,
    }
}

diesel::joinable!(user_sessions -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(user_sessions, users);

// Post-mortem publication (migration 2026-12-03-000090_postmortem_publication).

diesel::table! {
    postmortem_hidden_entries (postmortem_id, entry_id) {
        postmortem_id -> Int8,
        entry_id -> Int8,
        hidden_by -> Nullable<Int8>,
        hidden_at -> Timestamptz,
    }
}

diesel::joinable!(postmortem_hidden_entries -> postmortems (postmortem_id));
diesel::joinable!(postmortem_hidden_entries -> timeline_entries (entry_id));
diesel::allow_tables_to_appear_in_same_query!(postmortem_hidden_entries, postmortems);
diesel::allow_tables_to_appear_in_same_query!(postmortem_hidden_entries, timeline_entries);

// How incidents relate (migration 2026-12-03-000110_incident_links).

diesel::table! {
    related_incidents (incident_id, related_id) {
        incident_id -> Int8,
        related_id -> Int8,
        linked_by -> Nullable<Int8>,
        linked_at -> Timestamptz,
    }
}

diesel::allow_tables_to_appear_in_same_query!(related_incidents, incidents);
