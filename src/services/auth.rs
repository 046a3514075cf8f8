//! Signing in: the password check with throttling of repeated failures.

use chrono::Utc;
use secrecy::SecretString;

use crate::db::{DbPool, sign_in_failures, users};
use crate::domain::throttle::{self, Throttle};
use crate::services::passwords;

#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// Wrong email or wrong password (deliberately not told apart).
    #[error("wrong email or password")]
    WrongCredentials,
    /// Too many recent failures: the password was not even checked.
    #[error("too many failed attempts")]
    TooManyAttempts,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<diesel::result::Error> for SignInError {
    fn from(e: diesel::result::Error) -> Self {
        SignInError::Unexpected(e.into())
    }
}

/// Checks the credentials and returns the user they belong to.
pub async fn sign_in(
    pool: &DbPool,
    email: &str,
    password: SecretString,
    client_addr: &str,
) -> Result<users::User, SignInError> {
    let email = email.trim().to_lowercase();
    let window_start = Utc::now() - throttle::WINDOW;
    let (user, (account_failures, address_failures)) = {
        let mut conn = pool.get().await.map_err(|e| anyhow::anyhow!("no database connection: {e}"))?;
        let counts = sign_in_failures::count_since(&mut conn, &email, client_addr, window_start).await?;
        // The service users behind API tokens never sign in: treated as unknown accounts.
        let user = users::find_by_email(&mut conn, &email).await?.filter(|u| !u.is_service);
        (user, counts)
    };

    match throttle::decide(account_failures, address_failures) {
        Throttle::Refuse => return Err(SignInError::TooManyAttempts),
        Throttle::SlowDown(by) => tokio::time::sleep(by).await,
        Throttle::Allow => {}
    }

    // Always run one hash, whether or not the account exists.
    let ok = passwords::verify(password, user.as_ref().map(|u| u.password_hash.clone())).await?;
    let mut conn = pool.get().await.map_err(|e| anyhow::anyhow!("no database connection: {e}"))?;
    match user {
        Some(user) if ok && !user.disabled => {
            sign_in_failures::clear_for_account(&mut conn, &email, window_start).await?;
            Ok(user)
        }
        _ => {
            sign_in_failures::record(&mut conn, &email, client_addr).await?;
            Err(SignInError::WrongCredentials)
        }
    }
}
