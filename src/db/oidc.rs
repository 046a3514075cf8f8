//! The `oidc_sign_ins` table (sign-ins through the provider in progress) and the
//! provider link columns of `users`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::UserId;
use super::schema::{oidc_sign_ins, users};
use super::users::User;

#[derive(Debug, Clone, Insertable, Queryable, Selectable)]
#[diesel(table_name = oidc_sign_ins)]
pub struct PendingSignIn {
    /// SHA-256 of the random id in the browser's cookie.
    pub id_hash: Vec<u8>,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
    pub next_path: String,
}

pub async fn insert_pending(conn: &mut AsyncPgConnection, pending: &PendingSignIn) -> QueryResult<()> {
    diesel::insert_into(oidc_sign_ins::table).values(pending).execute(conn).await.map(|_| ())
}

/// Removes and returns a pending sign-in started after `since`: each can be used once.
pub async fn take_pending(
    conn: &mut AsyncPgConnection,
    id_hash: &[u8],
    since: DateTime<Utc>,
) -> QueryResult<Option<PendingSignIn>> {
    diesel::delete(oidc_sign_ins::table.find(id_hash))
        .filter(oidc_sign_ins::created_at.gt(since))
        .returning(PendingSignIn::as_returning())
        .get_result(conn)
        .await
        .optional()
}

/// Forgets sign-ins started before `before`; returns how many remain.
pub async fn prune_pending(conn: &mut AsyncPgConnection, before: DateTime<Utc>) -> QueryResult<i64> {
    diesel::delete(oidc_sign_ins::table.filter(oidc_sign_ins::created_at.le(before))).execute(conn).await?;
    oidc_sign_ins::table.count().get_result(conn).await
}

/// The account linked to this identity at the provider.
pub async fn find_linked(conn: &mut AsyncPgConnection, issuer: &str, subject: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(users::oidc_issuer.eq(issuer))
        .filter(users::oidc_subject.eq(subject))
        .select(User::as_select())
        .first(conn)
        .await
        .optional()
}

/// The identity an account is linked to, if any: (issuer, subject).
pub async fn link_of(conn: &mut AsyncPgConnection, id: UserId) -> QueryResult<Option<(String, String)>> {
    let (issuer, subject): (Option<String>, Option<String>) =
        users::table.find(id).select((users::oidc_issuer, users::oidc_subject)).first(conn).await?;
    Ok(issuer.zip(subject))
}

pub async fn link(conn: &mut AsyncPgConnection, id: UserId, issuer: &str, subject: &str) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .set((users::oidc_issuer.eq(issuer), users::oidc_subject.eq(subject), users::updated_at.eq(Utc::now())))
        .execute(conn)
        .await
        .map(|_| ())
}
