//! `/oncall/policies`: escalation policies and their steps; `/oncall/routing`:
//! which policy pages for each alert source and, by default, each severity.

use actix_session::Session;
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::{self, ServiceConfig};
use askama::Template;
use serde::Deserialize;

use crate::db::escalation::{self, Policy, Target};
use crate::db::ids::AlertSourceId;
use crate::db::schedules::{self, Schedule};
use crate::db::{PolicyId, users};
use crate::domain::Role;
use crate::services::oncall::{self as svc, PolicyInput, StepInput};
use crate::services::{FieldErrors, ServiceError};
use crate::web::AppState;
use crate::web::csrf::{CsrfForm, NoFields};
use crate::web::session::{self, FlashKind};
use crate::web::{AppError, CurrentUser, Layout, render, see_other};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.route("/oncall/policies", web::get().to(list))
        .route("/oncall/policies", web::post().to(create))
        .route("/oncall/policies/{id}", web::get().to(show))
        .route("/oncall/policies/{id}/steps", web::post().to(add_step))
        .route("/oncall/policies/{id}/steps/{step}/delete", web::post().to(delete_step))
        .route("/oncall/routing", web::get().to(routing))
        .route("/oncall/routing/sources/{id}", web::post().to(set_source))
        .route("/oncall/routing/severities/{level}", web::post().to(set_severity));
}

#[derive(Template)]
#[template(path = "oncall/policies.html")]
pub struct ListPage {
    pub layout: Layout,
    pub policies: Vec<Policy>,
    pub can_admin: bool,
    pub form: PolicyInput,
    pub errors: FieldErrors,
}

async fn list_page(
    state: &AppState,
    user: &CurrentUser,
    layout: Layout,
    form: PolicyInput,
    errors: FieldErrors,
) -> Result<ListPage, AppError> {
    let mut conn = state.pool.get().await?;
    let policies = escalation::list(&mut conn).await?;
    Ok(ListPage { layout: layout.at("oncall"), policies, can_admin: user.is_admin(), form, errors })
}

pub async fn list(state: web::Data<AppState>, user: CurrentUser, layout: Layout) -> Result<HttpResponse, AppError> {
    let form = PolicyInput { repeat_count: "0".to_owned(), ..Default::default() };
    render(StatusCode::OK, &list_page(&state, &user, layout, form, FieldErrors::new()).await?)
}

pub async fn create(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    session: Session,
    CsrfForm(form): CsrfForm<PolicyInput>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    match svc::create_policy(&state.pool, &user.actor(), &form).await {
        Ok(p) => {
            session::flash(&session, FlashKind::Success, format!("Policy “{}” created. Add its steps.", p.name));
            Ok(see_other(&format!("/oncall/policies/{}", p.id)))
        }
        Err(ServiceError::Invalid(errors)) => {
            render(StatusCode::UNPROCESSABLE_ENTITY, &list_page(&state, &user, layout, form, errors).await?)
        }
        Err(e) => Err(e.into()),
    }
}

pub struct StepRow {
    pub id: i64,
    pub number: usize,
    pub wait_minutes: i32,
    pub targets: Vec<String>,
}

#[derive(Template)]
#[template(path = "oncall/policy.html")]
pub struct PolicyPage {
    pub layout: Layout,
    pub policy: Policy,
    pub steps: Vec<StepRow>,
    pub schedules: Vec<Schedule>,
    pub can_admin: bool,
    pub form: StepInput,
    pub errors: FieldErrors,
}

impl PolicyPage {
    pub fn schedule_checked(&self, s: &Schedule) -> bool {
        self.form.schedules.iter().any(|x| x.trim() == s.id.to_string())
    }
}

async fn policy_page(
    state: &AppState,
    user: &CurrentUser,
    layout: Layout,
    id: PolicyId,
    form: StepInput,
    errors: FieldErrors,
) -> Result<PolicyPage, AppError> {
    let mut conn = state.pool.get().await?;
    let policy = escalation::find(&mut conn, id).await?.ok_or(AppError::NotFound)?;
    let steps = escalation::steps(&mut conn, id).await?;
    let schedules = schedules::list(&mut conn).await?;
    let names = users::display_names(&mut conn).await?;
    let steps = steps
        .into_iter()
        .enumerate()
        .map(|(i, s)| StepRow {
            id: s.step.id,
            number: i + 1,
            wait_minutes: s.step.wait_minutes,
            targets: s
                .targets
                .iter()
                .map(|t| match t {
                    Target::Schedule(id) => format!(
                        "on call for {}",
                        schedules.iter().find(|x| x.id == *id).map_or("a schedule", |x| x.name.as_str())
                    ),
                    Target::User(u) => names.get(u).cloned().unwrap_or_else(|| format!("user {u}")),
                })
                .collect(),
        })
        .collect();
    Ok(PolicyPage { layout: layout.at("oncall"), policy, steps, schedules, can_admin: user.is_admin(), form, errors })
}

pub async fn show(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    path: web::Path<PolicyId>,
) -> Result<HttpResponse, AppError> {
    let form = StepInput { wait_minutes: "5".to_owned(), ..Default::default() };
    render(StatusCode::OK, &policy_page(&state, &user, layout, path.into_inner(), form, FieldErrors::new()).await?)
}

pub async fn add_step(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    session: Session,
    path: web::Path<PolicyId>,
    CsrfForm(form): CsrfForm<StepInput>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let id = path.into_inner();
    match svc::add_step(&state.pool, &user.actor(), id, &form).await {
        Ok(()) => {
            session::flash(&session, FlashKind::Success, "Step added.");
            Ok(see_other(&format!("/oncall/policies/{id}")))
        }
        Err(ServiceError::Invalid(errors)) => {
            render(StatusCode::UNPROCESSABLE_ENTITY, &policy_page(&state, &user, layout, id, form, errors).await?)
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn delete_step(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    path: web::Path<(PolicyId, i64)>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let (id, step) = path.into_inner();
    svc::delete_step(&state.pool, &user.actor(), id, step).await?;
    session::flash(&session, FlashKind::Success, "Step removed.");
    Ok(see_other(&format!("/oncall/policies/{id}")))
}

pub struct SourceRow {
    pub id: AlertSourceId,
    pub name: String,
    pub policy: Option<PolicyId>,
}

pub struct SeverityRow {
    pub level: i16,
    pub policy: Option<PolicyId>,
}

#[derive(Template)]
#[template(path = "oncall/routing.html")]
pub struct RoutingPage {
    pub layout: Layout,
    pub policies: Vec<Policy>,
    pub sources: Vec<SourceRow>,
    pub severities: Vec<SeverityRow>,
}

pub async fn routing(state: web::Data<AppState>, user: CurrentUser, layout: Layout) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let mut conn = state.pool.get().await?;
    let policies = escalation::list(&mut conn).await?;
    let sources = escalation::source_policies(&mut conn)
        .await?
        .into_iter()
        .map(|(id, name, policy)| SourceRow { id, name, policy })
        .collect();
    let defaults = escalation::severity_policy_list(&mut conn).await?;
    let severities = (1..=4)
        .map(|level| SeverityRow { level, policy: defaults.iter().find(|(l, _)| *l == level).map(|(_, p)| *p) })
        .collect();
    render(StatusCode::OK, &RoutingPage { layout: layout.at("oncall"), policies, sources, severities })
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PolicyChoice {
    pub policy: String,
}

pub async fn set_source(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    path: web::Path<AlertSourceId>,
    CsrfForm(form): CsrfForm<PolicyChoice>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    svc::set_source_policy(&state.pool, &user.actor(), path.into_inner(), &form.policy).await?;
    session::flash(&session, FlashKind::Success, "The alert source's policy is saved.");
    Ok(see_other("/oncall/routing"))
}

pub async fn set_severity(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    path: web::Path<i16>,
    CsrfForm(form): CsrfForm<PolicyChoice>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let level = path.into_inner();
    svc::set_severity_policy(&state.pool, &user.actor(), level, &form.policy).await?;
    session::flash(&session, FlashKind::Success, format!("The default policy for SEV{level} is saved."));
    Ok(see_other("/oncall/routing"))
}
