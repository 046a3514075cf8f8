//! Scheduled maintenance: responders plan windows; the scheduler (one tick
//! every few seconds on every instance) starts them, putting their
//! components under maintenance, and ends them, putting the components back.

use chrono::{DateTime, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};

use super::components::one_line;
use super::{Actor, FieldErrors, ServiceError};
use crate::config::Settings;
use crate::db::component_status::{self, Cause};
use crate::db::maintenances::Notices;
use crate::db::maintenances::{self, Maintenance, NewMaintenance};
use crate::db::{ComponentId, DbPool, MaintenanceId, UserId, components, subscribers};
use crate::domain::Role;
use crate::domain::maintenance::{check_end, check_start, parse_required_time};
use crate::domain::status::{ComponentStatus, MaintenanceStatus};
use crate::email::compose::{Email, link};

/// How often the scheduler looks for windows to start or end.
pub const TICK: std::time::Duration = std::time::Duration::from_secs(5);

/// The most transitions one tick makes (the rest wait for the next tick).
const MAX_PER_TICK: usize = 500;

/// The raw values of the maintenance form.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(default)]
pub struct MaintenanceInput {
    pub title: String,
    pub message: String,
    pub starts_at: String,
    pub ends_at: String,
    pub components: Vec<String>,
    /// The notices ticked: `scheduled`, `started`, `completed`.
    pub notify: Vec<String>,
    /// Present when the form showed the notice boxes (so none ticked means
    /// none wanted); without it, every notice is sent.
    pub notify_shown: String,
}

impl MaintenanceInput {
    /// A new window's form: every notice on.
    pub fn new_window() -> MaintenanceInput {
        MaintenanceInput { notify: NOTICES.iter().map(|n| (*n).to_owned()).collect(), ..Default::default() }
    }

    /// The notices this form asks for.
    pub fn notices(&self) -> Notices {
        let on = |n: &str| self.notify_shown.is_empty() || self.notify.iter().any(|x| x == n);
        Notices { scheduled: on("scheduled"), started: on("started"), completed: on("completed") }
    }

    /// Whether the box for this notice is ticked.
    pub fn notifies(&self, notice: &str) -> bool {
        self.notify.iter().any(|x| x == notice)
    }
}

/// The notices a window can send to the subscribers of its components.
pub const NOTICES: [&str; 3] = ["scheduled", "started", "completed"];

struct Checked {
    title: String,
    message: String,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    components: Vec<ComponentId>,
    notices: Notices,
}

fn require_responder(actor: &Actor) -> Result<Option<UserId>, ServiceError> {
    if actor.role.allows(Role::Responder) {
        Ok(actor.id)
    } else {
        Err(ServiceError::Forbidden("only responders plan maintenance"))
    }
}

/// Checks the form. `start_must_be_future`: on creation, and when an edit
/// moves the start.
async fn check(
    conn: &mut AsyncPgConnection,
    input: &MaintenanceInput,
    tz: chrono_tz::Tz,
    now: DateTime<Utc>,
    keep_start: Option<DateTime<Utc>>,
) -> Result<Checked, ServiceError> {
    let mut errors = FieldErrors::new();
    let title = errors.check("title", one_line(&input.title, "title", 200)).unwrap_or_default();
    if title.is_empty() && errors.get("title").is_none() {
        errors.add("title", "Give the maintenance a title, e.g. \"Database upgrade\".");
    }
    let message = input.message.trim().replace("\r\n", "\n");
    if message.chars().count() > 5000 {
        errors.add("message", "Keep the message under 5,000 characters.");
    }
    let starts_at = errors.check("starts_at", parse_required_time(&input.starts_at, tz, "starts"));
    let ends_at = errors.check("ends_at", parse_required_time(&input.ends_at, tz, "ends"));
    if let Some(start) = starts_at
        && keep_start != Some(start)
    {
        errors.check("starts_at", check_start(start, now));
    }
    if let (Some(start), Some(end)) = (starts_at, ends_at) {
        errors.check("ends_at", check_end(start, end));
    }
    let mut ids = Vec::new();
    for c in &input.components {
        match c.trim().parse::<ComponentId>() {
            Ok(id) => ids.push(id),
            Err(_) => errors.add("components", "Choose components from the list."),
        }
    }
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        errors.add("components", "Choose at least one component the maintenance affects.");
    } else if components::existing(conn, &ids).await?.len() != ids.len() {
        errors.add("components", "One of the chosen components no longer exists.");
    }
    match (starts_at, ends_at) {
        (Some(starts_at), Some(ends_at)) if errors.is_empty() => {
            Ok(Checked { title, message, starts_at, ends_at, components: ids, notices: input.notices() })
        }
        _ => Err(ServiceError::Invalid(errors)),
    }
}

/// Plans a window.
pub async fn create(
    pool: &DbPool,
    settings: &Settings,
    actor: &Actor,
    tz: chrono_tz::Tz,
    input: &MaintenanceInput,
) -> Result<Maintenance, ServiceError> {
    let me = require_responder(actor)?;
    let now = Utc::now();
    let mut conn = pool.get().await?;
    let c = check(&mut conn, input, tz, now, None).await?;
    conn.transaction(async |conn| {
        let m = maintenances::insert(
            conn,
            &NewMaintenance {
                title: &c.title,
                message: &c.message,
                starts_at: c.starts_at,
                ends_at: c.ends_at,
                created_by: me,
                notify_scheduled: c.notices.scheduled,
                notify_started: c.notices.started,
                notify_completed: c.notices.completed,
            },
        )
        .await?;
        maintenances::set_components(conn, m.id, &c.components).await?;
        if m.notify_scheduled {
            tell_subscribers(conn, settings, &m, Notice::Scheduled).await?;
        }
        component_status::notify_status_changed(conn).await?;
        Ok(m)
    })
    .await
}

fn wrong_state(m: &Maintenance, wanted: &str) -> ServiceError {
    ServiceError::Invalid(FieldErrors::single(
        "status",
        format!("This maintenance is {}; {wanted}.", m.status().label().to_lowercase()),
    ))
}

/// Changes a window that has not started yet.
pub async fn update(
    pool: &DbPool,
    actor: &Actor,
    tz: chrono_tz::Tz,
    id: MaintenanceId,
    input: &MaintenanceInput,
) -> Result<Maintenance, ServiceError> {
    require_responder(actor)?;
    let now = Utc::now();
    let mut conn = pool.get().await?;
    let before = maintenances::find(&mut conn, id).await?.ok_or(ServiceError::NotFound)?;
    // Leaving the start as it was is fine even if that minute has just passed.
    let shown_start = crate::domain::maintenance::parse_local_time(
        &crate::domain::maintenance::local_input_value(before.starts_at, tz),
        tz,
    )
    .ok()
    .flatten();
    let c = check(&mut conn, input, tz, now, shown_start).await?;
    conn.transaction(async |conn| {
        let current = maintenances::find_for_update(conn, id).await?.ok_or(ServiceError::NotFound)?;
        if current.status() != MaintenanceStatus::Scheduled {
            return Err(wrong_state(&current, "only scheduled maintenance can be edited"));
        }
        // An unchanged start keeps its seconds.
        let starts_at = if Some(c.starts_at) == shown_start { current.starts_at } else { c.starts_at };
        let m = maintenances::update_plan(conn, id, &c.title, &c.message, starts_at, c.ends_at, c.notices, now).await?;
        maintenances::set_components(conn, id, &c.components).await?;
        component_status::notify_status_changed(conn).await?;
        Ok(m)
    })
    .await
}

/// Cancels a window that has not started.
pub async fn cancel(pool: &DbPool, actor: &Actor, id: MaintenanceId) -> Result<Maintenance, ServiceError> {
    require_responder(actor)?;
    let now = Utc::now();
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        let current = maintenances::find_for_update(conn, id).await?.ok_or(ServiceError::NotFound)?;
        if current.status() != MaintenanceStatus::Scheduled {
            return Err(wrong_state(&current, "only scheduled maintenance can be cancelled"));
        }
        let m = maintenances::set_status(conn, id, MaintenanceStatus::Cancelled, now).await?;
        component_status::notify_status_changed(conn).await?;
        Ok(m)
    })
    .await
}

/// Ends a window in progress before its planned end.
pub async fn complete(
    pool: &DbPool,
    settings: &Settings,
    actor: &Actor,
    id: MaintenanceId,
) -> Result<Maintenance, ServiceError> {
    let me = require_responder(actor)?;
    let now = Utc::now();
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        let current = maintenances::find_for_update(conn, id).await?.ok_or(ServiceError::NotFound)?;
        if current.status() != MaintenanceStatus::InProgress {
            return Err(wrong_state(&current, "only maintenance in progress can be completed"));
        }
        let m = maintenances::set_status(conn, id, MaintenanceStatus::Completed, now).await?;
        put_components_back(conn, id, me, now).await?;
        if m.notify_completed {
            tell_subscribers(conn, settings, &m, Notice::Completed).await?;
        }
        Ok(m)
    })
    .await
}

/// A window started: its components go under maintenance.
async fn put_components_under(
    conn: &mut AsyncPgConnection,
    id: MaintenanceId,
    at: DateTime<Utc>,
) -> diesel::QueryResult<()> {
    let cause = Cause { maintenance: Some(id), ..Default::default() };
    for c in maintenances::component_ids(conn, id).await? {
        component_status::set(conn, c, ComponentStatus::UnderMaintenance, cause, at).await?;
    }
    component_status::notify_status_changed(conn).await
}

/// A window ended: its components still under maintenance (and not under
/// another window in progress) are operational again. Components something
/// else changed meanwhile (an outage) keep that status.
async fn put_components_back(
    conn: &mut AsyncPgConnection,
    id: MaintenanceId,
    by: Option<UserId>,
    at: DateTime<Utc>,
) -> diesel::QueryResult<()> {
    let cause = Cause { by, maintenance: Some(id), ..Default::default() };
    for c in maintenances::component_ids(conn, id).await? {
        let Some(component) = components::find_for_update(conn, c).await? else { continue };
        if ComponentStatus::parse(&component.status) == Ok(ComponentStatus::UnderMaintenance)
            && !maintenances::other_in_progress_covers(conn, c, id).await?
        {
            component_status::set(conn, c, ComponentStatus::Operational, cause, at).await?;
        }
    }
    component_status::notify_status_changed(conn).await
}

/// One scheduler tick: starts every scheduled window whose start has come,
/// then ends every window in progress whose end has passed, one transaction
/// per window. Safe to run on several instances at once: each window is
/// claimed by a single `UPDATE ... FOR UPDATE SKIP LOCKED`, so it moves once.
/// Returns how many windows moved.
pub async fn run_due(pool: &DbPool, settings: &Settings) -> Result<usize, ServiceError> {
    let mut conn = pool.get().await?;
    let mut moved = 0;
    while moved < MAX_PER_TICK {
        let started = conn
            .transaction(async |conn| {
                let Some((id, at)) = maintenances::claim_due_start(conn).await? else { return Ok(false) };
                put_components_under(conn, id, at).await?;
                if let Some(m) = maintenances::find(conn, id).await?
                    && m.notify_started
                {
                    tell_subscribers(conn, settings, &m, Notice::Started).await?;
                }
                Ok::<_, ServiceError>(true)
            })
            .await?;
        if !started {
            break;
        }
        moved += 1;
    }
    while moved < MAX_PER_TICK {
        let ended = conn
            .transaction(async |conn| {
                let Some((id, at)) = maintenances::claim_due_end(conn).await? else { return Ok(false) };
                put_components_back(conn, id, None, at).await?;
                if let Some(m) = maintenances::find(conn, id).await?
                    && m.notify_completed
                {
                    tell_subscribers(conn, settings, &m, Notice::Completed).await?;
                }
                Ok::<_, ServiceError>(true)
            })
            .await?;
        if !ended {
            break;
        }
        moved += 1;
    }
    Ok(moved)
}

/// Runs `run_due` every `TICK` for as long as the app runs.
pub fn spawn_scheduler(pool: DbPool, settings: Settings) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match run_due(&pool, &settings).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(windows = n, "maintenance windows started or ended"),
                Err(e) => tracing::warn!(error = %e, "the maintenance scheduler could not run"),
            }
        }
    });
}

/// A moment in a maintenance's life that its subscribers hear about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Notice {
    Scheduled,
    Started,
    Completed,
}

/// Queues the notice to every confirmed subscriber of the window's
/// components, in the caller's transaction.
async fn tell_subscribers(
    conn: &mut AsyncPgConnection,
    settings: &Settings,
    m: &Maintenance,
    notice: Notice,
) -> Result<(), ServiceError> {
    let ids = maintenances::component_ids(conn, m.id).await?;
    let subs = subscribers::confirmed_for_components(conn, &ids).await?;
    if subs.is_empty() {
        return Ok(());
    }
    let names: Vec<String> =
        components::list(conn).await?.into_iter().filter(|c| ids.contains(&c.id)).map(|c| c.name).collect();
    let when = |t: DateTime<Utc>| t.format("%-d %b %Y, %H:%M UTC").to_string();
    let (subject, heading, opening) = match notice {
        Notice::Scheduled => (
            format!("Scheduled maintenance: {}", m.title),
            format!("Scheduled maintenance: {}", m.title),
            format!("Maintenance is planned from {} to {}.", when(m.starts_at), when(m.ends_at)),
        ),
        Notice::Started => (
            format!("Maintenance in progress: {}", m.title),
            format!("Maintenance in progress: {}", m.title),
            format!("The maintenance has started. It is planned to end at {}.", when(m.ends_at)),
        ),
        Notice::Completed => (
            format!("Maintenance completed: {}", m.title),
            format!("Maintenance completed: {}", m.title),
            format!("The maintenance is over ({}).", when(m.completed_at.unwrap_or_else(Utc::now))),
        ),
    };
    let mut body = opening;
    if !names.is_empty() {
        body.push_str(&format!("\n\nAffected components: {}.", names.join(", ")));
    }
    if !m.message.trim().is_empty() && notice != Notice::Completed {
        body.push_str("\n\n");
        body.push_str(m.message.trim());
    }
    let email = Email {
        kind: "maintenance",
        subject: format!("[{}] {subject}", settings.status_page_name),
        heading,
        body,
        link_label: "View the status page".to_owned(),
        link_url: link(settings, "/status"),
        footer: None,
        unsubscribe_url: None,
        incident_id: None,
        banner: Some(crate::email::compose::Banner {
            label: "Scheduled maintenance".to_owned(),
            tone: crate::email::compose::Tone::Info,
        }),
        ..Default::default()
    };
    super::subscriptions::enqueue_for_subscribers(conn, settings, email, &subs).await?;
    Ok(())
}
