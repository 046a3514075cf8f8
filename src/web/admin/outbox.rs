//! `/admin/outbox`: pending, sent and failed email, retry, and a test email.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::web::ServiceConfig;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection;
use serde::Deserialize;

use crate::db::OutboxId;
use crate::db::audit_log::{self, NewAuditEntry};
use crate::db::outbox::{self, Counts, FAILED, PENDING, SENT};
use crate::domain::{EmailAddress, Role};
use crate::email::test_email;
use crate::services::FieldErrors;
use crate::services::outbox::Retried;
use crate::web::AppState;
use crate::web::csrf::{CsrfForm, NoFields};
use crate::web::session::{self, FlashKind};
use crate::web::{AppError, CurrentUser, Layout, render, see_other};

/// Rows shown on the list page.
const LIST_LIMIT: i64 = 100;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.route("/admin/outbox", web::get().to(list))
        .route("/admin/outbox/test", web::post().to(send_test))
        .route("/admin/outbox/{id}", web::get().to(show))
        .route("/admin/outbox/{id}/retry", web::post().to(retry));
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ListQuery {
    pub status: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TestForm {
    pub to: String,
}

/// One message in the list.
pub struct Row {
    pub id: OutboxId,
    pub to: String,
    pub subject: String,
    pub kind: String,
    pub status: String,
    pub badge: &'static str,
    pub attempts: i32,
    pub last_error: String,
    pub created: String,
    pub sent: String,
}

/// The badge colour of a status (reusing the incident status colours).
fn badge(status: &str) -> &'static str {
    match status {
        SENT => "status-resolved",
        FAILED => "status-investigating",
        _ => "status-monitoring",
    }
}

/// A status filter link.
pub struct Filter {
    pub label: &'static str,
    pub href: &'static str,
    pub count: i64,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "admin/outbox.html")]
pub struct OutboxPage {
    pub layout: Layout,
    pub filters: Vec<Filter>,
    /// "", "pending", "sent" or "failed".
    pub status: &'static str,
    pub rows: Vec<Row>,
    pub form: TestForm,
    pub errors: FieldErrors,
    pub limit: i64,
}

pub struct AttemptRow {
    pub when: String,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/outbox_message.html")]
pub struct MessagePage {
    pub layout: Layout,
    pub id: OutboxId,
    pub message_id: String,
    pub to: String,
    pub subject: String,
    pub kind: String,
    pub status: String,
    pub badge: &'static str,
    pub attempts: i32,
    pub last_error: String,
    pub created: String,
    pub sent: String,
    pub next_attempt: String,
    pub has_calendar: bool,
    pub has_unsubscribe: bool,
    pub text_body: String,
    pub history: Vec<AttemptRow>,
    pub can_retry: bool,
}

fn when(user: &CurrentUser, t: DateTime<Utc>) -> String {
    t.with_timezone(&user.time_zone).format("%Y-%m-%d %H:%M:%S %Z").to_string()
}

fn recipient(name: &str, address: &str) -> String {
    if name.trim().is_empty() { address.to_owned() } else { format!("{name} <{address}>") }
}

fn status_filter(s: &str) -> &'static str {
    match s {
        PENDING => PENDING,
        SENT => SENT,
        FAILED => FAILED,
        _ => "",
    }
}

fn filters(counts: Counts, status: &str) -> Vec<Filter> {
    [
        ("All", "/admin/outbox", counts.pending + counts.sent + counts.failed, ""),
        ("Pending", "/admin/outbox?status=pending", counts.pending, PENDING),
        ("Sent", "/admin/outbox?status=sent", counts.sent, SENT),
        ("Failed", "/admin/outbox?status=failed", counts.failed, FAILED),
    ]
    .into_iter()
    .map(|(label, href, count, s)| Filter { label, href, count, current: s == status })
    .collect()
}

async fn list_page(
    state: &AppState,
    user: &CurrentUser,
    layout: Layout,
    status: &'static str,
    form: TestForm,
    errors: FieldErrors,
) -> Result<OutboxPage, AppError> {
    let mut conn = state.pool.get().await?;
    let counts = outbox::counts(&mut conn).await?;
    let messages = outbox::recent(&mut conn, (!status.is_empty()).then_some(status), LIST_LIMIT).await?;
    let rows = messages
        .into_iter()
        .map(|m| Row {
            id: m.id,
            to: recipient(&m.to_name, &m.to_address),
            subject: m.subject,
            kind: m.kind,
            badge: badge(&m.status),
            status: m.status,
            attempts: m.attempts,
            last_error: m.last_error.unwrap_or_default(),
            created: when(user, m.created_at),
            sent: m.sent_at.map(|t| when(user, t)).unwrap_or_default(),
        })
        .collect();
    Ok(OutboxPage {
        layout: layout.at("admin"),
        filters: filters(counts, status),
        status,
        rows,
        form,
        errors,
        limit: LIST_LIMIT,
    })
}

/// `GET /admin/outbox[?status=pending|sent|failed]`
pub async fn list(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let form = TestForm { to: user.email.clone() };
    let page = list_page(&state, &user, layout, status_filter(&query.status), form, FieldErrors::new()).await?;
    render(StatusCode::OK, &page)
}

/// `GET /admin/outbox/{id}`: one message and every attempt to deliver it.
pub async fn show(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    id: web::Path<OutboxId>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let mut conn = state.pool.get().await?;
    let m = outbox::find(&mut conn, *id).await?.ok_or(AppError::NotFound)?;
    let history = outbox::attempts(&mut conn, m.id)
        .await?
        .into_iter()
        .map(|a| AttemptRow { when: when(&user, a.attempted_at), error: a.error })
        .collect();
    let page = MessagePage {
        layout: layout.at("admin"),
        id: m.id,
        to: recipient(&m.to_name, &m.to_address),
        can_retry: m.status != SENT,
        next_attempt: if m.status == PENDING { when(&user, m.next_attempt_at) } else { String::new() },
        message_id: m.message_id,
        subject: m.subject,
        kind: m.kind,
        badge: badge(&m.status),
        status: m.status,
        attempts: m.attempts,
        last_error: m.last_error.unwrap_or_default(),
        created: when(&user, m.created_at),
        sent: m.sent_at.map(|t| when(&user, t)).unwrap_or_default(),
        has_calendar: m.calendar.is_some(),
        has_unsubscribe: m.list_unsubscribe.is_some(),
        text_body: m.text_body,
        history,
    };
    render(StatusCode::OK, &page)
}

/// `POST /admin/outbox/{id}/retry`: a failed or pending message goes out again now.
pub async fn retry(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    id: web::Path<OutboxId>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let id = *id;
    match crate::services::outbox::retry(&state.pool, &user.actor(), id).await? {
        Retried::Again(to) => {
            session::flash(&session, FlashKind::Success, format!("Sending the message to {to} again now."));
        }
        Retried::AlreadySent => session::flash(&session, FlashKind::Info, "That message was sent already."),
    }
    Ok(see_other(&format!("/admin/outbox/{id}")))
}

/// `POST /admin/outbox/test`: queues a test email to the given address.
pub async fn send_test(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    session: Session,
    CsrfForm(form): CsrfForm<TestForm>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let to = match EmailAddress::parse(&form.to) {
        Ok(to) => to,
        Err(message) => {
            let errors = FieldErrors::single("to", message);
            let page = list_page(&state, &user, layout, "", form, errors).await?;
            return render(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
    };
    let message = test_email::compose(&state.settings, &to, &user.display_name).map_err(AppError::unexpected)?;
    let actor = user.actor();
    let mut conn = state.pool.get().await?;
    conn.transaction(async |conn| {
        outbox::enqueue(conn, std::slice::from_ref(&message)).await?;
        audit_log::insert(
            conn,
            &NewAuditEntry {
                actor_id: actor.id,
                action: "outbox.test",
                subject: to.as_str(),
                detail: "test email queued",
                client_addr: actor.client_addr.as_deref(),
            },
        )
        .await
    })
    .await?;
    session::flash(&session, FlashKind::Success, format!("Queued a test email to {to}."));
    Ok(see_other("/admin/outbox"))
}
