//! The `api_tokens` table, and the service users behind the tokens.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::UserId;
use super::ids::ApiTokenId;
use super::schema::{api_tokens, users};
use crate::domain::Role;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_tokens)]
pub struct ApiToken {
    pub id: ApiTokenId,
    pub name: String,
    pub prefix: String,
    pub token_hash: String,
    pub role: String,
    pub user_id: UserId,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ApiToken {
    /// The role, falling back to the least powerful one (the CHECK constraint
    /// keeps the column to known values).
    pub fn role(&self) -> Role {
        self.role.parse().unwrap_or(Role::Viewer)
    }

    pub fn is_revoked(&self) -> bool {
        self.revoked_at.is_some()
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = api_tokens)]
pub struct NewApiToken<'a> {
    pub name: &'a str,
    pub prefix: &'a str,
    pub token_hash: &'a str,
    pub role: &'a str,
    pub user_id: UserId,
    pub created_by: Option<UserId>,
}

/// The user a token acts as: never signs in (see `services::auth`).
#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewServiceUser<'a> {
    pub email: &'a str,
    pub display_name: &'a str,
    pub password_hash: &'a str,
    pub role: &'a str,
    pub is_service: bool,
}

pub async fn insert_service_user(conn: &mut AsyncPgConnection, new: &NewServiceUser<'_>) -> QueryResult<UserId> {
    diesel::insert_into(users::table).values(new).returning(users::id).get_result(conn).await
}

pub async fn insert(conn: &mut AsyncPgConnection, new: &NewApiToken<'_>) -> QueryResult<ApiToken> {
    diesel::insert_into(api_tokens::table).values(new).returning(ApiToken::as_returning()).get_result(conn).await
}

/// Every token, the working ones first, newest first.
pub async fn list(conn: &mut AsyncPgConnection) -> QueryResult<Vec<ApiToken>> {
    api_tokens::table
        .order((api_tokens::revoked_at.is_not_null(), api_tokens::created_at.desc(), api_tokens::id.desc()))
        .select(ApiToken::as_select())
        .load(conn)
        .await
}

pub async fn find(conn: &mut AsyncPgConnection, id: ApiTokenId) -> QueryResult<Option<ApiToken>> {
    api_tokens::table.find(id).select(ApiToken::as_select()).first(conn).await.optional()
}

pub async fn find_for_update(conn: &mut AsyncPgConnection, id: ApiTokenId) -> QueryResult<Option<ApiToken>> {
    api_tokens::table.find(id).select(ApiToken::as_select()).for_update().first(conn).await.optional()
}

/// A working token by the SHA-256 of its secret: not revoked, and its user
/// not disabled.
pub async fn find_active_by_hash(conn: &mut AsyncPgConnection, hash: &str) -> QueryResult<Option<ApiToken>> {
    api_tokens::table
        .inner_join(users::table.on(users::id.eq(api_tokens::user_id)))
        .filter(api_tokens::token_hash.eq(hash))
        .filter(api_tokens::revoked_at.is_null())
        .filter(users::disabled.eq(false))
        .select(ApiToken::as_select())
        .first(conn)
        .await
        .optional()
}

/// Marks the token used now, unless that was already recorded within the
/// last minute (so a busy script does not write on every request).
pub async fn touch(conn: &mut AsyncPgConnection, id: ApiTokenId, now: DateTime<Utc>) -> QueryResult<()> {
    let stale = now - chrono::Duration::minutes(1);
    diesel::update(
        api_tokens::table
            .filter(api_tokens::id.eq(id))
            .filter(api_tokens::last_used_at.is_null().or(api_tokens::last_used_at.lt(stale))),
    )
    .set(api_tokens::last_used_at.eq(now))
    .execute(conn)
    .await
    .map(|_| ())
}

/// Revokes the token and disables its user, in the caller's transaction.
pub async fn revoke(conn: &mut AsyncPgConnection, id: ApiTokenId, now: DateTime<Utc>) -> QueryResult<ApiToken> {
    let token: ApiToken = diesel::update(api_tokens::table.find(id))
        .set(api_tokens::revoked_at.eq(now))
        .returning(ApiToken::as_returning())
        .get_result(conn)
        .await?;
    diesel::update(users::table.find(token.user_id))
        .set((users::disabled.eq(true), users::updated_at.eq(now)))
        .execute(conn)
        .await?;
    Ok(token)
}
