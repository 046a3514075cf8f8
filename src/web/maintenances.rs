//! `/maintenances`: scheduled maintenance windows. Everyone signed in sees
//! them; responders and admins plan, edit, cancel and complete them.

use std::collections::HashMap;

use actix_session::Session;
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::{self, ServiceConfig};
use askama::Template;

use crate::db::components::{self, Component};
use crate::db::maintenances::{self, Maintenance};
use crate::db::{ComponentId, MaintenanceId, users};
use crate::domain::Role;
use crate::domain::maintenance::local_input_value;
use crate::domain::status::MaintenanceStatus;
use crate::services::maintenance::{self as svc, MaintenanceInput};
use crate::services::{FieldErrors, ServiceError};
use crate::web::AppState;
use crate::web::csrf::{CsrfForm, NoFields};
use crate::web::incidents::local_time;
use crate::web::session::{self, FlashKind};
use crate::web::{AppError, CurrentUser, Layout, render, see_other};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.route("/maintenances", web::get().to(list))
        .route("/maintenances", web::post().to(create))
        .route("/maintenances/new", web::get().to(new_form))
        .route("/maintenances/{id}", web::get().to(show))
        .route("/maintenances/{id}", web::post().to(update))
        .route("/maintenances/{id}/cancel", web::post().to(cancel))
        .route("/maintenances/{id}/complete", web::post().to(complete));
}

/// How many finished windows the list shows.
const PAST: i64 = 30;

/// A window as people read it, times in their time zone.
pub struct WindowView {
    pub id: MaintenanceId,
    pub title: String,
    pub message: String,
    pub status: MaintenanceStatus,
    pub starts: String,
    pub ends: String,
    pub started: Option<String>,
    pub completed: Option<String>,
    pub components: Vec<String>,
    pub created_by: String,
}

async fn views(
    conn: &mut diesel_async::AsyncPgConnection,
    windows: Vec<Maintenance>,
    tz: chrono_tz::Tz,
) -> Result<Vec<WindowView>, AppError> {
    let ids: Vec<MaintenanceId> = windows.iter().map(|m| m.id).collect();
    let mut names: HashMap<MaintenanceId, Vec<String>> = HashMap::new();
    for (m, _, name) in maintenances::component_names(conn, &ids).await? {
        names.entry(m).or_default().push(name);
    }
    let people: HashMap<_, _> = users::display_names(conn).await?;
    Ok(windows
        .into_iter()
        .map(|m| WindowView {
            id: m.id,
            status: m.status(),
            starts: local_time(m.starts_at, tz),
            ends: local_time(m.ends_at, tz),
            started: m.started_at.map(|t| local_time(t, tz)),
            completed: m.completed_at.map(|t| local_time(t, tz)),
            components: names.remove(&m.id).unwrap_or_default(),
            created_by: m.created_by.and_then(|u| people.get(&u).cloned()).unwrap_or_default(),
            title: m.title,
            message: m.message,
        })
        .collect())
}

#[derive(Template)]
#[template(path = "maintenances/list.html")]
pub struct ListPage {
    pub layout: Layout,
    pub can_plan: bool,
    pub in_progress: Vec<WindowView>,
    pub upcoming: Vec<WindowView>,
    pub past: Vec<WindowView>,
}

pub async fn list(state: web::Data<AppState>, user: CurrentUser, layout: Layout) -> Result<HttpResponse, AppError> {
    let mut conn = state.pool.get().await?;
    let current = maintenances::current(&mut conn).await?;
    let current = views(&mut conn, current, user.time_zone).await?;
    let past = maintenances::past(&mut conn, PAST).await?;
    let past = views(&mut conn, past, user.time_zone).await?;
    let (in_progress, upcoming) = current.into_iter().partition(|w| w.status == MaintenanceStatus::InProgress);
    render(
        StatusCode::OK,
        &ListPage {
            layout: layout.at("maintenances"),
            can_plan: user.role.allows(Role::Responder),
            in_progress,
            upcoming,
            past,
        },
    )
}

#[derive(Template)]
#[template(path = "maintenances/new.html")]
pub struct NewPage {
    pub layout: Layout,
    pub form: MaintenanceInput,
    pub errors: FieldErrors,
    pub components: Vec<Component>,
    pub time_zone: String,
}

impl NewPage {
    pub fn component_checked(&self, id: &ComponentId) -> bool {
        self.form.components.iter().any(|c| c.trim() == id.to_string())
    }
}

async fn new_page(
    state: &AppState,
    user: &CurrentUser,
    layout: Layout,
    form: MaintenanceInput,
    errors: FieldErrors,
) -> Result<NewPage, AppError> {
    let mut conn = state.pool.get().await?;
    let components = components::list(&mut conn).await?;
    Ok(NewPage {
        layout: layout.at("maintenances"),
        form,
        errors,
        components,
        time_zone: user.time_zone.name().to_owned(),
    })
}

pub async fn new_form(state: web::Data<AppState>, user: CurrentUser, layout: Layout) -> Result<HttpResponse, AppError> {
    user.require(Role::Responder)?;
    render(StatusCode::OK, &new_page(&state, &user, layout, MaintenanceInput::new_window(), FieldErrors::new()).await?)
}

pub async fn create(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    session: Session,
    CsrfForm(form): CsrfForm<MaintenanceInput>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Responder)?;
    match svc::create(&state.pool, &state.settings, &user.actor(), user.time_zone, &form).await {
        Ok(m) => {
            session::flash(&session, FlashKind::Success, format!("Scheduled the maintenance {}.", m.title));
            Ok(see_other(&format!("/maintenances/{}", m.id)))
        }
        Err(ServiceError::Invalid(errors)) => {
            render(StatusCode::UNPROCESSABLE_ENTITY, &new_page(&state, &user, layout, form, errors).await?)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "maintenances/show.html")]
pub struct ShowPage {
    pub layout: Layout,
    pub window: WindowView,
    pub can_change: bool,
    pub form: MaintenanceInput,
    pub errors: FieldErrors,
    pub components: Vec<Component>,
    pub time_zone: String,
}

impl ShowPage {
    pub fn component_checked(&self, id: &ComponentId) -> bool {
        self.form.components.iter().any(|c| c.trim() == id.to_string())
    }
}

async fn show_page(
    state: &AppState,
    user: &CurrentUser,
    layout: Layout,
    id: MaintenanceId,
    refused: Option<(MaintenanceInput, FieldErrors)>,
) -> Result<ShowPage, AppError> {
    let mut conn = state.pool.get().await?;
    let m = maintenances::find(&mut conn, id).await?.ok_or(AppError::NotFound)?;
    let tz = user.time_zone;
    let chosen = maintenances::component_ids(&mut conn, id).await?;
    let (form, errors) = refused.unwrap_or_else(|| {
        let form = MaintenanceInput {
            title: m.title.clone(),
            message: m.message.clone(),
            starts_at: local_input_value(m.starts_at, tz),
            ends_at: local_input_value(m.ends_at, tz),
            components: chosen.iter().map(ToString::to_string).collect(),
            notify: [
                (m.notify_scheduled, "scheduled"),
                (m.notify_started, "started"),
                (m.notify_completed, "completed"),
            ]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, n)| (*n).to_owned())
            .collect(),
            notify_shown: "1".to_owned(),
        };
        (form, FieldErrors::new())
    });
    let components = components::list(&mut conn).await?;
    let window = views(&mut conn, vec![m], tz).await?.pop().ok_or(AppError::NotFound)?;
    Ok(ShowPage {
        layout: layout.at("maintenances"),
        window,
        can_change: user.role.allows(Role::Responder),
        form,
        errors,
        components,
        time_zone: tz.name().to_owned(),
    })
}

pub async fn show(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    id: web::Path<MaintenanceId>,
) -> Result<HttpResponse, AppError> {
    render(StatusCode::OK, &show_page(&state, &user, layout, *id, None).await?)
}

pub async fn update(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    session: Session,
    id: web::Path<MaintenanceId>,
    CsrfForm(form): CsrfForm<MaintenanceInput>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Responder)?;
    match svc::update(&state.pool, &user.actor(), user.time_zone, *id, &form).await {
        Ok(m) => {
            session::flash(&session, FlashKind::Success, format!("Saved the maintenance {}.", m.title));
            Ok(see_other(&format!("/maintenances/{}", m.id)))
        }
        Err(ServiceError::Invalid(errors)) if errors.get("status").is_some() => {
            // It started (or ended) meanwhile: say so on the fresh page.
            session::flash(&session, FlashKind::Error, errors.get("status").unwrap_or_default());
            Ok(see_other(&format!("/maintenances/{}", *id)))
        }
        Err(ServiceError::Invalid(errors)) => render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &show_page(&state, &user, layout, *id, Some((form, errors))).await?,
        ),
        Err(e) => Err(e.into()),
    }
}

/// The ending of cancel and complete: a flash and back to the window.
fn finish(
    session: &Session,
    id: MaintenanceId,
    result: Result<Maintenance, ServiceError>,
    done: &str,
) -> Result<HttpResponse, AppError> {
    match result {
        Ok(m) => session::flash(session, FlashKind::Success, format!("{done} the maintenance {}.", m.title)),
        Err(ServiceError::Invalid(errors)) => {
            session::flash(session, FlashKind::Error, errors.get("status").unwrap_or("Nothing was changed."))
        }
        Err(e) => return Err(e.into()),
    }
    Ok(see_other(&format!("/maintenances/{id}")))
}

pub async fn cancel(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    id: web::Path<MaintenanceId>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Responder)?;
    let result = svc::cancel(&state.pool, &user.actor(), *id).await;
    finish(&session, *id, result, "Cancelled")
}

pub async fn complete(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    id: web::Path<MaintenanceId>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Responder)?;
    let result = svc::complete(&state.pool, &state.settings, &user.actor(), *id).await;
    finish(&session, *id, result, "Completed")
}
