//! `ApiError`: every failure of the JSON API, as `{"error": "..."}` with the
//! right status (and `"fields"` for input that was refused). Internals are
//! logged, never shown.

use actix_web::http::StatusCode;
use actix_web::http::header::{ALLOW, WWW_AUTHENTICATE};
use actix_web::{HttpResponse, ResponseError};
use serde_json::{Map, Value, json};

use crate::services::{FieldErrors, ServiceError};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("bad request: {0}")]
    BadRequest(String),
    /// No token, or one that is unknown or revoked.
    #[error("unauthorized")]
    Unauthorized { token_sent: bool },
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed(&'static str),
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("invalid input")]
    Invalid(Map<String, Value>),
    #[error("conflict")]
    Conflict,
    #[error("unexpected: {0:#}")]
    Unexpected(#[from] anyhow::Error),
}

impl ApiError {
    /// One refused field.
    pub fn field(name: &str, message: impl Into<String>) -> Self {
        let mut fields = Map::new();
        fields.insert(name.to_owned(), Value::String(message.into()));
        ApiError::Invalid(fields)
    }

    /// A service's field errors, for the fields this request has (the
    /// services key their messages by form field names, which the API uses too).
    pub fn from_fields(errors: &FieldErrors, names: &[&str]) -> Self {
        let mut fields = Map::new();
        for name in names {
            if let Some(message) = errors.get(name) {
                fields.insert((*name).to_owned(), Value::String(message.to_owned()));
            }
        }
        if fields.is_empty() && !errors.is_empty() {
            tracing::warn!(?errors, "field errors for fields the API does not know");
        }
        ApiError::Invalid(fields)
    }

    /// A service error, with `names` the fields its `Invalid` may mention.
    pub fn from_service(e: ServiceError, names: &[&str]) -> Self {
        match e {
            ServiceError::NotFound => ApiError::NotFound,
            ServiceError::Forbidden(why) => ApiError::Forbidden(format!("Not allowed: {why}.")),
            ServiceError::Invalid(errors) => ApiError::from_fields(&errors, names),
            ServiceError::Conflict | ServiceError::ChangedMeanwhile(_) => ApiError::Conflict,
            ServiceError::Unexpected(e) => ApiError::Unexpected(e),
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        ApiError::from_service(e, &[])
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        ApiError::Unexpected(e.into())
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for ApiError {
    fn from(e: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        // Keep the type: `db::outage` recognises it (503, not 500).
        ApiError::Unexpected(anyhow::Error::new(e).context(crate::db::outage::NO_CONNECTION))
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Conflict => StatusCode::CONFLICT,
            ApiError::Unexpected(e) if crate::db::outage::is_unreachable(e) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        let body = match self {
            ApiError::BadRequest(message) => json!({ "error": message }),
            ApiError::Unauthorized { token_sent: false } => {
                response.insert_header((WWW_AUTHENTICATE, r#"Bearer realm="firebreak""#));
                json!({ "error": "Send an API token in the header Authorization: Bearer <token>." })
            }
            ApiError::Unauthorized { token_sent: true } => {
                response.insert_header((
                    WWW_AUTHENTICATE,
                    r#"Bearer realm="firebreak", error="invalid_token", error_description="unknown or revoked token""#,
                ));
                json!({ "error": "This API token is unknown or has been revoked." })
            }
            ApiError::Forbidden(message) => json!({ "error": message }),
            ApiError::NotFound => json!({ "error": "Not found." }),
            ApiError::MethodNotAllowed(allow) => {
                response.insert_header((ALLOW, *allow));
                json!({ "error": format!("This method is not allowed here; use {allow}.") })
            }
            ApiError::PayloadTooLarge => json!({ "error": "The request body is too large." }),
            ApiError::UnsupportedMediaType => {
                json!({ "error": "Send the request body as JSON, with Content-Type: application/json." })
            }
            ApiError::Invalid(fields) => json!({ "error": "invalid input", "fields": fields }),
            ApiError::Conflict => json!({ "error": "Someone changed this at the same time; try again." }),
            ApiError::Unexpected(e) if crate::db::outage::is_unreachable(e) => {
                tracing::warn!(error = %format!("{e:#}"), "API request failed: the database is unreachable");
                return database_unreachable();
            }
            ApiError::Unexpected(e) => {
                tracing::error!(error = %format!("{e:#}"), "API request failed");
                json!({ "error": "Firebreak could not finish this request; nothing was changed. Try again in a moment." })
            }
        };
        response.content_type("application/json").body(body.to_string())
    }
}

/// The API's 503 while the database is unreachable.
pub fn database_unreachable() -> HttpResponse {
    HttpResponse::ServiceUnavailable()
        .insert_header((actix_web::http::header::RETRY_AFTER, crate::web::error::RETRY_AFTER_SECS))
        .content_type("application/json")
        .body(
            json!({ "error": "The database is unreachable; Firebreak is retrying. Nothing was changed. Try again in a few seconds." })
                .to_string(),
        )
}
