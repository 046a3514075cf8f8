//! The outbox worker: one per app instance. It wakes when rows are queued
//! (LISTEN on the outbox channel) and at least every few seconds, claims due
//! rows with a lease (`FOR UPDATE SKIP LOCKED`, so instances never share a
//! row), sends them a batch at a time with several in flight over pooled
//! connections, and records every attempt. A row whose worker died keeps its
//! lease until it expires and is then claimed again: mail is delivered at least
//! once, and twice only if a worker dies between the server's acceptance and
//! the database update.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lettre::message::Mailbox;
use tokio::task::JoinSet;

use super::message::build_message;
use super::transport::{SendError, Transport};
use crate::config::Settings;
use crate::db::listener::{DbEvent, Listener};
use crate::db::outbox::{self, AfterFailure, OutboxMessage};
use crate::db::{DbPool, OutboxId};

/// Messages being sent at the same time. lettre writes a message's final
/// `.` separately, so every message waits about one delayed ACK of the server
/// (40 ms on Linux); throughput comes from sending several at once: 16 in
/// flight deliver 10,000 messages to a local server in about half a minute.
const IN_FLIGHT: usize = 16;
/// Rows claimed at once.
const BATCH: i64 = 4 * IN_FLIGHT as i64;
/// SMTP connections kept open for reuse. Twice the messages in flight: lettre
/// returns a connection to its pool a moment after a send ends, and a smaller
/// pool would close it and open a new one for the next message.
const POOL_SIZE: u32 = 2 * IN_FLIGHT as u32;
/// How long a claim lasts. Longer than a batch can take (every send is cut off
/// at `SEND_TIMEOUT`), so a live worker never loses its rows to another.
const LEASE: Duration = Duration::from_secs(300);
/// The most one message may take, all SMTP commands together.
const SEND_TIMEOUT: Duration = Duration::from_secs(60);
/// Attempts before a message is given up on.
pub const MAX_ATTEMPTS: i32 = 10;
/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

// Even a batch whose every send times out ends before its lease does.
const _: () = assert!((BATCH as u64 / IN_FLIGHT as u64) * SEND_TIMEOUT.as_secs() < LEASE.as_secs());

/// The wait after the `attempts`-th failed attempt: base, 2 × base, 4 × base, ... up to an hour.
pub fn backoff(base: Duration, attempts: i32) -> Duration {
    let exponent = u32::try_from(attempts.saturating_sub(1)).unwrap_or(0).min(30);
    base.saturating_mul(2u32.saturating_pow(exponent)).min(MAX_BACKOFF)
}

/// What happens to a message whose `attempts`-th attempt just failed.
pub fn after_failure(now: DateTime<Utc>, attempts: i32, permanent: bool, base: Duration) -> AfterFailure {
    if permanent || attempts >= MAX_ATTEMPTS {
        return AfterFailure::GiveUp;
    }
    let wait = chrono::Duration::from_std(backoff(base, attempts)).unwrap_or(chrono::Duration::hours(1));
    AfterFailure::RetryAt(now + wait)
}

/// Sends one message: everything the worker's tasks share.
struct Sender {
    transport: Transport,
    from: Result<Mailbox, String>,
}

impl Sender {
    async fn deliver(&self, row: &OutboxMessage) -> Result<(), SendError> {
        let from = self.from.as_ref().map_err(|e| SendError::permanent(e.clone()))?;
        let message = build_message(row, from).map_err(SendError::permanent)?;
        match tokio::time::timeout(SEND_TIMEOUT, self.transport.send(row.id, message)).await {
            Ok(result) => result,
            Err(_) => {
                Err(SendError::transient(format!("gave up after {} s without an answer", SEND_TIMEOUT.as_secs())))
            }
        }
    }
}

/// Starts the worker, woken through the instance's database listener.
pub fn spawn(pool: DbPool, settings: Settings, listener: &Listener) {
    let transport = match Transport::from_settings(&settings, POOL_SIZE) {
        Ok(t) => t,
        Err(e) => {
            // Rows stay queued (nothing is lost) until the setting is fixed.
            tracing::error!(error = %e, "email is not being sent");
            return;
        }
    };
    tracing::info!(via = %transport.describe(), "outbox worker started");
    let from = settings.mail_from.parse::<Mailbox>().map_err(|e| format!("MAIL_FROM is not a usable address: {e}"));
    let sender = Arc::new(Sender { transport, from });
    let retry_base = settings.mail_retry_base;
    let (deliver_pool, due_pool) = (pool.clone(), pool);
    crate::queue::spawn(
        listener,
        DbEvent::Outbox,
        crate::queue::Queue {
            name: "outbox",
            deliver_due: move || {
                let (pool, sender) = (deliver_pool.clone(), Arc::clone(&sender));
                async move { deliver_due(&pool, &sender, retry_base).await }
            },
            next_due: move || {
                let pool = due_pool.clone();
                async move { next_due(&pool).await }
            },
        },
    );
}

async fn next_due(pool: &DbPool) -> anyhow::Result<Option<f64>> {
    let mut conn = pool.get().await?;
    Ok(outbox::seconds_until_next_due(&mut conn).await?)
}

/// Claims one batch, sends it and records the results. Returns how many rows it claimed.
async fn deliver_due(pool: &DbPool, sender: &Arc<Sender>, retry_base: Duration) -> anyhow::Result<usize> {
    let rows = {
        let mut conn = pool.get().await?;
        outbox::claim_due(&mut conn, BATCH, LEASE).await?
    };
    let claimed = rows.len();
    if claimed == 0 {
        return Ok(0);
    }
    let attempts: HashMap<OutboxId, i32> = rows.iter().map(|r| (r.id, r.attempts)).collect();
    let mut results: HashMap<OutboxId, Result<(), SendError>> = HashMap::with_capacity(claimed);
    let mut tasks = JoinSet::new();
    for row in rows {
        while tasks.len() >= IN_FLIGHT {
            if let Some(Ok((id, result))) = tasks.join_next().await {
                results.insert(id, result);
            }
        }
        let sender = Arc::clone(sender);
        tasks.spawn(async move {
            let result = sender.deliver(&row).await;
            (row.id, result)
        });
    }
    while let Some(joined) = tasks.join_next().await {
        if let Ok((id, result)) = joined {
            results.insert(id, result);
        }
    }
    let mut sent = Vec::new();
    let mut failed = Vec::new();
    for (&id, &attempt) in &attempts {
        match results.remove(&id) {
            Some(Ok(())) => sent.push(id),
            Some(Err(e)) => failed.push((id, attempt, e)),
            // The task panicked: count it as a failed attempt.
            None => failed.push((id, attempt, SendError::transient("the sending task failed"))),
        }
    }
    sent.sort();
    record(pool, &sent, &failed, retry_base).await?;
    Ok(claimed)
}

/// Writes the batch's outcome, retrying for a while: the messages are out,
/// and leaving them claimed would send them again when the lease ends.
async fn record(
    pool: &DbPool,
    sent: &[OutboxId],
    failed: &[(OutboxId, i32, SendError)],
    retry_base: Duration,
) -> anyhow::Result<()> {
    let mut wait = Duration::from_millis(250);
    let mut tries = 0;
    loop {
        tries += 1;
        match record_once(pool, sent, failed, retry_base).await {
            Ok(()) => return Ok(()),
            Err(e) if tries < 6 => {
                tracing::warn!(error = %e, "cannot record sent email yet; retrying");
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
            Err(e) => return Err(e),
        }
    }
}

async fn record_once(
    pool: &DbPool,
    sent: &[OutboxId],
    failed: &[(OutboxId, i32, SendError)],
    retry_base: Duration,
) -> anyhow::Result<()> {
    let mut conn = pool.get().await?;
    outbox::mark_sent(&mut conn, sent).await?;
    for (id, attempts, error) in failed {
        let then = after_failure(Utc::now(), *attempts, error.permanent, retry_base);
        tracing::warn!(outbox_id = %id, attempts, error = %error.message, ?then, "email not delivered");
        let message: String = error.message.chars().take(2000).collect();
        outbox::record_failure(&mut conn, *id, &message, then).await?;
    }
    if !sent.is_empty() {
        tracing::debug!(count = sent.len(), "email delivered");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn retries_back_off_exponentially_up_to_an_hour() {
        let base = Duration::from_secs(30);
        assert_eq!(backoff(base, 1), Duration::from_secs(30));
        assert_eq!(backoff(base, 2), Duration::from_secs(60));
        assert_eq!(backoff(base, 4), Duration::from_secs(240));
        assert_eq!(backoff(base, 9), Duration::from_secs(3600));
        assert_eq!(backoff(base, 1000), Duration::from_secs(3600));
        assert_eq!(backoff(Duration::from_millis(200), 0), Duration::from_millis(200));
    }

    #[test]
    fn permanent_errors_and_the_tenth_attempt_give_up() {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().expect("time");
        let base = Duration::from_secs(10);
        assert_eq!(after_failure(now, 1, false, base), AfterFailure::RetryAt(now + chrono::Duration::seconds(10)));
        assert_eq!(after_failure(now, 3, false, base), AfterFailure::RetryAt(now + chrono::Duration::seconds(40)));
        assert_eq!(after_failure(now, 1, true, base), AfterFailure::GiveUp);
        assert_eq!(after_failure(now, MAX_ATTEMPTS, false, base), AfterFailure::GiveUp);
    }
}
