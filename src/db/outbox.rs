//! The `outbox` table: every email, written in the same transaction as the
//! action that caused it, and sent later by the mail worker.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Nullable, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use super::schema::{outbox, outbox_attempts};
use super::{IncidentId, OutboxId};

/// An email to queue. Bodies are rendered already (text and HTML).
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = outbox)]
pub struct NewMessage {
    pub message_id: String,
    pub kind: String,
    pub to_address: String,
    pub to_name: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub list_unsubscribe: Option<String>,
    pub calendar: Option<String>,
    pub calendar_method: Option<String>,
    pub incident_id: Option<IncidentId>,
}

/// A fresh Message-ID, `<random@domain>`, with the domain of the From address.
pub fn new_message_id(mail_from: &str) -> String {
    let domain = mail_from
        .rsplit_once('@')
        .map(|(_, d)| d.trim_end_matches('>').trim())
        .filter(|d| !d.is_empty())
        .unwrap_or("firebreak.invalid");
    format!("<{}@{domain}>", crate::domain::tokens::hex(16))
}

/// Queues messages (in the caller's transaction), in chunks so that a large
/// fan-out stays under PostgreSQL's bind-parameter limit. Wakes the senders at commit.
pub async fn enqueue(conn: &mut AsyncPgConnection, messages: &[NewMessage]) -> QueryResult<usize> {
    let mut n = 0;
    for chunk in messages.chunks(1000) {
        n += diesel::insert_into(outbox::table).values(chunk).execute(conn).await?;
    }
    if n > 0 {
        diesel::sql_query("SELECT pg_notify($1, '')")
            .bind::<diesel::sql_types::Text, _>(OUTBOX_CHANNEL)
            .execute(conn)
            .await?;
    }
    Ok(n)
}

/// The channel mail workers listen on to wake up when rows are queued.
pub const OUTBOX_CHANNEL: &str = "firebreak_outbox";

/// Where a message stands.
pub const PENDING: &str = "pending";
pub const SENT: &str = "sent";
pub const FAILED: &str = "failed";

/// A whole row: what the worker sends and the admin detail page shows.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = outbox)]
pub struct OutboxMessage {
    pub id: OutboxId,
    pub message_id: String,
    pub kind: String,
    pub to_address: String,
    pub to_name: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub list_unsubscribe: Option<String>,
    pub calendar: Option<String>,
    pub calendar_method: Option<String>,
    pub incident_id: Option<IncidentId>,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub locked_until: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// A row without its bodies, for lists.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = outbox)]
pub struct OutboxSummary {
    pub id: OutboxId,
    pub kind: String,
    pub to_address: String,
    pub to_name: String,
    pub subject: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// One delivery attempt; `error` is `None` when the server accepted the message.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = outbox_attempts)]
pub struct Attempt {
    pub id: i64,
    pub outbox_id: OutboxId,
    pub attempted_at: DateTime<Utc>,
    pub error: Option<String>,
}

/// How many messages are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub pending: i64,
    pub sent: i64,
    pub failed: i64,
}

/// Claims up to `limit` due messages for `lease`: each claimed row gets
/// `locked_until = now() + lease` and one more attempt. `SKIP LOCKED` lets
/// several workers claim at once without ever getting the same row; a row whose
/// lease ran out (its worker died) is due again.
pub async fn claim_due(
    conn: &mut AsyncPgConnection,
    limit: i64,
    lease: std::time::Duration,
) -> QueryResult<Vec<OutboxMessage>> {
    let mut rows: Vec<OutboxMessage> = diesel::sql_query(
        "UPDATE outbox SET locked_until = now() + make_interval(secs => $2), attempts = attempts + 1 \
         WHERE id IN (SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= now() \
                      AND (locked_until IS NULL OR locked_until < now()) \
                      ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED) \
         RETURNING *",
    )
    .bind::<BigInt, _>(limit)
    .bind::<Double, _>(lease.as_secs_f64())
    .load(conn)
    .await?;
    rows.sort_by_key(|r| r.id);
    Ok(rows)
}

/// Extends the lease of claimed rows still pending (a live worker keeps its
/// rows; a crashed one's come free within one `lease`).
pub async fn renew_lease(
    conn: &mut AsyncPgConnection,
    ids: &[OutboxId],
    lease: std::time::Duration,
) -> QueryResult<usize> {
    if ids.is_empty() {
        return Ok(0);
    }
    let ids: Vec<i64> = ids.iter().map(|id| id.0).collect();
    diesel::sql_query(
        "UPDATE outbox SET locked_until = now() + make_interval(secs => $2) \
         WHERE id = ANY($1) AND status = 'pending' AND locked_until IS NOT NULL",
    )
    .bind::<diesel::sql_types::Array<BigInt>, _>(ids)
    .bind::<Double, _>(lease.as_secs_f64())
    .execute(conn)
    .await
}

#[derive(QueryableByName)]
struct Seconds {
    #[diesel(sql_type = Nullable<Double>)]
    seconds: Option<f64>,
}

/// Seconds until the next pending message falls due (negative when one is
/// due now; `None` when nothing is pending), counting leases held by others.
pub async fn seconds_until_next_due(conn: &mut AsyncPgConnection) -> QueryResult<Option<f64>> {
    let row: Seconds = diesel::sql_query(
        "SELECT EXTRACT(EPOCH FROM min(GREATEST(next_attempt_at, COALESCE(locked_until, next_attempt_at))) - now()) \
         ::float8 AS seconds FROM outbox WHERE status = 'pending'",
    )
    .get_result(conn)
    .await?;
    Ok(row.seconds)
}

#[derive(Insertable)]
#[diesel(table_name = outbox_attempts)]
struct NewAttempt<'a> {
    outbox_id: OutboxId,
    error: Option<&'a str>,
}

/// Marks messages accepted by the server (or written to the mail folder),
/// recording one successful attempt each, in one transaction.
pub async fn mark_sent(conn: &mut AsyncPgConnection, ids: &[OutboxId]) -> QueryResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    conn.transaction(async |conn| {
        // Only rows still pending: recording the same batch twice changes nothing.
        let marked: Vec<OutboxId> = diesel::update(outbox::table.filter(outbox::id.eq_any(ids)))
            .filter(outbox::status.eq(PENDING))
            .set((
                outbox::status.eq(SENT),
                outbox::sent_at.eq(diesel::dsl::now),
                outbox::locked_until.eq(None::<DateTime<Utc>>),
                outbox::last_error.eq(None::<String>),
            ))
            .returning(outbox::id)
            .get_results(conn)
            .await?;
        let attempts: Vec<NewAttempt<'_>> =
            marked.iter().map(|&outbox_id| NewAttempt { outbox_id, error: None }).collect();
        if !attempts.is_empty() {
            diesel::insert_into(outbox_attempts::table).values(&attempts).execute(conn).await?;
        }
        Ok(())
    })
    .await
}

/// What to do with a message after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Try again at this time.
    RetryAt(DateTime<Utc>),
    /// Give up: the error is permanent or there were too many attempts.
    GiveUp,
}

/// Records a failed attempt and its error, and either schedules the next one
/// or marks the message failed. Releases the lease either way. Only a claimed,
/// pending row changes, so recording the same failure twice changes nothing.
pub async fn record_failure(
    conn: &mut AsyncPgConnection,
    id: OutboxId,
    error: &str,
    then: AfterFailure,
) -> QueryResult<()> {
    conn.transaction(async |conn| {
        let claimed =
            outbox::table.find(id).filter(outbox::status.eq(PENDING)).filter(outbox::locked_until.is_not_null());
        let changed = match then {
            AfterFailure::RetryAt(at) => {
                diesel::update(claimed)
                    .set((
                        outbox::last_error.eq(error),
                        outbox::next_attempt_at.eq(at),
                        outbox::locked_until.eq(None::<DateTime<Utc>>),
                    ))
                    .execute(conn)
                    .await?
            }
            AfterFailure::GiveUp => {
                diesel::update(claimed)
                    .set((
                        outbox::status.eq(FAILED),
                        outbox::last_error.eq(error),
                        outbox::locked_until.eq(None::<DateTime<Utc>>),
                    ))
                    .execute(conn)
                    .await?
            }
        };
        if changed > 0 {
            diesel::insert_into(outbox_attempts::table)
                .values(&NewAttempt { outbox_id: id, error: Some(error) })
                .execute(conn)
                .await?;
        }
        Ok(())
    })
    .await
}

/// Counts of pending, sent and failed messages.
pub async fn counts(conn: &mut AsyncPgConnection) -> QueryResult<Counts> {
    let rows: Vec<(String, i64)> =
        outbox::table.group_by(outbox::status).select((outbox::status, diesel::dsl::count_star())).load(conn).await?;
    let mut counts = Counts::default();
    for (status, n) in rows {
        match status.as_str() {
            PENDING => counts.pending = n,
            SENT => counts.sent = n,
            FAILED => counts.failed = n,
            _ => {}
        }
    }
    Ok(counts)
}

/// The newest messages, optionally only those with one status.
pub async fn recent(conn: &mut AsyncPgConnection, status: Option<&str>, limit: i64) -> QueryResult<Vec<OutboxSummary>> {
    let mut query = outbox::table.select(OutboxSummary::as_select()).order(outbox::id.desc()).limit(limit).into_boxed();
    if let Some(status) = status {
        query = query.filter(outbox::status.eq(status.to_owned()));
    }
    query.load(conn).await
}

pub async fn find(conn: &mut AsyncPgConnection, id: OutboxId) -> QueryResult<Option<OutboxMessage>> {
    outbox::table.find(id).select(OutboxMessage::as_select()).first(conn).await.optional()
}

/// Every attempt to deliver one message, oldest first.
pub async fn attempts(conn: &mut AsyncPgConnection, id: OutboxId) -> QueryResult<Vec<Attempt>> {
    outbox_attempts::table
        .filter(outbox_attempts::outbox_id.eq(id))
        .order(outbox_attempts::id.asc())
        .select(Attempt::as_select())
        .load(conn)
        .await
}

/// Puts a failed or pending message back in the queue, due now, with a fresh
/// count of attempts, and wakes the workers at commit. A lease held by a worker
/// sending it right now is kept, so it is never sent twice at once.
/// Returns false when the message is not failed or pending (e.g. sent already).
pub async fn retry_now(conn: &mut AsyncPgConnection, id: OutboxId) -> QueryResult<bool> {
    let n = diesel::update(outbox::table.find(id).filter(outbox::status.eq_any([PENDING, FAILED])))
        .set((outbox::status.eq(PENDING), outbox::next_attempt_at.eq(diesel::dsl::now), outbox::attempts.eq(0)))
        .execute(conn)
        .await?;
    if n > 0 {
        diesel::sql_query("SELECT pg_notify($1, '')").bind::<Text, _>(OUTBOX_CHANNEL).execute(conn).await?;
    }
    Ok(n > 0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn message_ids_use_the_senders_domain() {
        let id = super::new_message_id("Firebreak <alerts@example.com>");
        assert!(id.starts_with('<') && id.ends_with("@example.com>"), "{id}");
        assert_ne!(id, super::new_message_id("Firebreak <alerts@example.com>"));
        assert!(super::new_message_id("nobody").ends_with("@firebreak.invalid>"));
    }
}
