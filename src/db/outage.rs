//! Telling "the database is unreachable" apart from every other failure, so
//! the web layer can answer 503 ("retrying") instead of 500 ("a bug").

use diesel::result::{DatabaseErrorKind, Error as QueryError};
use diesel_async::pooled_connection::deadpool::PoolError;

/// Whether anything in `error`'s chain says the database cannot be reached:
/// no connection within the pool's timeouts, a connection that broke, or a
/// server shutting down or starting up.
pub fn is_unreachable(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        if let Some(e) = cause.downcast_ref::<PoolError>() {
            return !matches!(e, PoolError::PostCreateHook(_) | PoolError::NoRuntimeSpecified);
        }
        if let Some(e) = cause.downcast_ref::<QueryError>() {
            return is_lost_connection(e);
        }
        if cause.downcast_ref::<diesel::ConnectionError>().is_some() {
            return true;
        }
        // Call sites that turned a pool error into text.
        cause.to_string().starts_with(NO_CONNECTION)
    })
}

/// The message every "could not get a connection" error starts with.
pub const NO_CONNECTION: &str = "no database connection";

/// Whether a query failed because its connection did (rather than the query).
pub fn is_lost_connection(e: &QueryError) -> bool {
    match e {
        QueryError::DatabaseError(DatabaseErrorKind::UnableToSendCommand | DatabaseErrorKind::ClosedConnection, _) => {
            true
        }
        QueryError::BrokenTransactionManager => true,
        // admin_shutdown (57P01) and cannot_connect_now (57P03) carry no kind of their own.
        QueryError::DatabaseError(_, info) => {
            let m = info.message();
            m.starts_with("terminating connection") || m.starts_with("the database system is")
        }
        _ => false,
    }
}

/// Creates the database when missing and applies migrations, retrying for up
/// to `patience` while the server cannot be reached (it may be starting next to
/// us), with one log line per attempt saying so. Blocking: call it from
/// start-up or `spawn_blocking`. Other failures (a migration that fails) are
/// not retried.
pub fn prepare_database(database_url: &str, patience: std::time::Duration) -> anyhow::Result<usize> {
    let started = std::time::Instant::now();
    let mut wait = std::time::Duration::from_millis(250);
    let mut attempt = 1u32;
    loop {
        let result = super::ensure_database_exists(database_url).and_then(|()| super::run_migrations(database_url));
        match result {
            Ok(applied) => {
                if attempt > 1 {
                    tracing::info!(attempt, "the database answers; starting");
                }
                return Ok(applied);
            }
            Err(e) if is_unreachable(&e) => {
                let waited = started.elapsed();
                if waited >= patience {
                    return Err(e.context(format!(
                        "gave up: the database did not answer within {} s (DB_START_TIMEOUT_SECS)",
                        patience.as_secs()
                    )));
                }
                let left = patience - waited;
                tracing::warn!(
                    error = %format!("{e:#}"),
                    attempt,
                    giving_up_in_secs = left.as_secs(),
                    "waiting for the database to answer before starting"
                );
                std::thread::sleep(wait.min(left));
                wait = (wait * 2).min(std::time::Duration::from_secs(5));
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_timeouts_and_broken_connections_count_as_unreachable() {
        let timeout = PoolError::Timeout(deadpool::managed::TimeoutType::Create);
        assert!(is_unreachable(&anyhow::Error::new(timeout).context("no database connection")));
        let closed = QueryError::DatabaseError(DatabaseErrorKind::ClosedConnection, Box::new("gone".to_owned()));
        assert!(is_unreachable(&anyhow::Error::new(closed).context("loading the user")));
        assert!(is_unreachable(&anyhow::anyhow!("no database connection: timed out")));
        assert!(!is_unreachable(&anyhow::Error::new(QueryError::NotFound)));
        assert!(!is_unreachable(&anyhow::anyhow!("template error")));
    }
}
