//! Password hashing with argon2id, on a small pool of threads of its own.
//!
//! Each argon2 check takes about 19 MiB for ~50 ms. Run on the unbounded blocking
//! pool, a burst of sign-ins took all of them at once (100 at a time took the
//! process past 2 GiB, and the allocator never gave it back). Here at most one
//! check per core runs, a short queue waits behind them, and a sign-in arriving
//! when the queue is full is refused at once (`Busy`), so an anonymous burst
//! costs bounded memory and time. The threads live as long as the process, so
//! their memory is reused rather than grown.

use std::cell::RefCell;
use std::sync::{Arc, Mutex, OnceLock};

use argon2::password_hash::PasswordHasher;
use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Block, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::{mpsc, oneshot};

/// Why a password check did not run.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// Every checking thread is busy and the wait queue is full: try again shortly.
    #[error("too many password checks at once")]
    Busy,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// How many checks may wait behind the running ones, per checking thread.
const QUEUE_PER_THREAD: usize = 2;

type Job = Box<dyn FnOnce() + Send>;

struct Pool {
    jobs: mpsc::Sender<Job>,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| {
        let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let (jobs, receiver) = mpsc::channel::<Job>(threads * QUEUE_PER_THREAD);
        let receiver = Arc::new(Mutex::new(receiver));
        for n in 0..threads {
            let receiver = Arc::clone(&receiver);
            let spawned = std::thread::Builder::new().name(format!("password-{n}")).spawn(move || {
                loop {
                    // Holding the lock while waiting is fine: whoever holds it takes the next job.
                    let job = match receiver.lock() {
                        Ok(mut r) => r.blocking_recv(),
                        Err(_) => None,
                    };
                    match job {
                        Some(job) => job(),
                        None => return,
                    }
                }
            });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "could not start a password-checking thread");
            }
        }
        Pool { jobs }
    })
}

/// Runs `f` on a password thread. `wait` decides what happens when the queue is full:
/// wait for room (a signed-in admin creating a user) or refuse at once (anonymous sign-in).
async fn run<R: Send + 'static>(wait: bool, f: impl FnOnce() -> R + Send + 'static) -> Result<R, CheckError> {
    let (tx, rx) = oneshot::channel();
    let span = tracing::Span::current();
    let job: Job = Box::new(move || {
        let _ = tx.send(span.in_scope(f));
    });
    let pool = pool();
    if wait {
        pool.jobs.send(job).await.map_err(|_| anyhow::anyhow!("the password threads are gone"))?;
    } else {
        pool.jobs.try_send(job).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => CheckError::Busy,
            mpsc::error::TrySendError::Closed(_) => anyhow::anyhow!("the password threads are gone").into(),
        })?;
    }
    rx.await.map_err(|_| anyhow::anyhow!("the password thread failed").into())
}

/// Hashes a new password into a PHC string (`$argon2id$v=19$...`). Waits its turn.
pub async fn hash(password: SecretString) -> anyhow::Result<String> {
    match run(true, move || hash_now(password.expose_secret())).await {
        Ok(r) => r,
        Err(CheckError::Busy) => Err(anyhow::anyhow!("the password threads are busy")),
        Err(CheckError::Unexpected(e)) => Err(e),
    }
}

fn hash_now(password: &str) -> anyhow::Result<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("could not hash the password: {e}"))
}

/// Checks a password against a stored hash, refusing at once with `Busy` when too
/// many checks are running or waiting. With no stored hash (unknown account) it
/// checks against a dummy hash, so both cases take the same time.
pub async fn verify(password: SecretString, stored_hash: Option<String>) -> Result<bool, CheckError> {
    run(false, move || -> anyhow::Result<bool> {
        let stored = match &stored_hash {
            Some(h) => h.as_str(),
            None => dummy_hash()?,
        };
        let ok = verify_now(password.expose_secret().as_bytes(), stored)?;
        Ok(ok && stored_hash.is_some())
    })
    .await?
    .map_err(CheckError::Unexpected)
}

thread_local! {
    /// Each password thread's argon2 working memory, allocated once and reused:
    /// allocating 19 MiB per check left the allocator holding several copies per
    /// thread (hundreds of MiB after a burst).
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

fn verify_now(password: &[u8], stored: &str) -> anyhow::Result<bool> {
    let unreadable = |e: &dyn std::fmt::Display| anyhow::anyhow!("stored hash unreadable: {e}");
    let parsed = PasswordHash::new(stored).map_err(|e| unreadable(&e))?;
    let params = Params::try_from(&parsed).map_err(|e| unreadable(&e))?;
    let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).map_err(|e| unreadable(&e))?;
    let version = match parsed.version {
        Some(v) => Version::try_from(v).map_err(|e| unreadable(&e))?,
        None => Version::default(),
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return Err(anyhow::anyhow!("stored hash has no salt or no hash"));
    };
    let mut out = vec![0u8; expected.len()];
    MEMORY
        .with_borrow_mut(|blocks| {
            blocks.resize(params.block_count(), Block::new());
            Argon2::new(algorithm, version, params).hash_password_into_with_memory(
                password,
                salt.as_ref(),
                &mut out,
                &mut blocks[..],
            )
        })
        .map_err(|e| anyhow::anyhow!("could not check the password: {e}"))?;
    // Constant time: every byte is compared whatever the first difference.
    Ok(out.iter().zip(expected.as_bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0)
}

fn dummy_hash() -> anyhow::Result<&'static str> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(h) = DUMMY.get() {
        return Ok(h);
    }
    let h = hash_now("a password nobody has, to spend the same time")?;
    Ok(DUMMY.get_or_init(|| h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_checks_its_own_password_and_no_other() {
        let hash = hash_now("correct horse battery staple").expect("hash");
        assert!(verify_now(b"correct horse battery staple", &hash).expect("verify"));
        assert!(!verify_now(b"correct horse battery stapler", &hash).expect("verify"));
        assert!(verify_now(b"x", "not a hash").is_err());
    }
}
