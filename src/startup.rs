//! Builds the application: database, pool, HTTP server with its middleware.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use actix_session::SessionMiddleware;
use actix_session::config::{CookieContentSecurity, PersistentSession};
use actix_session::storage::CookieSessionStore;
use actix_web::cookie::{Key, SameSite};
use actix_web::dev::Server;
use actix_web::{App, HttpServer};
use anyhow::Context;
use secrecy::ExposeSecret;

use crate::config::Settings;
use crate::db::{self, DbPool};
use crate::telemetry::spawn_blocking_with_tracing;
use crate::web;
use crate::web::{AppState, Data};

/// Open connections one HTTP worker serves at once (see `max_connections` in `run`).
const MAX_CONNECTIONS_PER_WORKER: usize = 1024;

pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    /// Creates the database when missing, applies migrations, binds the
    /// listener and builds the server (not yet running).
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let url = settings.database_url.expose_secret().to_owned();
        let patience = settings.db_start_timeout;
        spawn_blocking_with_tracing(move || -> anyhow::Result<()> {
            // Retries while the database is unreachable (it may be starting next to us).
            let applied = db::outage::prepare_database(&url, patience)?;
            if applied > 0 {
                tracing::info!(applied, "applied database migrations");
            }
            Ok(())
        })
        .await
        .context("the migration thread failed")??;

        let pool = db::build_pool(settings.database_url.expose_secret(), settings.db_pool_size)?;
        let listener =
            TcpListener::bind(settings.bind).with_context(|| format!("cannot listen on {}", settings.bind))?;
        let port = listener.local_addr()?.port();
        let server = run(listener, pool, settings)?;
        Ok(Self { port, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

fn session_key(settings: &Settings) -> Key {
    match settings.session_key_bytes() {
        Some(bytes) => Key::from(&bytes),
        None => {
            tracing::warn!(
                "SESSION_KEY is not set: using a generated key, so everyone is signed out when Firebreak restarts \
                 and several instances cannot share sessions. Set SESSION_KEY to the output of `openssl rand -base64 64`."
            );
            Key::generate()
        }
    }
}

fn run(listener: TcpListener, pool: DbPool, settings: Settings) -> anyhow::Result<Server> {
    let key = session_key(&settings);
    let secure = settings.is_https();
    let workers = settings.workers;
    // The one LISTEN connection: rooms, the status page and the queue workers all hear it.
    let events = crate::db::listener::Listener::spawn(settings.database_url.expose_secret().to_owned());
    let status = crate::status::StatusPage::start(pool.clone(), &settings, events.subscribe());
    crate::email::spawn_worker(pool.clone(), settings.clone(), &events);
    crate::services::maintenance::spawn_scheduler(pool.clone(), settings.clone());
    crate::services::followups::spawn_digest_job(pool.clone(), settings.clone());
    crate::services::alerts::spawn_retention_job(pool.clone());
    crate::services::webhooks::spawn_worker(pool.clone(), settings.clone(), &events);
    crate::services::paging::spawn_worker(pool.clone(), settings.clone(), &events);
    crate::services::shift_notices::spawn_job(pool.clone(), settings.clone());
    crate::services::sessions::spawn_cleanup(
        pool.clone(),
        crate::services::sessions::SessionRules::from_settings(&settings.sign_in),
    );
    let oidc = match &settings.sign_in.oidc {
        Some(o) => Some(Arc::new(crate::services::oidc::OidcProvider::new(o.clone(), &settings.base_url)?)),
        None => None,
    };
    let form_origin = settings.sign_in.oidc.as_ref().and_then(crate::services::oidc::OidcProvider::form_origin);
    let state = Data::new(AppState { pool, settings, setup_done: AtomicBool::new(false), events, status, oidc });
    let state = Arc::clone(&state.into_inner());
    // Request counts for /metrics, shared by every HTTP worker of this instance.
    let http_metrics = Arc::new(web::metrics::HttpMetrics::default());
    // The cookie lives as long as the longest session; the server ends sessions sooner (idle, sign-out).
    let cookie_ttl = actix_web::cookie::time::Duration::seconds(
        i64::try_from(state.settings.sign_in.session_max_age.as_secs()).unwrap_or(i64::MAX),
    );
    let server = HttpServer::new(move || {
        let session = SessionMiddleware::builder(CookieSessionStore::default(), key.clone())
            .cookie_name("firebreak_session".to_owned())
            .cookie_secure(secure)
            .cookie_http_only(true)
            .cookie_same_site(SameSite::Lax)
            .cookie_content_security(CookieContentSecurity::Private)
            .session_lifecycle(PersistentSession::default().session_ttl(cookie_ttl))
            .build();
        App::new()
            // Innermost: a frozen database answers 503 instead of hanging the request.
            .wrap(actix_web::middleware::from_fn(web::deadline::deadline))
            .wrap(session)
            .wrap(web::security_headers_allowing_forms_to(form_origin.as_deref()))
            .wrap(web::strict_transport_security(secure))
            // Outermost: counts, times and logs every request (one line each, secrets blanked).
            .wrap(web::metrics::RequestTelemetry::new(Arc::clone(&http_metrics)))
            .app_data(Data::from(Arc::clone(&state)))
            .app_data(Data::from(Arc::clone(&http_metrics)))
            .configure(web::configure)
    })
    .workers(workers)
    // Bounded work for anonymous callers: beyond this many open connections per
    // worker, new ones wait in the kernel's accept queue instead of each holding
    // buffers and a queued request here (bench/declare.sh at twice what the
    // machine can declare: 209 MiB with actix's default of 25,000, 146 MiB with this).
    .max_connections(MAX_CONNECTIONS_PER_WORKER)
    .listen(listener)?
    .run();
    Ok(server)
}
