//! Sending email: the outbox worker and its transports (SMTP through lettre,
//! or a folder of .eml files when SMTP_URL is not set), the message format,
//! and the messages Firebreak writes (`compose`: one text + HTML template pair
//! for updates, announcements and subscriptions; `test_email` for the admin).
//!
//! Every email is first a row in `outbox` (written in the transaction of the
//! action that caused it, see `db::outbox::enqueue`); the worker in each app
//! instance delivers the rows. See `worker` for the delivery guarantees and
//! `transport` for SMTP_URL.

pub mod compose;
mod message;
pub mod test_email;
mod transport;
mod worker;

pub use message::build_message;
pub use transport::{SendError, SmtpEndpoint, TlsMode, Transport};
pub use worker::{MAX_ATTEMPTS, after_failure, backoff};

use crate::config::Settings;
use crate::db::DbPool;
use crate::db::listener::Listener;

/// Starts this instance's outbox worker in the background.
pub fn spawn_worker(pool: DbPool, settings: Settings, listener: &Listener) {
    worker::spawn(pool, settings, listener);
}
