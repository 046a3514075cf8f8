//! The instance's one LISTEN connection. A single task LISTENs on every
//! channel Firebreak NOTIFYs on and fans what arrives out as typed
//! [`DbEvent`]s on a broadcast channel: the live room streams, the status
//! snapshot and the queue workers (email outbox, webhooks) subscribe to it
//! instead of each holding a connection and a reconnect loop of their own.
//!
//! While connected, the task checks the connection every [`HEARTBEAT`] when
//! nothing arrives, so a database that is stopped *or frozen* is noticed
//! within a few seconds ([`DbEvent::Lost`]). After every (re)connection it
//! sends [`DbEvent::Resync`]: notifications sent while it was not listening
//! are gone, so subscribers catch up (rooms re-fetch, the status page
//! rebuilds, queue workers poll). The reconnect backoff starts over after each
//! successful connection.

use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::StreamExt;
use tokio::sync::broadcast;

use super::component_status::STATUS_CHANNEL;
use super::outbox::OUTBOX_CHANNEL;
use super::pages::PAGES_CHANNEL;
use super::sessions::SESSIONS_CHANNEL;
use super::webhooks::WEBHOOK_CHANNEL;
use super::{IncidentId, UserId};

/// The channel incident changes are announced on; the payload is the incident id.
pub const INCIDENT_CHANNEL: &str = "firebreak_incident";
/// The `application_name` of the listener's connection (visible in `pg_stat_activity`).
pub const APPLICATION_NAME: &str = "firebreak_listener";
/// How long the connection may stay silent before it is checked with a query.
pub const HEARTBEAT: Duration = Duration::from_secs(1);
/// How long connecting, subscribing or a check may take before the database counts as unreachable.
const ANSWER_TIMEOUT: Duration = Duration::from_millis(1500);
/// The first wait after a failed connection; doubled after each further failure.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait between two connection attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What subscribers hear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbEvent {
    /// An incident changed (any instance).
    Incident(IncidentId),
    /// Something the public status page shows changed.
    Status,
    /// Email was queued.
    Outbox,
    /// A webhook delivery was queued.
    Webhook,
    /// A page was opened or moved (on-call escalation).
    Pages,
    /// Some sessions of this user were ended (sign-out elsewhere, password change, disabled).
    SessionsEnded(UserId),
    /// The listener (re)connected: changes may have been missed, catch up.
    Resync,
    /// The database stopped answering; a [`DbEvent::Resync`] follows when it is back.
    Lost,
}

/// A handle to the running listener; cheap to clone.
#[derive(Clone)]
pub struct Listener {
    events: broadcast::Sender<DbEvent>,
}

impl Listener {
    /// Starts the listener task (needs a Tokio runtime).
    pub fn spawn(database_url: String) -> Self {
        let (events, _) = broadcast::channel(1024);
        tokio::spawn(run(database_url, events.clone()));
        Listener { events }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<DbEvent> {
        self.events.subscribe()
    }
}

/// The wait before the next connection attempt after `failures` failures in a row.
pub fn backoff(failures: u32) -> Duration {
    FIRST_BACKOFF.saturating_mul(2u32.saturating_pow(failures.saturating_sub(1).min(16))).min(MAX_BACKOFF)
}

async fn run(database_url: String, events: broadcast::Sender<DbEvent>) {
    let url = with_application_name(&database_url);
    let mut failures: u32 = 0;
    let mut connected_once = false;
    loop {
        let error = match connect(&url).await {
            Ok(mut conn) => {
                failures = 0;
                if connected_once {
                    tracing::info!("the database listener is connected again");
                }
                connected_once = true;
                // No receivers is fine: nobody is subscribed yet.
                let _ = events.send(DbEvent::Resync);
                listen(&mut conn, &events).await
            }
            Err(e) => e,
        };
        if failures == 0 {
            // Once per outage, not once per attempt.
            tracing::warn!(error = %format!("{error:#}"), "lost the database listener's connection; reconnecting");
            let _ = events.send(DbEvent::Lost);
        } else {
            tracing::debug!(error = %format!("{error:#}"), failures, "the database listener still cannot connect");
        }
        failures = failures.saturating_add(1);
        tokio::time::sleep(backoff(failures)).await;
    }
}

async fn connect(url: &str) -> anyhow::Result<AsyncPgConnection> {
    let subscribe = async {
        let mut conn = AsyncPgConnection::establish(url).await?;
        for channel in
            [INCIDENT_CHANNEL, STATUS_CHANNEL, OUTBOX_CHANNEL, WEBHOOK_CHANNEL, PAGES_CHANNEL, SESSIONS_CHANNEL]
        {
            diesel::sql_query(format!("LISTEN {channel}")).execute(&mut conn).await?;
        }
        anyhow::Ok(conn)
    };
    tokio::time::timeout(ANSWER_TIMEOUT, subscribe)
        .await
        .map_err(|_| anyhow::anyhow!("the database did not answer within {:?}", ANSWER_TIMEOUT))?
}

/// Forwards notifications until the connection fails; returns why.
async fn listen(conn: &mut AsyncPgConnection, events: &broadcast::Sender<DbEvent>) -> anyhow::Error {
    loop {
        let next = {
            let mut stream = std::pin::pin!(conn.notifications_stream());
            tokio::time::timeout(HEARTBEAT, stream.next()).await
        };
        match next {
            Ok(Some(Ok(n))) => {
                if let Some(event) = event_of(&n.channel, &n.payload) {
                    let _ = events.send(event);
                }
            }
            Ok(Some(Err(e))) => return e.into(),
            Ok(None) => return anyhow::anyhow!("the notification stream ended"),
            // Quiet for a while: make sure the database still answers.
            Err(_) => {
                let check = diesel::sql_query("SELECT 1").execute(conn);
                match tokio::time::timeout(ANSWER_TIMEOUT, check).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => return e.into(),
                    Err(_) => {
                        return anyhow::anyhow!("the database did not answer within {:?}", ANSWER_TIMEOUT);
                    }
                }
            }
        }
    }
}

/// The event a notification stands for; `None` for a payload that does not parse.
pub fn event_of(channel: &str, payload: &str) -> Option<DbEvent> {
    match channel {
        INCIDENT_CHANNEL => payload.parse::<IncidentId>().ok().map(DbEvent::Incident),
        STATUS_CHANNEL => Some(DbEvent::Status),
        OUTBOX_CHANNEL => Some(DbEvent::Outbox),
        WEBHOOK_CHANNEL => Some(DbEvent::Webhook),
        PAGES_CHANNEL => Some(DbEvent::Pages),
        SESSIONS_CHANNEL => payload.parse::<UserId>().ok().map(DbEvent::SessionsEnded),
        _ => None,
    }
}

/// The URL with `application_name` set (unless the operator set one), so the
/// listener's connection can be told apart in `pg_stat_activity`.
fn with_application_name(database_url: &str) -> String {
    match url::Url::parse(database_url) {
        Ok(mut url) if !url.query_pairs().any(|(k, _)| k == "application_name") => {
            url.query_pairs_mut().append_pair("application_name", APPLICATION_NAME);
            url.to_string()
        }
        _ => database_url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_first_wait_up_to_the_longest() {
        assert_eq!(backoff(1), FIRST_BACKOFF);
        assert_eq!(backoff(2), FIRST_BACKOFF * 2);
        assert_eq!(backoff(3), FIRST_BACKOFF * 4);
        assert_eq!(backoff(100), MAX_BACKOFF);
    }

    #[test]
    fn notifications_become_typed_events() {
        assert_eq!(event_of(INCIDENT_CHANNEL, "42"), Some(DbEvent::Incident(IncidentId(42))));
        assert_eq!(event_of(INCIDENT_CHANNEL, "x"), None);
        assert_eq!(event_of(OUTBOX_CHANNEL, ""), Some(DbEvent::Outbox));
        assert_eq!(event_of(SESSIONS_CHANNEL, "7"), Some(DbEvent::SessionsEnded(UserId(7))));
        assert_eq!(event_of("elsewhere", ""), None);
    }

    #[test]
    fn the_listener_names_its_connection() {
        assert_eq!(with_application_name("postgres://u@h/db"), "postgres://u@h/db?application_name=firebreak_listener");
        assert_eq!(
            with_application_name("postgres://u@h/db?application_name=x"),
            "postgres://u@h/db?application_name=x"
        );
    }
}
