//! `/admin/groups`: internal stakeholder groups and their members.

use actix_session::Session;
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::{self, ServiceConfig};
use askama::Template;

use crate::db::GroupId;
use crate::db::stakeholders::{self, Group, INCIDENT_REPORTS};
use crate::domain::Role;
use crate::services::stakeholders::{self as svc, GroupInput};
use crate::services::{FieldErrors, ServiceError};
use crate::web::AppState;
use crate::web::csrf::{CsrfForm, NoFields};
use crate::web::session::{self, FlashKind};
use crate::web::{AppError, CurrentUser, Layout, render, see_other};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.route("/admin/groups", web::get().to(list))
        .route("/admin/groups", web::post().to(create))
        .route("/admin/groups/{id}", web::get().to(show))
        .route("/admin/groups/{id}", web::post().to(update))
        .route("/admin/groups/{id}/delete", web::get().to(confirm_delete))
        .route("/admin/groups/{id}/delete", web::post().to(delete));
}

#[derive(Template)]
#[template(path = "admin/groups.html")]
pub struct GroupsPage {
    pub layout: Layout,
    pub groups: Vec<(Group, i64)>,
    pub form: GroupInput,
    pub errors: FieldErrors,
    pub incident_reports: &'static str,
    pub has_incident_reports: bool,
}

async fn groups_page(
    state: &AppState,
    layout: Layout,
    form: GroupInput,
    errors: FieldErrors,
) -> Result<GroupsPage, AppError> {
    let mut conn = state.pool.get().await?;
    let groups = stakeholders::groups_with_counts(&mut conn).await?;
    let has_incident_reports = groups.iter().any(|(g, _)| g.name.eq_ignore_ascii_case(INCIDENT_REPORTS));
    Ok(GroupsPage {
        layout: layout.at("admin"),
        groups,
        form,
        errors,
        incident_reports: INCIDENT_REPORTS,
        has_incident_reports,
    })
}

pub async fn list(state: web::Data<AppState>, user: CurrentUser, layout: Layout) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    render(StatusCode::OK, &groups_page(&state, layout, GroupInput::default(), FieldErrors::new()).await?)
}

pub async fn create(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    session: Session,
    CsrfForm(form): CsrfForm<GroupInput>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    match svc::create(&state.pool, &user.actor(), &form).await {
        Ok(g) => {
            session::flash(&session, FlashKind::Success, format!("Added the group {}.", g.name));
            Ok(see_other(&format!("/admin/groups/{}", g.id)))
        }
        Err(ServiceError::Invalid(errors)) => {
            render(StatusCode::UNPROCESSABLE_ENTITY, &groups_page(&state, layout, form, errors).await?)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "admin/groups_edit.html")]
pub struct GroupPage {
    pub layout: Layout,
    pub group: Group,
    pub member_count: usize,
    pub form: GroupInput,
    pub errors: FieldErrors,
    pub incident_reports: &'static str,
}

impl GroupPage {
    pub fn is_incident_reports(&self) -> bool {
        self.group.name.eq_ignore_ascii_case(INCIDENT_REPORTS)
    }
}

/// The members as the textarea shows them, one per line.
fn members_text(members: &[stakeholders::Member]) -> String {
    members
        .iter()
        .map(|m| if m.name.is_empty() { m.email.clone() } else { format!("{} <{}>", m.name, m.email) })
        .collect::<Vec<_>>()
        .join("\n")
}

async fn group_page(
    state: &AppState,
    layout: Layout,
    id: GroupId,
    refused: Option<(GroupInput, FieldErrors)>,
) -> Result<GroupPage, AppError> {
    let mut conn = state.pool.get().await?;
    let group = stakeholders::find_group(&mut conn, id).await?.ok_or(AppError::NotFound)?;
    let mut members = stakeholders::members_of(&mut conn, id).await?;
    // In the order they were typed.
    members.sort_by_key(|m| m.id);
    let (form, errors) = refused.unwrap_or_else(|| {
        let form = GroupInput {
            name: group.name.clone(),
            description: group.description.clone(),
            members: members_text(&members),
        };
        (form, FieldErrors::new())
    });
    Ok(GroupPage {
        layout: layout.at("admin"),
        group,
        member_count: members.len(),
        form,
        errors,
        incident_reports: INCIDENT_REPORTS,
    })
}

pub async fn show(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    id: web::Path<GroupId>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    render(StatusCode::OK, &group_page(&state, layout, *id, None).await?)
}

pub async fn update(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    session: Session,
    id: web::Path<GroupId>,
    CsrfForm(form): CsrfForm<GroupInput>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    match svc::update(&state.pool, &user.actor(), *id, &form).await {
        Ok(g) => {
            session::flash(&session, FlashKind::Success, format!("Saved the group {}.", g.name));
            Ok(see_other(&format!("/admin/groups/{}", g.id)))
        }
        Err(ServiceError::Invalid(errors)) => {
            render(StatusCode::UNPROCESSABLE_ENTITY, &group_page(&state, layout, *id, Some((form, errors))).await?)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "admin/groups_delete.html")]
pub struct DeletePage {
    pub layout: Layout,
    pub group: Group,
    pub member_count: usize,
}

pub async fn confirm_delete(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    id: web::Path<GroupId>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let mut conn = state.pool.get().await?;
    let group = stakeholders::find_group(&mut conn, *id).await?.ok_or(AppError::NotFound)?;
    let member_count = stakeholders::members_of(&mut conn, *id).await?.len();
    render(StatusCode::OK, &DeletePage { layout: layout.at("admin"), group, member_count })
}

pub async fn delete(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    id: web::Path<GroupId>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let group = svc::delete(&state.pool, &user.actor(), *id).await?;
    session::flash(&session, FlashKind::Success, format!("Deleted the group {}.", group.name));
    Ok(see_other("/admin/groups"))
}
