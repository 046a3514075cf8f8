//! The email outbox as admins act on it: sending a message again now.
//! (Queuing happens in each cause's transaction; the worker is `email::worker`.)

use diesel_async::AsyncConnection;

use super::components::require_admin;
use super::{Actor, ServiceError, audit};
use crate::db::{DbPool, OutboxId, outbox};

/// What "Retry" did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retried {
    /// Due again now; the address it goes to.
    Again(String),
    /// It was sent already: nothing to do.
    AlreadySent,
}

/// Makes a failed or pending message due now, with an audit entry, in one
/// transaction (admins only).
pub async fn retry(pool: &DbPool, actor: &Actor, id: OutboxId) -> Result<Retried, ServiceError> {
    require_admin(actor)?;
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        let m = outbox::find(conn, id).await?.ok_or(ServiceError::NotFound)?;
        if !outbox::retry_now(conn, id).await? {
            return Ok(Retried::AlreadySent);
        }
        let subject = format!("message {id} to {}", m.to_address);
        let detail = format!("was {} after {} attempts: {}", m.status, m.attempts, m.subject);
        audit(conn, actor, "outbox.retry", &subject, &detail).await?;
        Ok(Retried::Again(m.to_address))
    })
    .await
}
