//! The `user_sessions` table: one row per signed-in browser, so the server can
//! end a session (sign-out, "sign out everywhere", a password change, a
//! disabled account) even while a copy of its cookie is still around.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::schema::{user_sessions, users};
use super::users::User;
use super::{SessionId, UserId};

/// The channel that says "some sessions of this user ended"; the payload is the user id.
/// Open live streams of that user check whether theirs is still valid.
pub const SESSIONS_CHANNEL: &str = "firebreak_sessions";

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = user_sessions)]
pub struct UserSession {
    pub id: SessionId,
    pub user_id: UserId,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub client_addr: String,
    pub user_agent: String,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = user_sessions)]
pub struct NewSession<'a> {
    pub token_hash: &'a [u8],
    pub user_id: UserId,
    pub client_addr: &'a str,
    pub user_agent: &'a str,
}

pub async fn insert(conn: &mut AsyncPgConnection, new: &NewSession<'_>) -> QueryResult<SessionId> {
    diesel::insert_into(user_sessions::table).values(new).returning(user_sessions::id).get_result(conn).await
}

/// The session with this token hash and its user, if it was last used after
/// `idle_since` and began after `born_since`.
pub async fn find_live(
    conn: &mut AsyncPgConnection,
    token_hash: &[u8],
    idle_since: DateTime<Utc>,
    born_since: DateTime<Utc>,
) -> QueryResult<Option<(UserSession, User)>> {
    user_sessions::table
        .inner_join(users::table)
        .filter(user_sessions::token_hash.eq(token_hash))
        .filter(user_sessions::last_seen_at.gt(idle_since))
        .filter(user_sessions::created_at.gt(born_since))
        .select((UserSession::as_select(), User::as_select()))
        .first(conn)
        .await
        .optional()
}

/// Whether this session still exists (it may since have been ended).
pub async fn exists(conn: &mut AsyncPgConnection, id: SessionId) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(user_sessions::table.find(id))).get_result(conn).await
}

pub async fn touch(conn: &mut AsyncPgConnection, id: SessionId, now: DateTime<Utc>) -> QueryResult<()> {
    diesel::update(user_sessions::table.find(id)).set(user_sessions::last_seen_at.eq(now)).execute(conn).await?;
    Ok(())
}

/// A person's sessions, most recently used first.
pub async fn list_for(conn: &mut AsyncPgConnection, user: UserId) -> QueryResult<Vec<UserSession>> {
    user_sessions::table
        .filter(user_sessions::user_id.eq(user))
        .order(user_sessions::last_seen_at.desc())
        .select(UserSession::as_select())
        .load(conn)
        .await
}

/// Ends one session of this user; returns whether there was one.
pub async fn end(conn: &mut AsyncPgConnection, user: UserId, id: SessionId) -> QueryResult<bool> {
    let n = diesel::delete(user_sessions::table.find(id).filter(user_sessions::user_id.eq(user))).execute(conn).await?;
    if n > 0 {
        notify(conn, user).await?;
    }
    Ok(n > 0)
}

/// Ends every session of this user except `keep`; returns how many ended.
pub async fn end_all(conn: &mut AsyncPgConnection, user: UserId, keep: Option<SessionId>) -> QueryResult<usize> {
    let n = diesel::delete(
        user_sessions::table
            .filter(user_sessions::user_id.eq(user))
            .filter(user_sessions::id.ne(keep.unwrap_or(SessionId(0)))),
    )
    .execute(conn)
    .await?;
    notify(conn, user).await?;
    Ok(n)
}

/// Forgets this user's sessions that can no longer sign anyone in, and the
/// oldest beyond the newest `keep_newest`.
pub async fn prune_for(
    conn: &mut AsyncPgConnection,
    user: UserId,
    idle_since: DateTime<Utc>,
    born_since: DateTime<Utc>,
    keep_newest: i64,
) -> QueryResult<()> {
    diesel::sql_query(
        "DELETE FROM user_sessions WHERE user_id = $1 AND (last_seen_at <= $2 OR created_at <= $3 OR id NOT IN \
         (SELECT id FROM user_sessions WHERE user_id = $1 ORDER BY created_at DESC LIMIT $4))",
    )
    .bind::<BigInt, _>(user.0)
    .bind::<diesel::sql_types::Timestamptz, _>(idle_since)
    .bind::<diesel::sql_types::Timestamptz, _>(born_since)
    .bind::<BigInt, _>(keep_newest)
    .execute(conn)
    .await?;
    Ok(())
}

/// Forgets every session that can no longer sign anyone in (all users).
pub async fn prune_expired(
    conn: &mut AsyncPgConnection,
    idle_since: DateTime<Utc>,
    born_since: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::delete(
        user_sessions::table
            .filter(user_sessions::last_seen_at.le(idle_since).or(user_sessions::created_at.le(born_since))),
    )
    .execute(conn)
    .await
}

async fn notify(conn: &mut AsyncPgConnection, user: UserId) -> QueryResult<()> {
    diesel::sql_query("SELECT pg_notify($1, $2)")
        .bind::<Text, _>(SESSIONS_CHANNEL)
        .bind::<Text, _>(user.to_string())
        .execute(conn)
        .await?;
    Ok(())
}
