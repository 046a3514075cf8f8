//! Pages and their messages: `pages` (an incident escalating through a
//! policy), `page_notifications` (one durable row per person, method and
//! step), `page_channels` (when a contact method last got a message; its row
//! is the lock that keeps one sender per method) and `page_ack_tokens`.
//!
//! The paging worker (`services::paging`) claims due rows here with
//! `FOR UPDATE SKIP LOCKED`, like the email outbox, so several instances
//! share the work and never take the same row.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::schema::{page_ack_tokens, page_channels, page_notifications, pages};
use super::{ContactMethodId, IncidentId, PageId, PageNotificationId, PolicyId, UserId};

/// The channel paging workers listen on.
pub const PAGES_CHANNEL: &str = "firebreak_pages";

pub const ACTIVE: &str = "active";
pub const ACKNOWLEDGED: &str = "acknowledged";
pub const RESOLVED: &str = "resolved";
pub const EXHAUSTED: &str = "exhausted";

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = pages)]
pub struct Page {
    pub id: PageId,
    pub incident_id: IncidentId,
    pub policy_id: Option<PolicyId>,
    pub origin: String,
    pub status: String,
    pub step: i32,
    pub repeat: i32,
    pub step_notified: bool,
    pub next_step_at: Option<DateTime<Utc>>,
    pub acknowledged_by: Option<UserId>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = page_notifications)]
pub struct Notification {
    pub id: PageNotificationId,
    pub page_id: PageId,
    pub step: i32,
    pub repeat: i32,
    pub user_id: UserId,
    pub contact_method_id: Option<ContactMethodId>,
    pub channel: String,
    pub status: String,
    pub due_at: DateTime<Utc>,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = page_notifications)]
pub struct NewNotification {
    pub page_id: PageId,
    pub step: i32,
    pub repeat: i32,
    pub user_id: UserId,
    pub contact_method_id: Option<ContactMethodId>,
    pub channel: String,
    pub due_at: DateTime<Utc>,
}

/// Wakes the paging workers of every instance at commit.
pub async fn wake(conn: &mut AsyncPgConnection) -> QueryResult<()> {
    diesel::sql_query("SELECT pg_notify($1, '')").bind::<Text, _>(PAGES_CHANNEL).execute(conn).await?;
    Ok(())
}

/// Starts a page: its first step is due at once.
pub async fn insert(
    conn: &mut AsyncPgConnection,
    incident: IncidentId,
    policy: PolicyId,
    origin: &str,
    created_by: Option<UserId>,
) -> QueryResult<Page> {
    let page = diesel::insert_into(pages::table)
        .values((
            pages::incident_id.eq(incident),
            pages::policy_id.eq(policy),
            pages::origin.eq(origin),
            pages::next_step_at.eq(diesel::dsl::now),
            pages::created_by.eq(created_by),
        ))
        .returning(Page::as_returning())
        .get_result(conn)
        .await?;
    wake(conn).await?;
    Ok(page)
}

pub async fn find(conn: &mut AsyncPgConnection, id: PageId) -> QueryResult<Option<Page>> {
    pages::table.find(id).select(Page::as_select()).first(conn).await.optional()
}

pub async fn find_for_update(conn: &mut AsyncPgConnection, id: PageId) -> QueryResult<Option<Page>> {
    pages::table.find(id).for_update().select(Page::as_select()).first(conn).await.optional()
}

/// An incident's pages, newest first.
pub async fn for_incident(conn: &mut AsyncPgConnection, incident: IncidentId) -> QueryResult<Vec<Page>> {
    pages::table
        .filter(pages::incident_id.eq(incident))
        .order(pages::id.desc())
        .select(Page::as_select())
        .load(conn)
        .await
}

/// The newest pages, optionally only active ones.
pub async fn recent(conn: &mut AsyncPgConnection, only_active: bool, limit: i64) -> QueryResult<Vec<Page>> {
    let mut q = pages::table.select(Page::as_select()).order(pages::id.desc()).limit(limit).into_boxed();
    if only_active {
        q = q.filter(pages::status.eq(ACTIVE));
    }
    q.load(conn).await
}

/// Locks up to `limit` active pages whose step is due, the most overdue
/// first, skipping pages another worker holds. Call inside a transaction: the
/// locks last until it ends.
pub async fn claim_due(conn: &mut AsyncPgConnection, limit: i64) -> QueryResult<Vec<Page>> {
    diesel::sql_query(
        "SELECT * FROM pages WHERE status = 'active' AND next_step_at <= now() \
         ORDER BY next_step_at LIMIT $1 FOR UPDATE SKIP LOCKED",
    )
    .bind::<diesel::sql_types::BigInt, _>(limit)
    .load(conn)
    .await
}

/// Puts a page's next step off (after its step failed), so one broken page
/// cannot hold up the others.
pub async fn postpone_step(conn: &mut AsyncPgConnection, id: PageId, to: DateTime<Utc>) -> QueryResult<()> {
    diesel::update(pages::table.find(id)).set(pages::next_step_at.eq(to)).execute(conn).await?;
    Ok(())
}

/// Where a page now stands.
#[derive(Debug, Clone, AsChangeset, Default)]
#[diesel(table_name = pages)]
pub struct PageChanges {
    pub status: Option<String>,
    pub step: Option<i32>,
    pub repeat: Option<i32>,
    pub step_notified: Option<bool>,
    pub next_step_at: Option<Option<DateTime<Utc>>>,
    pub acknowledged_by: Option<Option<UserId>>,
    pub acknowledged_at: Option<Option<DateTime<Utc>>>,
    pub ended_at: Option<Option<DateTime<Utc>>>,
}

pub async fn update(conn: &mut AsyncPgConnection, id: PageId, changes: &PageChanges) -> QueryResult<Page> {
    diesel::update(pages::table.find(id)).set(changes).returning(Page::as_returning()).get_result(conn).await
}

/// Inserts the messages of one step; a row already there (another instance,
/// or this one before a crash) is left alone. Returns the rows inserted.
pub async fn insert_notifications(
    conn: &mut AsyncPgConnection,
    rows: &[NewNotification],
) -> QueryResult<Vec<Notification>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let inserted = diesel::insert_into(page_notifications::table)
        .values(rows)
        .on_conflict_do_nothing()
        .returning(Notification::as_returning())
        .get_results(conn)
        .await?;
    wake(conn).await?;
    Ok(inserted)
}

/// Messages still to go out: waiting (`pending`), or handed to an HTTP
/// contact method by a sender whose lease (`due_at`) has not run out yet
/// (`sending`; when it runs out, the message is due again).
const UNSENT: [&str; 2] = ["pending", "sending"];

/// Stops a page's messages that have not gone out yet.
pub async fn cancel_pending(conn: &mut AsyncPgConnection, page: PageId) -> QueryResult<usize> {
    diesel::update(
        page_notifications::table
            .filter(page_notifications::page_id.eq(page))
            .filter(page_notifications::status.eq_any(UNSENT)),
    )
    .set(page_notifications::status.eq("cancelled"))
    .execute(conn)
    .await
}

/// A page's messages, oldest first.
pub async fn notifications(conn: &mut AsyncPgConnection, page: PageId) -> QueryResult<Vec<Notification>> {
    page_notifications::table
        .filter(page_notifications::page_id.eq(page))
        .order(page_notifications::id.asc())
        .select(Notification::as_select())
        .load(conn)
        .await
}

/// Channels with a message due now.
pub async fn due_channels(conn: &mut AsyncPgConnection, limit: i64) -> QueryResult<Vec<String>> {
    page_notifications::table
        .filter(page_notifications::status.eq_any(UNSENT))
        .filter(page_notifications::due_at.le(diesel::dsl::now))
        .select(page_notifications::channel)
        .distinct()
        .limit(limit)
        .load(conn)
        .await
}

/// Locks a channel's row (creating it), skipping it when another worker holds
/// it. Returns when it last sent, or `None` in the outer option when locked.
pub async fn lock_channel(conn: &mut AsyncPgConnection, channel: &str) -> QueryResult<Option<Option<DateTime<Utc>>>> {
    diesel::insert_into(page_channels::table)
        .values(page_channels::channel.eq(channel))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Nullable<Timestamptz>)]
        last_sent_at: Option<DateTime<Utc>>,
    }
    let rows: Vec<Row> =
        diesel::sql_query("SELECT last_sent_at FROM page_channels WHERE channel = $1 FOR UPDATE SKIP LOCKED")
            .bind::<Text, _>(channel)
            .load(conn)
            .await?;
    Ok(rows.into_iter().next().map(|r| r.last_sent_at))
}

pub async fn set_channel_sent(conn: &mut AsyncPgConnection, channel: &str, at: DateTime<Utc>) -> QueryResult<()> {
    diesel::update(page_channels::table.find(channel)).set(page_channels::last_sent_at.eq(at)).execute(conn).await?;
    Ok(())
}

/// A channel's messages due by `by` (pending, or sending with a lapsed lease), locked.
pub async fn pending_for_channel(
    conn: &mut AsyncPgConnection,
    channel: &str,
    by: DateTime<Utc>,
) -> QueryResult<Vec<Notification>> {
    page_notifications::table
        .filter(page_notifications::channel.eq(channel))
        .filter(page_notifications::status.eq_any(UNSENT))
        .filter(page_notifications::due_at.le(by))
        .order(page_notifications::id.asc())
        .for_update()
        .select(Notification::as_select())
        .load(conn)
        .await
}

pub async fn postpone(conn: &mut AsyncPgConnection, ids: &[PageNotificationId], to: DateTime<Utc>) -> QueryResult<()> {
    diesel::update(page_notifications::table.filter(page_notifications::id.eq_any(ids)))
        .set(page_notifications::due_at.eq(to))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn mark_sent(conn: &mut AsyncPgConnection, ids: &[PageNotificationId], at: DateTime<Utc>) -> QueryResult<()> {
    diesel::update(page_notifications::table.filter(page_notifications::id.eq_any(ids)))
        .set((
            page_notifications::status.eq("sent"),
            page_notifications::sent_at.eq(at),
            page_notifications::attempts.eq(page_notifications::attempts + 1),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Puts off a channel's due messages (after working them failed).
pub async fn postpone_channel(conn: &mut AsyncPgConnection, channel: &str, to: DateTime<Utc>) -> QueryResult<()> {
    diesel::update(
        page_notifications::table
            .filter(page_notifications::channel.eq(channel))
            .filter(page_notifications::status.eq_any(UNSENT))
            .filter(page_notifications::due_at.le(diesel::dsl::now)),
    )
    .set(page_notifications::due_at.eq(to))
    .execute(conn)
    .await?;
    Ok(())
}

/// Hands messages to an HTTP sender: they are `sending` until `lease_until`,
/// when they fall due again unless the sender recorded an outcome.
pub async fn mark_sending(
    conn: &mut AsyncPgConnection,
    ids: &[PageNotificationId],
    lease_until: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(page_notifications::table.filter(page_notifications::id.eq_any(ids)))
        .set((page_notifications::status.eq("sending"), page_notifications::due_at.eq(lease_until)))
        .execute(conn)
        .await?;
    Ok(())
}

/// Records a failed attempt: retried at `retry_at`, or failed for good.
pub async fn mark_failed(
    conn: &mut AsyncPgConnection,
    ids: &[PageNotificationId],
    error: &str,
    retry_at: Option<DateTime<Utc>>,
) -> QueryResult<()> {
    let target = page_notifications::table.filter(page_notifications::id.eq_any(ids));
    match retry_at {
        Some(at) => {
            diesel::update(target)
                .set((
                    page_notifications::status.eq("pending"),
                    page_notifications::attempts.eq(page_notifications::attempts + 1),
                    page_notifications::last_error.eq(error),
                    page_notifications::due_at.eq(at),
                ))
                .execute(conn)
                .await?
        }
        None => {
            diesel::update(target)
                .set((
                    page_notifications::attempts.eq(page_notifications::attempts + 1),
                    page_notifications::last_error.eq(error),
                    page_notifications::status.eq("failed"),
                ))
                .execute(conn)
                .await?
        }
    };
    Ok(())
}

#[derive(QueryableByName)]
struct Seconds {
    #[diesel(sql_type = Nullable<diesel::sql_types::Double>)]
    seconds: Option<f64>,
}

/// Seconds until the next step or message falls due (negative when overdue).
pub async fn seconds_until_next_due(conn: &mut AsyncPgConnection) -> QueryResult<Option<f64>> {
    let row: Seconds = diesel::sql_query(
        "SELECT EXTRACT(EPOCH FROM LEAST( \
            (SELECT min(next_step_at) FROM pages WHERE status = 'active'), \
            (SELECT min(due_at) FROM page_notifications WHERE status IN ('pending', 'sending'))) - now())::float8 AS seconds",
    )
    .get_result(conn)
    .await?;
    Ok(row.seconds)
}

pub async fn insert_ack_token(conn: &mut AsyncPgConnection, hash: &str, page: PageId, user: UserId) -> QueryResult<()> {
    diesel::insert_into(page_ack_tokens::table)
        .values((
            page_ack_tokens::token_hash.eq(hash),
            page_ack_tokens::page_id.eq(page),
            page_ack_tokens::user_id.eq(user),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// The page and person an acknowledge link was made for.
pub async fn find_ack_token(conn: &mut AsyncPgConnection, hash: &str) -> QueryResult<Option<(PageId, UserId)>> {
    page_ack_tokens::table
        .find(hash)
        .select((page_ack_tokens::page_id, page_ack_tokens::user_id))
        .first(conn)
        .await
        .optional()
}

/// Links die with their page: once it stops, its tokens are deleted.
pub async fn delete_ack_tokens(conn: &mut AsyncPgConnection, page: PageId) -> QueryResult<()> {
    diesel::delete(page_ack_tokens::table.filter(page_ack_tokens::page_id.eq(page))).execute(conn).await?;
    Ok(())
}
