//! Use cases that write several rows or check secrets, each in one transaction.
//! Web handlers call these; they know nothing of HTTP.

pub mod accounts;
pub mod alerts;
pub mod api_tokens;
pub mod auth;
pub mod components;
pub mod contact_delivery;
pub mod contact_methods;
pub mod demo;
pub mod followups;
pub mod incidents;
pub mod maintenance;
pub mod meetings;
pub mod oidc;
pub mod oncall;
pub mod outbox;
pub mod outgoing;
pub mod paging;
pub mod passwords;
pub mod postmortems;
pub mod runbooks;
pub mod sessions;
pub mod shift_notices;
pub mod sso;
pub mod stakeholders;
pub mod subscriptions;
pub mod updates;
pub mod webhooks;

use std::collections::BTreeMap;

use crate::db::UserId;
use crate::domain::Role;

/// Writes an audit-log entry for an action (in the caller's transaction).
pub(crate) async fn audit(
    conn: &mut diesel_async::AsyncPgConnection,
    actor: &Actor,
    action: &str,
    subject: &str,
    detail: &str,
) -> diesel::QueryResult<()> {
    crate::db::audit_log::insert(
        conn,
        &crate::db::audit_log::NewAuditEntry {
            actor_id: actor.id,
            action,
            subject,
            detail,
            client_addr: actor.client_addr.as_deref(),
        },
    )
    .await
}

/// Who is acting, for permission checks and the audit log.
#[derive(Debug, Clone)]
pub struct Actor {
    pub id: Option<UserId>,
    pub role: Role,
    pub client_addr: Option<String>,
}

impl Actor {
    /// The command line: an operator with shell access to the server.
    pub fn command_line() -> Self {
        Actor { id: None, role: Role::Admin, client_addr: None }
    }
}

/// A message per form field, keyed by the field's name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(BTreeMap<&'static str, String>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: &'static str, message: impl Into<String>) {
        self.0.entry(field).or_insert_with(|| message.into());
    }

    /// Keeps the parsed value, or records its message and returns `None`.
    pub fn check<T>(&mut self, field: &'static str, parsed: Result<T, String>) -> Option<T> {
        match parsed {
            Ok(v) => Some(v),
            Err(message) => {
                self.add(field, message);
                None
            }
        }
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn single(field: &'static str, message: impl Into<String>) -> Self {
        let mut e = Self::new();
        e.add(field, message);
        e
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("not found")]
    NotFound,
    #[error("not allowed: {0}")]
    Forbidden(&'static str),
    #[error("invalid input")]
    Invalid(FieldErrors),
    /// Someone else changed the same thing first (optimistic locking).
    #[error("edit conflict")]
    Conflict,
    /// Someone else changed these fields of a form to other values while it
    /// was being edited; the message per field says what they are now.
    #[error("changed meanwhile")]
    ChangedMeanwhile(FieldErrors),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<diesel::result::Error> for ServiceError {
    fn from(e: diesel::result::Error) -> Self {
        ServiceError::Unexpected(e.into())
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for ServiceError {
    fn from(e: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        // Keep the type: `db::outage` recognises it (503, not 500).
        ServiceError::Unexpected(anyhow::Error::new(e).context(crate::db::outage::NO_CONNECTION))
    }
}
