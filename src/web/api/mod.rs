//! The JSON API for scripts (/api/v1), authenticated by bearer tokens that
//! admins create at /admin/api-tokens. Described by `openapi.json`, served at
//! /api/v1/openapi.json: keep the two in step (tests/app/api.rs runs
//! schemathesis against it).
//!
//! Everything under /api answers in JSON, errors included: `{"error": "..."}`
//! (plus `"fields"` on 422). No session and no CSRF token: see `auth`.

pub mod auth;
pub mod error;
pub mod incidents;

use actix_web::error::JsonPayloadError;
use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpResponse, Resource};

use error::ApiError;

/// The OpenAPI 3.0 document of /api/v1.
pub const OPENAPI: &str = include_str!("openapi.json");

/// Largest JSON body accepted.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

fn json_config() -> web::JsonConfig {
    web::JsonConfig::default().limit(MAX_BODY_BYTES).error_handler(|err, _req| {
        match err {
            JsonPayloadError::ContentType => ApiError::UnsupportedMediaType,
            JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
                ApiError::PayloadTooLarge
            }
            JsonPayloadError::Deserialize(e) => ApiError::BadRequest(format!("The body is not what this takes: {e}.")),
            other => ApiError::BadRequest(format!("The body could not be read: {other}.")),
        }
        .into()
    })
}

/// A path with its methods; any other method gets a JSON 405 with `Allow`.
pub(crate) fn resource(path: &str, allow: &'static str) -> Resource {
    web::resource(path)
        .default_service(web::to(move || async move { Err::<HttpResponse, _>(ApiError::MethodNotAllowed(allow)) }))
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(
        web::scope("/api")
            .app_data(json_config())
            .service(resource("/v1/openapi.json", "GET").route(web::get().to(openapi)))
            .service(
                resource("/v1/incidents", "GET, POST")
                    .route(web::get().to(incidents::list))
                    .route(web::post().to(incidents::declare)),
            )
            .service(resource("/v1/incidents/{id}", "GET").route(web::get().to(incidents::show)))
            .service(
                resource("/v1/incidents/{id}/timeline", "GET, POST")
                    .route(web::get().to(incidents::timeline))
                    .route(web::post().to(incidents::add_note)),
            )
            .service(
                resource("/v1/incidents/{id}/updates", "GET, POST")
                    .route(web::get().to(incidents::list_updates))
                    .route(web::post().to(incidents::send_update)),
            )
            // Every other path under /api (the status page's /api/v2 routes are registered before this scope).
            .default_service(web::to(not_found)),
    );
}

/// `GET /api/v1/openapi.json`: public, like any API documentation.
pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(OPENAPI)
}

async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_openapi_document_is_json() {
        let doc: serde_json::Value = serde_json::from_str(super::OPENAPI).expect("openapi.json parses");
        assert_eq!(doc["openapi"], "3.0.3");
        assert!(doc["paths"]["/incidents"].is_object());
    }
}
