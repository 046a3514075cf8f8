//! `firebreak demo`: a believable example in a new database (people,
//! components, a resolved incident with its published post-mortem, an active
//! one, and an on-call rotation with its escalation policy), so a newcomer can
//! look around. Everything goes through the same use cases people use, so the
//! timeline, status page, outbox and metrics are what they would be for real.

use chrono::{Datelike, Duration, Utc};
use rand::Rng;

use super::{Actor, ServiceError, accounts, components, incidents, oncall, postmortems, stakeholders, updates};
use crate::config::Settings;
use crate::db::{self, DbPool};

/// What the demo made, and how to sign in.
#[derive(Debug)]
pub struct DemoData {
    pub admin_email: String,
    pub admin_password: String,
    pub components: usize,
    pub incidents: usize,
}

/// Why the demo refused or stopped.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(
        "this database already has users: the demo only fills a new one (set FIREBREAK_DATA or DATABASE_URL to another)"
    )]
    NotEmpty,
    #[error("{step}: {source}")]
    Step { step: &'static str, source: ServiceError },
}

trait StepExt<T> {
    fn step(self, step: &'static str) -> Result<T, DemoError>;
}

impl<T> StepExt<T> for Result<T, ServiceError> {
    fn step(self, step: &'static str) -> Result<T, DemoError> {
        self.map_err(|source| DemoError::Step { step, source })
    }
}

async fn add_person(pool: &DbPool, email: &str, name: &str, role: &str, password: &str) -> Result<Actor, DemoError> {
    let input = accounts::NewUserInput {
        email: email.to_owned(),
        display_name: name.to_owned(),
        role: role.to_owned(),
        password: password.to_owned(),
        time_zone: "UTC".to_owned(),
    };
    let user = accounts::add_user(pool, &Actor::command_line(), input).await.step("adding a person")?;
    Ok(Actor { id: Some(user.id), role: user.role(), client_addr: None })
}

fn local(at: chrono::DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M").to_string()
}

/// Fills an empty database: people, components, a resolved incident with its
/// published post-mortem and a follow-up, and an incident still being worked.
pub async fn fill(pool: &DbPool, settings: &Settings) -> Result<DemoData, DemoError> {
    {
        let mut conn = pool.get().await.map_err(|e| DemoError::Step { step: "connecting", source: e.into() })?;
        let users = db::users::list(&mut conn)
            .await
            .map_err(|e| DemoError::Step { step: "reading users", source: e.into() })?;
        if !users.is_empty() {
            return Err(DemoError::NotEmpty);
        }
    }
    let tz = chrono_tz::UTC;
    let now = Utc::now();
    let admin_password: String = {
        let mut rng = rand::rng();
        (0..16).map(|_| char::from(b"abcdefghijkmnpqrstuvwxyz23456789"[rng.random_range(0..32)])).collect()
    };
    let admin_email = "admin@demo.example".to_owned();
    let admin = add_person(pool, &admin_email, "Ada Okafor", "admin", &admin_password).await?;
    // The others cannot sign in until an admin resets their password.
    let unusable: String = format!("{admin_password}-{}", rand::rng().random::<u64>());
    let lena = add_person(pool, "lena@demo.example", "Lena Fischer", "responder", &unusable).await?;
    let sam = add_person(pool, "sam@demo.example", "Sam Patel", "responder", &unusable).await?;
    let jo = add_person(pool, "jo@demo.example", "Jo Martin", "responder", &unusable).await?;
    add_person(pool, "exec@demo.example", "Rita Gomez", "viewer", &unusable).await?;

    let group = stakeholders::create(
        pool,
        &admin,
        &stakeholders::GroupInput {
            name: "Customer success".to_owned(),
            description: "Hears about every customer-facing incident.".to_owned(),
            members: "Rita Gomez <exec@demo.example>\nsupport-leads@demo.example".to_owned(),
        },
    )
    .await
    .step("adding a stakeholder group")?;

    let mut ids = Vec::new();
    for (i, (name, group_name, description)) in [
        ("Website", "Customer facing", "www.demo.example and the sign-up flow"),
        ("Checkout", "Customer facing", "Basket, payment and order confirmation"),
        ("Public API", "Customer facing", "api.demo.example, used by partner integrations"),
        ("Search", "Customer facing", "Product search and suggestions"),
        ("Email delivery", "Behind the scenes", "Order confirmations and password resets"),
    ]
    .into_iter()
    .enumerate()
    {
        let c = components::create(
            pool,
            &admin,
            &components::ComponentInput {
                name: name.to_owned(),
                description: description.to_owned(),
                group_name: group_name.to_owned(),
                position: ((i + 1) * 10).to_string(),
            },
        )
        .await
        .step("adding a component")?;
        ids.push(c.id);
    }

    // A resolved incident, yesterday: checkout failed after a database migration.
    let yesterday = now - Duration::hours(26);
    let resolved = incidents::declare(
        pool,
        settings,
        &lena,
        tz,
        &incidents::DeclareInput {
            title: "Checkout fails with 502 for about a third of orders".to_owned(),
            severity: "SEV2".to_owned(),
            components: vec![ids[1].to_string(), ids[2].to_string()],
            environment: "production".to_owned(),
            kind: "outage".to_owned(),
            detection_source: "customer".to_owned(),
            impact_started_at: local(yesterday),
            conference_url: "https://meet.demo.example/checkout-502".to_owned(),
            ..Default::default()
        },
    )
    .await
    .step("declaring the resolved incident")?;
    let r = resolved.id;
    incidents::assign_role(pool, &lena, r, "note_taker", &sam.id.map(|i| i.to_string()).unwrap_or_default())
        .await
        .step("assigning the note taker")?;
    incidents::assign_role(pool, &lena, r, "comms_lead", &jo.id.map(|i| i.to_string()).unwrap_or_default())
        .await
        .step("assigning the communications lead")?;
    for (minutes, note) in [
        (5, "Support reports customers seeing **502 Bad Gateway** at the payment step."),
        (12, "Error rate on checkout-api is 31 %; started right after the 14:00 deploy."),
        (20, "Connection pool on orders-db is exhausted: the new index migration holds a lock."),
        (34, "Cancelled the migration; pool recovering, error rate down to 2 %."),
    ] {
        incidents::add_note(pool, &sam, tz, r, note, &local(yesterday + Duration::minutes(minutes)), None)
            .await
            .step("adding a note")?;
    }
    let mut update = updates::prefill(&resolved, None, None, tz);
    update.status = "identified".to_owned();
    update.impact = "About a third of checkouts fail; customers can retry.".to_owned();
    update.actions = "We found the cause, a database change, and are rolling it back.".to_owned();
    update.audience = "both".to_owned();
    update.groups = vec![group.id.to_string()];
    update.component_status = vec![format!("{}:partial_outage", ids[1]), format!("{}:", ids[2])];
    update.action = "send".to_owned();
    updates::send(pool, settings, &jo, tz, r, &update).await.step("sending an update")?;
    for status in ["monitoring", "resolved"] {
        incidents::change_status(pool, settings, &lena, r, status, false).await.step("moving the incident on")?;
    }
    let resolved_now = {
        let mut conn = pool.get().await.map_err(|e| DemoError::Step { step: "connecting", source: e.into() })?;
        db::incidents::find(&mut conn, r).await.map_err(|e| DemoError::Step { step: "reading", source: e.into() })?
    };
    if let Some(incident) = resolved_now {
        let mut update = updates::prefill(&incident, None, None, tz);
        update.impact = "Checkout works normally again.".to_owned();
        update.actions = "We rolled back the database change and are reviewing how it was released.".to_owned();
        update.audience = "both".to_owned();
        update.groups = vec![group.id.to_string()];
        update.component_status = vec![format!("{}:operational", ids[1]), format!("{}:operational", ids[2])];
        update.action = "send".to_owned();
        updates::send(pool, settings, &jo, tz, r, &update).await.step("sending the restoration notice")?;
    }
    incidents::add_task(
        pool,
        settings,
        &lena,
        tz,
        r,
        &incidents::TaskInput {
            title: "Run index migrations CONCURRENTLY and behind a lock timeout".to_owned(),
            kind: "follow_up".to_owned(),
            assignee: sam.id.map(|i| i.to_string()).unwrap_or_default(),
            priority: "high".to_owned(),
            ..Default::default()
        },
    )
    .await
    .step("adding a follow-up")?;
    incidents::change_status(pool, settings, &lena, r, "closed", false).await.step("closing the incident")?;

    let pm = {
        let mut conn = pool.get().await.map_err(|e| DemoError::Step { step: "connecting", source: e.into() })?;
        db::postmortems::find_for_incident(&mut conn, r)
            .await
            .map_err(|e| DemoError::Step { step: "reading the post-mortem", source: e.into() })?
    };
    if let Some(pm) = pm {
        let mut edit = postmortems::EditInput::from_saved(&pm);
        edit.owner = lena.id.map(|i| i.to_string()).unwrap_or_default();
        edit.summary = "A database migration that built an index without CONCURRENTLY locked the orders table; \
            checkout requests queued for connections and about a third failed with 502 for 34 minutes."
            .to_owned();
        edit.customer_impact =
            "Roughly 1,900 checkout attempts failed; most customers retried successfully.".to_owned();
        edit.detection = "Customers told support before any alert fired: the checkout error-rate alert \
            waits 30 minutes. We will alert on 5 minutes of errors above 5 %."
            .to_owned();
        edit.root_cause = "The migration tool runs each migration in a transaction, so CREATE INDEX took a \
            lock that blocked every write to orders."
            .to_owned();
        edit.trigger = "The 14:00 deploy, which included the migration.".to_owned();
        edit.resolution = "Cancelled the migration's backend; connections drained within two minutes.".to_owned();
        edit.went_well = "The note taker kept the timeline, so the cause was clear within 20 minutes.".to_owned();
        edit.went_badly = "No alert fired; the first update to customers came after 25 minutes.".to_owned();
        edit.got_lucky = "It happened in the afternoon, with the database team online.".to_owned();
        edit.lessons = "Schema changes on hot tables need a lock timeout and a review.".to_owned();
        edit.action = "save".to_owned();
        let pm = postmortems::save(pool, &lena, pm.id, &edit).await.step("writing the post-mortem")?;
        for step in ["submit_for_review", "mark_reviewed", "publish"] {
            // The demo's summary is written for customers: it goes on the status page.
            postmortems::change_status(pool, settings, &admin, pm.id, step, Some(true))
                .await
                .step("reviewing the post-mortem")?;
        }
    }

    // An incident being worked right now.
    let active = incidents::declare(
        pool,
        settings,
        &sam,
        tz,
        &incidents::DeclareInput {
            title: "Search results are slow (p95 above 4 s)".to_owned(),
            severity: "SEV3".to_owned(),
            components: vec![ids[3].to_string()],
            environment: "production".to_owned(),
            kind: "degraded".to_owned(),
            detection_source: "alert".to_owned(),
            impact_started_at: local(now - Duration::minutes(40)),
            ..Default::default()
        },
    )
    .await
    .step("declaring the active incident")?;
    incidents::add_note(
        pool,
        &sam,
        tz,
        active.id,
        "Latency alert fired for search-api; the cache hit rate fell from 92 % to 40 %.",
        &local(now - Duration::minutes(35)),
        None,
    )
    .await
    .step("adding a note")?;
    incidents::add_task(
        pool,
        settings,
        &sam,
        tz,
        active.id,
        &incidents::TaskInput {
            title: "Warm the search cache from yesterday's top queries".to_owned(),
            kind: "mitigation".to_owned(),
            assignee: jo.id.map(|i| i.to_string()).unwrap_or_default(),
            timebox_minutes: "30".to_owned(),
            ..Default::default()
        },
    )
    .await
    .step("adding a mitigation task")?;
    incidents::change_status(pool, settings, &sam, active.id, "identified", false)
        .await
        .step("moving the incident on")?;

    // Who is on call: a weekly rotation, and the admin as the backup. Made last,
    // so the incidents above paged nobody; SEV1 and SEV2 declared from now on page it.
    let schedule = oncall::create_schedule(
        pool,
        &admin,
        &oncall::ScheduleInput { name: "Platform primary".to_owned(), time_zone: "UTC".to_owned() },
    )
    .await
    .step("adding an on-call schedule")?;
    let last_monday = now.date_naive() - Duration::days(i64::from(now.weekday().num_days_from_monday()));
    oncall::add_layer(
        pool,
        &admin,
        schedule.id,
        &oncall::LayerInput {
            participants: "lena@demo.example\nsam@demo.example\njo@demo.example".to_owned(),
            start_date: last_monday.format("%Y-%m-%d").to_string(),
            handoff_time: "09:00".to_owned(),
            shift_length: "1".to_owned(),
            shift_unit: "weeks".to_owned(),
            ..Default::default()
        },
    )
    .await
    .step("adding the weekly rotation")?;
    let policy = oncall::create_policy(
        pool,
        &admin,
        &oncall::PolicyInput { name: "Platform".to_owned(), repeat_count: "1".to_owned() },
    )
    .await
    .step("adding an escalation policy")?;
    for step in [
        oncall::StepInput {
            wait_minutes: "10".to_owned(),
            schedules: vec![schedule.id.to_string()],
            ..Default::default()
        },
        oncall::StepInput { wait_minutes: "15".to_owned(), users: admin_email.clone(), ..Default::default() },
    ] {
        oncall::add_step(pool, &admin, policy.id, &step).await.step("adding an escalation step")?;
    }
    for severity in [1, 2] {
        oncall::set_severity_policy(pool, &admin, severity, &policy.id.to_string())
            .await
            .step("paging the policy for severe incidents")?;
    }

    Ok(DemoData { admin_email, admin_password, components: ids.len(), incidents: 2 })
}
