//! Running an incident. Every action is one transaction that also writes the
//! timeline entry recording it and notifies live viewers (NOTIFY is delivered
//! on commit, to every app instance).

use chrono::{DateTime, Utc};
use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use super::{Actor, FieldErrors, ServiceError};
use crate::db::change_requests::{self, ChangeRequest};
use crate::db::incidents::{self, Incident, IncidentChanges, NewIncident};
use crate::db::tasks::{self, NewTask, Task, TaskChanges};
use crate::db::timeline::{self, NewEntry};
use crate::db::{
    ChangeRequestId, ComponentId, DbPool, EntryId, IncidentId, TaskId, UserId, components, incident_roles,
    stakeholders, users,
};
use crate::domain::Role;
use crate::domain::followups as followup_rules;
use crate::domain::incident::{
    self as rules, ChangeStatus, DetectionSource, EntryKind, IncidentKind, IncidentRole, IncidentStatus, Severity,
    TaskKind, TaskStatus, Visibility,
};
use crate::domain::markdown::to_safe_html;
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
async fn record_and_notify(
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

/// The raw values of the declare form (it is deserialised straight into this).
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(default)]
pub struct DeclareInput {
    pub title: String,
    pub severity: String,
    pub components: Vec<String>,
    pub environment: String,
    pub kind: String,
    pub detection_source: String,
    pub impact_started_at: String,
    pub conference_url: String,
    pub lead: String,
    pub restricted: bool,
}

/// Declares an incident: the row, its components, the lead (the declarer
/// unless someone else is chosen) and the first timeline entries.
pub async fn declare(
    pool: &DbPool,
    settings: &crate::config::Settings,
    actor: &Actor,
    tz: chrono_tz::Tz,
    input: &DeclareInput,
) -> Result<Incident, ServiceError> {
    let me = require_responder(actor)?;
    let now = Utc::now();
    let mut conn = pool.get().await?;
    let mut errors = FieldErrors::new();
    let title = errors.check("title", rules::parse_title(&input.title));
    let severity = errors.check(
        "severity",
        if input.severity.trim().is_empty() { Ok(Severity::ALL[2]) } else { Severity::parse(&input.severity) },
    );
    let kind = errors.check(
        "kind",
        if input.kind.trim().is_empty() { Ok(IncidentKind::Outage) } else { IncidentKind::parse(&input.kind) },
    );
    let detection = errors.check(
        "detection_source",
        if input.detection_source.trim().is_empty() {
            Ok(DetectionSource::Staff)
        } else {
            DetectionSource::parse(&input.detection_source)
        },
    );
    let environment = errors.check("environment", rules::parse_short_text(&input.environment, "environment", 60));
    let impact_started = errors.check("impact_started_at", rules::parse_past_time(&input.impact_started_at, tz, now));
    let conference_url = errors.check("conference_url", rules::parse_optional_url(&input.conference_url));
    let lead = match parse_responder(&mut conn, &input.lead).await {
        Ok(l) => Some(l.unwrap_or(me)),
        Err(m) => {
            errors.add("lead", m);
            None
        }
    };
    let mut component_ids = Vec::new();
    for c in &input.components {
        match c.trim().parse::<ComponentId>() {
            Ok(id) => component_ids.push(id),
            Err(_) => errors.add("components", "Choose components from the list."),
        }
    }
    component_ids.sort();
    component_ids.dedup();
    if components::existing(&mut conn, &component_ids).await?.len() != component_ids.len() {
        errors.add("components", "One of the chosen components no longer exists.");
    }
    let (
        Some(title),
        Some(severity),
        Some(kind),
        Some(detection),
        Some(environment),
        Some(impact),
        Some(conference_url),
        Some(lead),
    ) = (title, severity, kind, detection, environment, impact_started, conference_url, lead)
    else {
        return Err(ServiceError::Invalid(errors));
    };
    if !errors.is_empty() {
        return Err(ServiceError::Invalid(errors));
    }
    let environment = if environment.is_empty() { "production".to_owned() } else { environment };
    let visibility =
        if kind == IncidentKind::Security || input.restricted { Visibility::Restricted } else { Visibility::Internal };

    let opening = Opening {
        title: &title,
        severity,
        kind,
        detection,
        environment: &environment,
        visibility,
        conference_url: conference_url.as_deref(),
        impact_started_at: impact.unwrap_or(now),
        detected_at: now,
        components: &component_ids,
        declared_by: Some(me),
        lead: Some(lead),
    };
    conn.transaction(async |conn| {
        let incident = open(conn, settings, &opening, now).await?;
        notify(conn, incident.id).await?;
        Ok(incident)
    })
    .await
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
/// stakeholder groups, the "incident reports" announcement and the outgoing
/// webhooks. The caller notifies live viewers.
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
    let announced = super::updates::announce(conn, settings, &incident).await?;
    if announced > 0 {
        let body = format!(
            "Announced to the “{}” group ({announced} recipient{}).",
            stakeholders::INCIDENT_REPORTS,
            if announced == 1 { "" } else { "s" }
        );
        record(conn, incident.id, None, EntryKind::System, &body, now).await?;
    }
    super::webhooks::enqueue(conn, settings, EventKind::IncidentDeclared, &incident, serde_json::Value::Null).await?;
    Ok(incident)
}

/// A note from the timeline form: Markdown, optionally back-dated, optionally
/// correcting an earlier entry.
pub async fn add_note(
    pool: &DbPool,
    actor: &Actor,
    tz: chrono_tz::Tz,
    id: IncidentId,
    body: &str,
    happened_at: &str,
    corrects: Option<EntryId>,
) -> Result<(), ServiceError> {
    let me = require_responder(actor)?;
    let now = Utc::now();
    let mut errors = FieldErrors::new();
    let text = body.trim();
    if text.is_empty() {
        errors.add("body", "Write the note first.");
    } else if text.chars().count() > 20_000 {
        errors.add("body", "Keep a note under 20,000 characters.");
    }
    let occurred = errors.check("happened_at", rules::parse_past_time(happened_at, tz, now));
    let (Some(occurred), true) = (occurred, errors.is_empty()) else {
        return Err(ServiceError::Invalid(errors));
    };
    // Rendered once here: entries never change, and the room shows thousands.
    let html = to_safe_html(text);
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        // A plain read, not FOR UPDATE: notes change nothing on the incident,
        // so many note takers never queue behind each other.
        let incident = incidents::find(conn, id).await?.ok_or(ServiceError::NotFound)?;
        if !can_view(conn, &incident, actor).await? {
            return Err(ServiceError::NotFound);
        }
        if let Some(c) = corrects
            && timeline::find_in(conn, incident.id, c).await?.is_none()
        {
            return Err(ServiceError::NotFound);
        }
        timeline::insert(
            conn,
            &NewEntry {
                incident_id: incident.id,
                occurred_at: occurred.unwrap_or(now),
                author_id: Some(me),
                kind: EntryKind::Note.as_str(),
                body: text,
                body_html: &html,
                corrects_id: corrects,
            },
        )
        .await?;
        notify(conn, incident.id).await?;
        Ok(())
    })
    .await
}

pub async fn set_highlight(
    pool: &DbPool,
    actor: &Actor,
    id: IncidentId,
    entry: EntryId,
    on: bool,
) -> Result<(), ServiceError> {
    require_responder(actor)?;
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        let incident = load_for_change(conn, actor, id).await?;
        timeline::find_in(conn, incident.id, entry).await?.ok_or(ServiceError::NotFound)?;
        timeline::set_highlighted(conn, entry, on).await?;
        notify(conn, incident.id).await?;
        Ok(())
    })
    .await
}

/// Moves the status on (or back). The first arrival at monitoring, resolved
/// and closed records its timestamp; reopening is recorded as such.
pub async fn change_status(
    pool: &DbPool,
    settings: &crate::config::Settings,
    actor: &Actor,
    id: IncidentId,
    status_input: &str,
) -> Result<Incident, ServiceError> {
    let me = require_responder(actor)?;
    let next =
        IncidentStatus::parse(status_input).map_err(|m| ServiceError::Invalid(FieldErrors::single("status", m)))?;
    let now = Utc::now();
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        let incident = load_for_change(conn, actor, id).await?;
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
    super::webhooks::enqueue(conn, settings, EventKind::StatusChanged, &updated, detail.clone()).await?;
    if next == IncidentStatus::Resolved {
        super::postmortems::on_resolved(conn, &updated, now).await?;
        super::webhooks::enqueue(conn, settings, EventKind::Resolved, &updated, detail).await?;
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
        super::webhooks::enqueue(conn, settings, EventKind::SeverityChanged, &updated, detail).await?;
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
    conn.transaction(async |conn| {
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
    })
    .await
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

/// Which recorded moment the lead corrects.
pub fn timestamp_label(which: &str) -> Option<&'static str> {
    match which {
        "impact_started_at" => Some("impact start"),
        "detected_at" => Some("detected"),
        "acknowledged_at" => Some("acknowledged"),
        "mitigated_at" => Some("mitigated"),
        "resolved_at" => Some("resolved"),
        "closed_at" => Some("closed"),
        _ => None,
    }
}

/// The lead corrects a recorded moment (e.g. mitigation happened earlier than
/// the status change); the correction is on the timeline.
pub async fn correct_timestamp(
    pool: &DbPool,
    actor: &Actor,
    tz: chrono_tz::Tz,
    id: IncidentId,
    which: &str,
    value: &str,
) -> Result<Incident, ServiceError> {
    let me = require_responder(actor)?;
    let now = Utc::now();
    let label = timestamp_label(which)
        .ok_or_else(|| ServiceError::Invalid(FieldErrors::single("which", "Choose which moment to correct.")))?;
    let at = match rules::parse_past_time(value, tz, now) {
        Ok(Some(at)) => at,
        Ok(None) => return Err(ServiceError::Invalid(FieldErrors::single("value", "Enter the corrected time."))),
        Err(m) => return Err(ServiceError::Invalid(FieldErrors::single("value", m))),
    };
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        let incident = load_for_change(conn, actor, id).await?;
        require_current_lead(conn, id, me).await?;
        let mut changes = IncidentChanges::default();
        let before = match which {
            "impact_started_at" => {
                changes.impact_started_at = Some(at);
                Some(incident.impact_started_at)
            }
            "detected_at" => {
                changes.detected_at = Some(at);
                Some(incident.detected_at)
            }
            "acknowledged_at" => {
                changes.acknowledged_at = Some(at);
                incident.acknowledged_at
            }
            "mitigated_at" => {
                changes.mitigated_at = Some(at);
                incident.mitigated_at
            }
            "resolved_at" => {
                changes.resolved_at = Some(at);
                incident.resolved_at
            }
            _ => {
                changes.closed_at = Some(at);
                incident.closed_at
            }
        };
        let updated = incidents::update(conn, id, &changes).await?;
        let who = name_of(conn, me).await?;
        let fmt = |t: DateTime<Utc>| t.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string();
        let body = match before {
            Some(b) => format!("{who} corrected the {label} time from {} to {}.", fmt(b), fmt(at)),
            None => format!("{who} set the {label} time to {}.", fmt(at)),
        };
        record_and_notify(conn, id, me, EntryKind::System, &body, now).await?;
        Ok(updated)
    })
    .await
}

async fn require_current_lead(conn: &mut AsyncPgConnection, id: IncidentId, me: UserId) -> Result<(), ServiceError> {
    match incident_roles::current_holder(conn, id, IncidentRole::Lead).await? {
        Some(lead) if lead.user_id == me => Ok(()),
        _ => Err(ServiceError::Forbidden("only the current incident lead may do this")),
    }
}

/// The incident's own fields, edited with optimistic locking: `version` is
/// what the editor saw; if someone saved since, nothing is written.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(default)]
pub struct DetailsInput {
    pub version: String,
    pub title: String,
    pub summary: String,
    pub environment: String,
    pub conference_url: String,
    pub customer_impact: String,
}

pub async fn edit_details(
    pool: &DbPool,
    actor: &Actor,
    id: IncidentId,
    input: &DetailsInput,
) -> Result<Incident, ServiceError> {
    let me = require_responder(actor)?;
    let mut errors = FieldErrors::new();
    let title = errors.check("title", rules::parse_title(&input.title));
    let environment = errors.check("environment", rules::parse_short_text(&input.environment, "environment", 60));
    let conference_url = errors.check("conference_url", rules::parse_optional_url(&input.conference_url));
    let summary = errors.check("summary", rules::parse_short_text(&input.summary, "summary", 5000));
    let impact =
        errors.check("customer_impact", rules::parse_short_text(&input.customer_impact, "customer impact", 5000));
    let version: Option<i32> = input.version.trim().parse().ok();
    let (Some(title), Some(environment), Some(conference_url), Some(summary), Some(impact), Some(version), true) =
        (title, environment, conference_url, summary, impact, version, errors.is_empty())
    else {
        if input.version.trim().parse::<i32>().is_err() {
            errors.add("version", "The form is missing its version; reload the page.");
        }
        return Err(ServiceError::Invalid(errors));
    };
    let now = Utc::now();
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        let incident = load_for_change(conn, actor, id).await?;
        if incident.version != version {
            return Err(ServiceError::Conflict);
        }
        let updated = incidents::update(
            conn,
            id,
            &IncidentChanges {
                title: Some(&title),
                summary: Some(&summary),
                environment: Some(&environment),
                conference_url: Some(conference_url.as_deref()),
                customer_impact: Some(&impact),
                ..Default::default()
            },
        )
        .await?;
        let who = name_of(conn, me).await?;
        let mut changed = Vec::new();
        if incident.title != updated.title {
            changed.push(format!("title to “{}”", updated.title));
        }
        if incident.environment != updated.environment {
            changed.push(format!("environment to {}", updated.environment));
        }
        if incident.conference_url != updated.conference_url {
            changed.push("the conference link".to_owned());
        }
        if incident.summary != updated.summary {
            changed.push("the summary".to_owned());
        }
        if incident.customer_impact != updated.customer_impact {
            changed.push("the customer impact".to_owned());
        }
        if !changed.is_empty() {
            record(conn, id, Some(me), EntryKind::System, &format!("{who} changed {}.", changed.join(", ")), now)
                .await?;
        }
        notify(conn, id).await?;
        Ok(updated)
    })
    .await
}

/// The raw values of the new-task form.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(default)]
pub struct TaskInput {
    pub title: String,
    pub kind: String,
    pub assignee: String,
    pub timebox_minutes: String,
    pub due_at: String,
    pub ticket_url: String,
    pub details: String,
    /// high | medium | low; for follow-ups (empty: medium).
    pub priority: String,
}

/// Adds a task. Follow-ups get a due date 7 days out unless one is given
/// (never in the past), and their owner is emailed in the same transaction.
pub async fn add_task(
    pool: &DbPool,
    settings: &crate::config::Settings,
    actor: &Actor,
    tz: chrono_tz::Tz,
    id: IncidentId,
    input: &TaskInput,
) -> Result<Task, ServiceError> {
    insert_task(pool, Some(settings), actor, tz, id, input).await
}

/// `add_task` for callers without the settings (an unowned follow-up, e.g.
/// the post-mortem's monitoring follow-up): nobody is emailed.
pub async fn create_task(
    pool: &DbPool,
    actor: &Actor,
    tz: chrono_tz::Tz,
    id: IncidentId,
    input: &TaskInput,
) -> Result<Task, ServiceError> {
    insert_task(pool, None, actor, tz, id, input).await
}

async fn insert_task(
    pool: &DbPool,
    settings: Option<&crate::config::Settings>,
    actor: &Actor,
    tz: chrono_tz::Tz,
    id: IncidentId,
    input: &TaskInput,
) -> Result<Task, ServiceError> {
    let me = require_responder(actor)?;
    let now = Utc::now();
    let mut conn = pool.get().await?;
    let mut errors = FieldErrors::new();
    let title =
        errors.check("task_title", rules::parse_title(&input.title).map_err(|_| "Say what needs doing.".to_owned()));
    let kind = errors.check(
        "task_kind",
        if input.kind.trim().is_empty() { Ok(TaskKind::Mitigation) } else { TaskKind::parse(&input.kind) },
    );
    let assignee = match parse_responder(&mut conn, &input.assignee).await {
        Ok(a) => Some(a),
        Err(m) => {
            errors.add("task_assignee", m);
            None
        }
    };
    let timebox = errors.check("task_timebox", rules::parse_optional_minutes(&input.timebox_minutes));
    let due = errors.check("task_due_at", parse_future_time(&input.due_at, tz, now));
    let ticket = errors.check("task_ticket_url", rules::parse_optional_url(&input.ticket_url));
    let details = errors.check("task_details", rules::parse_short_text(&input.details, "details", 5000));
    let priority = errors.check("task_priority", followup_rules::Priority::parse_or_default(&input.priority));
    let (
        Some(title),
        Some(kind),
        Some(assignee),
        Some(timebox),
        Some(due),
        Some(ticket),
        Some(details),
        Some(priority),
        true,
    ) = (title, kind, assignee, timebox, due, ticket, details, priority, errors.is_empty())
    else {
        return Err(ServiceError::Invalid(errors));
    };
    let due =
        if kind == TaskKind::FollowUp { Some(due.unwrap_or_else(|| followup_rules::default_due(now))) } else { due };
    conn.transaction(async |conn| {
        let incident = load_for_change(conn, actor, id).await?;
        let task = tasks::insert(
            conn,
            &NewTask {
                incident_id: id,
                title: &title,
                details: &details,
                kind: kind.as_str(),
                priority: priority.as_str(),
                assignee_id: assignee,
                timebox_minutes: timebox,
                // A timeboxed attempt starts its clock when it is created.
                started_at: timebox.map(|_| now),
                due_at: due,
                ticket_url: ticket.as_deref(),
                created_by: me,
            },
        )
        .await?;
        let who = name_of(conn, me).await?;
        let mut body = format!("{who} added the {} task “{}”", kind.label().to_lowercase(), task.title);
        if let Some(a) = assignee {
            body.push_str(&format!(", assigned to {}", name_of(conn, a).await?));
        }
        if let Some(m) = timebox {
            body.push_str(&format!(", timeboxed to {m} min"));
        }
        if kind == TaskKind::FollowUp {
            body.push_str(&format!(", {} priority", priority.label().to_lowercase()));
        }
        body.push('.');
        if let (Some(a), Some(settings)) = (assignee, settings) {
            super::followups::notify_owner(conn, settings, &task, &incident, a, me).await?;
        }
        record_and_notify(conn, id, me, EntryKind::Task, &body, now).await?;
        Ok(task)
    })
    .await
}

/// A due time: read like a past time (without the "not in the future" rule),
/// then refused when it has already passed.
fn parse_future_time(input: &str, tz: chrono_tz::Tz, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, String> {
    let far_future = now + chrono::Duration::days(3650);
    let due = rules::parse_past_time(input, tz, far_future)?;
    if let Some(d) = due {
        followup_rules::check_due(d, now)?;
    }
    Ok(due)
}

pub async fn set_task_status(
    pool: &DbPool,
    actor: &Actor,
    id: IncidentId,
    task: TaskId,
    status_input: &str,
) -> Result<Task, ServiceError> {
    let me = require_responder(actor)?;
    let status =
        TaskStatus::parse(status_input).map_err(|m| ServiceError::Invalid(FieldErrors::single("status", m)))?;
    let now = Utc::now();
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        load_for_change(conn, actor, id).await?;
        let current = tasks::find_in(conn, id, task).await?.ok_or(ServiceError::NotFound)?;
        if current.status() == status {
            return Ok(current);
        }
        let changes = TaskChanges {
            status: Some(status.as_str()),
            started_at: (status == TaskStatus::InProgress && current.started_at.is_none()).then_some(now),
            completed_at: Some(status.is_finished().then_some(now)),
            ..Default::default()
        };
        let updated = tasks::update(conn, task, &changes).await?;
        let who = name_of(conn, me).await?;
        let body = format!("{who} marked the task “{}” {}.", updated.title, status.label().to_lowercase());
        record_and_notify(conn, id, me, EntryKind::Task, &body, now).await?;
        Ok(updated)
    })
    .await
}

pub async fn assign_task(
    pool: &DbPool,
    settings: &crate::config::Settings,
    actor: &Actor,
    id: IncidentId,
    task: TaskId,
    assignee_input: &str,
) -> Result<Task, ServiceError> {
    let me = require_responder(actor)?;
    let now = Utc::now();
    let mut conn = pool.get().await?;
    let assignee = parse_responder(&mut conn, assignee_input)
        .await
        .map_err(|m| ServiceError::Invalid(FieldErrors::single("assignee", m)))?;
    conn.transaction(async |conn| {
        let incident = load_for_change(conn, actor, id).await?;
        let current = tasks::find_in(conn, id, task).await?.ok_or(ServiceError::NotFound)?;
        if current.assignee_id == assignee {
            return Ok(current);
        }
        let updated =
            tasks::update(conn, task, &TaskChanges { assignee_id: Some(assignee), ..Default::default() }).await?;
        let who = name_of(conn, me).await?;
        let body = match assignee {
            Some(a) => format!("{who} assigned the task “{}” to {}.", updated.title, name_of(conn, a).await?),
            None => format!("{who} unassigned the task “{}”.", updated.title),
        };
        if let Some(a) = assignee {
            super::followups::notify_owner(conn, settings, &updated, &incident, a, me).await?;
        }
        record_and_notify(conn, id, me, EntryKind::Task, &body, now).await?;
        Ok(updated)
    })
    .await
}

pub async fn request_change(
    pool: &DbPool,
    actor: &Actor,
    id: IncidentId,
    description: &str,
    rollback_plan: &str,
) -> Result<ChangeRequest, ServiceError> {
    let me = require_responder(actor)?;
    let mut errors = FieldErrors::new();
    let description = description.trim();
    let rollback_plan = rollback_plan.trim();
    if description.is_empty() {
        errors.add("change_description", "Say what you want to change in production.");
    }
    if rollback_plan.is_empty() {
        errors.add("change_rollback", "Say how to undo it if it makes things worse.");
    }
    if description.chars().count() > 5000 || rollback_plan.chars().count() > 5000 {
        errors.add("change_description", "Keep it under 5,000 characters.");
    }
    if !errors.is_empty() {
        return Err(ServiceError::Invalid(errors));
    }
    let now = Utc::now();
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        load_for_change(conn, actor, id).await?;
        let change = change_requests::insert(conn, id, me, description, rollback_plan).await?;
        let who = name_of(conn, me).await?;
        let body = format!("{who} asks to change production: {description} (rollback: {rollback_plan})");
        record_and_notify(conn, id, me, EntryKind::Change, &body, now).await?;
        Ok(change)
    })
    .await
}

/// Only the person holding the lead role at this moment approves or rejects.
pub async fn decide_change(
    pool: &DbPool,
    actor: &Actor,
    id: IncidentId,
    change: ChangeRequestId,
    approve: bool,
) -> Result<ChangeRequest, ServiceError> {
    let me = require_responder(actor)?;
    let now = Utc::now();
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        load_for_change(conn, actor, id).await?;
        require_current_lead(conn, id, me).await?;
        let current = change_requests::find_in(conn, id, change).await?.ok_or(ServiceError::NotFound)?;
        if current.status() != ChangeStatus::Pending {
            return Err(ServiceError::Invalid(FieldErrors::single("change", "This change was already decided.")));
        }
        let status = if approve { ChangeStatus::Approved } else { ChangeStatus::Rejected };
        let updated = change_requests::decide(conn, change, status, me, now).await?;
        let who = name_of(conn, me).await?;
        let verb = if approve { "approved" } else { "rejected" };
        record_and_notify(
            conn,
            id,
            me,
            EntryKind::Change,
            &format!("{who} (lead) {verb} the change: {}", updated.description),
            now,
        )
        .await?;
        Ok(updated)
    })
    .await
}

/// An approved change is marked applied once it is done.
pub async fn mark_change_applied(
    pool: &DbPool,
    actor: &Actor,
    id: IncidentId,
    change: ChangeRequestId,
) -> Result<ChangeRequest, ServiceError> {
    let me = require_responder(actor)?;
    let now = Utc::now();
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        load_for_change(conn, actor, id).await?;
        let current = change_requests::find_in(conn, id, change).await?.ok_or(ServiceError::NotFound)?;
        if current.status() != ChangeStatus::Approved {
            return Err(ServiceError::Invalid(FieldErrors::single(
                "change",
                "Only an approved change can be marked applied.",
            )));
        }
        let updated = change_requests::mark_applied(conn, change, me, now).await?;
        let who = name_of(conn, me).await?;
        record_and_notify(
            conn,
            id,
            me,
            EntryKind::Change,
            &format!("{who} applied the change: {}", updated.description),
            now,
        )
        .await?;
        Ok(updated)
    })
    .await
}
