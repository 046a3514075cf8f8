//! `/incidents/{id}/paging`: who is being paged for an incident, "Page
//! someone" (through a chosen policy or the severity's default), "Escalate
//! now", "Acknowledge" and "Take the lead". The room links here, and its
//! paging panel carries "Take the lead" and "Escalate now" while someone is paged.

use actix_session::Session;
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::{self, ServiceConfig};
use askama::Template;
use serde::Deserialize;

use crate::db::escalation::{self, Policy};
use crate::db::pages::{self, Page};
use crate::db::{IncidentId, PolicyId, incidents, users};
use crate::domain::Role;
use crate::services::incidents::can_view;
use crate::services::{FieldErrors, ServiceError, paging};
use crate::web::AppState;
use crate::web::csrf::{CsrfForm, NoFields};
use crate::web::incidents::local_time;
use crate::web::session::{self, FlashKind};
use crate::web::{AppError, CurrentUser, Layout, render, see_other};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.route("/incidents/{id}/paging", web::get().to(show))
        .route("/incidents/{id}/paging", web::post().to(page_someone))
        .route("/incidents/{id}/paging/escalate", web::post().to(escalate))
        .route("/incidents/{id}/paging/acknowledge", web::post().to(acknowledge))
        .route("/incidents/{id}/paging/take-lead", web::post().to(take_lead));
}

pub struct PageRow {
    pub page: Page,
    pub policy: String,
    pub started: String,
    pub acknowledged: Option<String>,
    pub messages: Vec<String>,
}

#[derive(Template)]
#[template(path = "oncall/room.html")]
pub struct PagingPage {
    pub layout: Layout,
    pub incident_id: IncidentId,
    pub incident_title: String,
    pub severity: i16,
    pub pages: Vec<PageRow>,
    pub policies: Vec<Policy>,
    pub default_policy: Option<String>,
    pub any_active: bool,
    pub can_page: bool,
    pub form: PageForm,
    pub errors: FieldErrors,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct PageForm {
    pub policy: String,
}

async fn paging_page(
    state: &AppState,
    user: &CurrentUser,
    layout: Layout,
    id: IncidentId,
    form: PageForm,
    errors: FieldErrors,
) -> Result<PagingPage, AppError> {
    let mut conn = state.pool.get().await?;
    let incident = incidents::find(&mut conn, id).await?.ok_or(AppError::NotFound)?;
    if !can_view(&mut conn, &incident, &user.actor()).await? {
        return Err(AppError::NotFound);
    }
    let policies = escalation::list(&mut conn).await?;
    let names = users::display_names(&mut conn).await?;
    let name = |u: &crate::db::UserId| names.get(u).cloned().unwrap_or_else(|| format!("user {u}"));
    let mut rows = Vec::new();
    for p in pages::for_incident(&mut conn, id).await? {
        let messages = pages::notifications(&mut conn, p.id)
            .await?
            .into_iter()
            .map(|n| {
                format!(
                    "Step {}: {} — {}{}",
                    n.step + 1,
                    name(&n.user_id),
                    n.status,
                    n.last_error.map(|e| format!(" ({e})")).unwrap_or_default()
                )
            })
            .collect();
        rows.push(PageRow {
            policy: p
                .policy_id
                .and_then(|pid| policies.iter().find(|x| x.id == pid))
                .map_or("(deleted policy)".to_owned(), |x| x.name.clone()),
            started: local_time(p.created_at, user.time_zone),
            acknowledged: p.acknowledged_at.map(|at| {
                format!(
                    "{} at {}",
                    p.acknowledged_by.map(|u| name(&u)).unwrap_or_default(),
                    local_time(at, user.time_zone)
                )
            }),
            messages,
            page: p,
        });
    }
    let default_policy = escalation::severity_policy(&mut conn, incident.severity)
        .await?
        .and_then(|pid| policies.iter().find(|x| x.id == pid))
        .map(|p| p.name.clone());
    Ok(PagingPage {
        layout: layout.at("incidents"),
        incident_id: id,
        incident_title: incident.title,
        severity: incident.severity,
        any_active: rows.iter().any(|r| r.page.status == pages::ACTIVE),
        pages: rows,
        policies,
        default_policy,
        can_page: user.role.allows(Role::Responder),
        form,
        errors,
    })
}

pub async fn show(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    path: web::Path<IncidentId>,
) -> Result<HttpResponse, AppError> {
    render(
        StatusCode::OK,
        &paging_page(&state, &user, layout, path.into_inner(), PageForm::default(), FieldErrors::new()).await?,
    )
}

pub async fn page_someone(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    session: Session,
    path: web::Path<IncidentId>,
    CsrfForm(form): CsrfForm<PageForm>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Responder)?;
    let id = path.into_inner();
    let policy = match form.policy.trim() {
        "" => None,
        t => match t.parse::<PolicyId>() {
            Ok(p) => Some(p),
            Err(_) => {
                let errors = FieldErrors::single("policy", "Choose a policy from the list.");
                let page = paging_page(&state, &user, layout, id, form, errors).await?;
                return render(StatusCode::UNPROCESSABLE_ENTITY, &page);
            }
        },
    };
    match paging::page_incident(&state.pool, &user.actor(), id, policy).await {
        Ok(_) => {
            session::flash(&session, FlashKind::Success, "Paging started.");
            Ok(see_other(&format!("/incidents/{id}/paging")))
        }
        Err(ServiceError::Invalid(errors)) => {
            render(StatusCode::UNPROCESSABLE_ENTITY, &paging_page(&state, &user, layout, id, form, errors).await?)
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn escalate(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    session: Session,
    path: web::Path<IncidentId>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Responder)?;
    let id = path.into_inner();
    match paging::escalate_now(&state.pool, &user.actor(), id).await {
        Ok(_) => {
            session::flash(&session, FlashKind::Success, "Escalated to the next step.");
            Ok(see_other(&format!("/incidents/{id}/paging")))
        }
        Err(ServiceError::Invalid(errors)) => render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &paging_page(&state, &user, layout, id, PageForm::default(), errors).await?,
        ),
        Err(e) => Err(e.into()),
    }
}

pub async fn acknowledge(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    path: web::Path<IncidentId>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Responder)?;
    let id = path.into_inner();
    let n = paging::acknowledge_incident(&state.pool, &user.actor(), id).await?;
    let message = if n == 0 { "Nothing was being paged." } else { "Acknowledged; escalation stopped." };
    session::flash(&session, FlashKind::Success, message);
    Ok(see_other(&format!("/incidents/{id}/paging")))
}

/// "Take the lead": stop the paging and become the incident's lead, in one step.
pub async fn take_lead(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    path: web::Path<IncidentId>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Responder)?;
    let id = path.into_inner();
    let n = paging::take_lead(&state.pool, &user.actor(), id).await?;
    let message = if n == 0 { "You are the incident lead." } else { "You are the incident lead; paging stopped." };
    session::flash(&session, FlashKind::Success, message);
    Ok(see_other(&format!("/incidents/{id}")))
}

#[derive(Template)]
#[template(path = "oncall/room_panel.html")]
struct RoomPanel {
    incident_id: IncidentId,
    lines: Vec<String>,
    can_page: bool,
    any_active: bool,
    csrf_token: String,
}

/// The room's small paging panel: each page's state and a link to this page.
pub async fn room_panel(
    conn: &mut diesel_async::AsyncPgConnection,
    incident: &crate::db::incidents::Incident,
    user: &CurrentUser,
    csrf_token: &str,
) -> Result<String, AppError> {
    let policies = escalation::list(conn).await?;
    let all = pages::for_incident(conn, incident.id).await?;
    let any_active = all.iter().any(|p| p.status == pages::ACTIVE);
    let lines = all
        .into_iter()
        .map(|p| {
            let policy =
                p.policy_id.and_then(|id| policies.iter().find(|x| x.id == id)).map_or("?", |x| x.name.as_str());
            format!("Through “{policy}”: {}, step {}.", p.status, p.step + 1)
        })
        .collect();
    RoomPanel {
        incident_id: incident.id,
        lines,
        can_page: user.role.allows(Role::Responder),
        any_active,
        csrf_token: csrf_token.to_owned(),
    }
    .render()
    .map_err(AppError::unexpected)
}
