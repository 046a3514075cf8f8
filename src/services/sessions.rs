//! Signed-in sessions the server can end. A session starts with a random
//! token that only the browser's (encrypted) cookie holds; the database keeps
//! its SHA-256, when it began and when it was last used. A session ends when
//! its person signs out, signs out everywhere, changes their password, or is
//! disabled or given a new password by an admin; and on its own after
//! [`SessionRules::idle`] without use or [`SessionRules::max_age`] after it began.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use sha2::{Digest, Sha256};

use super::ServiceError;
use crate::db::sessions::{self, NewSession, UserSession};
use crate::db::users::User;
use crate::db::{DbPool, SessionId, UserId};

/// A person keeps at most this many sessions; signing in once more ends the oldest.
pub const MAX_PER_PERSON: i64 = 50;
/// `last_seen_at` is written at most this often per session, not on every request.
const TOUCH_EVERY: chrono::TimeDelta = chrono::TimeDelta::seconds(60);
/// The longest user agent kept.
const USER_AGENT_CHARS: usize = 200;

/// How long sessions last.
#[derive(Debug, Clone, Copy)]
pub struct SessionRules {
    pub idle: Duration,
    pub max_age: Duration,
}

impl SessionRules {
    pub fn from_settings(settings: &crate::config::sign_in::SignInSettings) -> Self {
        SessionRules { idle: settings.session_idle, max_age: settings.session_max_age }
    }

    /// (last used after, began after): a session older on either count has ended.
    fn cutoffs(&self, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        let ago = |d: Duration| now - chrono::TimeDelta::from_std(d).unwrap_or(chrono::TimeDelta::MAX);
        (ago(self.idle), ago(self.max_age))
    }
}

/// Where a session was started from, shown on the account page.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub client_addr: String,
    pub user_agent: String,
}

fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Starts a session for someone who just proved who they are; returns the
/// token for the browser's cookie.
pub async fn start(
    conn: &mut AsyncPgConnection,
    rules: &SessionRules,
    user: &User,
    origin: &Origin,
) -> Result<String, ServiceError> {
    let token = crate::domain::tokens::url_safe(32);
    let user_agent: String = origin.user_agent.chars().filter(|c| !c.is_control()).take(USER_AGENT_CHARS).collect();
    sessions::insert(
        conn,
        &NewSession {
            token_hash: &hash(&token),
            user_id: user.id,
            client_addr: &origin.client_addr,
            user_agent: &user_agent,
        },
    )
    .await?;
    let (idle_since, born_since) = rules.cutoffs(Utc::now());
    sessions::prune_for(conn, user.id, idle_since, born_since, MAX_PER_PERSON).await?;
    Ok(token)
}

/// The live session behind a cookie's token and its (enabled) person; marks it used.
pub async fn resume(
    conn: &mut AsyncPgConnection,
    rules: &SessionRules,
    token: &str,
) -> Result<Option<(SessionId, User)>, ServiceError> {
    let now = Utc::now();
    let (idle_since, born_since) = rules.cutoffs(now);
    let Some((session, user)) = sessions::find_live(conn, &hash(token), idle_since, born_since).await? else {
        return Ok(None);
    };
    if user.disabled {
        return Ok(None);
    }
    if now - session.last_seen_at >= TOUCH_EVERY {
        sessions::touch(conn, session.id, now).await?;
    }
    Ok(Some((session.id, user)))
}

/// Ends the session behind this token (signing out).
pub async fn end_by_token(pool: &DbPool, token: &str, rules: &SessionRules) -> Result<(), ServiceError> {
    let mut conn = pool.get().await?;
    let (idle_since, born_since) = rules.cutoffs(Utc::now());
    if let Some((session, user)) = sessions::find_live(&mut conn, &hash(token), idle_since, born_since).await? {
        sessions::end(&mut conn, user.id, session.id).await?;
    }
    Ok(())
}

/// Whether a session is still live (for long-lived streams, after some of its person's sessions ended).
pub async fn is_live(pool: &DbPool, id: SessionId) -> Result<bool, ServiceError> {
    let mut conn = pool.get().await?;
    Ok(sessions::exists(&mut conn, id).await?)
}

/// A person's sessions, most recently used first.
pub async fn list(pool: &DbPool, user: UserId) -> Result<Vec<UserSession>, ServiceError> {
    let mut conn = pool.get().await?;
    Ok(sessions::list_for(&mut conn, user).await?)
}

/// Ends one of a person's own sessions; `NotFound` if it is not theirs or already over.
pub async fn end_one(pool: &DbPool, user: UserId, id: SessionId) -> Result<(), ServiceError> {
    let mut conn = pool.get().await?;
    if sessions::end(&mut conn, user, id).await? { Ok(()) } else { Err(ServiceError::NotFound) }
}

/// Ends every session of a person, but `keep` (in the caller's transaction).
pub async fn end_all(
    conn: &mut AsyncPgConnection,
    user: UserId,
    keep: Option<SessionId>,
) -> Result<usize, ServiceError> {
    Ok(sessions::end_all(conn, user, keep).await?)
}

/// Every hour, forgets the sessions that have ended on their own (idle or too old).
pub fn spawn_cleanup(pool: DbPool, rules: SessionRules) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let (idle_since, born_since) = rules.cutoffs(Utc::now());
            let pruned = match pool.get().await {
                Ok(mut conn) => {
                    sessions::prune_expired(&mut conn, idle_since, born_since).await.map_err(anyhow::Error::from)
                }
                Err(e) => Err(anyhow::Error::from(e)),
            };
            match pruned {
                Ok(0) => {}
                Ok(n) => tracing::debug!(deleted = n, "forgot sessions that ended on their own"),
                Err(e) => tracing::warn!(error = %format!("{e:#}"), "could not forget ended sessions"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cutoffs_lie_in_the_past_by_the_rules() {
        let now = Utc::now();
        let rules = SessionRules { idle: Duration::from_secs(60), max_age: Duration::from_secs(3600) };
        let (idle_since, born_since) = rules.cutoffs(now);
        assert_eq!(now - idle_since, chrono::TimeDelta::seconds(60));
        assert_eq!(now - born_since, chrono::TimeDelta::seconds(3600));
    }

    #[test]
    fn only_the_hash_of_a_token_is_kept() {
        assert_eq!(hash("abc").len(), 32);
        assert_ne!(hash("abc"), hash("abd"));
    }
}
