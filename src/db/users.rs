//! The `users` table.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::UserId;
use super::schema::users;
use crate::domain::Role;

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub display_name: String,
    pub password_hash: String,
    pub role: String,
    pub disabled: bool,
    pub time_zone: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The user behind an API token: never signs in, never listed as a person.
    pub is_service: bool,
}

impl User {
    /// The role, falling back to the least powerful one should the column
    /// ever hold something unknown (the CHECK constraint prevents it).
    pub fn role(&self) -> Role {
        self.role.parse().unwrap_or(Role::Viewer)
    }

    pub fn time_zone(&self) -> chrono_tz::Tz {
        self.time_zone.parse().unwrap_or(chrono_tz::UTC)
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub email: &'a str,
    pub display_name: &'a str,
    pub password_hash: &'a str,
    pub role: &'a str,
    pub time_zone: &'a str,
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = users)]
pub struct UserChanges<'a> {
    pub display_name: Option<&'a str>,
    pub password_hash: Option<&'a str>,
    pub role: Option<&'a str>,
    pub disabled: Option<bool>,
    pub time_zone: Option<&'a str>,
    pub updated_at: Option<DateTime<Utc>>,
}

pub async fn find(conn: &mut AsyncPgConnection, id: UserId) -> QueryResult<Option<User>> {
    users::table.find(id).select(User::as_select()).first(conn).await.optional()
}

pub async fn find_by_email(conn: &mut AsyncPgConnection, email: &str) -> QueryResult<Option<User>> {
    users::table.filter(users::email.eq(email)).select(User::as_select()).first(conn).await.optional()
}

/// The people (not the service users behind API tokens).
pub async fn list(conn: &mut AsyncPgConnection) -> QueryResult<Vec<User>> {
    users::table
        .filter(users::is_service.eq(false))
        .order((users::disabled.asc(), users::display_name.asc()))
        .select(User::as_select())
        .load(conn)
        .await
}

/// Every user's display name, service users included (for showing who did something).
pub async fn display_names(conn: &mut AsyncPgConnection) -> QueryResult<std::collections::HashMap<UserId, String>> {
    let rows: Vec<(UserId, String)> = users::table.select((users::id, users::display_name)).load(conn).await?;
    Ok(rows.into_iter().collect())
}

pub async fn any_exist(conn: &mut AsyncPgConnection) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(users::table.select(users::id))).get_result(conn).await
}

/// Serialises every change that could remove an admin until the caller's
/// transaction ends, so "is there another admin?" and the change are one step.
pub async fn lock_admins(conn: &mut AsyncPgConnection) -> QueryResult<()> {
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended('firebreak admins', 0))")
        .execute(conn)
        .await
        .map(|_| ())
}

pub async fn count_active_admins(conn: &mut AsyncPgConnection) -> QueryResult<i64> {
    users::table
        .filter(users::role.eq(Role::Admin.as_str()))
        .filter(users::disabled.eq(false))
        .filter(users::is_service.eq(false))
        .count()
        .get_result(conn)
        .await
}

pub async fn insert(conn: &mut AsyncPgConnection, new: &NewUser<'_>) -> QueryResult<User> {
    diesel::insert_into(users::table).values(new).returning(User::as_returning()).get_result(conn).await
}

pub async fn update(conn: &mut AsyncPgConnection, id: UserId, changes: &UserChanges<'_>) -> QueryResult<User> {
    diesel::update(users::table.find(id)).set(changes).returning(User::as_returning()).get_result(conn).await
}
