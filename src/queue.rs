//! The loop behind every durable queue (the email outbox, webhook
//! deliveries): rows are written in the transaction that caused them; each
//! instance LISTENs on the queue's channel, claims due rows, and otherwise
//! sleeps until the next row falls due (or a NOTIFY, or the poll interval).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::StreamExt;
use tokio::sync::Notify;

/// How often a worker looks for due rows without being woken.
const POLL: Duration = Duration::from_secs(5);

/// One queue's work: `deliver_due` claims and handles a batch (returning how
/// many rows it claimed); `next_due` says in how many seconds the next row is due.
pub struct Queue<D, N> {
    /// For logs: "outbox", "webhook".
    pub name: &'static str,
    /// The NOTIFY channel written with each row.
    pub channel: &'static str,
    pub deliver_due: D,
    pub next_due: N,
}

/// Starts the listener and the worker loop.
pub fn spawn<D, DF, N, NF>(database_url: String, queue: Queue<D, N>)
where
    D: Fn() -> DF + Send + 'static,
    DF: Future<Output = anyhow::Result<usize>> + Send + 'static,
    N: Fn() -> NF + Send + 'static,
    NF: Future<Output = anyhow::Result<Option<f64>>> + Send + 'static,
{
    let wake = Arc::new(Notify::new());
    tokio::spawn(listen(database_url, queue.name, queue.channel, Arc::clone(&wake)));
    tokio::spawn(run(queue, wake));
}

/// Wakes the worker on every NOTIFY, reconnecting after the database goes away.
async fn listen(database_url: String, name: &'static str, channel: &'static str, wake: Arc<Notify>) {
    let mut backoff = Duration::from_millis(250);
    loop {
        match listen_once(&database_url, channel, &wake).await {
            Ok(()) => backoff = Duration::from_millis(250),
            Err(e) => {
                tracing::debug!(error = %e, queue = name, "the queue listener lost its connection; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        }
    }
}

async fn listen_once(database_url: &str, channel: &str, wake: &Notify) -> anyhow::Result<()> {
    let mut conn = AsyncPgConnection::establish(database_url).await?;
    diesel::sql_query(format!("LISTEN {channel}")).execute(&mut conn).await?;
    // Anything queued while we were not listening.
    wake.notify_one();
    let mut stream = std::pin::pin!(conn.notifications_stream());
    while let Some(n) = stream.next().await {
        n?;
        wake.notify_one();
    }
    anyhow::bail!("the notification stream ended")
}

async fn run<D, DF, N, NF>(queue: Queue<D, N>, wake: Arc<Notify>)
where
    D: Fn() -> DF,
    DF: Future<Output = anyhow::Result<usize>>,
    N: Fn() -> NF,
    NF: Future<Output = anyhow::Result<Option<f64>>>,
{
    let mut error_wait = Duration::from_millis(250);
    loop {
        match (queue.deliver_due)().await {
            Ok(0) => {}
            Ok(_) => {
                error_wait = Duration::from_millis(250);
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, queue = queue.name, "the queue worker cannot reach the database; retrying");
                tokio::time::sleep(error_wait).await;
                error_wait = (error_wait * 2).min(Duration::from_secs(30));
                continue;
            }
        }
        let wait = match (queue.next_due)().await {
            Ok(Some(secs)) => Duration::from_secs_f64(secs.clamp(0.0, POLL.as_secs_f64())),
            Ok(None) | Err(_) => POLL,
        };
        // A short floor: a due row we could not claim (locked by a transaction
        // in progress) must not make us spin.
        let wait = wait.max(Duration::from_millis(20));
        tokio::select! {
            () = wake.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}
