//! The `sign_in_failures` table: recent failed sign-ins, counted for throttling.
//! Kept in the database so that every app instance sees the same counts.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::schema::sign_in_failures;

/// Records a failure (or an attempt about to be checked) and returns its id.
pub async fn record(conn: &mut AsyncPgConnection, email: &str, client_addr: &str) -> QueryResult<i64> {
    diesel::insert_into(sign_in_failures::table)
        .values((sign_in_failures::email.eq(email), sign_in_failures::client_addr.eq(client_addr)))
        .returning(sign_in_failures::id)
        .get_result(conn)
        .await
}

/// Forgets one recorded attempt (one that was never checked after all).
pub async fn forget(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<()> {
    diesel::delete(sign_in_failures::table.find(id)).execute(conn).await.map(|_| ())
}

/// Serialises attempts for one account and for one address until the caller's
/// transaction ends, so that counting and recording cannot race. Always taken in
/// the same order (account, then address), so two attempts never deadlock.
pub async fn lock(conn: &mut AsyncPgConnection, email: &str, client_addr: &str) -> QueryResult<()> {
    for key in [format!("sign-in account {email}"), format!("sign-in address {client_addr}")] {
        diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind::<diesel::sql_types::Text, _>(key)
            .execute(conn)
            .await?;
    }
    Ok(())
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
