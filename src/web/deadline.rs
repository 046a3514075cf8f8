//! A deadline for every request's handler. The pool's timeouts bound waiting
//! for a connection, but a query already sent to a database that then freezes
//! (SIGSTOP, a hung storage volume) would wait forever: after
//! [`REQUEST_DEADLINE`] the request is answered with the "database
//! unreachable" 503 instead (JSON under `/api/`). Streaming bodies (the room's
//! event stream) are not cut: only the time to produce the response counts.

use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse, ResponseError};

/// Far beyond any healthy request (pages render in milliseconds).
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(20);

pub async fn deadline(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    // Only the path: holding a clone of the request would break actix's own handling of it.
    let path = req.path().to_owned();
    match tokio::time::timeout(REQUEST_DEADLINE, next.call(req)).await {
        Ok(response) => response.map(ServiceResponse::map_into_boxed_body),
        Err(_) => {
            tracing::warn!(
                %path,
                seconds = REQUEST_DEADLINE.as_secs(),
                "request not answered in time (is the database frozen?); answering 503"
            );
            Err(NotInTime { api: path.starts_with("/api/") }.into())
        }
    }
}

/// The answer to a request that ran out of time.
#[derive(Debug, thiserror::Error)]
#[error("the request was not answered in time")]
struct NotInTime {
    api: bool,
}

impl ResponseError for NotInTime {
    fn status_code(&self) -> StatusCode {
        StatusCode::SERVICE_UNAVAILABLE
    }

    fn error_response(&self) -> HttpResponse {
        if self.api { super::api::error::database_unreachable() } else { super::error::database_unreachable_page() }
    }
}
