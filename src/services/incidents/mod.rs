//! The room kernel: opening an incident, status, severity and roles, and the
//! rule every action in the room follows (the change and the timeline entry
//! recording it in one transaction, then NOTIFY to live viewers, delivered on
//! commit to every app instance). The shared plumbing lives here: `record`,
//! `notify`, `can_view`, `load_for_change`, `require_current_lead`.
//!
//! One module per concern sits beside it (notes, tasks, change requests, key
//! times, details, declaring, links between incidents). Follow-ups,
//! post-mortems and updates call the kernel; the kernel calls none of them.

mod changes;
mod declare;
mod details;
mod key_times;
mod links;
mod notes;
mod tasks;

pub use changes::{decide_change, mark_change_applied, request_change};
pub use declare::{DeclareInput, declare};
pub use details::{DetailsInput, edit_details};
pub use key_times::{KeyTimesInput, correct_timestamp, review_key_times, timestamp_label};
pub use links::{mark_duplicate, set_false_alarm, set_related, unmark_duplicate};
pub use notes::{add_note, set_highlight};
pub use tasks::{TaskInput, add_task, assign_task, create_task, set_task_status};

use chrono::{DateTime, Utc};
use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use super::{Actor, FieldErrors, ServiceError};
use crate::db::incidents::{self, Incident, IncidentChanges, NewIncident};
use crate::db::timeline::{self, NewEntry};
use crate::db::{ComponentId, DbPool, IncidentId, UserId, incident_roles, stakeholders, users};
use crate::domain::Role;
use crate::domain::incident::{
    DetectionSource, EntryKind, IncidentKind, IncidentRole, IncidentStatus, Severity, Visibility,
};
use crate::domain::webhooks::EventKind;

/// The channel live viewers listen on; the payload is the incident id.
pub const NOTIFY_CHANNEL: &str = crate::db::listener::INCIDENT_CHANNEL;

/// Tells every app instance that this incident changed (sent at commit).
pub(crate) async fn notify(conn: &mut AsyncPgConnection, id: IncidentId) -> diesel::QueryResult<()> {
    diesel::sql_query("SELECT pg_notify($1, $2)")
        .bind::<Text, _>(NOTIFY_CHANNEL)
        .bind::<Text, _>(id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// The timeline entry that records an action, and the notice to live viewers:
/// the common ending of every action in the room.
pub(crate) async fn record_and_notify(
    conn: &mut AsyncPgConnection,
    id: IncidentId,
    author: UserId,
    kind: EntryKind,
    body: &str,
    at: DateTime<Utc>,
) -> diesel::QueryResult<()> {
    record(conn, id, Some(author), kind, body, at).await?;
    notify(conn, id).await
}

pub(crate) async fn record(
    conn: &mut AsyncPgConnection,
    id: IncidentId,
    author: Option<UserId>,
    kind: EntryKind,
    body: &str,
    at: DateTime<Utc>,
) -> diesel::QueryResult<()> {
    timeline::insert(
        conn,
        &NewEntry {
            incident_id: id,
            occurred_at: at,
            author_id: author,
            kind: kind.as_str(),
            body,
            body_html: "",
            corrects_id: None,
        },
    )
    .await?;
    Ok(())
}

pub(crate) fn require_responder(actor: &Actor) -> Result<UserId, ServiceError> {
    match actor.id {
        Some(id) if actor.role.allows(Role::Responder) => Ok(id),
        _ => Err(ServiceError::Forbidden("only responders change incidents")),
    }
}

/// Whether someone may see this incident at all: restricted incidents only
/// for their participants and admins.
pub async fn can_view(conn: &mut AsyncPgConnection, incident: &Incident, actor: &Actor) -> diesel::QueryResult<bool> {
    if incident.visibility() != Visibility::Restricted || actor.role == Role::Admin {
        return Ok(true);
    }
    match actor.id {
        Some(user) => incidents::is_participant(conn, incident.id, user).await,
        None => Ok(false),
    }
}

/// Loads and locks an incident the actor may see; NotFound otherwise (a
/// restricted incident does not reveal that it exists).
pub(crate) async fn load_for_change(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: IncidentId,
) -> Result<Incident, ServiceError> {
    let incident = incidents::find_for_update(conn, id).await?.ok_or(ServiceError::NotFound)?;
    if !can_view(conn, &incident, actor).await? {
        return Err(ServiceError::NotFound);
    }
    Ok(incident)
}

pub(crate) async fn name_of(conn: &mut AsyncPgConnection, id: UserId) -> diesel::QueryResult<String> {
    Ok(users::find(conn, id).await?.map(|u| u.display_name).unwrap_or_else(|| format!("user {id}")))
}

/// A responder who can hold a role or a task, chosen from a form's user id.
pub(crate) async fn parse_responder(conn: &mut AsyncPgConnection, input: &str) -> Result<Option<UserId>, String> {
    let t = input.trim();
    if t.is_empty() {
        return Ok(None);
    }
    let id: UserId = t.parse().map_err(|_| "Choose someone from the list.".to_owned())?;
    match users::find(conn, id).await {
        Ok(Some(u)) if !u.disabled && u.role().allows(Role::Responder) => Ok(Some(id)),
        Ok(_) => Err("Choose a responder from the list.".into()),
        Err(e) => Err(format!("Could not look that person up: {e}")),
    }
}

/// A new incident, already checked: by a person (declare) or by an alert.
pub(crate) struct Opening<'a> {
    pub title: &'a str,
    pub severity: Severity,
    pub kind: IncidentKind,
    pub detection: DetectionSource,
    pub environment: &'a str,
    pub visibility: Visibility,
    pub conference_url: Option<&'a str>,
    pub impact_started_at: DateTime<Utc>,
    pub detected_at: DateTime<Utc>,
    pub components: &'a [ComponentId],
    /// `None` when an alert opened it.
    pub declared_by: Option<UserId>,
    /// `None` leaves the lead open: the incident is acknowledged when someone takes it.
    pub lead: Option<UserId>,
}

/// Writes a new incident in the caller's transaction: the row, its components,
/// its post-mortem, the lead, the first timeline entries, the default
/// stakeholder groups and the outgoing webhooks. The caller announces it
/// (`updates::announce_new`) and notifies live viewers.
pub(crate) async fn open(
    conn: &mut AsyncPgConnection,
    settings: &crate::config::Settings,
    o: &Opening<'_>,
    now: DateTime<Utc>,
) -> diesel::QueryResult<Incident> {
    let Opening { severity, kind, detection, environment, .. } = *o;
    let incident = incidents::insert(
        conn,
        &NewIncident {
            title: o.title,
            kind: kind.as_str(),
            severity: severity.level(),
            environment,
            detection_source: detection.as_str(),
            visibility: o.visibility.as_str(),
            conference_url: o.conference_url,
            impact_started_at: o.impact_started_at,
            detected_at: o.detected_at,
            declared_at: now,
            status_changed_at: now,
            declared_by: o.declared_by,
        },
    )
    .await?;
    if !o.components.is_empty() {
        incidents::set_components(conn, incident.id, o.components).await?;
    }
    crate::db::postmortems::create(conn, incident.id).await?;
    let body = match o.declared_by {
        Some(me) => format!(
            "{} declared a {severity} {} incident in {environment} (detected by: {}).",
            name_of(conn, me).await?,
            kind.label().to_lowercase(),
            detection.label().to_lowercase()
        ),
        None => format!("An alert opened a {severity} {} incident in {environment}.", kind.label().to_lowercase()),
    };
    record(conn, incident.id, o.declared_by, EntryKind::System, &body, now).await?;
    let mut incident = incident;
    if let Some(lead) = o.lead {
        incident_roles::assign(conn, incident.id, IncidentRole::Lead, lead, o.declared_by, now).await?;
        let lead_name = name_of(conn, lead).await?;
        record(conn, incident.id, o.declared_by, EntryKind::Role, &format!("{lead_name} is the incident lead."), now)
            .await?;
        // Acknowledged: the first lead assignment after declaring.
        incident =
            incidents::update(conn, incident.id, &IncidentChanges { acknowledged_at: Some(now), ..Default::default() })
                .await?;
    }
    // Severe incidents keep every stakeholder group informed by default.
    if severity.level() <= 2 {
        let all: Vec<_> = stakeholders::list_groups(conn).await?.iter().map(|g| g.id).collect();
        stakeholders::set_groups_for_incident(conn, incident.id, &all).await?;
    }
    crate::services::webhooks::enqueue(conn, settings, EventKind::IncidentDeclared, &incident, serde_json::Value::Null)
        .await?;
    Ok(incident)
}

/// Moves the status on (or back, which needs `confirm_back`). The first arrival at monitoring, resolved
/// and closed records its timestamp; reopening is recorded as such.
pub async fn change_status(
    pool: &DbPool,
    settings: &crate::config::Settings,
    actor: &Actor,
    id: IncidentId,
    status_input: &str,
    confirm_back: bool,
) -> Result<Incident, ServiceError> {
    let me = require_responder(actor)?;
    let next =
        IncidentStatus::parse(status_input).map_err(|m| ServiceError::Invalid(FieldErrors::single("status", m)))?;
    let now = Utc::now();
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        let incident = load_for_change(conn, actor, id).await?;
        // Going back is rare and easy to click by mistake at 3 a.m.
        if incident.status().is_step_back(next) && !confirm_back {
            return Err(ServiceError::Invalid(FieldErrors::single(
                "status",
                format!(
                    "Moving back to {} is a step back: tick “Yes, go back” to confirm.",
                    next.label().to_lowercase()
                ),
            )));
        }
        move_status(conn, settings, &incident, next, me, now).await
    })
    .await
}

/// Moves a locked incident to another status: checks the transition, sets
/// the timestamps it implies, writes the timeline entry and notifies.
pub(crate) async fn move_status(
    conn: &mut AsyncPgConnection,
    settings: &crate::config::Settings,
    incident: &Incident,
    next: IncidentStatus,
    me: UserId,
    now: DateTime<Utc>,
) -> Result<Incident, ServiceError> {
    let current = incident.status();
    if !current.can_move_to(next) {
        let message = if current == next {
            format!("The incident is already {}.", next.label().to_lowercase())
        } else {
            format!(
                "An incident that is {} cannot move to {}.",
                current.label().to_lowercase(),
                next.label().to_lowercase()
            )
        };
        return Err(ServiceError::Invalid(FieldErrors::single("status", message)));
    }
    let mut changes =
        IncidentChanges { status: Some(next.as_str()), status_changed_at: Some(now), ..Default::default() };
    match next {
        IncidentStatus::Monitoring if incident.mitigated_at.is_none() => changes.mitigated_at = Some(now),
        // Resolving again after a reopen moves the resolution time: the
        // metrics count the resolution that stuck (domain::metrics).
        IncidentStatus::Resolved => {
            changes.resolved_at = Some(now);
            if incident.mitigated_at.is_none() {
                changes.mitigated_at = Some(now);
            }
        }
        IncidentStatus::Closed if incident.closed_at.is_none() => changes.closed_at = Some(now),
        _ => {}
    }
    let updated = incidents::update(conn, incident.id, &changes).await?;
    let who = name_of(conn, me).await?;
    let body = if current.is_reopening(next) {
        format!("{who} reopened the incident: {} → {}.", current.label(), next.label())
    } else {
        format!("{who} changed the status: {} → {}.", current.label(), next.label())
    };
    record_and_notify(conn, incident.id, me, EntryKind::Status, &body, now).await?;
    let detail = serde_json::json!({ "from": current.as_str(), "to": next.as_str() });
    crate::services::webhooks::enqueue(conn, settings, EventKind::StatusChanged, &updated, detail.clone()).await?;
    if next == IncidentStatus::Resolved {
        // The post-mortem becomes a draft to fill in.
        crate::db::postmortems::mark_drafted(conn, updated.id, now).await?;
        crate::services::webhooks::enqueue(conn, settings, EventKind::Resolved, &updated, detail).await?;
    }
    Ok(updated)
}

pub async fn change_severity(
    pool: &DbPool,
    settings: &crate::config::Settings,
    actor: &Actor,
    id: IncidentId,
    severity_input: &str,
) -> Result<Incident, ServiceError> {
    let me = require_responder(actor)?;
    let next =
        Severity::parse(severity_input).map_err(|m| ServiceError::Invalid(FieldErrors::single("severity", m)))?;
    let now = Utc::now();
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        let incident = load_for_change(conn, actor, id).await?;
        if incident.severity() == next {
            return Ok(incident);
        }
        let updated =
            incidents::update(conn, id, &IncidentChanges { severity: Some(next.level()), ..Default::default() })
                .await?;
        let who = name_of(conn, me).await?;
        let body = format!("{who} changed the severity: {} → {next}.", incident.severity());
        record_and_notify(conn, id, me, EntryKind::Severity, &body, now).await?;
        let detail = serde_json::json!({ "from": incident.severity().level(), "to": next.level() });
        crate::services::webhooks::enqueue(conn, settings, EventKind::SeverityChanged, &updated, detail).await?;
        Ok(updated)
    })
    .await
}

/// Gives a role to someone (yourself when `user_input` is empty). For the
/// single-holder roles this is a hand-over: the previous holder is relieved
/// and the history kept.
pub async fn assign_role(
    pool: &DbPool,
    actor: &Actor,
    id: IncidentId,
    role_input: &str,
    user_input: &str,
) -> Result<(), ServiceError> {
    let me = require_responder(actor)?;
    let role = IncidentRole::parse(role_input).map_err(|m| ServiceError::Invalid(FieldErrors::single("role", m)))?;
    let now = Utc::now();
    let mut conn = pool.get().await?;
    let user = match parse_responder(&mut conn, user_input).await {
        Ok(u) => u.unwrap_or(me),
        Err(m) => return Err(ServiceError::Invalid(FieldErrors::single("user", m))),
    };
    conn.transaction(async |conn| assign_role_in(conn, actor, id, role, user, now).await).await
}

/// Gives `user` a role on the incident, in the caller's transaction; the
/// timeline says who did it. Taking the lead also acknowledges the incident.
pub(crate) async fn assign_role_in(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: IncidentId,
    role: IncidentRole,
    user: UserId,
    now: DateTime<Utc>,
) -> Result<(), ServiceError> {
    let me = require_responder(actor)?;
    {
        let incident = load_for_change(conn, actor, id).await?;
        let held = incident_roles::current_roles_of(conn, id, user).await?;
        if held.iter().any(|a| a.role() == role) {
            return Ok(());
        }
        let who = name_of(conn, user).await?;
        let by = name_of(conn, me).await?;
        let body = if role.is_single() {
            match incident_roles::current_holder(conn, id, role).await? {
                Some(previous) => {
                    incident_roles::relieve(conn, previous.id, now).await?;
                    let before = name_of(conn, previous.user_id).await?;
                    format!("{by} handed {} over from {before} to {who}.", role.label().to_lowercase())
                }
                None if user == me => format!("{who} took the role of {}.", role.label().to_lowercase()),
                None => format!("{by} made {who} {}.", role.label().to_lowercase()),
            }
        } else if user == me {
            format!("{who} joined the supporting cast.")
        } else {
            format!("{by} added {who} to the supporting cast.")
        };
        incident_roles::assign(conn, id, role, user, Some(me), now).await?;
        record(conn, id, Some(me), EntryKind::Role, &body, now).await?;
        if role == IncidentRole::Lead && incident.acknowledged_at.is_none() {
            incidents::update(conn, id, &IncidentChanges { acknowledged_at: Some(now), ..Default::default() }).await?;
        }
        notify(conn, id).await?;
        Ok(())
    }
}

/// Steps down from a role. The lead cannot step down without a hand-over:
/// an incident always has a lead.
pub async fn relieve_role(pool: &DbPool, actor: &Actor, id: IncidentId, role_input: &str) -> Result<(), ServiceError> {
    let me = require_responder(actor)?;
    let role = IncidentRole::parse(role_input).map_err(|m| ServiceError::Invalid(FieldErrors::single("role", m)))?;
    if role == IncidentRole::Lead {
        return Err(ServiceError::Invalid(FieldErrors::single("role", "Hand the lead over to someone instead.")));
    }
    let now = Utc::now();
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        load_for_change(conn, actor, id).await?;
        let held = incident_roles::current_roles_of(conn, id, me).await?;
        let Some(assignment) = held.into_iter().find(|a| a.role() == role) else {
            return Ok(());
        };
        incident_roles::relieve(conn, assignment.id, now).await?;
        let who = name_of(conn, me).await?;
        record_and_notify(
            conn,
            id,
            me,
            EntryKind::Role,
            &format!("{who} stepped down as {}.", role.label().to_lowercase()),
            now,
        )
        .await?;
        Ok(())
    })
    .await
}

pub(crate) async fn require_current_lead(
    conn: &mut AsyncPgConnection,
    id: IncidentId,
    me: UserId,
) -> Result<(), ServiceError> {
    match incident_roles::current_holder(conn, id, IncidentRole::Lead).await? {
        Some(lead) if lead.user_id == me => Ok(()),
        _ => Err(ServiceError::Forbidden("only the current incident lead may do this")),
    }
}
