//! Runbooks: admins and responders write and edit them (optimistic locking on
//! `version`), and start one from a done mitigation task ("translate the
//! actions into instructions that can be reused"). Every change is audited.

use chrono::Utc;
use diesel_async::{AsyncConnection, AsyncPgConnection};

use super::incidents::{can_view, name_of, notify, record};
use super::{Actor, FieldErrors, ServiceError, audit};
use crate::db::ids::RunbookId;
use crate::db::runbooks::{self, NewRunbook, Runbook};
use crate::db::tasks::{self, Task};
use crate::db::{ComponentId, DbPool, TaskId, UserId, components, incidents};
use crate::domain::Role;
use crate::domain::incident::{EntryKind, TaskKind, TaskStatus};

/// The most alert names one runbook lists.
const MAX_ALERT_NAMES: usize = 50;
/// Longest steps text, in characters.
const MAX_STEPS: usize = 50_000;

/// The raw values of the runbook form.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(default)]
pub struct RunbookInput {
    pub title: String,
    pub steps: String,
    /// Component ids (checkboxes).
    pub components: Vec<String>,
    /// One alert name per line.
    pub alert_names: String,
    /// The version the edit was made on (edit form only).
    pub version: String,
    /// The done mitigation task it starts from (new form only).
    pub source_task: String,
    /// Which button was pressed: `preview` or `save`.
    pub action: String,
}

impl RunbookInput {
    /// The form showing a saved runbook.
    pub fn of(r: &Runbook, components: Vec<ComponentId>) -> Self {
        RunbookInput {
            title: r.title.clone(),
            steps: r.steps.clone(),
            components: components.iter().map(ToString::to_string).collect(),
            alert_names: r.alert_names.join("\n"),
            version: r.version.to_string(),
            source_task: String::new(),
            action: String::new(),
        }
    }

    pub fn is_preview(&self) -> bool {
        self.action == "preview"
    }
}

/// A one-line title of at most 200 characters.
pub fn parse_title(input: &str) -> Result<String, String> {
    let t = input.trim();
    if t.is_empty() {
        return Err("Give the runbook a title, e.g. \"Fail over the primary database\".".into());
    }
    if t.chars().count() > 200 {
        return Err("Keep the title under 200 characters.".into());
    }
    if t.chars().any(char::is_control) {
        return Err("The title must be one line.".into());
    }
    Ok(t.to_owned())
}

/// The steps (Markdown), with line endings made uniform.
pub fn parse_steps(input: &str) -> Result<String, String> {
    let steps = input.replace("\r\n", "\n").trim_end().trim_start_matches('\n').to_owned();
    if steps.trim().is_empty() {
        return Err("Write the steps: what to check, what to run, how to tell it worked.".into());
    }
    if steps.chars().count() > MAX_STEPS {
        return Err("Keep the steps under 50,000 characters; split them into several runbooks.".into());
    }
    Ok(steps)
}

/// Alert names, one per line (e.g. Alertmanager's `alertname`): blank lines
/// dropped, duplicates removed, the order kept.
pub fn parse_alert_names(input: &str) -> Result<Vec<String>, String> {
    let mut names: Vec<String> = Vec::new();
    for line in input.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if line.chars().count() > 200 || line.chars().any(char::is_control) {
            return Err(format!("“{}…” is not an alert name: keep each under 200 characters.", prefix(line)));
        }
        if !names.iter().any(|n| n == line) {
            names.push(line.to_owned());
        }
    }
    if names.len() > MAX_ALERT_NAMES {
        return Err(format!("List at most {MAX_ALERT_NAMES} alert names."));
    }
    Ok(names)
}

fn prefix(s: &str) -> String {
    s.chars().take(40).collect()
}

/// The first step a done mitigation task suggests: what was done, as an
/// instruction to reword for next time.
pub fn step_from_task(title: &str, details: &str) -> String {
    let mut step = format!("1. {}", title.trim());
    let details = details.replace("\r\n", "\n");
    let details = details.trim();
    if !details.is_empty() {
        step.push_str("\n\n");
        // Indented, the details stay part of the list item.
        let indented: Vec<String> =
            details.lines().map(|l| if l.trim().is_empty() { String::new() } else { format!("   {l}") }).collect();
        step.push_str(&indented.join("\n"));
    }
    step.push('\n');
    step
}

fn require_writer(actor: &Actor) -> Result<Option<UserId>, ServiceError> {
    if actor.role.allows(Role::Responder) {
        Ok(actor.id)
    } else {
        Err(ServiceError::Forbidden("only responders and admins write runbooks"))
    }
}

/// A done mitigation task of an incident the actor may see, or `None`.
pub async fn source_task(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: TaskId,
) -> Result<Option<(Task, incidents::Incident)>, ServiceError> {
    let Some(task) = tasks::find(conn, id).await? else { return Ok(None) };
    if task.kind() != TaskKind::Mitigation || task.status() != TaskStatus::Done {
        return Ok(None);
    }
    let Some(incident) = incidents::find(conn, task.incident_id).await? else { return Ok(None) };
    if !can_view(conn, &incident, actor).await? {
        return Ok(None);
    }
    Ok(Some((task, incident)))
}

struct Checked {
    title: String,
    steps: String,
    components: Vec<ComponentId>,
    alert_names: Vec<String>,
}

async fn check(conn: &mut AsyncPgConnection, input: &RunbookInput) -> Result<Checked, ServiceError> {
    let mut errors = FieldErrors::new();
    let title = errors.check("title", parse_title(&input.title));
    let steps = errors.check("steps", parse_steps(&input.steps));
    let alert_names = errors.check("alert_names", parse_alert_names(&input.alert_names));
    let mut ids = Vec::new();
    for c in &input.components {
        match c.trim().parse::<ComponentId>() {
            Ok(id) => ids.push(id),
            Err(_) => errors.add("components", "Choose components from the list."),
        }
    }
    ids.sort();
    ids.dedup();
    if !ids.is_empty() && components::existing(conn, &ids).await?.len() != ids.len() {
        errors.add("components", "One of the chosen components no longer exists.");
    }
    match (title, steps, alert_names) {
        (Some(title), Some(steps), Some(alert_names)) if errors.is_empty() => {
            Ok(Checked { title, steps, components: ids, alert_names })
        }
        _ => Err(ServiceError::Invalid(errors)),
    }
}

/// Writes a new runbook; when it starts from a done mitigation task, the
/// task's incident timeline says so.
pub async fn create(pool: &DbPool, actor: &Actor, input: &RunbookInput) -> Result<Runbook, ServiceError> {
    let me = require_writer(actor)?;
    let mut conn = pool.get().await?;
    let checked = check(&mut conn, input).await;
    let source = match input.source_task.trim() {
        "" => None,
        s => {
            let found = match s.parse::<TaskId>() {
                Ok(id) => source_task(&mut conn, actor, id).await?,
                Err(_) => None,
            };
            if found.is_none() {
                let mut errors = match checked {
                    Err(ServiceError::Invalid(e)) => e,
                    Err(e) => return Err(e),
                    Ok(_) => FieldErrors::new(),
                };
                errors
                    .add("source_task", "That task is not a done mitigation task you can see; remove the link to it.");
                return Err(ServiceError::Invalid(errors));
            }
            found
        }
    };
    let c = checked?;
    let now = Utc::now();
    conn.transaction(async |conn| {
        let runbook = runbooks::insert(
            conn,
            &NewRunbook {
                title: &c.title,
                steps: &c.steps,
                alert_names: &c.alert_names,
                source_task_id: source.as_ref().map(|(t, _)| t.id),
                created_by: me,
                updated_by: me,
            },
        )
        .await?;
        runbooks::set_components(conn, runbook.id, &c.components).await?;
        audit(conn, actor, "runbook.create", &runbook.title, &format!("runbook {}", runbook.id)).await?;
        if let (Some((task, incident)), Some(me)) = (&source, me) {
            let who = name_of(conn, me).await?;
            let body =
                format!("{who} turned the task “{}” into a step of the runbook “{}”.", task.title, runbook.title);
            record(conn, incident.id, Some(me), EntryKind::Task, &body, now).await?;
            notify(conn, incident.id).await?;
        }
        Ok(runbook)
    })
    .await
}

/// Saves an edit made on `input.version`; `Conflict` when someone else saved
/// in between (nothing written).
pub async fn update(
    pool: &DbPool,
    actor: &Actor,
    id: RunbookId,
    input: &RunbookInput,
) -> Result<Runbook, ServiceError> {
    let me = require_writer(actor)?;
    let mut conn = pool.get().await?;
    runbooks::find(&mut conn, id).await?.ok_or(ServiceError::NotFound)?;
    let c = check(&mut conn, input).await?;
    let version: i32 = input.version.trim().parse().map_err(|_| ServiceError::Conflict)?;
    conn.transaction(async |conn| {
        let Some(runbook) =
            runbooks::update_if_version(conn, id, version, &c.title, &c.steps, &c.alert_names, me).await?
        else {
            return Err(match runbooks::find(conn, id).await? {
                Some(_) => ServiceError::Conflict,
                None => ServiceError::NotFound,
            });
        };
        runbooks::set_components(conn, id, &c.components).await?;
        audit(conn, actor, "runbook.update", &runbook.title, &format!("runbook {id}, version {}", runbook.version))
            .await?;
        Ok(runbook)
    })
    .await
}

pub async fn delete(pool: &DbPool, actor: &Actor, id: RunbookId) -> Result<Runbook, ServiceError> {
    require_writer(actor)?;
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        let runbook = runbooks::delete(conn, id).await?.ok_or(ServiceError::NotFound)?;
        audit(conn, actor, "runbook.delete", &runbook.title, &format!("runbook {id}")).await?;
        Ok(runbook)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_names_are_one_per_line_without_blanks_or_repeats() {
        assert_eq!(
            parse_alert_names("HighErrorRate\r\n\n  DiskFull \nHighErrorRate\n"),
            Ok(vec!["HighErrorRate".to_owned(), "DiskFull".to_owned()])
        );
        assert_eq!(parse_alert_names(""), Ok(vec![]));
        assert!(parse_alert_names(&"x".repeat(201)).is_err());
        let many: String = (0..51).map(|i| format!("A{i}\n")).collect();
        assert!(parse_alert_names(&many).is_err());
    }

    #[test]
    fn titles_and_steps_are_required() {
        assert!(parse_title("  ").is_err());
        assert_eq!(parse_title(" Fail over "), Ok("Fail over".to_owned()));
        assert!(parse_steps(" \n ").is_err());
        assert_eq!(parse_steps("1. a\r\n2. b\r\n\r\n"), Ok("1. a\n2. b".to_owned()));
    }

    #[test]
    fn a_done_task_becomes_the_first_step_with_its_details_indented() {
        assert_eq!(step_from_task("Restart the workers", ""), "1. Restart the workers\n");
        assert_eq!(
            step_from_task("Restart the workers", "kubectl rollout restart\r\n\r\nwatch the queue"),
            "1. Restart the workers\n\n   kubectl rollout restart\n\n   watch the queue\n"
        );
    }
}
