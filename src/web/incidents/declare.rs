//! `/incidents/new`: declaring an incident. Only the title is required; the
//! rest has sensible defaults, so a responder declares in seconds.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use crate::db::components::Component;
use crate::db::{UserId, components, users};
use crate::domain::Role;
use crate::domain::incident::{DetectionSource, IncidentKind, Severity};
use crate::services::incidents::{self as svc, DeclareInput};
use crate::services::{FieldErrors, ServiceError};
use crate::web::AppState;
use crate::web::csrf::CsrfForm;
use crate::web::{AppError, CurrentUser, Layout, render, see_other};

#[derive(Template)]
#[template(path = "incidents/new.html")]
pub struct DeclarePage {
    pub layout: Layout,
    pub form: DeclareInput,
    pub errors: FieldErrors,
    pub components: Vec<Component>,
    pub responders: Vec<(UserId, String)>,
    pub me: UserId,
}

impl DeclarePage {
    pub fn severities(&self) -> [Severity; 4] {
        Severity::ALL
    }
    pub fn kinds(&self) -> &'static [IncidentKind] {
        IncidentKind::ALL
    }
    pub fn sources(&self) -> &'static [DetectionSource] {
        DetectionSource::ALL
    }
    pub fn component_checked(&self, id: &crate::db::ComponentId) -> bool {
        self.form.components.iter().any(|c| c == &id.to_string())
    }
    pub fn lead_selected(&self, id: &UserId) -> bool {
        if self.form.lead.is_empty() { *id == self.me } else { self.form.lead == id.to_string() }
    }
}

async fn page(
    state: &AppState,
    user: &CurrentUser,
    layout: Layout,
    form: DeclareInput,
    errors: FieldErrors,
) -> Result<DeclarePage, AppError> {
    let mut conn = state.pool.get().await?;
    let components = components::list(&mut conn).await?;
    let responders = users::list(&mut conn)
        .await?
        .into_iter()
        .filter(|u| !u.disabled && u.role().allows(Role::Responder))
        .map(|u| (u.id, u.display_name))
        .collect();
    Ok(DeclarePage { layout: layout.at("declare"), form, errors, components, responders, me: user.id })
}

pub async fn show(state: web::Data<AppState>, user: CurrentUser, layout: Layout) -> Result<HttpResponse, AppError> {
    user.require(Role::Responder)?;
    let form = DeclareInput {
        severity: "3".into(),
        kind: IncidentKind::Outage.as_str().into(),
        detection_source: DetectionSource::Staff.as_str().into(),
        environment: "production".into(),
        ..Default::default()
    };
    render(StatusCode::OK, &page(&state, &user, layout, form, FieldErrors::new()).await?)
}

pub async fn submit(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    CsrfForm(form): CsrfForm<DeclareInput>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Responder)?;
    match svc::declare(&state.pool, &state.settings, &user.actor(), user.time_zone, &form).await {
        Ok(incident) => Ok(see_other(&format!("/incidents/{}", incident.id))),
        Err(ServiceError::Invalid(errors)) => {
            render(StatusCode::UNPROCESSABLE_ENTITY, &page(&state, &user, layout, form, errors).await?)
        }
        Err(e) => Err(e.into()),
    }
}
