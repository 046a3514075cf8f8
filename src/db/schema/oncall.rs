//! The on-call tables (migration 2026-12-03-000030_oncall and later ones that
//! change them), kept apart from the generated schema: nothing joins them to
//! the other tables.

diesel::table! {
    oncall_schedules (id) {
        id -> Int8,
        name -> Text,
        time_zone -> Text,
        created_by -> Nullable<Int8>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    oncall_layers (id) {
        id -> Int8,
        schedule_id -> Int8,
        position -> Int4,
        start_date -> Date,
        handoff_time -> Time,
        shift_length -> Int4,
        shift_unit -> Text,
        restrict_weekdays -> Int4,
        restrict_start -> Nullable<Time>,
        restrict_end -> Nullable<Time>,
    }
}

diesel::table! {
    oncall_layer_members (layer_id, position) {
        layer_id -> Int8,
        position -> Int4,
        user_id -> Int8,
    }
}

diesel::table! {
    oncall_overrides (id) {
        id -> Int8,
        schedule_id -> Int8,
        user_id -> Int8,
        starts_at -> Timestamptz,
        ends_at -> Timestamptz,
        created_by -> Nullable<Int8>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    escalation_policies (id) {
        id -> Int8,
        name -> Text,
        repeat_count -> Int4,
        created_by -> Nullable<Int8>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    escalation_steps (id) {
        id -> Int8,
        policy_id -> Int8,
        position -> Int4,
        wait_minutes -> Int4,
    }
}

diesel::table! {
    escalation_step_targets (id) {
        id -> Int8,
        step_id -> Int8,
        schedule_id -> Nullable<Int8>,
        user_id -> Nullable<Int8>,
    }
}

diesel::table! {
    severity_policies (severity) {
        severity -> Int2,
        policy_id -> Int8,
    }
}

diesel::table! {
    contact_methods (id) {
        id -> Int8,
        user_id -> Int8,
        kind -> Text,
        label -> Text,
        address -> Text,
        verify_code_hash -> Nullable<Text>,
        verify_attempts -> Int4,
        verified_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        signing_secret -> Nullable<Text>,
    }
}

diesel::table! {
    notification_rules (id) {
        id -> Int8,
        user_id -> Int8,
        contact_method_id -> Int8,
        delay_minutes -> Int4,
    }
}

diesel::table! {
    pages (id) {
        id -> Int8,
        incident_id -> Int8,
        policy_id -> Nullable<Int8>,
        origin -> Text,
        status -> Text,
        step -> Int4,
        repeat -> Int4,
        step_notified -> Bool,
        next_step_at -> Nullable<Timestamptz>,
        acknowledged_by -> Nullable<Int8>,
        acknowledged_at -> Nullable<Timestamptz>,
        ended_at -> Nullable<Timestamptz>,
        created_by -> Nullable<Int8>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    page_notifications (id) {
        id -> Int8,
        page_id -> Int8,
        step -> Int4,
        repeat -> Int4,
        user_id -> Int8,
        contact_method_id -> Nullable<Int8>,
        channel -> Text,
        status -> Text,
        due_at -> Timestamptz,
        attempts -> Int4,
        last_error -> Nullable<Text>,
        sent_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    page_channels (channel) {
        channel -> Text,
        last_sent_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    page_ack_tokens (token_hash) {
        token_hash -> Text,
        page_id -> Int8,
        user_id -> Int8,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    oncall_feed_tokens (token_hash) {
        token_hash -> Text,
        user_id -> Nullable<Int8>,
        schedule_id -> Nullable<Int8>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    oncall_shift_notices (schedule_id, user_id, starts_at) {
        schedule_id -> Int8,
        user_id -> Int8,
        starts_at -> Timestamptz,
        sent_at -> Timestamptz,
    }
}

diesel::joinable!(oncall_layers -> oncall_schedules (schedule_id));
diesel::joinable!(oncall_layer_members -> oncall_layers (layer_id));
diesel::joinable!(escalation_steps -> escalation_policies (policy_id));
diesel::joinable!(escalation_step_targets -> escalation_steps (step_id));
diesel::joinable!(notification_rules -> contact_methods (contact_method_id));

diesel::allow_tables_to_appear_in_same_query!(
    oncall_schedules,
    oncall_layers,
    oncall_layer_members,
    oncall_overrides,
    escalation_policies,
    escalation_steps,
    escalation_step_targets,
    severity_policies,
    contact_methods,
    notification_rules,
    pages,
    page_notifications,
    page_channels,
    page_ack_tokens,
    oncall_feed_tokens,
    oncall_shift_notices,
);
