//! The loop behind every durable queue (the email outbox, webhook
//! deliveries): rows are written in the transaction that caused them; each
//! instance hears the queue's NOTIFYs through its one database listener
//! (`db::listener`), claims due rows, and otherwise sleeps until the next row
//! falls due (or a NOTIFY, or the poll interval).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, broadcast};

use crate::db::listener::{DbEvent, Listener};

/// How often a worker looks for due rows without being woken.
const POLL: Duration = Duration::from_secs(5);

/// One queue's work: `deliver_due` claims and handles a batch (returning how
/// many rows it claimed); `next_due` says in how many seconds the next row is due.
pub struct Queue<D, N> {
    /// For logs: "outbox", "webhook".
    pub name: &'static str,
    pub deliver_due: D,
    pub next_due: N,
}

/// Starts the worker loop, woken by `wake_on` events from the instance's
/// database listener (and by any resync after the listener reconnects).
pub fn spawn<D, DF, N, NF>(listener: &Listener, wake_on: DbEvent, queue: Queue<D, N>)
where
    D: Fn() -> DF + Send + 'static,
    DF: Future<Output = anyhow::Result<usize>> + Send + 'static,
    N: Fn() -> NF + Send + 'static,
    NF: Future<Output = anyhow::Result<Option<f64>>> + Send + 'static,
{
    let wake = Arc::new(Notify::new());
    tokio::spawn(follow(listener.subscribe(), wake_on, Arc::clone(&wake)));
    tokio::spawn(run(queue, wake));
}

/// Wakes the worker on its own NOTIFYs and whenever changes may have been
/// missed (the listener reconnected, or this task fell behind).
async fn follow(mut events: broadcast::Receiver<DbEvent>, wake_on: DbEvent, wake: Arc<Notify>) {
    loop {
        match events.recv().await {
            Ok(DbEvent::Resync) | Err(broadcast::error::RecvError::Lagged(_)) => wake.notify_one(),
            Ok(event) if event == wake_on => wake.notify_one(),
            Ok(_) => {}
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
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
