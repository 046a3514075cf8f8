//! Signing in: the password check with throttling of repeated failures.

use chrono::Utc;
use secrecy::SecretString;

use crate::db::{DbPool, sign_in_failures, users};
use crate::domain::throttle::{self, Throttle};
use crate::services::passwords::{self, CheckError};
use diesel_async::AsyncConnection;

#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// Wrong email or wrong password (deliberately not told apart).
    #[error("wrong email or password")]
    WrongCredentials,
    /// Too many recent failures: the password was not even checked.
    #[error("too many failed attempts")]
    TooManyAttempts,
    /// Too many password checks are running on this server: try again in a moment.
    #[error("too many sign-ins at once")]
    Busy,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<diesel::result::Error> for SignInError {
    fn from(e: diesel::result::Error) -> Self {
        SignInError::Unexpected(e.into())
    }
}

/// Checks the credentials and returns the user they belong to.
///
/// The attempt is counted before the password is checked, in one serialised step
/// per account and per address: of many simultaneous guesses, only as many as the
/// throttle allows are ever checked. A correct password then forgets the account's
/// failures, its own attempt included.
pub async fn sign_in(
    pool: &DbPool,
    email: &str,
    password: SecretString,
    client_addr: &str,
) -> Result<users::User, SignInError> {
    let email = email.trim().to_lowercase();
    let window_start = Utc::now() - throttle::WINDOW;
    let (user, decision, attempt) = {
        let mut conn = pool.get().await.map_err(|e| anyhow::anyhow!("no database connection: {e}"))?;
        // The service users behind API tokens never sign in: treated as unknown accounts.
        let user = users::find_by_email(&mut conn, &email).await?.filter(|u| !u.is_service);
        let (email, client_addr) = (email.as_str(), client_addr);
        let (decision, attempt) = conn
            .transaction(async |conn| {
                sign_in_failures::lock(conn, email, client_addr).await?;
                let (account, address) = sign_in_failures::count_since(conn, email, client_addr, window_start).await?;
                let decision = throttle::decide(account, address);
                let attempt = match decision {
                    Throttle::Refuse => None,
                    _ => Some(sign_in_failures::record(conn, email, client_addr).await?),
                };
                Ok::<_, diesel::result::Error>((decision, attempt))
            })
            .await?;
        (user, decision, attempt)
    };

    let attempt = match (decision, attempt) {
        (Throttle::Refuse, _) | (_, None) => return Err(SignInError::TooManyAttempts),
        (Throttle::SlowDown(by), Some(id)) => {
            tokio::time::sleep(by).await;
            id
        }
        (Throttle::Allow, Some(id)) => id,
    };

    // Always run one hash, whether or not the account exists.
    let checked = passwords::verify(password, user.as_ref().map(|u| u.password_hash.clone())).await;
    let mut conn = pool.get().await.map_err(|e| anyhow::anyhow!("no database connection: {e}"))?;
    let ok = match checked {
        Ok(ok) => ok,
        Err(e) => {
            // Not checked after all: the attempt does not count against anyone.
            sign_in_failures::forget(&mut conn, attempt).await?;
            return Err(match e {
                CheckError::Busy => SignInError::Busy,
                CheckError::Unexpected(e) => SignInError::Unexpected(e),
            });
        }
    };
    match user {
        Some(user) if ok && !user.disabled => {
            sign_in_failures::clear_for_account(&mut conn, &email, window_start).await?;
            Ok(user)
        }
        // The attempt recorded above stays as the failure.
        _ => Err(SignInError::WrongCredentials),
    }
}
