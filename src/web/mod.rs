//! Everything that knows actix: the URL map, extractors, error pages, pages.

pub mod account;
pub mod admin;
pub mod alerts;
pub mod api;
pub mod auth;
pub mod csrf;
pub mod dashboard;
pub mod deadline;
pub mod error;
pub mod health;
pub mod incidents;
pub mod layout;
pub mod maintenances;
pub mod metrics;
pub mod oncall;
pub mod postmortems;
pub mod reports;
pub mod runbooks;
pub mod session;
pub mod state;
pub mod static_files;
pub mod status;
pub mod subscriptions;
pub mod tasks;

pub use state::AppState;

pub use actix_web::web::Data;

use actix_web::middleware::DefaultHeaders;
use actix_web::web::{self, ServiceConfig};

pub use error::AppError;
pub use layout::Layout;
pub use session::CurrentUser;

/// The whole URL map, in one place.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.app_data(web::PathConfig::default().error_handler(|_, _| AppError::NotFound.into()))
        .app_data(web::QueryConfig::default().error_handler(|e, _| AppError::BadRequest(e.to_string()).into()))
        .app_data(web::PayloadConfig::new(csrf::MAX_FORM_BYTES))
        // First: the router tries routes in order, and the public status page
        // and its API are what everybody opens at once during an outage. Behind
        // ~200 other routes, matching them cost 15% of the server's time
        // (regexes of the dynamic routes before them; bench/status.sh, perf).
        .configure(status::configure)
        .route("/", web::get().to(dashboard::show))
        .route("/health", web::get().to(health::health))
        .route("/ready", web::get().to(health::ready))
        .route("/static/{path:.*}", web::get().to(static_files::serve))
        .route("/setup", web::get().to(auth::setup::show))
        .route("/setup", web::post().to(auth::setup::submit))
        .route("/login", web::get().to(auth::login::show))
        .route("/login", web::post().to(auth::login::submit))
        .route("/logout", web::post().to(auth::logout::submit))
        .route("/login/oidc", web::post().to(auth::oidc::start))
        .route("/login/oidc/callback", web::get().to(auth::oidc::callback))
        .route("/account", web::get().to(account::show))
        .route("/account/password", web::post().to(account::change_password))
        .route("/account/sessions/end-all", web::post().to(account::end_all_sessions))
        .route("/account/sessions/{id}/end", web::post().to(account::end_session))
        .route("/account/time-zone", web::post().to(account::set_time_zone))
        .route("/admin", web::get().to(admin::index))
        .route("/admin/users", web::get().to(admin::users::list))
        .route("/admin/users", web::post().to(admin::users::create))
        .route("/admin/users/new", web::get().to(admin::users::new_form))
        .route("/admin/users/{id}", web::get().to(admin::users::show))
        .route("/admin/users/{id}/role", web::post().to(admin::users::change_role))
        .route("/admin/users/{id}/disable", web::post().to(admin::users::disable))
        .route("/admin/users/{id}/enable", web::post().to(admin::users::enable))
        .route("/admin/users/{id}/password", web::post().to(admin::users::reset_password))
        .route("/admin/audit", web::get().to(admin::audit::list))
        .route("/admin/components", web::get().to(admin::components::list))
        .route("/admin/components", web::post().to(admin::components::create))
        .route("/incidents", web::get().to(incidents::list::show))
        .route("/incidents", web::post().to(incidents::declare::submit))
        .route("/incidents/new", web::get().to(incidents::declare::show))
        .route("/incidents/events", web::get().to(incidents::live::any_events))
        .route("/incidents/{id}", web::get().to(incidents::room::show))
        .route("/incidents/{id}/events", web::get().to(incidents::live::events))
        .route("/incidents/{id}/entries", web::get().to(incidents::fragments::entries))
        .route("/incidents/{id}/notes", web::post().to(incidents::actions::add_note))
        .route("/incidents/{id}/highlights", web::post().to(incidents::actions::highlight))
        .route("/incidents/{id}/status", web::post().to(incidents::actions::change_status))
        .route("/incidents/{id}/severity", web::post().to(incidents::actions::change_severity))
        .route("/incidents/{id}/roles", web::post().to(incidents::actions::assign_role))
        .route("/incidents/{id}/roles/relieve", web::post().to(incidents::actions::relieve_role))
        .route("/incidents/{id}/timestamps", web::post().to(incidents::actions::correct_timestamp))
        .route("/incidents/{id}/timestamps/review", web::post().to(incidents::actions::review_key_times))
        .route("/incidents/{id}/details", web::post().to(incidents::actions::edit_details))
        .route("/incidents/{id}/duplicate", web::post().to(incidents::links::duplicate))
        .route("/incidents/{id}/false-alarm", web::post().to(incidents::links::false_alarm))
        .route("/incidents/{id}/related", web::post().to(incidents::links::related))
        .route("/incidents/{id}/tasks", web::post().to(incidents::actions::create_task))
        .route("/incidents/{id}/tasks/{task}/status", web::post().to(incidents::actions::set_task_status))
        .route("/incidents/{id}/tasks/{task}/assignee", web::post().to(incidents::actions::assign_task))
        .route("/incidents/{id}/changes", web::post().to(incidents::actions::request_change))
        .route("/incidents/{id}/changes/{change}/decision", web::post().to(incidents::actions::decide_change))
        .route("/incidents/{id}/changes/{change}/applied", web::post().to(incidents::actions::mark_change_applied))
        .route("/incidents/{id}/updates", web::post().to(incidents::updates::submit))
        .route("/incidents/{id}/updates/new", web::get().to(incidents::updates::new_form))
        .configure(admin::outbox::configure)
        .configure(admin::groups::configure)
        .configure(admin::components::configure)
        .configure(maintenances::configure)
        .configure(subscriptions::configure)
        .configure(postmortems::configure)
        .configure(tasks::configure)
        .configure(runbooks::configure)
        .configure(reports::configure)
        .configure(alerts::configure)
        .configure(admin::alert_sources::configure)
        .configure(admin::webhooks::configure)
        .configure(admin::api_tokens::configure)
        // Before the /api scope: on call has routes under /api/v1.
        .configure(oncall::configure)
        .configure(api::configure)
        .configure(metrics::configure)
        .default_service(web::to(error::not_found));
}

/// The Content-Security-Policy: no inline script or style, nothing from elsewhere,
/// never framed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; \
    frame-ancestors 'none'";

/// Security headers on every response (a handler may set its own Cache-Control).
pub fn security_headers() -> DefaultHeaders {
    security_headers_allowing_forms_to(None)
}

/// Security headers, with forms also allowed to end at `origin` (the identity
/// provider: signing in and out post a form here that redirects there, and
/// browsers apply form-action to the redirect).
pub fn security_headers_allowing_forms_to(origin: Option<&str>) -> DefaultHeaders {
    let csp = match origin {
        Some(origin) => CONTENT_SECURITY_POLICY.replace("form-action 'self'", &format!("form-action 'self' {origin}")),
        None => CONTENT_SECURITY_POLICY.to_owned(),
    };
    DefaultHeaders::new()
        .add(("Content-Security-Policy", csp))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "same-origin"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Cross-Origin-Opener-Policy", "same-origin"))
        .add(("Permissions-Policy", "camera=(), microphone=(), geolocation=()"))
        .add(("Cache-Control", "no-store"))
}

/// `Strict-Transport-Security` when people reach Firebreak over https (BASE_URL):
/// browsers then never try plain http for it again, for a year.
pub fn strict_transport_security(https: bool) -> actix_web::middleware::Condition<DefaultHeaders> {
    actix_web::middleware::Condition::new(
        https,
        DefaultHeaders::new().add(("Strict-Transport-Security", "max-age=31536000; includeSubDomains")),
    )
}

/// The client address used for throttling and the audit log. Only the socket
/// peer is trusted: a forwarded-for header is trivial to forge.
pub fn client_addr(req: &actix_web::HttpRequest) -> String {
    req.peer_addr().map(|a| a.ip().to_string()).unwrap_or_else(|| "unknown".to_owned())
}

/// A 303 redirect (post/redirect/get).
pub fn see_other(location: &str) -> actix_web::HttpResponse {
    actix_web::HttpResponse::SeeOther().insert_header((actix_web::http::header::LOCATION, location)).finish()
}

/// Renders a page with the given status (200 pages can also return the
/// template itself, through askama_web).
pub fn render<T: askama::Template>(
    status: actix_web::http::StatusCode,
    page: &T,
) -> Result<actix_web::HttpResponse, AppError> {
    let body = page.render().map_err(AppError::unexpected)?;
    Ok(actix_web::HttpResponse::build(status).content_type("text/html; charset=utf-8").body(body))
}
