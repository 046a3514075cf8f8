//! The outbox worker: one per app instance. It wakes when rows are queued
//! (LISTEN on the outbox channel) and at least every few seconds, claims due
//! rows with a short lease (`FOR UPDATE SKIP LOCKED`, so instances never share
//! a row) that it renews while it works, sends them a batch at a time with
//! several in flight over pooled connections, and records each message's
//! attempt as soon as it ends. When a worker dies its unfinished rows come free
//! within one lease (30 s) and only the messages that were in flight are sent
//! again: mail is delivered at least once, and twice only if a worker dies
//! between the server's acceptance and the database update.
//!
//! An SMTP outage is logged once when it starts, then as a summary a minute
//! (not one line per message), and once when mail flows again.

use std::collections::HashSet;
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
/// How long a claim lasts unless renewed; a live worker renews its unfinished
/// rows every `RENEW_EVERY`, so only a dead worker's rows come free.
const LEASE: Duration = Duration::from_secs(30);
const RENEW_EVERY: Duration = Duration::from_secs(10);
/// How often a continuing outage is summed up in the log.
const OUTAGE_SUMMARY_EVERY: Duration = Duration::from_secs(60);
/// The most one message may take, all SMTP commands together.
const SEND_TIMEOUT: Duration = Duration::from_secs(60);
/// Attempts before a message is given up on.
pub const MAX_ATTEMPTS: i32 = 10;
/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

const _: () = assert!(RENEW_EVERY.as_secs() * 2 < LEASE.as_secs());

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
    outage: std::sync::Mutex<Outage>,
}

/// Where the log stands on a run of transient failures (the server unreachable).
#[derive(Debug, Default)]
pub struct Outage {
    since: Option<std::time::Instant>,
    last_summary: Option<std::time::Instant>,
    failed_since_summary: u64,
    failed_total: u64,
}

/// What to log for one outcome.
#[derive(Debug, PartialEq, Eq)]
pub enum OutageLog {
    Nothing,
    Started,
    Summary { failed: u64, minutes: u64 },
    Ended { failed: u64, seconds: u64 },
}

impl Outage {
    /// A transient failure at `now`.
    pub fn failed(&mut self, now: std::time::Instant) -> OutageLog {
        self.failed_total += 1;
        let Some(since) = self.since else {
            self.since = Some(now);
            self.last_summary = Some(now);
            return OutageLog::Started;
        };
        self.failed_since_summary += 1;
        let last = self.last_summary.unwrap_or(since);
        if now.duration_since(last) >= OUTAGE_SUMMARY_EVERY {
            self.last_summary = Some(now);
            let failed = std::mem::take(&mut self.failed_since_summary);
            return OutageLog::Summary { failed, minutes: now.duration_since(since).as_secs() / 60 };
        }
        OutageLog::Nothing
    }

    /// A message delivered at `now`.
    pub fn delivered(&mut self, now: std::time::Instant) -> OutageLog {
        match self.since.take() {
            Some(since) => {
                let failed = self.failed_total;
                *self = Outage::default();
                OutageLog::Ended { failed, seconds: now.duration_since(since).as_secs() }
            }
            None => OutageLog::Nothing,
        }
    }
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
    let sender = Arc::new(Sender { transport, from, outage: std::sync::Mutex::new(Outage::default()) });
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

/// Claims one batch and sends it, several at once, recording each message as
/// its attempt ends. Returns how many rows it claimed.
async fn deliver_due(pool: &DbPool, sender: &Arc<Sender>, retry_base: Duration) -> anyhow::Result<usize> {
    let rows = {
        let mut conn = pool.get().await?;
        outbox::claim_due(&mut conn, BATCH, LEASE).await?
    };
    let claimed = rows.len();
    if claimed == 0 {
        return Ok(0);
    }
    let unfinished: Arc<std::sync::Mutex<HashSet<OutboxId>>> =
        Arc::new(std::sync::Mutex::new(rows.iter().map(|r| r.id).collect()));
    let renewing = tokio::spawn(renew_leases(pool.clone(), Arc::clone(&unfinished)));
    let mut tasks = JoinSet::new();
    for row in rows {
        while tasks.len() >= IN_FLIGHT {
            tasks.join_next().await;
        }
        let (pool, sender, unfinished) = (pool.clone(), Arc::clone(sender), Arc::clone(&unfinished));
        tasks.spawn(async move {
            let result = sender.deliver(&row).await;
            sender.log_outcome(&row, &result);
            if let Err(e) = record(&pool, &row, result, retry_base).await {
                // The lease runs out and the row is claimed again: sent twice at worst.
                tracing::error!(error = %e, outbox_id = %row.id, "cannot record an email's delivery");
            }
            lock(&unfinished).remove(&row.id);
        });
    }
    while tasks.join_next().await.is_some() {}
    renewing.abort();
    Ok(claimed)
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Keeps the lease of the batch's unfinished rows while this worker lives.
async fn renew_leases(pool: DbPool, unfinished: Arc<std::sync::Mutex<HashSet<OutboxId>>>) {
    loop {
        tokio::time::sleep(RENEW_EVERY).await;
        let ids: Vec<OutboxId> = lock(&unfinished).iter().copied().collect();
        let renewed = async {
            let mut conn = pool.get().await?;
            anyhow::Ok(outbox::renew_lease(&mut conn, &ids, LEASE).await?)
        };
        if let Err(e) = renewed.await {
            tracing::warn!(error = %format!("{e:#}"), "cannot renew the outbox lease; another instance may send these again");
        }
    }
}

impl Sender {
    /// Logs an outcome: permanent failures one by one (they concern one
    /// message), transient ones as one outage (start, a summary a minute, end).
    fn log_outcome(&self, row: &OutboxMessage, result: &Result<(), SendError>) {
        let now = std::time::Instant::now();
        match result {
            Ok(()) => {
                if let OutageLog::Ended { failed, seconds } = lock(&self.outage).delivered(now) {
                    tracing::info!(failed, seconds, "email is being delivered again after an outage");
                }
            }
            Err(e) if e.permanent => {
                tracing::warn!(outbox_id = %row.id, attempts = row.attempts, error = %e.message, "email not delivered");
            }
            Err(e) => match lock(&self.outage).failed(now) {
                OutageLog::Started => tracing::warn!(
                    error = %e.message,
                    "cannot deliver email (mail server unreachable?); messages stay queued and are retried; \
                     further failures are summed up once a minute"
                ),
                OutageLog::Summary { failed, minutes } => tracing::warn!(
                    failed,
                    minutes,
                    error = %e.message,
                    "email delivery is still failing; messages stay queued and are retried"
                ),
                _ => tracing::debug!(outbox_id = %row.id, error = %e.message, "email not delivered yet"),
            },
        }
    }
}

/// Writes one message's outcome, retrying for a while: a sent message left
/// claimed would be sent again when its lease ends.
async fn record(
    pool: &DbPool,
    row: &OutboxMessage,
    result: Result<(), SendError>,
    retry_base: Duration,
) -> anyhow::Result<()> {
    let mut wait = Duration::from_millis(250);
    let mut tries = 0;
    loop {
        tries += 1;
        match record_once(pool, row, &result, retry_base).await {
            Ok(()) => return Ok(()),
            Err(e) if tries < 6 => {
                tracing::debug!(error = %e, "cannot record an email's delivery yet; retrying");
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
            Err(e) => return Err(e),
        }
    }
}

async fn record_once(
    pool: &DbPool,
    row: &OutboxMessage,
    result: &Result<(), SendError>,
    retry_base: Duration,
) -> anyhow::Result<()> {
    let mut conn = pool.get().await?;
    match result {
        Ok(()) => outbox::mark_sent(&mut conn, &[row.id]).await?,
        Err(error) => {
            let then = after_failure(Utc::now(), row.attempts, error.permanent, retry_base);
            let message: String = error.message.chars().take(2000).collect();
            outbox::record_failure(&mut conn, row.id, &message, then).await?;
        }
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
    fn an_outage_is_logged_when_it_starts_once_a_minute_and_when_it_ends() {
        let t0 = std::time::Instant::now();
        let mut outage = Outage::default();
        assert_eq!(outage.failed(t0), OutageLog::Started);
        for i in 1..=200 {
            assert_eq!(outage.failed(t0 + Duration::from_millis(i * 100)), OutageLog::Nothing);
        }
        assert_eq!(outage.failed(t0 + Duration::from_secs(61)), OutageLog::Summary { failed: 201, minutes: 1 });
        assert_eq!(outage.failed(t0 + Duration::from_secs(62)), OutageLog::Nothing);
        assert_eq!(outage.delivered(t0 + Duration::from_secs(70)), OutageLog::Ended { failed: 203, seconds: 70 });
        assert_eq!(outage.delivered(t0 + Duration::from_secs(71)), OutageLog::Nothing);
        assert_eq!(outage.failed(t0 + Duration::from_secs(72)), OutageLog::Started);
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
