//! `AppState`: what every handler can reach. Built by `startup`; nothing
//! below `web` sees it (services take the pool and settings they need).

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use crate::config::Settings;
use crate::db::DbPool;

/// What every handler can reach.
pub struct AppState {
    pub pool: DbPool,
    pub settings: Settings,
    /// Set once a first user exists; saves a query on every visit to `/`.
    pub setup_done: AtomicBool,
    /// The instance's database listener: changes from every instance (via
    /// LISTEN/NOTIFY), for live rooms.
    pub events: crate::db::listener::Listener,
    /// The public status page's snapshot.
    pub status: crate::status::StatusPage,
    /// The OpenID Connect provider people may sign in with, when configured.
    pub oidc: Option<Arc<crate::services::oidc::OidcProvider>>,
}
