//! Tasks in the room: mitigation attempts, clean-up and follow-ups.

use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection;

use super::{load_for_change, name_of, parse_responder, record_and_notify, require_responder};
use crate::db::tasks::{self, NewTask, Task, TaskChanges};
use crate::db::{DbPool, IncidentId, TaskId};
use crate::domain::followups as followup_rules;
use crate::domain::incident::{self as rules, EntryKind, TaskKind, TaskStatus};
use crate::services::{Actor, FieldErrors, ServiceError};

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
            crate::services::followups::notify_owner(conn, settings, &task, &incident, a, me).await?;
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
            crate::services::followups::notify_owner(conn, settings, &updated, &incident, a, me).await?;
        }
        record_and_notify(conn, id, me, EntryKind::Task, &body, now).await?;
        Ok(updated)
    })
    .await
}
