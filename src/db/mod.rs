//! Everything that knows Diesel: the connection pool, the embedded migrations,
//! typed ids and one module per table with its rows and query functions.

pub mod alerts;
pub mod api_tokens;
pub mod audit_log;
pub mod change_requests;
pub mod component_status;
pub mod components;
pub mod contact_methods;
pub mod embedded;
pub mod escalation;
pub mod ids;
pub mod incident_roles;
pub mod incidents;
pub mod listener;
pub mod maintenances;
pub mod meetings;
pub mod oidc;
pub mod outage;
pub mod outbox;
pub mod pages;
pub mod postmortems;
pub mod reports;
pub mod request_log;
pub mod runbooks;
pub mod schedules;
pub mod schema;
pub mod sessions;
pub mod sign_in_failures;
pub mod stakeholders;
pub mod subscribers;
pub mod tasks;
pub mod timeline;
pub mod updates;
pub mod users;
pub mod webhooks;

use anyhow::Context;
use diesel::{Connection, PgConnection, RunQueryDsl};
use diesel_async::AsyncPgConnection;
use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub use ids::{
    ChangeRequestId, ComponentId, EntryId, GroupId, IncidentId, MaintenanceId, OutboxId, RoleAssignmentId,
    SubscriberId, TaskId, UpdateId, UserId,
};
pub use ids::{ContactMethodId, LayerId, PageId, PageNotificationId, PolicyId, ScheduleId, SessionId};

diesel::define_sql_function! {
    /// SQL `lower(text)`, for case-insensitive matches that use the `lower(...)` indexes.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

pub type DbPool = Pool<AsyncPgConnection>;
pub type DbConn = Object<AsyncPgConnection>;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Longest wait for a free connection when all are in use.
pub const POOL_WAIT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// Longest a new connection may take (a frozen server accepts TCP but never answers).
pub const POOL_CREATE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);
/// Longest the check of an idle connection (`SELECT 1`) may take before it is thrown away.
pub const POOL_RECYCLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// Builds the pool. Connections are made lazily, so this succeeds even while
/// the database is down; `/ready` tells whether it answers. Checkouts time out
/// (see the constants above) rather than wait for a database that is gone or frozen.
pub fn build_pool(database_url: &str, max_size: usize) -> anyhow::Result<DbPool> {
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new(database_url);
    Pool::builder(manager)
        .max_size(max_size)
        .runtime(deadpool::Runtime::Tokio1)
        .wait_timeout(Some(POOL_WAIT_TIMEOUT))
        .create_timeout(Some(POOL_CREATE_TIMEOUT))
        .recycle_timeout(Some(POOL_RECYCLE_TIMEOUT))
        .build()
        .context("could not build the database pool")
}

/// Creates the database named in `database_url` when it does not exist yet,
/// by connecting to the server's `postgres` database. Blocking: call it from
/// start-up or `spawn_blocking`.
pub fn ensure_database_exists(database_url: &str) -> anyhow::Result<()> {
    if PgConnection::establish(database_url).is_ok() {
        return Ok(());
    }
    let mut url = url::Url::parse(database_url).context("DATABASE_URL is not a URL")?;
    let name = url.path().trim_start_matches('/').to_owned();
    anyhow::ensure!(!name.is_empty(), "DATABASE_URL names no database");
    url.set_path("/postgres");
    let mut admin = PgConnection::establish(url.as_str())
        .with_context(|| format!("cannot connect to the PostgreSQL server at {}", redact(database_url)))?;
    let sql = format!("CREATE DATABASE {}", quote_ident(&name));
    match diesel::sql_query(sql).execute(&mut admin) {
        Ok(_) => {
            tracing::info!(database = %name, "created the database");
            Ok(())
        }
        // Another instance created it at the same moment.
        Err(diesel::result::Error::DatabaseError(_, info)) if info.message().contains("already exists") => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot create database {name}")),
    }
}

/// Applies every pending embedded migration. Blocking, on a plain
/// `PgConnection` (the async harness panics under actix's runtime).
pub fn run_migrations(database_url: &str) -> anyhow::Result<usize> {
    let mut conn = PgConnection::establish(database_url)
        .with_context(|| format!("cannot connect to the database at {}", redact(database_url)))?;
    let applied = conn.run_pending_migrations(MIGRATIONS).map_err(|e| anyhow::anyhow!("migration failed: {e}"))?;
    Ok(applied.len())
}

/// Reverts every applied migration; used by the test that proves they are reversible.
pub fn revert_all_migrations(database_url: &str) -> anyhow::Result<usize> {
    let mut conn = PgConnection::establish(database_url)
        .with_context(|| format!("cannot connect to the database at {}", redact(database_url)))?;
    let reverted =
        conn.revert_all_migrations(MIGRATIONS).map_err(|e| anyhow::anyhow!("reverting migrations failed: {e}"))?;
    Ok(reverted.len())
}

/// A SQL identifier in double quotes, with embedded quotes doubled.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The URL with any password replaced, fit for messages and logs.
pub fn redact(database_url: &str) -> String {
    match url::Url::parse(database_url) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        _ => database_url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_appear_in_redacted_urls() {
        assert_eq!(redact("postgres://app:s3cret@db:5432/firebreak"), "postgres://app:***@db:5432/firebreak");
        assert_eq!(redact("postgres://postgres@127.0.0.1/x"), "postgres://postgres@127.0.0.1/x");
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("fire\"break"), "\"fire\"\"break\"");
    }
}
