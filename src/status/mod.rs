//! The public status page's in-memory snapshot: what `/status`, the feeds and
//! the Statuspage-compatible JSON serve, rebuilt when anything they show changes.
//!
//! One background task per instance rebuilds it: when the instance's database
//! listener hears a status change (component, update and maintenance changes
//! from any instance) or an incident change, after the listener reconnects,
//! every `status_refresh` (uptime bars and maintenance windows move with time),
//! and when a handler asks with [`StatusPage::refresh`]. Triggers that arrive
//! while a rebuild runs are coalesced into one more rebuild. Requests never
//! touch the database: they pick pre-rendered bytes out of an `ArcSwap`.
//! When a rebuild fails, or the listener reports the database lost (within a
//! few seconds of an outage, see `db::listener`), the last good data keeps being
//! served, re-rendered once with a note that it may be out of date (on the
//! page, in the feeds, and as `page.stale` in the JSON).

pub mod api;
pub mod load;
pub mod render;
pub mod view;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use chrono::Utc;
use tokio::sync::{Notify, broadcast, watch};

pub use api::Identity;
pub use render::{Rendered, Snapshot, Surface};

use crate::db::DbPool;
use crate::db::listener::DbEvent;

/// Longest a rebuild may take before it counts as failed (a database that
/// accepts connections but never answers must not freeze the page).
const BUILD_TIMEOUT: Duration = Duration::from_secs(10);
/// A short pause after a trigger, so a burst of changes makes one rebuild.
const DEBOUNCE: Duration = Duration::from_millis(25);
/// How long a request made right after start-up waits for the first build.
const FIRST_BUILD_WAIT: Duration = Duration::from_secs(5);
/// How long `refresh` waits for its rebuild.
const REFRESH_WAIT: Duration = Duration::from_secs(15);

/// The current snapshot and the machinery that rebuilds it.
pub struct StatusPage {
    inner: Arc<Inner>,
}

struct Inner {
    identity: Identity,
    current: ArcSwap<Snapshot>,
    /// Bumped by every trigger; a rebuild covers every request made before it started.
    requested: AtomicU64,
    /// The `requested` value the last finished rebuild (good or failed) covered.
    done: watch::Sender<u64>,
    wake: Notify,
    /// Set while the database listener has lost the database: rebuilds are
    /// not tried, the last good data is served marked stale.
    db_lost: AtomicBool,
    /// The last data read successfully, served marked stale while the database is away.
    last_good: std::sync::Mutex<Option<Arc<load::Data>>>,
}

impl Inner {
    fn poke(&self) {
        self.requested.fetch_add(1, Ordering::SeqCst);
        self.wake.notify_one();
    }
}

impl StatusPage {
    /// Starts the rebuild task and the listeners that trigger it (needs a
    /// Tokio runtime). The first snapshot is built at once.
    pub fn start(pool: DbPool, settings: &crate::config::Settings, events: broadcast::Receiver<DbEvent>) -> Self {
        let identity = Identity::new(&settings.status_page_name, &settings.base_url);
        let inner = Arc::new(Inner {
            current: ArcSwap::from_pointee(Snapshot::unavailable(&identity)),
            identity,
            requested: AtomicU64::new(1),
            done: watch::Sender::new(0),
            wake: Notify::new(),
            db_lost: AtomicBool::new(false),
            last_good: std::sync::Mutex::new(None),
        });
        tokio::spawn(rebuild_forever(Arc::clone(&inner), pool, settings.status_refresh));
        tokio::spawn(follow(Arc::clone(&inner), events));
        StatusPage { inner }
    }

    /// The page's name, base URL and Statuspage page id.
    pub fn identity(&self) -> &Identity {
        &self.inner.identity
    }

    /// The snapshot to serve now. Right after start-up this waits (briefly)
    /// for the first rebuild instead of saying "unavailable".
    pub async fn current(&self) -> Arc<Snapshot> {
        if *self.inner.done.borrow() == 0 {
            let mut rx = self.inner.done.subscribe();
            let _ = tokio::time::timeout(FIRST_BUILD_WAIT, rx.wait_for(|d| *d > 0)).await;
        }
        self.inner.current.load_full()
    }

    /// Rebuilds now and returns once a snapshot that includes everything
    /// committed before this call is served (or the rebuild failed).
    pub async fn refresh(&self) {
        let want = self.inner.requested.fetch_add(1, Ordering::SeqCst) + 1;
        self.inner.wake.notify_one();
        let mut rx = self.inner.done.subscribe();
        let _ = tokio::time::timeout(REFRESH_WAIT, rx.wait_for(|d| *d >= want)).await;
    }
}

async fn rebuild_forever(inner: Arc<Inner>, pool: DbPool, every: Duration) {
    let mut failing = false;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        let covers = inner.requested.load(Ordering::SeqCst);
        let result = if inner.db_lost.load(Ordering::SeqCst) {
            Ok(Err(anyhow::anyhow!("the database listener lost the database")))
        } else {
            tokio::time::timeout(BUILD_TIMEOUT, read(&pool)).await
        };
        match result {
            Ok(Ok(data)) => {
                let data = Arc::new(data);
                if publish(&inner, Arc::clone(&data), None).await {
                    if failing {
                        tracing::info!("the status page is up to date again");
                    }
                    failing = false;
                    *lock(&inner.last_good) = Some(data);
                }
            }
            failure => {
                let error = match failure {
                    Ok(Err(e)) => format!("{e:#}"),
                    _ => "the database did not answer in time".to_owned(),
                };
                if !failing {
                    tracing::warn!(%error, "cannot refresh the status page; serving the last snapshot");
                }
                // Re-render the last good data once, with the staleness note.
                mark_stale(&inner).await;
                failing = true;
            }
        }
        inner.done.send_replace(covers);
        tokio::select! {
            _ = inner.wake.notified() => {}
            _ = tick.tick() => {}
        }
        tokio::time::sleep(DEBOUNCE).await;
    }
}

/// Re-renders the last good data once, with the staleness note.
async fn mark_stale(inner: &Arc<Inner>) {
    let last_good = lock(&inner.last_good).clone();
    if let Some(data) = last_good.filter(|_| !inner.current.load().stale) {
        let at = data.loaded_at;
        publish(inner, data, Some(at)).await;
    }
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn read(pool: &DbPool) -> anyhow::Result<load::Data> {
    let mut conn = pool.get().await.map_err(|e| anyhow::anyhow!("no database connection: {e}"))?;
    Ok(load::load(&mut conn, Utc::now()).await?)
}

/// Renders off the async threads and swaps the result in.
async fn publish(inner: &Arc<Inner>, data: Arc<load::Data>, stale: Option<chrono::DateTime<Utc>>) -> bool {
    let identity = inner.identity.clone();
    let built = crate::telemetry::spawn_blocking_with_tracing(move || Snapshot::build(&identity, &data, stale)).await;
    match built {
        Ok(Ok(snapshot)) => {
            inner.current.store(Arc::new(snapshot));
            true
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "cannot render the status page");
            false
        }
        Err(e) => {
            tracing::error!(error = %e, "the status page renderer panicked");
            false
        }
    }
}

/// Follows the instance's database listener: incident and status changes
/// (from any instance) trigger a rebuild; when the listener loses the
/// database the page is marked stale at once (without waiting for a rebuild
/// to time out), and when it is back the page is rebuilt (changes may have been
/// missed meanwhile).
async fn follow(inner: Arc<Inner>, mut events: broadcast::Receiver<DbEvent>) {
    loop {
        match events.recv().await {
            Ok(DbEvent::Lost) => {
                inner.db_lost.store(true, Ordering::SeqCst);
                // At once, even while a rebuild waits for the database.
                mark_stale(&inner).await;
                inner.poke();
            }
            Ok(DbEvent::Resync) => {
                inner.db_lost.store(false, Ordering::SeqCst);
                inner.poke();
            }
            Ok(DbEvent::Incident(_) | DbEvent::Status) | Err(broadcast::error::RecvError::Lagged(_)) => inner.poke(),
            Ok(DbEvent::Outbox | DbEvent::Webhook | DbEvent::Pages | DbEvent::SessionsEnded(_)) => {}
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}
