//! `/incidents/{id}`: the incident room. One page with the header and clocks,
//! roles, timeline, tasks, change requests and the forms to act on them.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::Utc;
use serde::Deserialize;

use super::{iso, local_time};
use crate::db::components::Component;
use crate::db::incidents::Incident;
use crate::db::{
    ComponentId, IncidentId, UserId, change_requests, components, incident_roles, incidents, tasks, timeline, updates,
    users,
};
use crate::domain::Role;
use crate::domain::followups::{Priority, is_overdue as is_followup_overdue};
use crate::domain::incident::{
    ChangeStatus, DetectionSource, EntryKind, IncidentKind, IncidentRole, IncidentStatus, Severity, TaskKind,
    TaskStatus, format_duration, timebox_overrun,
};
use crate::domain::updates::is_overdue;
use crate::services::FieldErrors;
use crate::services::incidents::can_view;
use crate::web::AppState;
use crate::web::{AppError, CurrentUser, Layout, render};

/// After this long without a communications lead, the room asks who will talk to users.
pub const COMMS_PROMPT_AFTER_MINUTES: i64 = 10;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RoomQuery {
    pub order: String,
    /// Non-empty: every entry, not only the newest `NEWEST_ENTRIES`.
    pub all: String,
}

/// How many timeline entries the room sends at first (newest); a link shows the rest.
pub const NEWEST_ENTRIES: i64 = 200;

/// Values typed into the room's forms, kept when one is refused.
#[derive(Debug, Default, Clone)]
pub struct RoomForm {
    pub note_body: String,
    pub note_happened_at: String,
    pub note_corrects: String,
    pub task_title: String,
    pub task_kind: String,
    pub task_assignee: String,
    pub task_timebox: String,
    pub task_due_at: String,
    pub task_ticket_url: String,
    pub task_details: String,
    pub task_priority: String,
    pub change_description: String,
    pub change_rollback: String,
    pub details: Option<DetailsValues>,
    /// What the details form was based on (its `original_*` fields).
    pub details_original: Option<DetailsValues>,
    /// "Correct a key time", as typed.
    pub moment_which: String,
    pub moment_value: String,
    /// The key-times review at resolve, as typed (when it was refused).
    pub key_times: Option<crate::services::incidents::KeyTimesInput>,
    /// "Duplicate of" and "Related incident", as typed.
    pub duplicate_of: String,
    pub related: String,
}

#[derive(Debug, Default, Clone)]
pub struct DetailsValues {
    pub version: i32,
    pub title: String,
    pub public_title: String,
    pub summary: String,
    pub environment: String,
    pub conference_url: String,
    pub customer_impact: String,
    pub kind: String,
    pub detection_source: String,
    /// Component ids, sorted and comma-separated.
    pub components: String,
}

impl DetailsValues {
    pub fn has_component(&self, id: &ComponentId) -> bool {
        let id = id.to_string();
        self.components.split(',').any(|c| c == id)
    }

    /// After losing a race: their version, with this editor's value wherever
    /// this editor changed the field from what the form first showed.
    pub fn keep_edits_over(&self, original: &DetailsValues, theirs: &DetailsValues) -> DetailsValues {
        let pick = |mine: &String, orig: &String, other: &String| {
            if mine.trim() == orig.trim() { other.clone() } else { mine.clone() }
        };
        DetailsValues {
            version: theirs.version,
            title: pick(&self.title, &original.title, &theirs.title),
            public_title: pick(&self.public_title, &original.public_title, &theirs.public_title),
            summary: pick(&self.summary, &original.summary, &theirs.summary),
            environment: pick(&self.environment, &original.environment, &theirs.environment),
            conference_url: pick(&self.conference_url, &original.conference_url, &theirs.conference_url),
            customer_impact: pick(&self.customer_impact, &original.customer_impact, &theirs.customer_impact),
            kind: pick(&self.kind, &original.kind, &theirs.kind),
            detection_source: pick(&self.detection_source, &original.detection_source, &theirs.detection_source),
            components: pick(&self.components, &original.components, &theirs.components),
        }
    }
}

/// What a refused form brings back to the room: the messages, the typed
/// values, and for an edit conflict the other person's version.
#[derive(Debug, Default)]
pub struct Feedback {
    pub errors: FieldErrors,
    pub form: RoomForm,
    pub conflict: Option<Conflict>,
}

/// When someone else saved the details first: what they saved, beside what you typed.
#[derive(Debug, Clone)]
pub struct Conflict {
    pub theirs: DetailsValues,
}

pub struct HolderView {
    pub user_id: UserId,
    pub name: String,
    pub since: String,
}

pub struct HistoryView {
    pub role: &'static str,
    pub name: String,
    pub from: String,
    pub until: String,
}

pub struct EntryView {
    pub id: i64,
    pub time: String,
    pub iso: String,
    pub backdated: bool,
    pub author: String,
    pub kind: EntryKind,
    pub body: String,
    pub body_html: String,
    pub highlighted: bool,
    pub corrects: Option<i64>,
}

impl EntryView {
    pub fn is_note(&self) -> bool {
        self.kind == EntryKind::Note
    }
}

pub struct TaskView {
    pub id: i64,
    pub title: String,
    pub kind: TaskKind,
    pub status: TaskStatus,
    pub assignee_id: Option<UserId>,
    pub assignee: String,
    pub due: String,
    pub ticket_url: String,
    pub overrun: Option<String>,
    pub priority: Priority,
    /// Past its due date and unfinished (said in words, not only colour).
    pub overdue: bool,
}

impl TaskView {
    pub fn is_assigned_to(&self, id: &UserId) -> bool {
        self.assignee_id == Some(*id)
    }
    pub fn is_follow_up(&self) -> bool {
        self.kind == TaskKind::FollowUp
    }
    /// A done mitigation can become a reusable runbook step.
    pub fn can_become_runbook_step(&self) -> bool {
        self.kind == TaskKind::Mitigation && self.status == TaskStatus::Done
    }
}

pub struct ChangeView {
    pub id: i64,
    pub description: String,
    pub rollback_plan: String,
    pub status: ChangeStatus,
    pub requested_by: String,
    pub requested_at: String,
    pub decided: String,
}

pub struct Clock {
    pub label: &'static str,
    pub value: String,
    pub since: String,
}

/// A stakeholder update as the room lists it.
pub struct UpdateView {
    pub when: String,
    pub iso: String,
    pub by: String,
    pub audience: &'static str,
    pub subject: String,
    pub body: String,
}

/// The room's communications panel.
pub struct CommsView {
    pub may_send: bool,
    pub updates: Vec<UpdateView>,
    /// When the promised next update is due, for people.
    pub next_due: Option<String>,
    pub overdue: bool,
    /// Resolved, but the last update did not say so: offer the restoration notice.
    pub restoration_due: bool,
}

pub struct Moment {
    pub key: &'static str,
    pub label: &'static str,
    pub value: String,
}

#[derive(Template)]
#[template(path = "incidents/room.html")]
pub struct RoomPage {
    pub layout: Layout,
    pub incident: Incident,
    pub severity: Severity,
    pub status: IncidentStatus,
    pub components: Vec<String>,
    pub clocks: Vec<Clock>,
    pub moments: Vec<Moment>,
    pub lead: Option<HolderView>,
    pub note_taker: Option<HolderView>,
    pub comms_lead: Option<HolderView>,
    pub supporting: Vec<HolderView>,
    pub history: Vec<HistoryView>,
    pub entries: Vec<EntryView>,
    pub newest_first: bool,
    pub tasks: Vec<TaskView>,
    pub changes: Vec<ChangeView>,
    pub responders: Vec<(UserId, String)>,
    pub warnings: Vec<String>,
    pub can_write: bool,
    pub is_lead: bool,
    pub my_roles: Vec<IncidentRole>,
    pub errors: FieldErrors,
    pub form: RoomForm,
    pub details: DetailsValues,
    pub conflict: Option<Conflict>,
    pub comms: CommsView,
    pub panels: Panels,
    pub head: HeadView,
    /// Entries not sent (older than the newest `NEWEST_ENTRIES`).
    pub earlier: i64,
    /// The newest entry id the page holds: live refresh asks for what came after.
    pub last_entry_id: i64,
    pub panel_state: String,
    pub all_components: Vec<Component>,
    pub details_original: DetailsValues,
    /// At resolve, the lead reviews these: (field, label, value for a datetime-local input).
    pub review: Vec<(&'static str, &'static str, String)>,
}

/// The sticky header's facts beyond title, severity and status.
pub struct HeadView {
    pub impact_for: String,
    pub impact_since: String,
    /// Pending changes, shown to the lead as "awaiting your approval".
    pub pending_changes: usize,
    /// Tasks running over their timebox: (id, title).
    pub overruns: Vec<(i64, String)>,
}

/// Cards other areas add to the room, each rendered by its own module
/// (empty when there is nothing to show).
#[derive(Debug, Default)]
pub struct Panels {
    pub alerts: String,
    pub postmortem: String,
    pub meeting: String,
    pub runbooks: String,
    pub paging: String,
    pub links: String,
}

impl RoomPage {
    pub fn statuses(&self) -> Vec<IncidentStatus> {
        IncidentStatus::ALL.iter().copied().filter(|s| self.status.can_move_to(*s)).collect()
    }
    /// The three roles the header names, with their holders.
    pub fn head_roles(&self) -> [(&'static str, IncidentRole, Option<&HolderView>); 3] {
        [
            ("Lead", IncidentRole::Lead, self.lead.as_ref()),
            ("Notes", IncidentRole::NoteTaker, self.note_taker.as_ref()),
            ("Comms", IncidentRole::CommsLead, self.comms_lead.as_ref()),
        ]
    }
    /// The status control offers the next step forward first.
    pub fn is_default_status(&self, s: &IncidentStatus) -> bool {
        self.status.next_forward() == Some(*s)
    }
    pub fn is_step_back(&self, s: &IncidentStatus) -> bool {
        self.status.is_step_back(*s)
    }
    pub fn can_step_back(&self) -> bool {
        self.statuses().iter().any(|s| self.status.is_step_back(*s))
    }
    pub fn kinds(&self) -> &'static [IncidentKind] {
        IncidentKind::ALL
    }
    pub fn detection_sources(&self) -> &'static [DetectionSource] {
        DetectionSource::ALL
    }
    /// The message for a refused moment of the key-times review.
    pub fn review_error(&self, key: &str) -> Option<&str> {
        self.errors.get(&format!("review_{key}"))
    }
    /// Whether any of these fields was refused (the form then opens, with a
    /// message at its top).
    pub fn any_error(&self, fields: &[&str]) -> bool {
        fields.iter().any(|f| self.errors.get(f).is_some())
    }
    pub fn severities(&self) -> [Severity; 4] {
        Severity::ALL
    }
    pub fn roles(&self) -> &'static [IncidentRole] {
        IncidentRole::ALL
    }
    pub fn task_kinds(&self) -> &'static [TaskKind] {
        TaskKind::ALL
    }
    pub fn task_statuses(&self) -> &'static [TaskStatus] {
        TaskStatus::ALL
    }
    pub fn priorities(&self) -> &'static [Priority] {
        Priority::ALL
    }
    /// The new-task form's priority: what was typed, else medium.
    pub fn priority_selected(&self, p: &Priority) -> bool {
        match self.form.task_priority.as_str() {
            "" => *p == Priority::Medium,
            typed => typed == p.as_str(),
        }
    }
    pub fn holds(&self, role: IncidentRole) -> bool {
        self.my_roles.contains(&role)
    }
    pub fn is_selected(&self, value: &str, id: &UserId) -> bool {
        value == id.to_string()
    }
}

pub fn details_of(incident: &Incident, component_ids: &[ComponentId]) -> DetailsValues {
    let mut ids: Vec<i64> = component_ids.iter().map(|c| c.0).collect();
    ids.sort_unstable();
    DetailsValues {
        version: incident.version,
        title: incident.title.clone(),
        public_title: incident.public_title.clone(),
        summary: incident.summary.clone(),
        environment: incident.environment.clone(),
        conference_url: incident.conference_url.clone().unwrap_or_default(),
        customer_impact: incident.customer_impact.clone(),
        kind: incident.kind().as_str().to_owned(),
        detection_source: incident.detection_source().as_str().to_owned(),
        components: ids.iter().map(i64::to_string).collect::<Vec<_>>().join(","),
    }
}

/// An entry as the room shows it.
pub fn entry_view(e: crate::db::timeline::Entry, author: Option<String>, tz: chrono_tz::Tz) -> EntryView {
    let kind = e.kind();
    EntryView {
        id: e.id.0,
        time: local_time(e.occurred_at, tz),
        iso: iso(e.occurred_at),
        backdated: (e.recorded_at - e.occurred_at).num_seconds() > 60,
        author: author.unwrap_or_else(|| "Firebreak".to_owned()),
        body_html: e.body_html,
        body: e.body,
        kind,
        highlighted: e.highlighted,
        corrects: e.corrects_id.map(|c| c.0),
    }
}

/// What a live room compares to know whether its side panels are current:
/// the incident's version and the newest entry that records an action.
pub async fn panel_state(conn: &mut diesel_async::AsyncPgConnection, incident: &Incident) -> Result<String, AppError> {
    let action = timeline::latest_action_id(conn, incident.id).await?.map(|e| e.0).unwrap_or(0);
    Ok(format!("{}-{action}", incident.version))
}

/// Builds the room for a viewer, or 404 when they may not see it.
pub async fn build(
    state: &AppState,
    user: &CurrentUser,
    layout: Layout,
    id: IncidentId,
    newest_first: bool,
    feedback: Feedback,
) -> Result<RoomPage, AppError> {
    build_with(state, user, layout, id, newest_first, false, feedback).await
}

/// `build`, optionally with every timeline entry rather than the newest.
pub async fn build_with(
    state: &AppState,
    user: &CurrentUser,
    layout: Layout,
    id: IncidentId,
    newest_first: bool,
    all_entries: bool,
    feedback: Feedback,
) -> Result<RoomPage, AppError> {
    let Feedback { errors, form, conflict } = feedback;
    let tz = user.time_zone;
    let now = Utc::now();
    let mut conn = state.pool.get().await?;
    let incident = incidents::find(&mut conn, id).await?.ok_or(AppError::NotFound)?;
    if !can_view(&mut conn, &incident, &user.actor()).await? {
        return Err(AppError::NotFound);
    }
    let incident_components = components::for_incident(&mut conn, id).await?;
    let component_ids: Vec<ComponentId> = incident_components.iter().map(|c| c.id).collect();
    let component_names = incident_components.into_iter().map(|c| c.name).collect();
    let all_components =
        if user.role.allows(Role::Responder) { components::list(&mut conn).await? } else { Vec::new() };
    let holders = incident_roles::all_for(&mut conn, id).await?;
    let (entries, total_entries) = if all_entries {
        let all = timeline::list_for(&mut conn, id).await?;
        let n = all.len() as i64;
        (all, n)
    } else {
        timeline::list_recent(&mut conn, id, NEWEST_ENTRIES).await?
    };
    let panel_state = panel_state(&mut conn, &incident).await?;
    let task_rows = tasks::list_for(&mut conn, id).await?;
    let change_rows = change_requests::list_for(&mut conn, id).await?;
    let all_users = users::list(&mut conn).await?;
    let update_rows = updates::list_for(&mut conn, id).await?;
    let may_send = crate::services::updates::may_send(&mut conn, id, &user.actor()).await?;
    let panels = Panels {
        alerts: crate::web::alerts::room_panel(&mut conn, &incident, user).await?,
        postmortem: crate::web::postmortems::document::room_panel(&mut conn, &incident, user).await?,
        meeting: crate::web::postmortems::meeting::room_panel(&mut conn, &incident, user).await?,
        runbooks: crate::web::runbooks::room_panel(&mut conn, &incident, user).await?,
        paging: crate::web::oncall::room::room_panel(&mut conn, &incident, user, &layout.csrf_token).await?,
        links: super::links::room_panel(&mut conn, &incident, user, &layout.csrf_token, &errors, &form).await?,
    };
    drop(conn);

    let name = |uid: UserId| {
        all_users.iter().find(|u| u.id == uid).map(|u| u.display_name.clone()).unwrap_or_else(|| format!("user {uid}"))
    };
    let current = |role: IncidentRole| {
        holders.iter().find(|h| h.assignment.role() == role && h.assignment.relieved_at.is_none()).map(|h| HolderView {
            user_id: h.assignment.user_id,
            name: h.name.clone(),
            since: local_time(h.assignment.assumed_at, tz),
        })
    };
    let lead = current(IncidentRole::Lead);
    let note_taker = current(IncidentRole::NoteTaker);
    let comms_lead = current(IncidentRole::CommsLead);
    let supporting = holders
        .iter()
        .filter(|h| h.assignment.role() == IncidentRole::Supporting && h.assignment.relieved_at.is_none())
        .map(|h| HolderView {
            user_id: h.assignment.user_id,
            name: h.name.clone(),
            since: local_time(h.assignment.assumed_at, tz),
        })
        .collect();
    let history = holders
        .iter()
        .map(|h| HistoryView {
            role: h.assignment.role().label(),
            name: h.name.clone(),
            from: local_time(h.assignment.assumed_at, tz),
            until: h.assignment.relieved_at.map(|t| local_time(t, tz)).unwrap_or_else(|| "now".to_owned()),
        })
        .collect();
    let my_roles: Vec<IncidentRole> = holders
        .iter()
        .filter(|h| h.assignment.user_id == user.id && h.assignment.relieved_at.is_none())
        .map(|h| h.assignment.role())
        .collect();
    let is_lead = my_roles.contains(&IncidentRole::Lead);

    let status = incident.status();
    let mut warnings = Vec::new();
    if let (Some(l), Some(c)) = (&lead, &comms_lead)
        && l.user_id == c.user_id
    {
        warnings.push(
            "The lead is also the communications lead. Deputize someone not doing the mitigation to talk to users."
                .to_owned(),
        );
    }
    let minutes_since_declared = (now - incident.declared_at).num_minutes();
    if comms_lead.is_none() && status.is_active() && minutes_since_declared >= COMMS_PROMPT_AFTER_MINUTES {
        warnings.push(format!(
            "Who will communicate with users about this? Nobody has been communications lead for {minutes_since_declared} min since the incident was declared."
        ));
    }

    let latest = update_rows.first().map(|(u, _)| u);
    let next_due_at = latest.and_then(|u| u.next_update_at);
    let overdue = is_overdue(next_due_at, status, now);
    if overdue && let Some(due) = next_due_at {
        warnings.push(format!(
            "The next update was promised by {} ({} ago). Send an update, even if there is nothing new.",
            local_time(due, tz),
            format_duration(now - due)
        ));
    }
    let comms = CommsView {
        may_send,
        next_due: next_due_at.filter(|_| status.is_active()).map(|t| local_time(t, tz)),
        overdue,
        restoration_due: !status.is_active() && latest.is_none_or(|u| u.status != IncidentStatus::Resolved.as_str()),
        updates: update_rows
            .iter()
            .map(|(u, by)| UpdateView {
                when: local_time(u.created_at, tz),
                iso: iso(u.created_at),
                by: by.clone().unwrap_or_else(|| "Firebreak".to_owned()),
                audience: u.audience().label(),
                subject: u.subject.clone(),
                body: u.body.clone(),
            })
            .collect(),
    };

    let earlier = total_entries - entries.len() as i64;
    let last_entry_id = entries.iter().map(|(e, _)| e.id.0).max().unwrap_or(0);
    let mut entry_views: Vec<EntryView> = entries.into_iter().map(|(e, author)| entry_view(e, author, tz)).collect();
    if newest_first {
        entry_views.reverse();
    }

    let task_views: Vec<TaskView> = task_rows
        .into_iter()
        .map(|(t, assignee)| {
            let overrun = match (t.timebox_minutes, t.started_at, t.status().is_finished()) {
                (Some(box_min), Some(started), false) => timebox_overrun(started, box_min, now).map(|over| {
                    format!(
                        "Running {} over its {box_min} min timebox — is a different approach warranted?",
                        format_duration(over)
                    )
                }),
                _ => None,
            };
            TaskView {
                id: t.id.0,
                kind: t.kind(),
                status: t.status(),
                assignee_id: t.assignee_id,
                assignee: assignee.unwrap_or_default(),
                due: t.due_at.map(|d| local_time(d, tz)).unwrap_or_default(),
                ticket_url: t.ticket_url.clone().unwrap_or_default(),
                priority: t.priority(),
                overdue: is_followup_overdue(t.due_at, t.status(), now),
                title: t.title,
                overrun,
            }
        })
        .collect();
    let change_views: Vec<ChangeView> = change_rows
        .into_iter()
        .map(|c| {
            let decided = match (c.decided_by, c.decided_at) {
                (Some(by), Some(at)) => format!("{} by {} at {}", c.status().label(), name(by), local_time(at, tz)),
                _ => String::new(),
            };
            ChangeView {
                id: c.id.0,
                status: c.status(),
                requested_by: name(c.requested_by),
                requested_at: local_time(c.created_at, tz),
                description: c.description,
                rollback_plan: c.rollback_plan,
                decided,
            }
        })
        .collect();

    let clocks = vec![
        Clock {
            label: "Since impact started",
            value: format_duration(now - incident.impact_started_at),
            since: iso(incident.impact_started_at),
        },
        Clock {
            label: "Since declared",
            value: format_duration(now - incident.declared_at),
            since: iso(incident.declared_at),
        },
        Clock {
            label: "In this status",
            value: format_duration(now - incident.status_changed_at),
            since: iso(incident.status_changed_at),
        },
    ];
    let fmt_opt =
        |t: Option<chrono::DateTime<Utc>>| t.map(|t| local_time(t, tz)).unwrap_or_else(|| "not yet".to_owned());
    let moments = vec![
        Moment { key: "impact_started_at", label: "Impact started", value: local_time(incident.impact_started_at, tz) },
        Moment { key: "detected_at", label: "Detected", value: local_time(incident.detected_at, tz) },
        Moment { key: "acknowledged_at", label: "Acknowledged", value: fmt_opt(incident.acknowledged_at) },
        Moment { key: "mitigated_at", label: "Mitigated", value: fmt_opt(incident.mitigated_at) },
        Moment { key: "resolved_at", label: "Resolved", value: fmt_opt(incident.resolved_at) },
        Moment { key: "closed_at", label: "Closed", value: fmt_opt(incident.closed_at) },
    ];
    let responders = all_users
        .iter()
        .filter(|u| !u.disabled && u.role().allows(Role::Responder))
        .map(|u| (u.id, u.display_name.clone()))
        .collect();
    let current_details = details_of(&incident, &component_ids);
    let details = form.details.clone().unwrap_or_else(|| current_details.clone());
    let details_original = form.details_original.clone().unwrap_or(current_details);
    let input_time = |t: Option<chrono::DateTime<Utc>>| {
        t.map(|t| t.with_timezone(&tz).format("%Y-%m-%dT%H:%M").to_string()).unwrap_or_default()
    };
    let review = if is_lead && status == IncidentStatus::Resolved {
        match &form.key_times {
            // Refused: the form comes back as the lead typed it.
            Some(typed) => vec![
                ("impact_started_at", "Impact started", typed.impact_started_at.clone()),
                ("detected_at", "Detected", typed.detected_at.clone()),
                ("acknowledged_at", "Acknowledged", typed.acknowledged_at.clone()),
                ("mitigated_at", "Mitigated", typed.mitigated_at.clone()),
            ],
            None => vec![
                ("impact_started_at", "Impact started", input_time(Some(incident.impact_started_at))),
                ("detected_at", "Detected", input_time(Some(incident.detected_at))),
                ("acknowledged_at", "Acknowledged", input_time(incident.acknowledged_at)),
                ("mitigated_at", "Mitigated", input_time(incident.mitigated_at)),
            ],
        }
    } else {
        Vec::new()
    };
    let head = HeadView {
        impact_for: format_duration(now - incident.impact_started_at),
        impact_since: iso(incident.impact_started_at),
        pending_changes: if is_lead {
            change_views.iter().filter(|c: &&ChangeView| c.status == ChangeStatus::Pending).count()
        } else {
            0
        },
        overruns: task_views.iter().filter(|t| t.overrun.is_some()).map(|t| (t.id, t.title.clone())).collect(),
    };

    Ok(RoomPage {
        layout: layout.at("incidents"),
        severity: incident.severity(),
        status,
        components: component_names,
        clocks,
        moments,
        lead,
        note_taker,
        comms_lead,
        supporting,
        history,
        entries: entry_views,
        newest_first,
        tasks: task_views,
        changes: change_views,
        responders,
        warnings,
        can_write: user.role.allows(Role::Responder),
        is_lead,
        my_roles,
        errors,
        form,
        details,
        conflict,
        comms,
        panels,
        head,
        earlier,
        last_entry_id,
        panel_state,
        all_components,
        details_original,
        review,
        incident,
    })
}

pub async fn show(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    id: web::Path<IncidentId>,
    query: web::Query<RoomQuery>,
) -> Result<HttpResponse, AppError> {
    let newest_first = query.order != "oldest";
    let all = !query.all.is_empty();
    let page = build_with(&state, &user, layout, *id, newest_first, all, Feedback::default()).await?;
    render(StatusCode::OK, &page)
}
