//! Follow-ups: the owner's email on assignment, editing a follow-up from
//! `/tasks/{id}`, and the daily overdue digest.
//!
//! The digest job runs on every instance; `followup_digests` (one row per
//! owner per UTC day, written in the transaction that queues the email) keeps
//! any owner from getting two digests on one day.

use chrono::{DateTime, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};

use super::incidents::{load_for_change, name_of, notify, parse_responder, record, require_responder};
use super::{Actor, FieldErrors, ServiceError};
use crate::config::Settings;
use crate::db::incidents::Incident;
use crate::db::outbox::{self, NewMessage};
use crate::db::tasks::{self, Task, TaskChanges};
use crate::db::users::User;
use crate::db::{DbPool, TaskId, UserId, incidents, users};
use crate::domain::Role;
use crate::domain::followups::{self as rules, DigestItem, Priority};
use crate::domain::incident::{
    self as incident_rules, EntryKind, RESTRICTED_TITLE, TaskKind, TaskStatus, format_duration,
};
use crate::domain::maintenance::{local_input_value, parse_local_time};
use crate::email::compose::{Email, link};

/// A moment for an email, in the recipient's time zone.
fn their_time(at: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
    at.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string()
}

/// The email telling someone they own a follow-up.
fn assignment_email(
    settings: &Settings,
    task: &Task,
    incident: &Incident,
    incident_title: &str,
    owner: &User,
    by: &str,
) -> Email {
    let tz = owner.time_zone();
    let mut facts = vec![format!("Priority: {}", task.priority().label())];
    if let Some(due) = task.due_at {
        facts.push(format!("Due: {}", their_time(due, tz)));
    }
    if let Some(url) = &task.ticket_url {
        facts.push(format!("Ticket: {url}"));
    }
    let mut body = format!(
        "{by} made you the owner of the follow-up “{}” from the incident “{}” (#{}).\n\n{}",
        task.title,
        incident_title,
        incident.id,
        facts.join("\n")
    );
    if !task.details.trim().is_empty() {
        body.push_str(&format!("\n\n{}", task.details.trim()));
    }
    body.push_str(&format!("\n\nAll your open tasks: {}", link(settings, "/tasks?mine=1")));
    Email {
        kind: "followup_assigned",
        subject: format!("Follow-up for you: {}", task.title),
        heading: format!("You own the follow-up “{}”", task.title),
        body,
        link_label: "Open the incident".to_owned(),
        link_url: link(settings, &format!("/incidents/{}#task-{}", incident.id, task.id)),
        footer: Some("You receive this because you were made the owner of a follow-up.".to_owned()),
        unsubscribe_url: None,
        incident_id: Some(incident.id),
        ..Default::default()
    }
}

/// Queues the owner's email (in the caller's transaction). Nobody is emailed
/// about a follow-up they gave themselves, nor when their account is disabled.
pub(crate) async fn notify_owner(
    conn: &mut AsyncPgConnection,
    settings: &Settings,
    task: &Task,
    incident: &Incident,
    owner: UserId,
    by: UserId,
) -> Result<(), ServiceError> {
    if owner == by || task.kind() != TaskKind::FollowUp {
        return Ok(());
    }
    let Some(user) = users::find(conn, owner).await? else { return Ok(()) };
    if user.disabled {
        return Ok(());
    }
    let by_name = name_of(conn, by).await?;
    let hidden = incidents::hidden_from(conn, user.id, user.role() == Role::Admin, &[incident.id]).await?;
    let title = if hidden.is_empty() { incident.title.as_str() } else { RESTRICTED_TITLE };
    let message = assignment_email(settings, task, incident, title, &user, &by_name)
        .to(settings, &user.display_name, &user.email)
        .map_err(anyhow::Error::from)?;
    outbox::enqueue(conn, &[message]).await?;
    Ok(())
}

/// The raw values of the follow-up edit form (`/tasks/{id}`).
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(default)]
pub struct FollowupInput {
    pub assignee: String,
    pub due_at: String,
    pub priority: String,
    pub ticket_url: String,
    pub status: String,
    /// The values the form showed when it was loaded (hidden fields): what
    /// this person changed is told apart from what others changed meanwhile.
    /// A form without them (a script) overwrites every field.
    pub was_assignee: Option<String>,
    pub was_due_at: Option<String>,
    pub was_priority: Option<String>,
    pub was_ticket_url: Option<String>,
    pub was_status: Option<String>,
}

impl FollowupInput {
    /// The form as it shows a follow-up, times in the viewer's time zone.
    pub fn of(task: &Task, tz: chrono_tz::Tz) -> Self {
        FollowupInput {
            assignee: task.assignee_id.map(|a| a.to_string()).unwrap_or_default(),
            due_at: task.due_at.map(|d| local_input_value(d, tz)).unwrap_or_default(),
            priority: task.priority.clone(),
            ticket_url: task.ticket_url.clone().unwrap_or_default(),
            status: task.status.clone(),
            ..FollowupInput::default()
        }
        .loaded_from(task, tz)
    }

    /// These values, as edits of the follow-up as it is now.
    pub fn loaded_from(mut self, task: &Task, tz: chrono_tz::Tz) -> Self {
        self.was_assignee = Some(task.assignee_id.map(|a| a.to_string()).unwrap_or_default());
        self.was_due_at = Some(task.due_at.map(|d| local_input_value(d, tz)).unwrap_or_default());
        self.was_priority = Some(task.priority.clone());
        self.was_ticket_url = Some(task.ticket_url.clone().unwrap_or_default());
        self.was_status = Some(task.status.clone());
        self
    }

    /// Each field: its name, this form's value and the value it was loaded with.
    fn fields(&self) -> [(&'static str, &str, Option<&str>); 5] {
        [
            ("assignee", &self.assignee, self.was_assignee.as_deref()),
            ("due_at", &self.due_at, self.was_due_at.as_deref()),
            ("priority", &self.priority, self.was_priority.as_deref()),
            ("ticket_url", &self.ticket_url, self.was_ticket_url.as_deref()),
            ("status", &self.status, self.was_status.as_deref()),
        ]
    }

    /// Whether this person changed `field` on the form.
    fn changed(&self, field: &str) -> bool {
        self.fields().iter().find(|(name, ..)| *name == field).is_none_or(|(_, mine, was)| edited(mine, *was))
    }
}

/// Whether a form value differs from the one the form was loaded with
/// (always, when the form did not say).
fn edited(mine: &str, was: Option<&str>) -> bool {
    was.is_none_or(|w| w.trim() != mine.trim())
}

/// The fields this form changed that someone else has meanwhile changed to
/// something else: saving would silently undo their change.
fn changed_meanwhile(input: &FollowupInput, now: &FollowupInput) -> FieldErrors {
    let mut stale = FieldErrors::new();
    for ((field, mine, was), (_, theirs, _)) in input.fields().into_iter().zip(now.fields()) {
        if let Some(was) = was
            && edited(mine, Some(was))
            && theirs.trim() != was.trim()
            && theirs.trim() != mine.trim()
        {
            stale.add(
                field,
                "Someone else changed this while you were editing (see “Now” above). \
                 Your value is kept here: save again to use it.",
            );
        }
    }
    stale
}

/// Saves a follow-up's owner, due date, priority, ticket and status in one
/// transaction with its timeline entry; a new owner is emailed. Only the
/// fields this person changed are written, so two people editing different
/// fields both keep their change; a field both changed is refused
/// (`ChangedMeanwhile`) rather than overwritten. A due date left as it was
/// may lie in the past (the follow-up is overdue); a changed one may not.
pub async fn update_followup(
    pool: &DbPool,
    settings: &Settings,
    actor: &Actor,
    tz: chrono_tz::Tz,
    id: TaskId,
    input: &FollowupInput,
) -> Result<Task, ServiceError> {
    let me = require_responder(actor)?;
    let now = Utc::now();
    let mut conn = pool.get().await?;
    let current = tasks::find(&mut conn, id).await?.ok_or(ServiceError::NotFound)?;
    if current.kind() != TaskKind::FollowUp {
        return Err(ServiceError::NotFound);
    }
    // Each value is checked only when this person changed it; `None` leaves
    // the field as it is.
    let mut errors = FieldErrors::new();
    let assignee = if input.changed("assignee") {
        match parse_responder(&mut conn, &input.assignee).await {
            Ok(a) => Some(a),
            Err(m) => {
                errors.add("assignee", m);
                None
            }
        }
    } else {
        None
    };
    let due = if input.changed("due_at") {
        let unchanged_due = current.due_at.filter(|d| local_input_value(*d, tz) == input.due_at.trim());
        match (unchanged_due, parse_local_time(&input.due_at, tz)) {
            (Some(d), _) => Some(d),
            (None, Ok(Some(d))) => errors.check("due_at", rules::check_due(d, now)).map(|()| d),
            (None, Ok(None)) => {
                errors.add("due_at", "Enter a due date.");
                None
            }
            (None, Err(m)) => {
                errors.add("due_at", m);
                None
            }
        }
    } else {
        None
    };
    let priority = input
        .changed("priority")
        .then(|| errors.check("priority", Priority::parse_or_default(&input.priority)))
        .flatten();
    let ticket = input
        .changed("ticket_url")
        .then(|| errors.check("ticket_url", incident_rules::parse_optional_url(&input.ticket_url)))
        .flatten();
    let status = input.changed("status").then(|| errors.check("status", TaskStatus::parse(&input.status))).flatten();
    if !errors.is_empty() {
        return Err(ServiceError::Invalid(errors));
    }
    conn.transaction(async |conn| {
        let incident = load_for_change(conn, actor, current.incident_id).await?;
        let before = tasks::find_in(conn, incident.id, id).await?.ok_or(ServiceError::NotFound)?;
        let stale = changed_meanwhile(input, &FollowupInput::of(&before, tz));
        if !stale.is_empty() {
            return Err(ServiceError::ChangedMeanwhile(stale));
        }
        let mut said = Vec::new();
        let mut changes = TaskChanges::default();
        if let Some(assignee) = assignee
            && before.assignee_id != assignee
        {
            changes.assignee_id = Some(assignee);
            said.push(match assignee {
                Some(a) => format!("owner {}", name_of(conn, a).await?),
                None => "no owner".to_owned(),
            });
        }
        if let Some(due) = due
            && before.due_at != Some(due)
        {
            changes.due_at = Some(Some(due));
            said.push(format!("due {}", their_time(due, tz)));
        }
        if let Some(priority) = priority
            && before.priority() != priority
        {
            changes.priority = Some(priority.as_str());
            said.push(format!("{} priority", priority.label().to_lowercase()));
        }
        if let Some(ticket) = &ticket
            && before.ticket_url != *ticket
        {
            changes.ticket_url = Some(ticket.as_deref());
            said.push(match ticket {
                Some(t) => format!("ticket {t}"),
                None => "no ticket".to_owned(),
            });
        }
        if let Some(status) = status
            && before.status() != status
        {
            changes.status = Some(status.as_str());
            changes.completed_at = Some(status.is_finished().then_some(now));
            if status == TaskStatus::InProgress && before.started_at.is_none() {
                changes.started_at = Some(now);
            }
            said.push(status.label().to_lowercase());
        }
        if said.is_empty() {
            return Ok(before);
        }
        let updated = tasks::update(conn, id, &changes).await?;
        let who = name_of(conn, me).await?;
        let body = format!("{who} updated the follow-up “{}”: {}.", updated.title, said.join(", "));
        record(conn, incident.id, Some(me), EntryKind::Task, &body, now).await?;
        if changes.assignee_id.is_some()
            && let Some(owner) = assignee.flatten()
        {
            notify_owner(conn, settings, &updated, &incident, owner, me).await?;
        }
        notify(conn, incident.id).await?;
        Ok(updated)
    })
    .await
}

/// The digest email for one owner.
fn digest_email(settings: &Settings, owner: &User, items: &[(Task, String)], now: DateTime<Utc>) -> Email {
    let tz = owner.time_zone();
    let listed: Vec<DigestItem> = items
        .iter()
        .map(|(t, incident)| DigestItem {
            title: t.title.clone(),
            incident: incident.clone(),
            priority: t.priority(),
            due: t.due_at.map(|d| their_time(d, tz)).unwrap_or_default(),
            overdue_by: t.due_at.map(|d| format_duration(now - d)).unwrap_or_default(),
        })
        .collect();
    let (subject, body) = rules::digest_text(&listed);
    Email {
        kind: "followup_digest",
        subject: format!("[Firebreak] {subject}"),
        heading: subject,
        body,
        link_label: "See your overdue follow-ups".to_owned(),
        link_url: link(settings, "/tasks?mine=1&overdue=1"),
        footer: Some("You receive this once a day while follow-ups you own are overdue.".to_owned()),
        unsubscribe_url: None,
        incident_id: None,
        ..Default::default()
    }
}

/// Queues today's digest (the UTC date of `now`) for every owner with overdue
/// follow-ups who has not had one today. Safe to run on several instances at
/// once: the ledger row and the email commit together, and a second
/// instance's insert waits for the first and then does nothing. Returns how
/// many digests this call queued.
pub async fn send_due_digests(pool: &DbPool, settings: &Settings, now: DateTime<Utc>) -> Result<usize, ServiceError> {
    let day = now.date_naive();
    let mut conn = pool.get().await?;
    let owners = tasks::owners_with_overdue_followups(&mut conn, now, day).await?;
    let mut sent = 0;
    for owner in owners {
        let queued = conn
            .transaction(async |conn| {
                let Some(user) = users::find(conn, owner).await?.filter(|u| !u.disabled) else {
                    return Ok::<_, ServiceError>(false);
                };
                let mut items = tasks::overdue_followups_of(conn, owner, now).await?;
                let ids: Vec<_> = items.iter().map(|(t, _)| t.incident_id).collect();
                let hidden = incidents::hidden_from(conn, owner, user.role() == Role::Admin, &ids).await?;
                for (task, title) in &mut items {
                    if hidden.contains(&task.incident_id) {
                        *title = RESTRICTED_TITLE.to_owned();
                    }
                }
                if items.is_empty() || !tasks::claim_digest(conn, owner, day).await? {
                    return Ok(false);
                }
                let message: NewMessage = digest_email(settings, &user, &items, now)
                    .to(settings, &user.display_name, &user.email)
                    .map_err(anyhow::Error::from)?;
                outbox::enqueue(conn, &[message]).await?;
                Ok(true)
            })
            .await?;
        sent += usize::from(queued);
    }
    Ok(sent)
}

/// Starts the digest job: every `settings.digest_interval` (first run at
/// start-up), queue the day's digests that are due.
pub fn spawn_digest_job(pool: DbPool, settings: Settings) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(settings.digest_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match send_due_digests(&pool, &settings, Utc::now()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(digests = n, "overdue follow-up digests queued"),
                Err(e) => tracing::warn!(error = %e, "the follow-up digest job could not run"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A form loaded with priority "medium" and no ticket.
    fn loaded() -> FollowupInput {
        FollowupInput {
            priority: "medium".into(),
            status: "open".into(),
            was_assignee: Some(String::new()),
            was_due_at: Some(String::new()),
            was_priority: Some("medium".into()),
            was_ticket_url: Some(String::new()),
            was_status: Some("open".into()),
            ..FollowupInput::default()
        }
    }

    fn now(priority: &str, ticket: &str) -> FollowupInput {
        FollowupInput {
            priority: priority.into(),
            ticket_url: ticket.into(),
            status: "open".into(),
            ..FollowupInput::default()
        }
    }

    #[test]
    fn only_a_field_both_people_changed_to_different_values_clashes() {
        let mine = FollowupInput { priority: "low".into(), ..loaded() };
        assert!(mine.changed("priority") && !mine.changed("ticket_url"));
        assert!(changed_meanwhile(&mine, &now("medium", "")).is_empty(), "nobody else changed it");
        assert!(changed_meanwhile(&mine, &now("medium", "https://t.example/1")).is_empty(), "another field");
        assert!(changed_meanwhile(&mine, &now("low", "")).is_empty(), "they chose the same");
        let clash = changed_meanwhile(&mine, &now("high", ""));
        assert!(clash.get("priority").is_some() && clash.get("ticket_url").is_none());
        let untouched = loaded();
        assert!(changed_meanwhile(&untouched, &now("high", "https://t.example/1")).is_empty(), "nothing of mine");
    }

    #[test]
    fn a_form_without_loaded_values_changes_every_field_and_never_clashes() {
        let script = FollowupInput { priority: "low".into(), ..FollowupInput::default() };
        assert!(script.changed("priority") && script.changed("status"));
        assert!(changed_meanwhile(&script, &now("high", "https://t.example/1")).is_empty());
    }
}
