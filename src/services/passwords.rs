//! Password hashing with argon2id, always on a blocking thread so that an
//! actix worker never stalls for the ~50 ms a hash takes.

use std::sync::OnceLock;

use anyhow::Context;
use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use secrecy::{ExposeSecret, SecretString};

use crate::telemetry::spawn_blocking_with_tracing;

/// Hashes a new password into a PHC string (`$argon2id$v=19$...`).
pub async fn hash(password: SecretString) -> anyhow::Result<String> {
    spawn_blocking_with_tracing(move || hash_now(password.expose_secret()))
        .await
        .context("the hashing thread failed")?
}

fn hash_now(password: &str) -> anyhow::Result<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("could not hash the password: {e}"))
}

/// Checks a password against a stored hash. With no stored hash (unknown
/// account) it checks against a dummy hash, so both cases take the same time.
pub async fn verify(password: SecretString, stored_hash: Option<String>) -> anyhow::Result<bool> {
    spawn_blocking_with_tracing(move || {
        let stored = match &stored_hash {
            Some(h) => h.as_str(),
            None => dummy_hash()?,
        };
        let parsed = PasswordHash::new(stored).map_err(|e| anyhow::anyhow!("stored hash unreadable: {e}"))?;
        let ok = Argon2::default().verify_password(password.expose_secret().as_bytes(), &parsed).is_ok();
        Ok(ok && stored_hash.is_some())
    })
    .await
    .context("the hashing thread failed")?
}

fn dummy_hash() -> anyhow::Result<&'static str> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(h) = DUMMY.get() {
        return Ok(h);
    }
    let h = hash_now("a password nobody has, to spend the same time")?;
    Ok(DUMMY.get_or_init(|| h))
}
