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
        declared_by -> Int8,
        customer_impact -> Text,
        version -> Int4,
        updated_at -> Timestamptz,
        public_id -> Text,
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
        session_epoch -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
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

diesel::allow_tables_to_appear_in_same_query!(
    audit_log,
    change_requests,
    component_status_changes,
    components,
    incident_components,
    incident_roles,
    incident_stakeholder_groups,
    incident_updates,
    incidents,
    maintenance_components,
    maintenances,
    outbox,
    outbox_attempts,
    request_log,
    sign_in_failures,
    stakeholder_groups,
    stakeholder_members,
    subscriber_components,
    subscribers,
    tasks,
    timeline_entries,
    users,
);
