//! Admin: outgoing webhooks and their delivery log.
//!
//! `/admin/webhooks` lists them with a form to add one; `/admin/webhooks/{id}`
//! edits one, enables/disables it, sends a test event and shows its latest
//! deliveries (each with its attempts and a retry button).

use actix_session::Session;
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::{self, ServiceConfig};
use askama::Template;
use chrono::{DateTime, Utc};

use crate::db::IncidentId;
use crate::db::ids::{WebhookDeliveryId, WebhookId};
use crate::db::webhooks::{self as db, Counts, DELIVERED, FAILED, Webhook};
use crate::domain::Role;
use crate::domain::webhooks::{EventKind, Format};
use crate::services::webhooks::{self as svc, WebhookInput};
use crate::services::{FieldErrors, ServiceError};
use crate::web::AppState;
use crate::web::csrf::{CsrfForm, NoFields};
use crate::web::session::{self, FlashKind};
use crate::web::{AppError, CurrentUser, Layout, render, see_other};

/// Deliveries shown in a webhook's log.
const LOG_LIMIT: i64 = 50;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.route("/admin/webhooks", web::get().to(list))
        .route("/admin/webhooks", web::post().to(create))
        .route("/admin/webhooks/{id}", web::get().to(show))
        .route("/admin/webhooks/{id}", web::post().to(update))
        .route("/admin/webhooks/{id}/enable", web::post().to(enable))
        .route("/admin/webhooks/{id}/disable", web::post().to(disable))
        .route("/admin/webhooks/{id}/test", web::post().to(send_test))
        .route("/admin/webhooks/{id}/delete", web::get().to(confirm_delete))
        .route("/admin/webhooks/{id}/delete", web::post().to(delete))
        .route("/admin/webhooks/{id}/deliveries/{delivery}", web::get().to(show_delivery))
        .route("/admin/webhooks/{id}/deliveries/{delivery}/retry", web::post().to(retry));
}

fn when(user: &CurrentUser, t: DateTime<Utc>) -> String {
    t.with_timezone(&user.time_zone).format("%Y-%m-%d %H:%M:%S %Z").to_string()
}

/// The badge colour of a delivery status (reusing the incident status colours).
fn badge(status: &str) -> &'static str {
    match status {
        DELIVERED => "status-resolved",
        FAILED => "status-investigating",
        _ => "status-monitoring",
    }
}

fn event_label(event: &str) -> String {
    EventKind::parse(event).map(|e| e.label().to_owned()).unwrap_or_else(|_| {
        if event == crate::domain::webhooks::TEST_EVENT { "Test event".to_owned() } else { event.to_owned() }
    })
}

/// The form's choices: what the fields template needs on both pages.
pub struct FormChoices {
    pub events: &'static [EventKind],
    pub formats: &'static [Format],
}

const CHOICES: FormChoices = FormChoices { events: EventKind::ALL, formats: Format::ALL };

/// One webhook in the list.
pub struct Row {
    pub id: WebhookId,
    pub name: String,
    pub url: String,
    pub events: String,
    pub format: &'static str,
    pub enabled: bool,
    pub counts: Counts,
}

#[derive(Template)]
#[template(path = "admin/webhooks.html")]
pub struct WebhooksPage {
    pub layout: Layout,
    pub rows: Vec<Row>,
    pub form: WebhookInput,
    pub errors: FieldErrors,
    pub choices: FormChoices,
    /// Editing an existing webhook (changes the secret field's hint).
    pub editing: bool,
}

impl WebhooksPage {
    pub fn event_checked(&self, e: &EventKind) -> bool {
        self.form.events.iter().any(|x| x == e.as_str())
    }
}

fn format_label(format: &str) -> &'static str {
    match Format::parse(format) {
        Ok(Format::Slack) => "Slack-compatible",
        _ => "JSON",
    }
}

async fn list_page(
    state: &AppState,
    layout: Layout,
    form: WebhookInput,
    errors: FieldErrors,
) -> Result<WebhooksPage, AppError> {
    let mut conn = state.pool.get().await?;
    let hooks = db::list(&mut conn).await?;
    let counts = db::counts_by_webhook(&mut conn).await?;
    let rows = hooks
        .into_iter()
        .map(|w| Row {
            counts: counts.iter().find(|(id, _)| *id == w.id).map(|(_, c)| *c).unwrap_or_default(),
            events: w.events.iter().map(|e| event_label(e)).collect::<Vec<_>>().join(", "),
            format: format_label(&w.format),
            id: w.id,
            name: w.name,
            url: w.url,
            enabled: w.enabled,
        })
        .collect();
    Ok(WebhooksPage { layout: layout.at("admin"), rows, form, errors, choices: CHOICES, editing: false })
}

fn new_form() -> WebhookInput {
    WebhookInput {
        events: EventKind::ALL.iter().map(|e| e.as_str().to_owned()).collect(),
        format: Format::Json.as_str().to_owned(),
        ..WebhookInput::default()
    }
}

/// `GET /admin/webhooks`
pub async fn list(state: web::Data<AppState>, user: CurrentUser, layout: Layout) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    render(StatusCode::OK, &list_page(&state, layout, new_form(), FieldErrors::new()).await?)
}

/// `POST /admin/webhooks`
pub async fn create(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    session: Session,
    CsrfForm(form): CsrfForm<WebhookInput>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    match svc::create(&state.pool, &user.actor(), &form, &state.settings.outgoing_allowed_hosts).await {
        Ok((hook, generated)) => {
            let message = match generated {
                Some(secret) => format!(
                    "Added the webhook {}. Its signing secret is {secret} — copy it now into the receiver: \
                     it is not shown again.",
                    hook.name
                ),
                None => format!("Added the webhook {}.", hook.name),
            };
            session::flash(&session, FlashKind::Success, message);
            Ok(see_other(&format!("/admin/webhooks/{}", hook.id)))
        }
        Err(ServiceError::Invalid(errors)) => {
            let form = WebhookInput { secret: String::new(), ..form };
            render(StatusCode::UNPROCESSABLE_ENTITY, &list_page(&state, layout, form, errors).await?)
        }
        Err(e) => Err(e.into()),
    }
}

/// One delivery in a webhook's log.
pub struct DeliveryRow {
    pub id: WebhookDeliveryId,
    pub delivery_id: String,
    pub event: String,
    pub incident_id: Option<IncidentId>,
    pub status: String,
    pub badge: &'static str,
    pub attempts: i32,
    pub last_status_code: String,
    pub last_error: String,
    pub created: String,
    pub delivered: String,
    pub can_retry: bool,
}

#[derive(Template)]
#[template(path = "admin/webhooks_edit.html")]
pub struct WebhookPage {
    pub layout: Layout,
    pub hook: Webhook,
    pub form: WebhookInput,
    pub errors: FieldErrors,
    pub choices: FormChoices,
    pub editing: bool,
    pub deliveries: Vec<DeliveryRow>,
    pub limit: i64,
}

impl WebhookPage {
    pub fn event_checked(&self, e: &EventKind) -> bool {
        self.form.events.iter().any(|x| x == e.as_str())
    }
}

async fn webhook_page(
    state: &AppState,
    user: &CurrentUser,
    layout: Layout,
    id: WebhookId,
    refused: Option<(WebhookInput, FieldErrors)>,
) -> Result<WebhookPage, AppError> {
    let mut conn = state.pool.get().await?;
    let hook = db::find(&mut conn, id).await?.ok_or(AppError::NotFound)?;
    let deliveries = db::recent(&mut conn, id, LOG_LIMIT)
        .await?
        .into_iter()
        .map(|d| DeliveryRow {
            id: d.id,
            event: event_label(&d.event),
            incident_id: d.incident_id,
            badge: badge(&d.status),
            can_retry: d.status != DELIVERED,
            status: d.status,
            attempts: d.attempts,
            last_status_code: d.last_status_code.map(|c| c.to_string()).unwrap_or_default(),
            last_error: d.last_error.unwrap_or_default(),
            created: when(user, d.created_at),
            delivered: d.delivered_at.map(|t| when(user, t)).unwrap_or_default(),
            delivery_id: d.delivery_id,
        })
        .collect();
    let (form, errors) = refused.unwrap_or_else(|| (WebhookInput::from_webhook(&hook), FieldErrors::new()));
    Ok(WebhookPage {
        layout: layout.at("admin"),
        hook,
        form,
        errors,
        choices: CHOICES,
        editing: true,
        deliveries,
        limit: LOG_LIMIT,
    })
}

/// `GET /admin/webhooks/{id}`
pub async fn show(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    id: web::Path<WebhookId>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    render(StatusCode::OK, &webhook_page(&state, &user, layout, *id, None).await?)
}

/// `POST /admin/webhooks/{id}`
pub async fn update(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    session: Session,
    id: web::Path<WebhookId>,
    CsrfForm(form): CsrfForm<WebhookInput>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    match svc::update(&state.pool, &user.actor(), *id, &form, &state.settings.outgoing_allowed_hosts).await {
        Ok(hook) => {
            session::flash(&session, FlashKind::Success, format!("Saved the webhook {}.", hook.name));
            Ok(see_other(&format!("/admin/webhooks/{}", hook.id)))
        }
        Err(ServiceError::Invalid(errors)) => {
            let form = WebhookInput { secret: String::new(), ..form };
            let page = webhook_page(&state, &user, layout, *id, Some((form, errors))).await?;
            render(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(e) => Err(e.into()),
    }
}

async fn toggle(
    state: &AppState,
    user: &CurrentUser,
    session: &Session,
    id: WebhookId,
    enabled: bool,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let hook = svc::set_enabled(&state.pool, &user.actor(), id, enabled).await?;
    let message = if enabled {
        format!("Enabled the webhook {}: new events are sent to it.", hook.name)
    } else {
        format!("Disabled the webhook {}: nothing is sent to it until it is enabled again.", hook.name)
    };
    session::flash(session, FlashKind::Success, message);
    Ok(see_other(&format!("/admin/webhooks/{id}")))
}

/// `POST /admin/webhooks/{id}/enable`
pub async fn enable(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    id: web::Path<WebhookId>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    toggle(&state, &user, &session, *id, true).await
}

/// `POST /admin/webhooks/{id}/disable`
pub async fn disable(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    id: web::Path<WebhookId>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    toggle(&state, &user, &session, *id, false).await
}

/// `POST /admin/webhooks/{id}/test`
pub async fn send_test(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    id: web::Path<WebhookId>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let hook = svc::send_test(&state.pool, &user.actor(), *id).await?;
    session::flash(
        &session,
        FlashKind::Success,
        format!("Sending a test event to {}. Its result shows in the delivery log below.", hook.name),
    );
    Ok(see_other(&format!("/admin/webhooks/{}", hook.id)))
}

#[derive(Template)]
#[template(path = "admin/webhooks_delete.html")]
pub struct DeletePage {
    pub layout: Layout,
    pub hook: Webhook,
}

/// `GET /admin/webhooks/{id}/delete`
pub async fn confirm_delete(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    id: web::Path<WebhookId>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let mut conn = state.pool.get().await?;
    let hook = db::find(&mut conn, *id).await?.ok_or(AppError::NotFound)?;
    render(StatusCode::OK, &DeletePage { layout: layout.at("admin"), hook })
}

/// `POST /admin/webhooks/{id}/delete`
pub async fn delete(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    id: web::Path<WebhookId>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let hook = svc::delete(&state.pool, &user.actor(), *id).await?;
    session::flash(&session, FlashKind::Success, format!("Deleted the webhook {}.", hook.name));
    Ok(see_other("/admin/webhooks"))
}

pub struct AttemptRow {
    pub when: String,
    pub status_code: String,
    pub error: String,
    pub duration_ms: i32,
}

#[derive(Template)]
#[template(path = "admin/webhooks_delivery.html")]
pub struct DeliveryPage {
    pub layout: Layout,
    pub hook: Webhook,
    pub delivery: DeliveryRow,
    pub next_attempt: String,
    pub body: String,
    pub attempts: Vec<AttemptRow>,
}

/// `GET /admin/webhooks/{id}/deliveries/{delivery}`: the body sent and every attempt.
pub async fn show_delivery(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    path: web::Path<(WebhookId, WebhookDeliveryId)>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let (id, delivery) = path.into_inner();
    let mut conn = state.pool.get().await?;
    let hook = db::find(&mut conn, id).await?.ok_or(AppError::NotFound)?;
    let d = db::find_delivery(&mut conn, id, delivery).await?.ok_or(AppError::NotFound)?;
    let attempts = db::attempts(&mut conn, d.id)
        .await?
        .into_iter()
        .map(|a| AttemptRow {
            when: when(&user, a.attempted_at),
            status_code: a.status_code.map(|c| c.to_string()).unwrap_or_default(),
            error: a.error.unwrap_or_default(),
            duration_ms: a.duration_ms,
        })
        .collect();
    let next_attempt = if d.status == db::PENDING { when(&user, d.next_attempt_at) } else { String::new() };
    let page = DeliveryPage {
        layout: layout.at("admin"),
        hook,
        next_attempt,
        body: pretty(&d.body),
        attempts,
        delivery: DeliveryRow {
            id: d.id,
            event: event_label(&d.event),
            incident_id: d.incident_id,
            badge: badge(&d.status),
            can_retry: d.status != DELIVERED,
            status: d.status,
            attempts: d.attempts,
            last_status_code: d.last_status_code.map(|c| c.to_string()).unwrap_or_default(),
            last_error: d.last_error.unwrap_or_default(),
            created: when(&user, d.created_at),
            delivered: d.delivered_at.map(|t| when(&user, t)).unwrap_or_default(),
            delivery_id: d.delivery_id,
        },
    };
    render(StatusCode::OK, &page)
}

/// A JSON body indented for reading (the bytes sent are the compact form).
fn pretty(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| body.to_owned())
}

/// `POST /admin/webhooks/{id}/deliveries/{delivery}/retry`
pub async fn retry(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    path: web::Path<(WebhookId, WebhookDeliveryId)>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let (id, delivery) = path.into_inner();
    if svc::retry(&state.pool, &user.actor(), id, delivery).await? {
        session::flash(&session, FlashKind::Success, "Sending that delivery again now.");
    } else {
        session::flash(&session, FlashKind::Info, "That delivery was delivered already.");
    }
    Ok(see_other(&format!("/admin/webhooks/{id}")))
}
