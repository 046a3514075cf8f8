//! `/tasks`: unfinished tasks across the incidents the viewer may see,
//! filtered in the query string (mine, overdue, incident, kind), and
//! `/tasks/{id}`: a follow-up's owner, due date, priority, ticket and status.

use actix_session::Session;
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::{self, ServiceConfig};
use askama::Template;
use chrono::Utc;
use serde::Deserialize;

use crate::db::tasks::{self, OpenTaskFilter, Task};
use crate::db::{IncidentId, TaskId, UserId, incidents, users};
use crate::domain::Role;
use crate::domain::followups::{Priority, is_overdue};
use crate::domain::incident::{TaskKind, TaskStatus};
use crate::services::followups::{self as svc, FollowupInput};
use crate::services::incidents::can_view;
use crate::services::{FieldErrors, ServiceError};
use crate::web::AppState;
use crate::web::csrf::CsrfForm;
use crate::web::incidents::local_time;
use crate::web::session::{self, FlashKind};
use crate::web::{AppError, CurrentUser, Layout, render, see_other};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.route("/tasks", web::get().to(list))
        .route("/tasks/{id}", web::get().to(edit_form))
        .route("/tasks/{id}", web::post().to(update));
}

/// The most rows the list shows.
const LIMIT: i64 = 500;

/// The filters, as the query string carries them (empty: any).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct TasksQuery {
    pub mine: String,
    pub overdue: String,
    pub incident: String,
    pub kind: String,
}

impl TasksQuery {
    pub fn is_mine(&self) -> bool {
        !self.mine.is_empty()
    }
    pub fn is_overdue(&self) -> bool {
        !self.overdue.is_empty()
    }
    fn incident_id(&self) -> Option<IncidentId> {
        self.incident.trim().parse().ok()
    }
    fn task_kind(&self) -> Option<TaskKind> {
        TaskKind::parse(&self.kind).ok()
    }
    pub fn any(&self) -> bool {
        self.is_mine() || self.is_overdue() || self.incident_id().is_some() || self.task_kind().is_some()
    }
}

/// One row of the list.
pub struct Row {
    pub id: TaskId,
    pub title: String,
    pub incident_id: IncidentId,
    pub incident: String,
    pub kind: TaskKind,
    pub status: TaskStatus,
    pub owner: String,
    /// Shown for follow-ups only.
    pub priority: Option<Priority>,
    pub due: String,
    pub overdue: bool,
    pub ticket_url: String,
}

impl Row {
    /// Follow-ups have their own page; other tasks live in the room.
    pub fn href(&self) -> String {
        if self.kind == TaskKind::FollowUp {
            format!("/tasks/{}", self.id)
        } else {
            format!("/incidents/{}#task-{}", self.incident_id, self.id)
        }
    }
}

#[derive(Template)]
#[template(path = "tasks/list.html")]
pub struct ListPage {
    pub layout: Layout,
    pub query: TasksQuery,
    pub rows: Vec<Row>,
    pub incidents: Vec<(IncidentId, String)>,
    pub limited: bool,
}

impl ListPage {
    pub fn kinds(&self) -> &'static [TaskKind] {
        TaskKind::ALL
    }
    pub fn kind_selected(&self, k: &TaskKind) -> bool {
        self.query.task_kind() == Some(*k)
    }
    pub fn incident_selected(&self, id: &IncidentId) -> bool {
        self.query.incident_id() == Some(*id)
    }
    /// What the list shows, in words (for the caption).
    pub fn describe(&self) -> String {
        let mut what = vec![if self.query.is_mine() { "my unfinished tasks" } else { "unfinished tasks" }.to_owned()];
        if self.query.is_overdue() {
            what.push("past their due date".to_owned());
        }
        if let Some(k) = self.query.task_kind() {
            what.push(format!("of kind {}", k.label().to_lowercase()));
        }
        if let Some(i) = self.query.incident_id() {
            what.push(format!("in incident #{i}"));
        }
        let mut s = what.join(" ");
        if let Some(first) = s.get(..1) {
            s = first.to_uppercase() + &s[1..];
        }
        s + ", soonest due first"
    }
}

pub async fn list(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    query: web::Query<TasksQuery>,
) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    let now = Utc::now();
    let filter = OpenTaskFilter {
        assignee: query.is_mine().then_some(user.id),
        due_before: query.is_overdue().then_some(now),
        incident: query.incident_id(),
        kind: query.task_kind().map(TaskKind::as_str),
    };
    let mut conn = state.pool.get().await?;
    let found = tasks::open_across(&mut conn, user.id, user.is_admin(), &filter, LIMIT + 1).await?;
    let incidents = tasks::incidents_with_open_tasks(&mut conn, user.id, user.is_admin()).await?;
    drop(conn);
    let limited = found.len() as i64 > LIMIT;
    let rows = found
        .into_iter()
        .take(LIMIT as usize)
        .map(|(t, incident, owner)| {
            let kind = t.kind();
            Row {
                id: t.id,
                incident_id: t.incident_id,
                incident,
                kind,
                status: t.status(),
                owner: owner.unwrap_or_default(),
                priority: (kind == TaskKind::FollowUp).then(|| t.priority()),
                due: t.due_at.map(|d| local_time(d, user.time_zone)).unwrap_or_default(),
                overdue: is_overdue(t.due_at, t.status(), now),
                ticket_url: t.ticket_url.unwrap_or_default(),
                title: t.title,
            }
        })
        .collect();
    render(StatusCode::OK, &ListPage { layout: layout.at("tasks"), query, rows, incidents, limited })
}

#[derive(Template)]
#[template(path = "tasks/edit.html")]
pub struct EditPage {
    pub layout: Layout,
    pub task: Task,
    pub incident_title: String,
    pub owner: String,
    pub due: String,
    pub overdue: bool,
    pub form: FollowupInput,
    pub errors: FieldErrors,
    pub responders: Vec<(UserId, String)>,
    pub can_write: bool,
    pub time_zone: String,
}

impl EditPage {
    pub fn priorities(&self) -> &'static [Priority] {
        Priority::ALL
    }
    pub fn statuses(&self) -> &'static [TaskStatus] {
        TaskStatus::ALL
    }
    pub fn owner_selected(&self, id: &UserId) -> bool {
        self.form.assignee.trim() == id.to_string()
    }
    pub fn priority_selected(&self, p: &Priority) -> bool {
        self.form.priority.trim() == p.as_str()
    }
    pub fn status_selected(&self, s: &TaskStatus) -> bool {
        self.form.status.trim() == s.as_str()
    }
}

/// Why a submitted follow-up form is shown again.
enum Refused {
    Invalid(FollowupInput, FieldErrors),
    ChangedMeanwhile(FollowupInput, FieldErrors),
}

/// The page for a follow-up the viewer may see; other tasks send them to the room.
async fn edit_page(
    state: &AppState,
    user: &CurrentUser,
    layout: Layout,
    id: TaskId,
    refused: Option<Refused>,
) -> Result<Result<EditPage, HttpResponse>, AppError> {
    let mut conn = state.pool.get().await?;
    let task = tasks::find(&mut conn, id).await?.ok_or(AppError::NotFound)?;
    let incident = incidents::find(&mut conn, task.incident_id).await?.ok_or(AppError::NotFound)?;
    if !can_view(&mut conn, &incident, &user.actor()).await? {
        return Err(AppError::NotFound);
    }
    if task.kind() != TaskKind::FollowUp {
        return Ok(Err(see_other(&format!("/incidents/{}#task-{}", incident.id, task.id))));
    }
    let all_users = users::list(&mut conn).await?;
    drop(conn);
    let owner = task
        .assignee_id
        .and_then(|a| all_users.iter().find(|u| u.id == a))
        .map(|u| u.display_name.clone())
        .unwrap_or_default();
    let responders = all_users
        .iter()
        .filter(|u| !u.disabled && u.role().allows(Role::Responder))
        .map(|u| (u.id, u.display_name.clone()))
        .collect();
    let (form, errors) = match refused {
        None => (FollowupInput::of(&task, user.time_zone), FieldErrors::new()),
        Some(Refused::Invalid(form, errors)) => (form, errors),
        // Their values stay in the form, now as edits of the follow-up as it is.
        Some(Refused::ChangedMeanwhile(form, errors)) => (form.loaded_from(&task, user.time_zone), errors),
    };
    Ok(Ok(EditPage {
        layout: layout.at("tasks"),
        incident_title: incident.title,
        owner,
        due: task.due_at.map(|d| local_time(d, user.time_zone)).unwrap_or_default(),
        overdue: is_overdue(task.due_at, task.status(), Utc::now()),
        form,
        errors,
        responders,
        can_write: user.role.allows(Role::Responder),
        time_zone: user.time_zone.name().to_owned(),
        task,
    }))
}

pub async fn edit_form(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    id: web::Path<TaskId>,
) -> Result<HttpResponse, AppError> {
    match edit_page(&state, &user, layout, *id, None).await? {
        Ok(page) => render(StatusCode::OK, &page),
        Err(redirect) => Ok(redirect),
    }
}

pub async fn update(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    session: Session,
    id: web::Path<TaskId>,
    CsrfForm(form): CsrfForm<FollowupInput>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Responder)?;
    match svc::update_followup(&state.pool, &state.settings, &user.actor(), user.time_zone, *id, &form).await {
        Ok(t) => {
            session::flash(&session, FlashKind::Success, format!("Saved the follow-up “{}”.", t.title));
            Ok(see_other(&format!("/tasks/{}", t.id)))
        }
        Err(ServiceError::Invalid(errors)) => {
            match edit_page(&state, &user, layout, *id, Some(Refused::Invalid(form, errors))).await? {
                Ok(page) => render(StatusCode::UNPROCESSABLE_ENTITY, &page),
                Err(redirect) => Ok(redirect),
            }
        }
        Err(ServiceError::ChangedMeanwhile(errors)) => {
            match edit_page(&state, &user, layout, *id, Some(Refused::ChangedMeanwhile(form, errors))).await? {
                Ok(page) => render(StatusCode::CONFLICT, &page),
                Err(redirect) => Ok(redirect),
            }
        }
        Err(e) => Err(e.into()),
    }
}
