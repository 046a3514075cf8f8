//! Paging: an incident escalates through a policy until someone acknowledges.
//!
//! A page is a row; so is every message of it. The paging worker (one per
//! instance, on the shared `queue` loop) does three kinds of work:
//!
//! - pages whose step is due are locked (`FOR UPDATE SKIP LOCKED`), a batch
//!   per transaction with a savepoint per page: each step is notified (one
//!   `page_notifications` row per person and method, unique per step, so a
//!   step is never notified twice however many instances run), or, once the
//!   step's wait is over, the page moves to the next step;
//! - contact channels with messages due are locked the same way; a channel's
//!   messages go out as one (folded when several incidents wait: "3 incidents
//!   need you"), at most one a minute per channel. Email goes through the
//!   outbox in the same transaction, so it is as durable as the page;
//! - messages to HTTP contact methods (ntfy, webhooks) are marked `sending`
//!   with a lease, and sent after that transaction commits, so a slow
//!   receiver holds no locks; the outcome is recorded in its own transaction.
//!   If the instance dies before that, the lease runs out and another sends
//!   the message again (at least once, never lost).
//!
//! A crash anywhere rolls back the transaction in progress; the rows are due
//! again and another instance picks them up. Acknowledging, or the incident
//! (or, for an alert's page, every alert) resolving, stops the page.

mod messages;
mod worker;

use chrono::{DateTime, Utc};
use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use super::incidents::{assign_role_in, load_for_change, name_of, notify, record, require_responder};
use super::{Actor, ServiceError};
use crate::db::escalation;
use crate::db::pages::{self, Page, PageChanges};
use crate::db::{DbPool, IncidentId, PageId, PolicyId, UserId, incidents};
use crate::domain::alerts::token_hash;
use crate::domain::incident::{EntryKind, IncidentRole};
pub use messages::{PageLine, PageMessage};
use worker::Count;
pub use worker::spawn_worker;

/// Starts a page for an incident through a policy, in the caller's
/// transaction, with its timeline entry. The worker notifies its first step.
pub(crate) async fn start(
    conn: &mut AsyncPgConnection,
    incident: IncidentId,
    policy: PolicyId,
    origin: &str,
    by: Option<UserId>,
    now: DateTime<Utc>,
) -> Result<Page, ServiceError> {
    let policy_row = escalation::find(conn, policy).await?.ok_or(ServiceError::NotFound)?;
    let page = pages::insert(conn, incident, policy, origin, by).await?;
    let who = match by {
        Some(u) => format!("{} paged", name_of(conn, u).await?),
        None => "Paging".to_owned(),
    };
    let body = format!("{who} through escalation policy “{}”.", policy_row.name);
    record(conn, incident, by, EntryKind::System, &body, now).await?;
    notify(conn, incident).await?;
    Ok(page)
}

/// The policy that pages for an incident of this severity when nobody names one.
pub async fn default_policy(pool: &DbPool, severity: i16) -> Result<Option<PolicyId>, ServiceError> {
    let mut conn = pool.get().await?;
    Ok(escalation::severity_policy(&mut conn, severity).await?)
}

/// "Page someone" in the room: starts a page through `policy`, or the
/// incident severity's default policy.
pub async fn page_incident(
    pool: &DbPool,
    actor: &Actor,
    incident: IncidentId,
    policy: Option<PolicyId>,
) -> Result<Page, ServiceError> {
    let user = require_responder(actor)?;
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        let inc = load_for_change(conn, actor, incident).await?;
        let policy = match policy {
            Some(p) => p,
            None => escalation::severity_policy(conn, inc.severity).await?.ok_or_else(|| {
                ServiceError::Invalid(super::FieldErrors::single(
                    "policy",
                    "Choose an escalation policy: this severity has no default one.",
                ))
            })?,
        };
        start(conn, incident, policy, "manual", Some(user), Utc::now()).await
    })
    .await
}

/// "Escalate now": every active page of the incident moves to its next step at once.
pub async fn escalate_now(pool: &DbPool, actor: &Actor, incident: IncidentId) -> Result<usize, ServiceError> {
    let user = require_responder(actor)?;
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        load_for_change(conn, actor, incident).await?;
        let active: Vec<Page> =
            pages::for_incident(conn, incident).await?.into_iter().filter(|p| p.status == pages::ACTIVE).collect();
        if active.is_empty() {
            return Err(ServiceError::Invalid(super::FieldErrors::single(
                "policy",
                "Nobody is being paged for this incident; page someone first.",
            )));
        }
        let now = Utc::now();
        for p in &active {
            pages::find_for_update(conn, p.id).await?;
            pages::update(
                conn,
                p.id,
                &PageChanges { step_notified: Some(true), next_step_at: Some(Some(now)), ..Default::default() },
            )
            .await?;
        }
        pages::wake(conn).await?;
        let body = format!("{} escalated the page to the next step.", name_of(conn, user).await?);
        record(conn, incident, Some(user), EntryKind::System, &body, now).await?;
        notify(conn, incident).await?;
        Ok(active.len())
    })
    .await
}

/// What an acknowledge link shows.
#[derive(Debug, Clone)]
pub struct AckView {
    pub page: Page,
    pub incident_title: String,
    pub incident_id: IncidentId,
    pub severity: i16,
    pub recipient: String,
    pub acknowledged_by: Option<String>,
}

/// Reads what an acknowledge link is about; changes nothing (mail scanners open links).
pub async fn ack_view(pool: &DbPool, token: &str) -> Result<AckView, ServiceError> {
    let mut conn = pool.get().await?;
    let (page_id, user) = pages::find_ack_token(&mut conn, &token_hash(token)).await?.ok_or(ServiceError::NotFound)?;
    let page = pages::find(&mut conn, page_id).await?.ok_or(ServiceError::NotFound)?;
    let incident = incidents::find(&mut conn, page.incident_id).await?.ok_or(ServiceError::NotFound)?;
    let acknowledged_by = match page.acknowledged_by {
        Some(u) => Some(name_of(&mut conn, u).await?),
        None => None,
    };
    Ok(AckView {
        incident_title: incident.title,
        incident_id: incident.id,
        severity: incident.severity,
        recipient: name_of(&mut conn, user).await?,
        acknowledged_by,
        page,
    })
}

/// Acknowledges the page an acknowledge link names, as the person it was sent
/// to: stops the escalation, sets the incident's acknowledged time and writes
/// the timeline entry. Returns false when the page had stopped already.
pub async fn acknowledge_with_token(pool: &DbPool, token: &str) -> Result<bool, ServiceError> {
    let mut conn = pool.get().await?;
    let (page_id, user) = pages::find_ack_token(&mut conn, &token_hash(token)).await?.ok_or(ServiceError::NotFound)?;
    conn.transaction(async |conn| acknowledge(conn, page_id, user).await).await
}

/// "Take the lead" in the room: in one step, acknowledges every active page of
/// the incident and makes the person its lead. Returns how many pages stopped.
pub async fn take_lead(pool: &DbPool, actor: &Actor, incident: IncidentId) -> Result<usize, ServiceError> {
    let user = require_responder(actor)?;
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        let n = acknowledge_all(conn, actor, incident, user).await?;
        assign_role_in(conn, actor, incident, IncidentRole::Lead, user, Utc::now()).await?;
        Ok(n)
    })
    .await
}

/// Acknowledges every active page of an incident as a signed-in responder.
pub async fn acknowledge_incident(pool: &DbPool, actor: &Actor, incident: IncidentId) -> Result<usize, ServiceError> {
    let user = require_responder(actor)?;
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| acknowledge_all(conn, actor, incident, user).await).await
}

/// Acknowledges every active page of the incident as `user` (in the caller's transaction).
async fn acknowledge_all(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    incident: IncidentId,
    user: UserId,
) -> Result<usize, ServiceError> {
    load_for_change(conn, actor, incident).await?;
    let mut n = 0;
    for p in pages::for_incident(conn, incident).await? {
        if p.status == pages::ACTIVE && acknowledge(conn, p.id, user).await? {
            n += 1;
        }
    }
    Ok(n)
}

async fn acknowledge(conn: &mut AsyncPgConnection, page_id: PageId, user: UserId) -> Result<bool, ServiceError> {
    let page = pages::find_for_update(conn, page_id).await?.ok_or(ServiceError::NotFound)?;
    if page.status != pages::ACTIVE {
        return Ok(false);
    }
    let now = Utc::now();
    pages::update(
        conn,
        page.id,
        &PageChanges {
            status: Some(pages::ACKNOWLEDGED.to_owned()),
            next_step_at: Some(None),
            acknowledged_by: Some(Some(user)),
            acknowledged_at: Some(Some(now)),
            ended_at: Some(Some(now)),
            ..Default::default()
        },
    )
    .await?;
    pages::cancel_pending(conn, page.id).await?;
    diesel::sql_query("UPDATE incidents SET acknowledged_at = COALESCE(acknowledged_at, $2) WHERE id = $1")
        .bind::<BigInt, _>(page.incident_id.0)
        .bind::<diesel::sql_types::Timestamptz, _>(now)
        .execute(conn)
        .await?;
    let body = format!("{} acknowledged the page.", name_of(conn, user).await?);
    record(conn, page.incident_id, Some(user), EntryKind::System, &body, now).await?;
    notify(conn, page.incident_id).await?;
    Ok(true)
}

/// Pages waiting on the outbox: for `/metrics`-style counts and reports.
pub async fn active_count(pool: &DbPool) -> Result<i64, ServiceError> {
    let mut conn = pool.get().await?;
    let c: Count = diesel::sql_query("SELECT count(*) AS n FROM pages WHERE status = $1")
        .bind::<Text, _>(pages::ACTIVE)
        .get_result(&mut conn)
        .await?;
    Ok(c.n)
}
