//! The `webhooks` tables: the registered receivers, the durable delivery
//! queue (`webhook_deliveries`, same lease rules as the email outbox) and
//! every attempt to deliver (`webhook_attempts`).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Nullable, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use super::ids::{WebhookDeliveryId, WebhookId};
use super::schema::{webhook_attempts, webhook_deliveries, webhooks};
use super::{IncidentId, UserId};

/// The channel delivery workers listen on to wake up when rows are queued.
pub const WEBHOOK_CHANNEL: &str = "firebreak_webhooks";

/// Where a delivery stands.
pub const PENDING: &str = "pending";
pub const DELIVERED: &str = "delivered";
pub const FAILED: &str = "failed";

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhooks)]
pub struct Webhook {
    pub id: WebhookId,
    pub name: String,
    pub url: String,
    pub secret: String,
    pub events: Vec<String>,
    pub format: String,
    pub enabled: bool,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Made for a status-page subscriber: not the admins' to list or edit.
    pub for_subscriber: bool,
}

#[derive(Debug, Insertable, AsChangeset)]
#[diesel(table_name = webhooks)]
pub struct WebhookValues<'a> {
    pub name: &'a str,
    pub url: &'a str,
    pub secret: &'a str,
    pub events: Vec<String>,
    pub format: &'a str,
}

pub async fn list(conn: &mut AsyncPgConnection) -> QueryResult<Vec<Webhook>> {
    webhooks::table
        .filter(webhooks::for_subscriber.eq(false))
        .order((webhooks::name.asc(), webhooks::id.asc()))
        .select(Webhook::as_select())
        .load(conn)
        .await
}

/// An admin's webhook (a subscriber's is not found here).
pub async fn find(conn: &mut AsyncPgConnection, id: WebhookId) -> QueryResult<Option<Webhook>> {
    webhooks::table
        .find(id)
        .filter(webhooks::for_subscriber.eq(false))
        .select(Webhook::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn find_for_update(conn: &mut AsyncPgConnection, id: WebhookId) -> QueryResult<Option<Webhook>> {
    webhooks::table
        .find(id)
        .filter(webhooks::for_subscriber.eq(false))
        .select(Webhook::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    values: &WebhookValues<'_>,
    created_by: Option<UserId>,
) -> QueryResult<Webhook> {
    diesel::insert_into(webhooks::table)
        .values((values, webhooks::created_by.eq(created_by)))
        .returning(Webhook::as_returning())
        .get_result(conn)
        .await
}

pub async fn update(conn: &mut AsyncPgConnection, id: WebhookId, values: &WebhookValues<'_>) -> QueryResult<Webhook> {
    diesel::update(webhooks::table.find(id))
        .set((values, webhooks::updated_at.eq(diesel::dsl::now)))
        .returning(Webhook::as_returning())
        .get_result(conn)
        .await
}

pub async fn set_enabled(conn: &mut AsyncPgConnection, id: WebhookId, enabled: bool) -> QueryResult<usize> {
    diesel::update(webhooks::table.find(id))
        .set((webhooks::enabled.eq(enabled), webhooks::updated_at.eq(diesel::dsl::now)))
        .execute(conn)
        .await
}

/// Deletes a webhook with its deliveries and their attempts.
pub async fn delete(conn: &mut AsyncPgConnection, id: WebhookId) -> QueryResult<usize> {
    diesel::delete(webhooks::table.find(id)).execute(conn).await
}

/// The enabled webhooks that asked for this event.
pub async fn subscribed(conn: &mut AsyncPgConnection, event: &str) -> QueryResult<Vec<Webhook>> {
    webhooks::table
        .filter(webhooks::enabled.eq(true))
        .filter(webhooks::for_subscriber.eq(false))
        .filter(webhooks::events.contains(vec![event.to_owned()]))
        .order(webhooks::id.asc())
        .select(Webhook::as_select())
        .load(conn)
        .await
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = webhook_deliveries)]
pub struct NewDelivery {
    pub webhook_id: WebhookId,
    pub delivery_id: String,
    pub event: String,
    pub incident_id: Option<IncidentId>,
    pub body: String,
}

/// Queues deliveries (in the caller's transaction) and wakes the workers at commit.
pub async fn enqueue(conn: &mut AsyncPgConnection, rows: &[NewDelivery]) -> QueryResult<usize> {
    if rows.is_empty() {
        return Ok(0);
    }
    let n = diesel::insert_into(webhook_deliveries::table).values(rows).execute(conn).await?;
    diesel::sql_query("SELECT pg_notify($1, '')").bind::<Text, _>(WEBHOOK_CHANNEL).execute(conn).await?;
    Ok(n)
}

/// A delivery row (without its body, for lists).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_deliveries)]
pub struct DeliverySummary {
    pub id: WebhookDeliveryId,
    pub webhook_id: WebhookId,
    pub delivery_id: String,
    pub event: String,
    pub incident_id: Option<IncidentId>,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// A whole delivery row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_deliveries)]
pub struct Delivery {
    pub id: WebhookDeliveryId,
    pub webhook_id: WebhookId,
    pub delivery_id: String,
    pub event: String,
    pub incident_id: Option<IncidentId>,
    pub body: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// The newest deliveries of one webhook.
pub async fn recent(conn: &mut AsyncPgConnection, webhook: WebhookId, limit: i64) -> QueryResult<Vec<DeliverySummary>> {
    webhook_deliveries::table
        .filter(webhook_deliveries::webhook_id.eq(webhook))
        .order(webhook_deliveries::id.desc())
        .limit(limit)
        .select(DeliverySummary::as_select())
        .load(conn)
        .await
}

pub async fn find_delivery(
    conn: &mut AsyncPgConnection,
    webhook: WebhookId,
    id: WebhookDeliveryId,
) -> QueryResult<Option<Delivery>> {
    webhook_deliveries::table
        .find(id)
        .filter(webhook_deliveries::webhook_id.eq(webhook))
        .select(Delivery::as_select())
        .first(conn)
        .await
        .optional()
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_attempts)]
pub struct Attempt {
    pub id: i64,
    pub delivery_id: WebhookDeliveryId,
    pub attempted_at: DateTime<Utc>,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i32,
}

/// Every attempt at one delivery, oldest first.
pub async fn attempts(conn: &mut AsyncPgConnection, id: WebhookDeliveryId) -> QueryResult<Vec<Attempt>> {
    webhook_attempts::table
        .filter(webhook_attempts::delivery_id.eq(id))
        .order(webhook_attempts::id.asc())
        .select(Attempt::as_select())
        .load(conn)
        .await
}

/// How many deliveries are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub pending: i64,
    pub delivered: i64,
    pub failed: i64,
}

fn fold_counts(rows: impl IntoIterator<Item = (String, i64)>) -> Counts {
    let mut counts = Counts::default();
    for (status, n) in rows {
        match status.as_str() {
            PENDING => counts.pending += n,
            DELIVERED => counts.delivered += n,
            FAILED => counts.failed += n,
            _ => {}
        }
    }
    counts
}

/// Deliveries by state, over every webhook.
pub async fn counts(conn: &mut AsyncPgConnection) -> QueryResult<Counts> {
    let rows: Vec<(String, i64)> = webhook_deliveries::table
        .group_by(webhook_deliveries::status)
        .select((webhook_deliveries::status, diesel::dsl::count_star()))
        .load(conn)
        .await?;
    Ok(fold_counts(rows))
}

/// Deliveries by state for each webhook.
pub async fn counts_by_webhook(conn: &mut AsyncPgConnection) -> QueryResult<Vec<(WebhookId, Counts)>> {
    let rows: Vec<(WebhookId, String, i64)> = webhook_deliveries::table
        .group_by((webhook_deliveries::webhook_id, webhook_deliveries::status))
        .select((webhook_deliveries::webhook_id, webhook_deliveries::status, diesel::dsl::count_star()))
        .load(conn)
        .await?;
    let mut out: Vec<(WebhookId, Counts)> = Vec::new();
    for (id, status, n) in rows {
        let one = fold_counts([(status, n)]);
        match out.iter_mut().find(|(w, _)| *w == id) {
            Some((_, c)) => {
                c.pending += one.pending;
                c.delivered += one.delivered;
                c.failed += one.failed;
            }
            None => out.push((id, one)),
        }
    }
    Ok(out)
}

/// A claimed delivery with what the worker needs to send it.
#[derive(Debug, Clone, QueryableByName)]
pub struct Claimed {
    #[diesel(sql_type = BigInt)]
    pub id: WebhookDeliveryId,
    #[diesel(sql_type = Text)]
    pub delivery_id: String,
    #[diesel(sql_type = Text)]
    pub event: String,
    #[diesel(sql_type = Text)]
    pub body: String,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pub attempts: i32,
    #[diesel(sql_type = Text)]
    pub url: String,
    #[diesel(sql_type = Text)]
    pub secret: String,
}

/// Claims up to `limit` due deliveries for `lease` (one more attempt each).
/// `SKIP LOCKED` lets several workers claim at once without ever getting the
/// same row; a row whose lease ran out (its worker died) is due again. The
/// URL and secret are read now, so an edited webhook applies to queued rows.
pub async fn claim_due(
    conn: &mut AsyncPgConnection,
    limit: i64,
    lease: std::time::Duration,
) -> QueryResult<Vec<Claimed>> {
    let mut rows: Vec<Claimed> = diesel::sql_query(
        "UPDATE webhook_deliveries d SET locked_until = now() + make_interval(secs => $2), attempts = d.attempts + 1 \
         FROM webhooks w \
         WHERE w.id = d.webhook_id AND d.id IN ( \
             SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= now() \
             AND (locked_until IS NULL OR locked_until < now()) \
             ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED) \
         RETURNING d.id, d.delivery_id, d.event, d.body, d.attempts, w.url, w.secret",
    )
    .bind::<BigInt, _>(limit)
    .bind::<Double, _>(lease.as_secs_f64())
    .load(conn)
    .await?;
    rows.sort_by_key(|r| r.id);
    Ok(rows)
}

#[derive(QueryableByName)]
struct Seconds {
    #[diesel(sql_type = Nullable<Double>)]
    seconds: Option<f64>,
}

/// Seconds until the next pending delivery falls due (negative when one is
/// due now; `None` when nothing is pending), counting leases held by others.
pub async fn seconds_until_next_due(conn: &mut AsyncPgConnection) -> QueryResult<Option<f64>> {
    let row: Seconds = diesel::sql_query(
        "SELECT EXTRACT(EPOCH FROM min(GREATEST(next_attempt_at, COALESCE(locked_until, next_attempt_at))) - now()) \
         ::float8 AS seconds FROM webhook_deliveries WHERE status = 'pending'",
    )
    .get_result(conn)
    .await?;
    Ok(row.seconds)
}

/// What becomes of a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    Delivered,
    RetryAt(DateTime<Utc>),
    GiveUp,
}

/// One attempt's outcome.
#[derive(Debug, Clone)]
pub struct AttemptResult {
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i32,
    pub then: Then,
}

/// Records an attempt and moves the delivery on; releases the lease. Only a
/// claimed, pending row changes, so recording the same attempt twice changes nothing.
pub async fn record_attempt(conn: &mut AsyncPgConnection, id: WebhookDeliveryId, r: &AttemptResult) -> QueryResult<()> {
    conn.transaction(async |conn| {
        let claimed = webhook_deliveries::table
            .find(id)
            .filter(webhook_deliveries::status.eq(PENDING))
            .filter(webhook_deliveries::locked_until.is_not_null());
        let no_lock = webhook_deliveries::locked_until.eq(None::<DateTime<Utc>>);
        let code = webhook_deliveries::last_status_code.eq(r.status_code);
        let error = webhook_deliveries::last_error.eq(r.error.as_deref());
        let changed = match r.then {
            Then::Delivered => {
                diesel::update(claimed)
                    .set((
                        webhook_deliveries::status.eq(DELIVERED),
                        webhook_deliveries::delivered_at.eq(diesel::dsl::now),
                        no_lock,
                        code,
                        error,
                    ))
                    .execute(conn)
                    .await?
            }
            Then::RetryAt(at) => {
                diesel::update(claimed)
                    .set((webhook_deliveries::next_attempt_at.eq(at), no_lock, code, error))
                    .execute(conn)
                    .await?
            }
            Then::GiveUp => {
                diesel::update(claimed)
                    .set((webhook_deliveries::status.eq(FAILED), no_lock, code, error))
                    .execute(conn)
                    .await?
            }
        };
        if changed > 0 {
            diesel::insert_into(webhook_attempts::table)
                .values((
                    webhook_attempts::delivery_id.eq(id),
                    webhook_attempts::status_code.eq(r.status_code),
                    webhook_attempts::error.eq(r.error.as_deref()),
                    webhook_attempts::duration_ms.eq(r.duration_ms),
                ))
                .execute(conn)
                .await?;
        }
        Ok(())
    })
    .await
}

/// Puts a failed or pending delivery back in the queue, due now, with a fresh
/// count of attempts, and wakes the workers at commit. A lease held by a
/// worker sending it right now is kept, so it is never sent twice at once.
/// Returns false when it was delivered already (or does not exist).
pub async fn retry_now(conn: &mut AsyncPgConnection, webhook: WebhookId, id: WebhookDeliveryId) -> QueryResult<bool> {
    let n = diesel::update(
        webhook_deliveries::table
            .find(id)
            .filter(webhook_deliveries::webhook_id.eq(webhook))
            .filter(webhook_deliveries::status.eq_any([PENDING, FAILED])),
    )
    .set((
        webhook_deliveries::status.eq(PENDING),
        webhook_deliveries::next_attempt_at.eq(diesel::dsl::now),
        webhook_deliveries::attempts.eq(0),
    ))
    .execute(conn)
    .await?;
    if n > 0 {
        diesel::sql_query("SELECT pg_notify($1, '')").bind::<Text, _>(WEBHOOK_CHANNEL).execute(conn).await?;
    }
    Ok(n > 0)
}

/// Fails every pending delivery of a webhook (it was disabled). Returns how many.
pub async fn fail_pending(conn: &mut AsyncPgConnection, webhook: WebhookId, reason: &str) -> QueryResult<usize> {
    diesel::update(
        webhook_deliveries::table
            .filter(webhook_deliveries::webhook_id.eq(webhook))
            .filter(webhook_deliveries::status.eq(PENDING)),
    )
    .set((webhook_deliveries::status.eq(FAILED), webhook_deliveries::last_error.eq(reason)))
    .execute(conn)
    .await
}

/// Deletes finished deliveries (delivered or failed) created before `cutoff`,
/// with their attempts; pending ones are kept whatever their age.
pub async fn delete_finished_before(conn: &mut AsyncPgConnection, cutoff: DateTime<Utc>) -> QueryResult<usize> {
    diesel::delete(
        webhook_deliveries::table
            .filter(webhook_deliveries::status.eq_any([DELIVERED, FAILED]))
            .filter(webhook_deliveries::created_at.lt(cutoff)),
    )
    .execute(conn)
    .await
}

/// A subscriber's webhook: public updates only, never listed for admins.
pub async fn insert_for_subscriber(
    conn: &mut AsyncPgConnection,
    name: &str,
    url: &str,
    secret: &str,
) -> QueryResult<Webhook> {
    diesel::insert_into(webhooks::table)
        .values((
            webhooks::name.eq(name),
            webhooks::url.eq(url),
            webhooks::secret.eq(secret),
            webhooks::events.eq(vec![SUBSCRIBER_EVENT.to_owned()]),
            webhooks::format.eq("json"),
            webhooks::enabled.eq(true),
            webhooks::for_subscriber.eq(true),
        ))
        .returning(Webhook::as_returning())
        .get_result(conn)
        .await
}

/// The one event a subscriber's webhook gets: a public update.
pub const SUBSCRIBER_EVENT: &str = "status_update";
