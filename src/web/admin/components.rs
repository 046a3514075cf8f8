//! `/admin/components`: the services incidents affect and the status page
//! shows. Admins add and edit them, order them within groups, set their
//! status by hand and read each one's status history.

use std::collections::HashMap;

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::db::component_status;
use crate::db::components::{self, Component};
use crate::db::{ComponentId, IncidentId, MaintenanceId, incidents, maintenances, users};
use crate::domain::Role;
use crate::domain::status::ComponentStatus;
use crate::services::components::{self as svc, ComponentInput};
use crate::services::{FieldErrors, ServiceError};
use crate::web::AppState;
use crate::web::csrf::CsrfForm;
use crate::web::incidents::local_time;
use crate::web::session::{self, FlashKind};
use crate::web::{AppError, CurrentUser, Layout, render, see_other};

/// Routes beyond the list and create (which are in `web::configure`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/components/{id}", web::get().to(show))
        .route("/admin/components/{id}", web::post().to(update))
        .route("/admin/components/{id}/status", web::post().to(change_status));
}

/// The components of one group, in their order.
pub struct ComponentGroup {
    pub name: String,
    pub components: Vec<Component>,
}

/// Groups in name order (ungrouped first), components by position then name.
fn grouped(all: Vec<Component>) -> Vec<ComponentGroup> {
    let mut groups: Vec<ComponentGroup> = Vec::new();
    for c in all {
        match groups.last_mut() {
            Some(g) if g.name == c.group_name => g.components.push(c),
            _ => groups.push(ComponentGroup { name: c.group_name.clone(), components: vec![c] }),
        }
    }
    groups
}

/// The label of a stored status (the raw value should it be unknown).
pub fn status_label(status: &str) -> &str {
    ComponentStatus::parse(status).map(ComponentStatus::label).unwrap_or(status)
}

#[derive(Template)]
#[template(path = "admin/components.html")]
pub struct ComponentsPage {
    pub layout: Layout,
    pub groups: Vec<ComponentGroup>,
    pub group_names: Vec<String>,
    pub form: ComponentInput,
    pub errors: FieldErrors,
}

async fn page(
    state: &AppState,
    layout: Layout,
    form: ComponentInput,
    errors: FieldErrors,
) -> Result<ComponentsPage, AppError> {
    let mut conn = state.pool.get().await?;
    let groups = grouped(components::list(&mut conn).await?);
    let group_names = groups.iter().filter(|g| !g.name.is_empty()).map(|g| g.name.clone()).collect();
    Ok(ComponentsPage { layout: layout.at("admin"), groups, group_names, form, errors })
}

pub async fn list(state: web::Data<AppState>, user: CurrentUser, layout: Layout) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    render(StatusCode::OK, &page(&state, layout, ComponentInput::default(), FieldErrors::new()).await?)
}

pub async fn create(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    session: Session,
    CsrfForm(form): CsrfForm<ComponentInput>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    match svc::create(&state.pool, &user.actor(), &form).await {
        Ok(c) => {
            session::flash(&session, FlashKind::Success, format!("Added the component {}.", c.name));
            Ok(see_other("/admin/components"))
        }
        Err(ServiceError::Invalid(errors)) => {
            render(StatusCode::UNPROCESSABLE_ENTITY, &page(&state, layout, form, errors).await?)
        }
        Err(e) => Err(e.into()),
    }
}

/// One line of a component's status history.
pub struct HistoryRow {
    pub when: String,
    pub old_status: String,
    pub new_status: String,
    pub by: String,
    /// Where the change came from: an incident or a maintenance window.
    pub cause: Option<(String, String)>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct StatusForm {
    pub status: String,
    pub note: String,
}

#[derive(Template)]
#[template(path = "admin/components_edit.html")]
pub struct ComponentPage {
    pub layout: Layout,
    pub component: Component,
    pub form: ComponentInput,
    pub errors: FieldErrors,
    pub status_form: StatusForm,
    pub status_errors: FieldErrors,
    pub history: Vec<HistoryRow>,
    pub group_names: Vec<String>,
}

impl ComponentPage {
    pub fn statuses(&self) -> &'static [ComponentStatus] {
        ComponentStatus::ALL
    }
}

/// How many status changes the page shows.
const HISTORY: i64 = 50;

async fn history(
    conn: &mut diesel_async::AsyncPgConnection,
    id: ComponentId,
    tz: chrono_tz::Tz,
) -> Result<Vec<HistoryRow>, AppError> {
    let changes = component_status::recent_for(conn, id, HISTORY).await?;
    let names: HashMap<_, _> = users::display_names(conn).await?;
    let mut incident_titles: HashMap<IncidentId, String> = HashMap::new();
    let mut maintenance_titles: HashMap<MaintenanceId, String> = HashMap::new();
    let mut rows = Vec::with_capacity(changes.len());
    for ch in changes {
        let cause = if let Some(i) = ch.incident_id {
            let title = match incident_titles.get(&i) {
                Some(t) => t.clone(),
                None => {
                    let t = incidents::find(conn, i).await?.map(|x| x.title).unwrap_or_default();
                    incident_titles.insert(i, t.clone());
                    t
                }
            };
            Some((format!("/incidents/{i}"), format!("Incident #{i}: {title}")))
        } else if let Some(m) = ch.maintenance_id {
            let title = match maintenance_titles.get(&m) {
                Some(t) => t.clone(),
                None => {
                    let t = maintenances::find(conn, m).await?.map(|x| x.title).unwrap_or_default();
                    maintenance_titles.insert(m, t.clone());
                    t
                }
            };
            Some((format!("/maintenances/{m}"), format!("Maintenance: {title}")))
        } else {
            None
        };
        rows.push(HistoryRow {
            when: local_time(ch.changed_at, tz),
            by: match ch.changed_by {
                Some(u) => names.get(&u).cloned().unwrap_or_else(|| format!("user {u}")),
                None if ch.maintenance_id.is_some() => "the maintenance schedule".to_owned(),
                None => "Firebreak".to_owned(),
            },
            old_status: ch.old_status,
            new_status: ch.new_status,
            cause,
        });
    }
    Ok(rows)
}

/// What the component page needs to show again after a refused change.
#[derive(Default)]
struct Refused {
    form: Option<ComponentInput>,
    errors: FieldErrors,
    status_form: Option<StatusForm>,
    status_errors: FieldErrors,
}

async fn component_page(
    state: &AppState,
    user: &CurrentUser,
    layout: Layout,
    id: ComponentId,
    refused: Refused,
) -> Result<ComponentPage, AppError> {
    let mut conn = state.pool.get().await?;
    let component = components::find(&mut conn, id).await?.ok_or(AppError::NotFound)?;
    let history = history(&mut conn, id, user.time_zone).await?;
    let mut group_names: Vec<String> =
        components::list(&mut conn).await?.into_iter().map(|c| c.group_name).filter(|g| !g.is_empty()).collect();
    group_names.dedup();
    let form = refused.form.unwrap_or_else(|| ComponentInput {
        name: component.name.clone(),
        description: component.description.clone(),
        group_name: component.group_name.clone(),
        position: component.position.to_string(),
    });
    let status_form =
        refused.status_form.unwrap_or_else(|| StatusForm { status: component.status.clone(), note: String::new() });
    Ok(ComponentPage {
        layout: layout.at("admin"),
        component,
        form,
        errors: refused.errors,
        status_form,
        status_errors: refused.status_errors,
        history,
        group_names,
    })
}

pub async fn show(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    id: web::Path<ComponentId>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    render(StatusCode::OK, &component_page(&state, &user, layout, *id, Refused::default()).await?)
}

pub async fn update(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    session: Session,
    id: web::Path<ComponentId>,
    CsrfForm(form): CsrfForm<ComponentInput>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    match svc::update(&state.pool, &user.actor(), *id, &form).await {
        Ok(c) => {
            session::flash(&session, FlashKind::Success, format!("Saved the component {}.", c.name));
            Ok(see_other(&format!("/admin/components/{}", c.id)))
        }
        Err(ServiceError::Invalid(errors)) => {
            let refused = Refused { form: Some(form), errors, ..Default::default() };
            render(StatusCode::UNPROCESSABLE_ENTITY, &component_page(&state, &user, layout, *id, refused).await?)
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn change_status(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    session: Session,
    id: web::Path<ComponentId>,
    CsrfForm(form): CsrfForm<StatusForm>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    match svc::change_status(&state.pool, &user.actor(), *id, &form.status, &form.note).await {
        Ok((c, Some(old))) => {
            let message = format!(
                "{} is now {} (was {}).",
                c.name,
                status_label(&c.status).to_lowercase(),
                old.label().to_lowercase()
            );
            session::flash(&session, FlashKind::Success, message);
            Ok(see_other(&format!("/admin/components/{}", c.id)))
        }
        Ok((c, None)) => {
            let message =
                format!("{} was already {}; nothing changed.", c.name, status_label(&c.status).to_lowercase());
            session::flash(&session, FlashKind::Info, message);
            Ok(see_other(&format!("/admin/components/{}", c.id)))
        }
        Err(ServiceError::Invalid(errors)) => {
            let refused = Refused { status_form: Some(form), status_errors: errors, ..Default::default() };
            render(StatusCode::UNPROCESSABLE_ENTITY, &component_page(&state, &user, layout, *id, refused).await?)
        }
        Err(e) => Err(e.into()),
    }
}
