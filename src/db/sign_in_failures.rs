//! The `sign_in_failures` table: recent failed sign-ins, counted for throttling.
//! Kept in the database so that every app instance sees the same counts.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::schema::sign_in_failures;

pub async fn record(conn: &mut AsyncPgConnection, email: &str, client_addr: &str) -> QueryResult<()> {
    diesel::insert_into(sign_in_failures::table)
        .values((sign_in_failures::email.eq(email), sign_in_failures::client_addr.eq(client_addr)))
        .execute(conn)
        .await
        .map(|_| ())
}

/// Failures since `since` for the account and for the address.
pub async fn count_since(
    conn: &mut AsyncPgConnection,
    email: &str,
    client_addr: &str,
    since: DateTime<Utc>,
) -> QueryResult<(i64, i64)> {
    let account = sign_in_failures::table
        .filter(sign_in_failures::email.eq(email))
        .filter(sign_in_failures::failed_at.gt(since))
        .count()
        .get_result(conn)
        .await?;
    let address = sign_in_failures::table
        .filter(sign_in_failures::client_addr.eq(client_addr))
        .filter(sign_in_failures::failed_at.gt(since))
        .count()
        .get_result(conn)
        .await?;
    Ok((account, address))
}

/// Forgets an account's failures after a successful sign-in or a password reset,
/// and drops rows too old to matter.
pub async fn clear_for_account(
    conn: &mut AsyncPgConnection,
    email: &str,
    older_than: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::delete(
        sign_in_failures::table
            .filter(sign_in_failures::email.eq(email).or(sign_in_failures::failed_at.lt(older_than))),
    )
    .execute(conn)
    .await
    .map(|_| ())
}
