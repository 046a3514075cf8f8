//! `/runbooks`: list, write, edit and delete runbooks; the room shows the
//! ones matching the incident's components or its alerts' names.

use std::collections::HashMap;

use actix_session::Session;
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::{self, ServiceConfig};
use askama::Template;
use serde::Deserialize;

use crate::db::components::{self, Component};
use crate::db::ids::RunbookId;
use crate::db::runbooks::{self, Runbook};
use crate::db::{ComponentId, IncidentId, TaskId, users};
use crate::domain::Role;
use crate::domain::markdown::to_safe_html;
use crate::services::runbooks::{self as svc, RunbookInput, step_from_task};
use crate::services::{FieldErrors, ServiceError};
use crate::web::AppState;
use crate::web::csrf::{CsrfForm, NoFields};
use crate::web::incidents::local_time;
use crate::web::session::{self, FlashKind};
use crate::web::{AppError, CurrentUser, Layout, render, see_other};

pub fn configure(cfg: &mut ServiceConfig) {
    // `new` before `{id}`: the first matching route handles the request.
    cfg.route("/runbooks", web::get().to(list))
        .route("/runbooks", web::post().to(create))
        .route("/runbooks/new", web::get().to(new_form))
        .route("/runbooks/{id}", web::get().to(show))
        .route("/runbooks/{id}", web::post().to(update))
        .route("/runbooks/{id}/edit", web::get().to(edit_form))
        .route("/runbooks/{id}/delete", web::get().to(confirm_delete))
        .route("/runbooks/{id}/delete", web::post().to(delete));
}

/// A runbook in the list.
pub struct ListRow {
    pub runbook: Runbook,
    pub components: Vec<String>,
    pub updated: String,
}

#[derive(Template)]
#[template(path = "runbooks/list.html")]
pub struct ListPage {
    pub layout: Layout,
    pub rows: Vec<ListRow>,
    pub can_write: bool,
}

/// Component names per runbook.
async fn component_names(
    conn: &mut diesel_async::AsyncPgConnection,
    ids: &[RunbookId],
) -> Result<HashMap<RunbookId, Vec<(ComponentId, String)>>, AppError> {
    let mut out: HashMap<RunbookId, Vec<(ComponentId, String)>> = HashMap::new();
    for (r, c, name) in runbooks::components_of(conn, ids).await? {
        out.entry(r).or_default().push((c, name));
    }
    Ok(out)
}

pub async fn list(state: web::Data<AppState>, user: CurrentUser, layout: Layout) -> Result<HttpResponse, AppError> {
    let mut conn = state.pool.get().await?;
    let all = runbooks::list(&mut conn).await?;
    let ids: Vec<RunbookId> = all.iter().map(|r| r.id).collect();
    let mut names = component_names(&mut conn, &ids).await?;
    drop(conn);
    let rows = all
        .into_iter()
        .map(|r| ListRow {
            components: names.remove(&r.id).unwrap_or_default().into_iter().map(|(_, n)| n).collect(),
            updated: local_time(r.updated_at, user.time_zone),
            runbook: r,
        })
        .collect();
    render(
        StatusCode::OK,
        &ListPage { layout: layout.at("runbooks"), rows, can_write: user.role.allows(Role::Responder) },
    )
}

/// Where a new runbook came from: a done mitigation task.
pub struct SourceView {
    pub task_id: TaskId,
    pub task_title: String,
    pub incident_id: IncidentId,
    pub incident_title: String,
}

#[derive(Template)]
#[template(path = "runbooks/form.html")]
pub struct FormPage {
    pub layout: Layout,
    /// `None` for a new runbook.
    pub runbook_id: Option<RunbookId>,
    pub form: RunbookInput,
    pub errors: FieldErrors,
    pub components: Vec<Component>,
    pub source: Option<SourceView>,
    /// The steps rendered, when "Preview" was pressed.
    pub preview: Option<String>,
    /// Someone else's save, when theirs came first.
    pub conflict: Option<Runbook>,
}

impl FormPage {
    pub fn component_checked(&self, id: &ComponentId) -> bool {
        self.form.components.iter().any(|c| c.trim() == id.to_string())
    }
    pub fn action(&self) -> String {
        match self.runbook_id {
            Some(id) => format!("/runbooks/{id}"),
            None => "/runbooks".to_owned(),
        }
    }
    pub fn heading(&self) -> String {
        match self.runbook_id {
            Some(_) => format!("Edit “{}”", self.form.title),
            None => "Write a runbook".to_owned(),
        }
    }
    /// `aria-describedby` of a field: its hint, and its error when refused.
    pub fn described_by(&self, field: &str) -> String {
        let hint = format!("{}-hint", field.replace('_', "-"));
        if self.errors.get(field).is_some() { format!("{}-error {hint}", field.replace('_', "-")) } else { hint }
    }
}

async fn form_page(
    state: &AppState,
    layout: Layout,
    user: &CurrentUser,
    runbook_id: Option<RunbookId>,
    form: RunbookInput,
    errors: FieldErrors,
) -> Result<FormPage, AppError> {
    let mut conn = state.pool.get().await?;
    let components = components::list(&mut conn).await?;
    let source = match form.source_task.trim().parse::<TaskId>() {
        Ok(t) => svc::source_task(&mut conn, &user.actor(), t).await?.map(|(task, incident)| SourceView {
            task_id: task.id,
            task_title: task.title,
            incident_id: incident.id,
            incident_title: incident.title,
        }),
        Err(_) => None,
    };
    let preview = form.is_preview().then(|| to_safe_html(&form.steps));
    Ok(FormPage {
        layout: layout.at("runbooks"),
        runbook_id,
        form,
        errors,
        components,
        source,
        preview,
        conflict: None,
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NewQuery {
    /// A done mitigation task to start from ("Turn into runbook step").
    pub task: String,
}

pub async fn new_form(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    query: web::Query<NewQuery>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Responder)?;
    let mut form = RunbookInput::default();
    if !query.task.trim().is_empty() {
        let id: TaskId = query.task.trim().parse().map_err(|_| AppError::NotFound)?;
        let mut conn = state.pool.get().await?;
        let (task, incident) = svc::source_task(&mut conn, &user.actor(), id).await?.ok_or(AppError::NotFound)?;
        let incident_components = components::for_incident(&mut conn, incident.id).await?;
        form.title = task.title.clone();
        form.steps = step_from_task(&task.title, &task.details);
        form.components = incident_components.iter().map(|c| c.id.to_string()).collect();
        form.source_task = task.id.to_string();
    }
    render(StatusCode::OK, &form_page(&state, layout, &user, None, form, FieldErrors::new()).await?)
}

pub async fn create(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    session: Session,
    CsrfForm(form): CsrfForm<RunbookInput>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Responder)?;
    if form.is_preview() {
        return render(StatusCode::OK, &form_page(&state, layout, &user, None, form, FieldErrors::new()).await?);
    }
    match svc::create(&state.pool, &user.actor(), &form).await {
        Ok(r) => {
            session::flash(&session, FlashKind::Success, format!("Saved the runbook “{}”.", r.title));
            Ok(see_other(&format!("/runbooks/{}", r.id)))
        }
        Err(ServiceError::Invalid(errors)) => {
            render(StatusCode::UNPROCESSABLE_ENTITY, &form_page(&state, layout, &user, None, form, errors).await?)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "runbooks/show.html")]
pub struct ShowPage {
    pub layout: Layout,
    pub runbook: Runbook,
    pub steps_html: String,
    pub components: Vec<String>,
    pub updated: String,
    pub updated_by: String,
    /// The incident and task it was started from.
    pub source: Option<(IncidentId, TaskId, String)>,
    pub can_write: bool,
}

pub async fn show(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    id: web::Path<RunbookId>,
) -> Result<HttpResponse, AppError> {
    let mut conn = state.pool.get().await?;
    let runbook = runbooks::find(&mut conn, *id).await?.ok_or(AppError::NotFound)?;
    let components =
        component_names(&mut conn, &[runbook.id]).await?.remove(&runbook.id).unwrap_or_default().into_iter();
    let updated_by = match runbook.updated_by {
        Some(u) => users::find(&mut conn, u).await?.map(|u| u.display_name).unwrap_or_default(),
        None => String::new(),
    };
    // The source task is named only to people who may see its incident.
    let source = match runbook.source_task_id {
        Some(t) => svc::source_task(&mut conn, &user.actor(), t)
            .await?
            .map(|(task, incident)| (incident.id, task.id, task.title)),
        None => None,
    };
    drop(conn);
    let page = ShowPage {
        layout: layout.at("runbooks"),
        steps_html: to_safe_html(&runbook.steps),
        components: components.map(|(_, n)| n).collect(),
        updated: local_time(runbook.updated_at, user.time_zone),
        updated_by,
        source,
        can_write: user.role.allows(Role::Responder),
        runbook,
    };
    render(StatusCode::OK, &page)
}

pub async fn edit_form(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    id: web::Path<RunbookId>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Responder)?;
    let mut conn = state.pool.get().await?;
    let runbook = runbooks::find(&mut conn, *id).await?.ok_or(AppError::NotFound)?;
    let ids = runbooks::components_of(&mut conn, &[runbook.id]).await?.into_iter().map(|(_, c, _)| c).collect();
    drop(conn);
    let form = RunbookInput::of(&runbook, ids);
    render(StatusCode::OK, &form_page(&state, layout, &user, Some(runbook.id), form, FieldErrors::new()).await?)
}

pub async fn update(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    session: Session,
    id: web::Path<RunbookId>,
    CsrfForm(mut form): CsrfForm<RunbookInput>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Responder)?;
    if form.is_preview() {
        return render(StatusCode::OK, &form_page(&state, layout, &user, Some(*id), form, FieldErrors::new()).await?);
    }
    // Editing never re-links a source task.
    form.source_task.clear();
    match svc::update(&state.pool, &user.actor(), *id, &form).await {
        Ok(r) => {
            session::flash(&session, FlashKind::Success, format!("Saved the runbook “{}”.", r.title));
            Ok(see_other(&format!("/runbooks/{}", r.id)))
        }
        Err(ServiceError::Invalid(errors)) => {
            render(StatusCode::UNPROCESSABLE_ENTITY, &form_page(&state, layout, &user, Some(*id), form, errors).await?)
        }
        Err(ServiceError::Conflict) => {
            // Nothing of theirs or yours is lost: theirs is shown, yours stays
            // in the form on top of their version, so saving again is a choice.
            let mut conn = state.pool.get().await?;
            let theirs = runbooks::find(&mut conn, *id).await?.ok_or(AppError::NotFound)?;
            drop(conn);
            form.version = theirs.version.to_string();
            let errors = FieldErrors::single(
                "version",
                "Someone else saved this runbook while you were editing. Nothing of yours was saved yet: compare both versions, then save again.",
            );
            let mut page = form_page(&state, layout, &user, Some(*id), form, errors).await?;
            page.conflict = Some(theirs);
            render(StatusCode::CONFLICT, &page)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "runbooks/delete.html")]
pub struct DeletePage {
    pub layout: Layout,
    pub runbook: Runbook,
}

pub async fn confirm_delete(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    id: web::Path<RunbookId>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Responder)?;
    let mut conn = state.pool.get().await?;
    let runbook = runbooks::find(&mut conn, *id).await?.ok_or(AppError::NotFound)?;
    render(StatusCode::OK, &DeletePage { layout: layout.at("runbooks"), runbook })
}

pub async fn delete(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    id: web::Path<RunbookId>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Responder)?;
    let runbook = svc::delete(&state.pool, &user.actor(), *id).await?;
    session::flash(&session, FlashKind::Success, format!("Deleted the runbook “{}”.", runbook.title));
    Ok(see_other("/runbooks"))
}

/// A runbook as the room lists it.
pub struct PanelItem {
    pub id: RunbookId,
    pub title: String,
    /// Why it is listed: "component Checkout; alert HighErrorRate".
    pub why: String,
    pub steps_html: String,
}

#[derive(Template)]
#[template(path = "runbooks/room_panel.html")]
pub struct RoomPanel {
    pub items: Vec<PanelItem>,
    pub can_write: bool,
}

/// The card this area adds to the incident room: the runbooks for the
/// incident's components or for the names of the alerts attached to it.
pub async fn room_panel(
    conn: &mut diesel_async::AsyncPgConnection,
    incident: &crate::db::incidents::Incident,
    user: &crate::web::CurrentUser,
) -> Result<String, crate::web::AppError> {
    let incident_components = components::for_incident(conn, incident.id).await?;
    let component_ids: Vec<ComponentId> = incident_components.iter().map(|c| c.id).collect();
    let alert_names = runbooks::alert_names_of_incident(conn, incident.id).await?;
    let found = runbooks::matching(conn, &component_ids, &alert_names).await?;
    let ids: Vec<RunbookId> = found.iter().map(|r| r.id).collect();
    let mut names = component_names(conn, &ids).await?;
    let items = found
        .into_iter()
        .map(|r| {
            let mut why: Vec<String> = names
                .remove(&r.id)
                .unwrap_or_default()
                .into_iter()
                .filter(|(c, _)| component_ids.contains(c))
                .map(|(_, n)| format!("component {n}"))
                .collect();
            why.extend(r.alert_names.iter().filter(|a| alert_names.contains(a)).map(|a| format!("alert {a}")));
            PanelItem { id: r.id, title: r.title, why: why.join("; "), steps_html: to_safe_html(&r.steps) }
        })
        .collect();
    RoomPanel { items, can_write: user.role.allows(Role::Responder) }.render().map_err(AppError::unexpected)
}
