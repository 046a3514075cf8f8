//! Status-page subscriptions: subscribe (`/status/subscribe`), confirm and
//! unsubscribe from emailed links (`/status/subscriptions/{token}/...`),
//! including RFC 8058 one-click unsubscribe by POST from mail clients.
//!
//! These are public pages without a session: the subscribe form lives on the
//! status page, which is one cached document for every visitor, so it cannot
//! carry a per-session CSRF token. Cross-site posts are refused by their
//! Origin / Sec-Fetch-Site headers instead, and double opt-in means a forged
//! request can at most send one rate-limited confirmation email.

use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use crate::db::components::{self, Component};
use crate::services::subscriptions::{self as svc, RATE_LIMIT_FIELD, SubscribeInput};
use crate::services::{FieldErrors, ServiceError};
use crate::web::AppState;
use crate::web::{AppError, client_addr, render};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.route("/status/subscribe", web::get().to(show))
        .route("/status/subscribe", web::post().to(submit))
        .route("/status/subscriptions/{token}/confirm", web::get().to(confirm_page))
        .route("/status/subscriptions/{token}/confirm", web::post().to(confirm))
        .route("/status/subscriptions/{token}/unsubscribe", web::get().to(unsubscribe_page))
        .route("/status/subscriptions/{token}/unsubscribe", web::post().to(unsubscribe))
        .route("/status/subscriptions/{token}/preferences", web::get().to(preferences))
        .route("/status/subscriptions/{token}/preferences", web::post().to(save_preferences));
}

#[derive(Template)]
#[template(path = "subscriptions/preferences.html")]
pub struct PreferencesPage {
    pub name: String,
    pub stale: Option<NoStale>,
    pub token: String,
    pub email: String,
    pub unsubscribe_url: String,
    pub form: SubscribeInput,
    pub errors: FieldErrors,
    pub saved: bool,
    pub components: Vec<Component>,
}

impl PreferencesPage {
    pub fn chosen(&self) -> bool {
        self.form.scope == "chosen"
    }
    pub fn component_checked(&self, public_id: &str) -> bool {
        self.form.components.iter().any(|c| c == public_id)
    }
}

async fn preferences_page(
    state: &AppState,
    status: StatusCode,
    token: &str,
    prefs: &svc::Preferences,
    form: SubscribeInput,
    errors: FieldErrors,
    saved: bool,
) -> Result<HttpResponse, AppError> {
    let mut conn = state.pool.get().await?;
    let components = components::list(&mut conn).await?;
    let page = PreferencesPage {
        name: state.settings.status_page_name.clone(),
        stale: None,
        token: token.to_owned(),
        email: prefs.subscriber.email.clone(),
        unsubscribe_url: format!("/status/subscriptions/{}/unsubscribe", prefs.subscriber.token),
        form,
        errors,
        saved,
        components,
    };
    render(status, &page)
}

fn form_of(prefs: &svc::Preferences) -> SubscribeInput {
    SubscribeInput {
        email: prefs.subscriber.email.clone(),
        scope: if prefs.all_components { "all" } else { "chosen" }.to_owned(),
        components: prefs.components.clone(),
        webhook_url: prefs.subscriber.webhook_url.clone().unwrap_or_default(),
    }
}

fn unknown_link(state: &AppState) -> Result<HttpResponse, AppError> {
    message(
        state,
        StatusCode::NOT_FOUND,
        "This link is no longer valid",
        "The subscription was withdrawn or the link is incomplete. You can subscribe again from the status page.",
    )
}

/// `GET /status/subscriptions/{token}/preferences`: what this address follows.
pub async fn preferences(state: web::Data<AppState>, token: web::Path<String>) -> Result<HttpResponse, AppError> {
    match svc::preferences(&state.pool, &token).await? {
        Some(prefs) => {
            let form = form_of(&prefs);
            preferences_page(&state, StatusCode::OK, &token, &prefs, form, FieldErrors::new(), false).await
        }
        None => unknown_link(&state),
    }
}

/// `POST /status/subscriptions/{token}/preferences`: saves the choice of components.
pub async fn save_preferences(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
    body: Bytes,
) -> Result<HttpResponse, AppError> {
    if is_cross_site(&req) {
        return Err(AppError::Forbidden);
    }
    let form: SubscribeInput =
        serde_html_form::from_bytes(&body).map_err(|e| AppError::BadRequest(format!("preferences form: {e}")))?;
    match svc::save_preferences(&state.pool, &token, &form).await {
        Ok(Some(prefs)) => {
            let saved = form_of(&prefs);
            preferences_page(&state, StatusCode::OK, &token, &prefs, saved, FieldErrors::new(), true).await
        }
        Ok(None) => unknown_link(&state),
        Err(ServiceError::Invalid(errors)) => {
            let Some(prefs) = svc::preferences(&state.pool, &token).await? else { return unknown_link(&state) };
            preferences_page(&state, StatusCode::UNPROCESSABLE_ENTITY, &token, &prefs, form, errors, false).await
        }
        Err(e) => Err(e.into()),
    }
}

/// The public layout shows a staleness note on snapshot pages; these pages
/// are always live.
pub struct NoStale {
    pub iso: String,
    pub text: String,
}

#[derive(Template)]
#[template(path = "subscriptions/form.html")]
pub struct FormPage {
    pub name: String,
    pub stale: Option<NoStale>,
    pub form: SubscribeInput,
    pub errors: FieldErrors,
    pub components: Vec<Component>,
}

impl FormPage {
    pub fn chosen(&self) -> bool {
        self.form.scope == "chosen"
    }
    pub fn component_checked(&self, public_id: &str) -> bool {
        self.form.components.iter().any(|c| c == public_id)
    }
}

#[derive(Template)]
#[template(path = "subscriptions/message.html")]
pub struct MessagePage {
    pub name: String,
    pub stale: Option<NoStale>,
    pub heading: String,
    pub message: String,
    /// A form that POSTs back to this page, with this button label.
    pub button: Option<String>,
    /// A webhook subscriber's signing secret, shown once at confirmation.
    pub secret: Option<String>,
}

fn message(state: &AppState, status: StatusCode, heading: &str, text: &str) -> Result<HttpResponse, AppError> {
    let page = MessagePage {
        name: state.settings.status_page_name.clone(),
        stale: None,
        heading: heading.to_owned(),
        message: text.to_owned(),
        button: None,
        secret: None,
    };
    render(status, &page)
}

async fn form_page(
    state: &AppState,
    status: StatusCode,
    form: SubscribeInput,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let mut conn = state.pool.get().await?;
    let components = components::list(&mut conn).await?;
    let page = FormPage { name: state.settings.status_page_name.clone(), stale: None, form, errors, components };
    render(status, &page)
}

pub async fn show(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let form = SubscribeInput { scope: "all".into(), ..Default::default() };
    form_page(&state, StatusCode::OK, form, FieldErrors::new()).await
}

/// Whether a POST came from another site (a browser says so; other clients don't).
fn is_cross_site(req: &HttpRequest) -> bool {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    if header("sec-fetch-site").is_some_and(|v| v == "cross-site") {
        return true;
    }
    match header("origin") {
        None => false,
        Some(origin) => {
            let host = req.connection_info().host().to_owned();
            url::Url::parse(&origin)
                .ok()
                .map(|u| match (u.host_str(), u.port()) {
                    (Some(h), Some(p)) => format!("{h}:{p}"),
                    (Some(h), None) => h.to_owned(),
                    _ => String::new(),
                })
                .is_none_or(|o| o != host)
        }
    }
}

pub async fn submit(state: web::Data<AppState>, req: HttpRequest, body: Bytes) -> Result<HttpResponse, AppError> {
    if is_cross_site(&req) {
        return Err(AppError::Forbidden);
    }
    let form: SubscribeInput =
        serde_html_form::from_bytes(&body).map_err(|e| AppError::BadRequest(format!("subscribe form: {e}")))?;
    match svc::subscribe(&state.pool, &state.settings, &client_addr(&req), &form).await {
        Ok(()) => message(
            &state,
            StatusCode::OK,
            "Check your inbox",
            &format!(
                "If {} can receive email, a message is on its way with a link to confirm the subscription. \
                 Nothing is sent until you confirm.",
                form.email.trim()
            ),
        ),
        Err(ServiceError::Invalid(errors)) => {
            let status = if errors.get(RATE_LIMIT_FIELD).is_some() {
                StatusCode::TOO_MANY_REQUESTS
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            form_page(&state, status, form, errors).await
        }
        Err(e) => Err(e.into()),
    }
}

/// The emailed link only asks: mail scanners and link previews follow links, and
/// must not confirm a subscription nobody asked for. The button confirms.
pub async fn confirm_page(state: web::Data<AppState>, token: web::Path<String>) -> Result<HttpResponse, AppError> {
    match svc::find(&state.pool, &token).await? {
        Some(s) => {
            let page = MessagePage {
                name: state.settings.status_page_name.clone(),
                stale: None,
                heading: "Confirm your subscription".to_owned(),
                message: format!("Send {} status updates to {}?", state.settings.status_page_name, s.email),
                button: Some("Confirm subscription".to_owned()),
                secret: None,
            };
            render(StatusCode::OK, &page)
        }
        None => message(
            &state,
            StatusCode::NOT_FOUND,
            "This link is no longer valid",
            "The subscription was withdrawn or the link is incomplete. You can subscribe again from the status page.",
        ),
    }
}

pub async fn confirm(state: web::Data<AppState>, token: web::Path<String>) -> Result<HttpResponse, AppError> {
    let Some(c) = svc::confirm(&state.pool, &token).await? else {
        return message(
            &state,
            StatusCode::NOT_FOUND,
            "This link is no longer valid",
            "The subscription was withdrawn or the link is incomplete. You can subscribe again from the status page.",
        );
    };
    let s = &c.subscriber;
    let which = if s.all_components { " for all components" } else { " for the components you chose" };
    let text = match &s.webhook_url {
        Some(url) => format!(
            "{} status updates{which} will be posted as JSON to {url}, each signed with the secret below \
             (X-Firebreak-Signature: sha256= and the hex HMAC-SHA256 of \"{{X-Firebreak-Timestamp}}.{{body}}\"). \
             Every post carries a link to unsubscribe.",
            state.settings.status_page_name
        ),
        None => format!(
            "{} will receive {} status updates{which}. Every email has a link to unsubscribe.",
            s.email, state.settings.status_page_name
        ),
    };
    let page = MessagePage {
        name: state.settings.status_page_name.clone(),
        stale: None,
        heading: "You are subscribed".to_owned(),
        message: text,
        button: None,
        secret: c.webhook_secret,
    };
    render(StatusCode::OK, &page)
}

pub async fn unsubscribe_page(state: web::Data<AppState>, token: web::Path<String>) -> Result<HttpResponse, AppError> {
    match svc::find(&state.pool, &token).await? {
        Some(s) => {
            let page = MessagePage {
                name: state.settings.status_page_name.clone(),
                stale: None,
                heading: "Unsubscribe".to_owned(),
                message: format!("Stop sending {} status updates to {}?", state.settings.status_page_name, s.email),
                button: Some("Unsubscribe".to_owned()),
                secret: None,
            };
            render(StatusCode::OK, &page)
        }
        None => message(
            &state,
            StatusCode::NOT_FOUND,
            "Not subscribed",
            "This address is not subscribed (any more). Nothing will be sent to it.",
        ),
    }
}

/// The button on the page, and RFC 8058 one-click from mail clients
/// (`List-Unsubscribe=One-Click` in the body): both end the subscription.
pub async fn unsubscribe(state: web::Data<AppState>, token: web::Path<String>) -> Result<HttpResponse, AppError> {
    svc::unsubscribe(&state.pool, &token).await?;
    message(
        &state,
        StatusCode::OK,
        "You are unsubscribed",
        "No more status updates will be sent to this address. You can subscribe again from the status page at any time.",
    )
}
