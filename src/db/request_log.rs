//! The `request_log` table: requests counted for rate limits, shared by
//! every app instance.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::schema::request_log;

/// Records one request and returns how many this key made since `since`
/// (this one included).
pub async fn record_and_count(
    conn: &mut AsyncPgConnection,
    bucket: &str,
    key: &str,
    since: DateTime<Utc>,
) -> QueryResult<i64> {
    diesel::insert_into(request_log::table)
        .values((request_log::bucket.eq(bucket), request_log::key.eq(key)))
        .execute(conn)
        .await?;
    request_log::table
        .filter(request_log::bucket.eq(bucket))
        .filter(request_log::key.eq(key))
        .filter(request_log::at.ge(since))
        .count()
        .get_result(conn)
        .await
}

/// Forgets requests older than `before` (called now and then, not per request).
pub async fn prune(conn: &mut AsyncPgConnection, before: DateTime<Utc>) -> QueryResult<usize> {
    diesel::delete(request_log::table.filter(request_log::at.lt(before))).execute(conn).await
}
