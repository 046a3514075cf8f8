//! `AppError`: every failure a handler can have, rendered as the one error page
//! (or a redirect to sign in). Internals are logged, never shown.

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, LOCATION};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use super::layout::Layout;
use crate::services::ServiceError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("forbidden")]
    Forbidden,
    /// Not allowed, and the rule says why ("only the current incident lead may do this").
    #[error("forbidden: {0}")]
    ForbiddenBecause(&'static str),
    #[error("sign-in required")]
    SignInRequired { next: String },
    #[error("invalid CSRF token")]
    Csrf,
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("unexpected: {0:#}")]
    Unexpected(#[from] anyhow::Error),
}

impl AppError {
    pub fn unexpected(e: impl Into<anyhow::Error>) -> Self {
        AppError::Unexpected(e.into())
    }
}

impl From<ServiceError> for AppError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::NotFound => AppError::NotFound,
            ServiceError::Forbidden(why) => AppError::ForbiddenBecause(why),
            ServiceError::Conflict | ServiceError::ChangedMeanwhile(_) => AppError::BadRequest("edit conflict".into()),
            // Handlers re-render their form for Invalid; reaching here is a bug.
            ServiceError::Invalid(errors) => AppError::BadRequest(format!("{errors:?}")),
            ServiceError::Unexpected(e) => AppError::Unexpected(e),
        }
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        AppError::Unexpected(e.into())
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for AppError {
    fn from(e: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        // Keep the type: `db::outage` recognises it (503, not 500).
        AppError::Unexpected(anyhow::Error::new(e).context(crate::db::outage::NO_CONNECTION))
    }
}

#[derive(Template)]
#[template(path = "errors/error.html")]
struct ErrorPage<'a> {
    layout: Layout,
    code: u16,
    title: &'a str,
    message: &'a str,
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Forbidden | AppError::ForbiddenBecause(_) | AppError::Csrf => StatusCode::FORBIDDEN,
            AppError::SignInRequired { .. } => StatusCode::SEE_OTHER,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Unexpected(e) if crate::db::outage::is_unreachable(e) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let AppError::ForbiddenBecause(why) = self {
            let message = format!("{}. Ask an admin if you think you need it.", sentence(why));
            return error_page(StatusCode::FORBIDDEN, "Not allowed", &message);
        }
        let (title, message) = match self {
            AppError::SignInRequired { next } => {
                let location = format!("/login?next={}", url_encode(next));
                return HttpResponse::SeeOther().insert_header((LOCATION, location)).finish();
            }
            AppError::NotFound => {
                ("Page not found", "There is nothing here. Check the address, or start from the dashboard.")
            }
            AppError::Forbidden | AppError::ForbiddenBecause(_) => {
                ("Not allowed", "Your role does not allow this. Ask an admin if you need it.")
            }
            AppError::Csrf => (
                "This form has expired",
                "The form was not sent from a current Firebreak page, so nothing was changed. Go back, reload the page and try again.",
            ),
            AppError::BadRequest(_) => ("Bad request", "The request could not be understood, so nothing was changed."),
            AppError::Unexpected(e) if crate::db::outage::is_unreachable(e) => {
                tracing::warn!(error = %format!("{e:#}"), "request failed: the database is unreachable");
                return database_unreachable_page();
            }
            AppError::Unexpected(e) => {
                tracing::error!(error = %format!("{e:#}"), "request failed");
                (
                    "Something went wrong",
                    "Firebreak could not finish this request and nothing was changed. Try again in a moment.",
                )
            }
        };
        if let AppError::BadRequest(detail) = self {
            tracing::info!(%detail, "bad request");
        }
        let status = self.status_code();
        error_page(status, title, message)
    }
}

/// "only admins manage this" → "Only admins manage this" (no final stop).
pub fn sentence(why: &str) -> String {
    let mut chars = why.trim().trim_end_matches('.').chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// Renders the error page with the shared layout.
pub fn error_page(status: StatusCode, title: &str, message: &str) -> HttpResponse {
    let page = ErrorPage { layout: Layout::anonymous(), code: status.as_u16(), title, message };
    match page.render() {
        Ok(body) => HttpResponse::build(status).insert_header((CONTENT_TYPE, "text/html; charset=utf-8")).body(body),
        Err(_) => HttpResponse::build(status).body(title.to_owned()),
    }
}

/// Seconds a client is asked to wait before retrying while the database is unreachable.
pub const RETRY_AFTER_SECS: u64 = 5;

/// The plain 503 page for "the database is unreachable, retrying".
pub fn database_unreachable_page() -> HttpResponse {
    let mut response = error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "The database is unreachable",
        "Firebreak cannot reach its database right now and keeps retrying. Nothing was changed. \
         Reload this page in a few seconds; the public status page keeps showing the last known state.",
    );
    response
        .headers_mut()
        .insert(actix_web::http::header::RETRY_AFTER, actix_web::http::header::HeaderValue::from(RETRY_AFTER_SECS));
    response
}

fn url_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The default service: every unknown path.
pub async fn not_found() -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound)
}
