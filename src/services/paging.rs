//! Paging: an incident escalates through a policy until someone acknowledges.
//!
//! A page is a row; so is every message of it. The paging worker (one per
//! instance, on the shared `queue` loop) does two kinds of work, each in its
//! own short transaction:
//!
//! - a page whose step is due is locked (`FOR UPDATE SKIP LOCKED`): its step
//!   is notified (one `page_notifications` row per person and method, unique
//!   per step, so a step is never notified twice however many instances run),
//!   or, once the step's wait is over, the page moves to the next step;
//! - a contact channel with messages due is locked the same way; its messages
//!   go out as one (folded when several incidents wait: "3 incidents need
//!   you"), at most one a minute per channel. Email goes through the outbox
//!   in the same transaction, so it is as durable as the page.
//!
//! A crash anywhere rolls back the transaction in progress; the row is due
//! again and another instance picks it up. Acknowledging, or the incident
//! (or, for an alert's page, every alert) resolving, stops the page.

use chrono::{DateTime, Utc};
use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use super::incidents::{assign_role_in, load_for_change, name_of, notify, record, require_responder};
use super::{Actor, ServiceError};
use crate::config::Settings;
use crate::db::escalation::{self, Target};
use crate::db::pages::{self, Page, PageChanges};
use crate::db::{DbPool, IncidentId, PageId, PolicyId, UserId, incidents, schedules, users};
use crate::domain::alerts::{new_token, token_hash};
use crate::domain::incident::{EntryKind, IncidentRole, IncidentStatus};
use crate::domain::oncall::{EscalationPosition, folded_subject, next_send_time, next_step};
use crate::email::compose::{Email, link};

/// Pages whose step is worked per round of the worker.
const PAGES_PER_ROUND: usize = 50;
/// Channels sent per round.
const CHANNELS_PER_ROUND: i64 = 50;

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

/// Ends a page that should no longer page anyone, with the reason on the timeline.
async fn end(conn: &mut AsyncPgConnection, page: &Page, status: &str, why: &str) -> Result<(), ServiceError> {
    let now = Utc::now();
    pages::update(
        conn,
        page.id,
        &PageChanges {
            status: Some(status.to_owned()),
            next_step_at: Some(None),
            ended_at: Some(Some(now)),
            ..Default::default()
        },
    )
    .await?;
    pages::cancel_pending(conn, page.id).await?;
    record(conn, page.incident_id, None, EntryKind::System, why, now).await?;
    notify(conn, page.incident_id).await?;
    Ok(())
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Why a page should stop on its own, if it should.
async fn reason_to_stop(conn: &mut AsyncPgConnection, page: &Page) -> Result<Option<&'static str>, ServiceError> {
    let Some(incident) = incidents::find(conn, page.incident_id).await? else {
        return Ok(Some("Paging stopped: the incident is gone."));
    };
    if IncidentStatus::parse(&incident.status).is_ok_and(|s| !s.is_active()) {
        return Ok(Some("Paging stopped: the incident is resolved."));
    }
    if page.origin == "alert" {
        let firing: Count =
            diesel::sql_query("SELECT count(*) AS n FROM alerts WHERE incident_id = $1 AND status = 'firing'")
                .bind::<BigInt, _>(page.incident_id.0)
                .get_result(conn)
                .await?;
        if firing.n == 0 {
            return Ok(Some("Paging stopped: the alert resolved."));
        }
    }
    Ok(None)
}

/// Who a step's targets name right now, once each, in order, with why.
async fn recipients(
    conn: &mut AsyncPgConnection,
    targets: &[Target],
    now: DateTime<Utc>,
) -> Result<(Vec<(UserId, String)>, Vec<String>), ServiceError> {
    let mut people: Vec<(UserId, String)> = Vec::new();
    let mut nobody = Vec::new();
    for t in targets {
        match *t {
            Target::User(u) => {
                if !people.iter().any(|(p, _)| *p == u) {
                    people.push((u, String::new()));
                }
            }
            Target::Schedule(s) => {
                let rotations = schedules::rotations(conn, Some(&[s]), now).await?;
                for (schedule, rotation) in rotations {
                    match rotation.on_call_at(now) {
                        Some(u) if !people.iter().any(|(p, _)| *p == u) => {
                            people.push((u, format!(" (on call for {})", schedule.name)));
                        }
                        Some(_) => {}
                        None => nobody.push(schedule.name),
                    }
                }
            }
        }
    }
    Ok((people, nobody))
}

/// Works one due page: notifies its step, or moves it past a step whose wait is over.
async fn work_page(conn: &mut AsyncPgConnection, settings: &Settings, page: Page) -> Result<(), ServiceError> {
    if let Some(why) = reason_to_stop(conn, &page).await? {
        return end(conn, &page, pages::RESOLVED, why).await;
    }
    let Some(policy_id) = page.policy_id else {
        return end(conn, &page, pages::EXHAUSTED, "Paging stopped: its escalation policy was deleted.").await;
    };
    let steps = escalation::steps(conn, policy_id).await?;
    let policy = escalation::find(conn, policy_id).await?;
    let repeats = policy.as_ref().map_or(0, |p| u32::try_from(p.repeat_count).unwrap_or(0));
    let now = Utc::now();
    let minute = chrono::Duration::from_std(settings.escalation_minute).unwrap_or(chrono::Duration::minutes(1));
    let count = u32::try_from(steps.len()).unwrap_or(0);
    let position = EscalationPosition {
        step: u32::try_from(page.step).unwrap_or(0),
        repeat: u32::try_from(page.repeat).unwrap_or(0),
    };
    if page.step_notified {
        // The wait is over and nobody acknowledged: on to the next step.
        let Some(next) = next_step(position, count, repeats) else {
            return end(
                conn,
                &page,
                pages::EXHAUSTED,
                "Nobody acknowledged the page after every step; paging stopped.",
            )
            .await;
        };
        pages::update(
            conn,
            page.id,
            &PageChanges {
                step: Some(i32::try_from(next.step).unwrap_or(0)),
                repeat: Some(i32::try_from(next.repeat).unwrap_or(0)),
                step_notified: Some(false),
                next_step_at: Some(Some(now)),
                ..Default::default()
            },
        )
        .await?;
        return Ok(());
    }
    let Some(step) = steps.get(position.step as usize) else {
        return end(conn, &page, pages::EXHAUSTED, "Paging stopped: its escalation policy has no steps.").await;
    };
    let (people, nobody) = recipients(conn, &step.targets, now).await?;
    let mut rows = Vec::new();
    for (user, _) in &people {
        rows.extend(crate::db::contact_methods::notifications_for(conn, page.id, &page, *user, now, minute).await?);
    }
    pages::insert_notifications(conn, &rows).await?;
    let mut body = format!(
        "Escalation step {} of {}{}: ",
        position.step + 1,
        count,
        if position.repeat > 0 { format!(" (repeat {})", position.repeat) } else { String::new() }
    );
    if people.is_empty() {
        body.push_str("nobody to page");
    } else {
        let mut names = Vec::new();
        for (u, why) in &people {
            names.push(format!("{}{why}", name_of(conn, *u).await?));
        }
        body.push_str(&format!("paging {}", names.join(", ")));
    }
    if !nobody.is_empty() {
        body.push_str(&format!("; nobody is on call for {}", nobody.join(", ")));
    }
    body.push('.');
    record(conn, page.incident_id, None, EntryKind::System, &body, now).await?;
    notify(conn, page.incident_id).await?;
    let wait = minute * step.step.wait_minutes;
    pages::update(
        conn,
        page.id,
        &PageChanges { step_notified: Some(true), next_step_at: Some(Some(now + wait)), ..Default::default() },
    )
    .await?;
    Ok(())
}

/// One page's message in a (possibly folded) message to a channel.
struct Item {
    page: Page,
    title: String,
    severity: i16,
    ack_url: String,
    room_url: String,
}

/// Sends one channel's due messages as one, if the channel may send now.
/// Returns whether it did anything.
async fn work_channel(conn: &mut AsyncPgConnection, settings: &Settings, channel: &str) -> Result<bool, ServiceError> {
    let Some(last_sent) = pages::lock_channel(conn, channel).await? else {
        return Ok(false);
    };
    let now = Utc::now();
    let due = pages::pending_for_channel(conn, channel, now).await?;
    if due.is_empty() {
        return Ok(false);
    }
    // Messages of pages that stopped meanwhile are dropped.
    let mut live = Vec::new();
    for n in due {
        match pages::find(conn, n.page_id).await? {
            Some(p) if p.status == pages::ACTIVE => live.push((n, p)),
            _ => {
                diesel::sql_query("UPDATE page_notifications SET status = 'cancelled' WHERE id = $1")
                    .bind::<BigInt, _>(n.id.0)
                    .execute(conn)
                    .await?;
            }
        }
    }
    if live.is_empty() {
        return Ok(true);
    }
    let gap = chrono::Duration::from_std(settings.escalation_minute).unwrap_or(chrono::Duration::minutes(1));
    let send_at = next_send_time(last_sent, now, gap);
    if send_at > now {
        let ids: Vec<_> = live.iter().map(|(n, _)| n.id).collect();
        pages::postpone(conn, &ids, send_at).await?;
        return Ok(true);
    }
    let user = live[0].0.user_id;
    let method = live[0].0.contact_method_id;
    let mut items: Vec<Item> = Vec::new();
    for (_, p) in &live {
        if items.iter().any(|i| i.page.id == p.id) {
            continue;
        }
        let incident = incidents::find(conn, p.incident_id).await?.ok_or(ServiceError::NotFound)?;
        let token = new_token();
        pages::insert_ack_token(conn, &token_hash(&token), p.id, user).await?;
        items.push(Item {
            page: p.clone(),
            title: incident.title,
            severity: incident.severity,
            ack_url: link(settings, &format!("/ack/{token}")),
            room_url: link(settings, &format!("/incidents/{}", incident.id)),
        });
    }
    let ids: Vec<_> = live.iter().map(|(n, _)| n.id).collect();
    let person = users::find(conn, user).await?.ok_or(ServiceError::NotFound)?;
    let outcome =
        crate::services::contact_delivery::deliver(conn, settings, &person, method, &items_view(&items)).await;
    match outcome {
        Ok(how) => {
            pages::mark_sent(conn, &ids, now).await?;
            pages::set_channel_sent(conn, channel, now).await?;
            for i in &items {
                let body = format!("Paged {} by {how}.", person.display_name);
                record(conn, i.page.incident_id, None, EntryKind::System, &body, now).await?;
                notify(conn, i.page.incident_id).await?;
            }
        }
        Err(e) => {
            let attempts = live.iter().map(|(n, _)| n.attempts).max().unwrap_or(0) + 1;
            let retry = (attempts < 5).then(|| now + gap * attempts);
            pages::mark_failed(conn, &ids, &e, retry).await?;
            for i in &items {
                let body = format!(
                    "Could not page {}: {e}{}",
                    person.display_name,
                    if retry.is_some() { " (trying again)" } else { " (gave up)" }
                );
                record(conn, i.page.incident_id, None, EntryKind::System, &body, now).await?;
                notify(conn, i.page.incident_id).await?;
            }
        }
    }
    Ok(true)
}

/// What a message says about the pages it carries.
#[derive(Debug, Clone)]
pub struct PageMessage {
    pub subject: String,
    pub lines: Vec<PageLine>,
}

#[derive(Debug, Clone)]
pub struct PageLine {
    pub title: String,
    pub severity: i16,
    pub ack_url: String,
    pub room_url: String,
}

fn items_view(items: &[Item]) -> PageMessage {
    let titles: Vec<String> = items.iter().map(|i| format!("SEV{} {}", i.severity, i.title)).collect();
    PageMessage {
        subject: folded_subject(&titles),
        lines: items
            .iter()
            .map(|i| PageLine {
                title: i.title.clone(),
                severity: i.severity,
                ack_url: i.ack_url.clone(),
                room_url: i.room_url.clone(),
            })
            .collect(),
    }
}

impl PageMessage {
    /// The email form of the message.
    pub fn email(&self) -> Email {
        let mut body = String::new();
        for l in &self.lines {
            body.push_str(&format!(
                "SEV{} · {}\nAcknowledge: {}\nIncident room: {}\n\n",
                l.severity, l.title, l.ack_url, l.room_url
            ));
        }
        let first = <[PageLine]>::first(&self.lines);
        Email {
            kind: "page",
            subject: self.subject.clone(),
            heading: self.subject.clone(),
            body,
            link_label: "Acknowledge".to_owned(),
            link_url: first.map(|l| l.ack_url.clone()).unwrap_or_default(),
            footer: Some("You get this because you are on call or named in an escalation policy.".to_owned()),
            unsubscribe_url: None,
            incident_id: None,
        }
    }
}

/// Starts this instance's paging worker.
pub fn spawn_worker(pool: DbPool, settings: Settings, listener: &crate::db::listener::Listener) {
    let (work_pool, due_pool) = (pool.clone(), pool);
    crate::queue::spawn(
        listener,
        crate::db::listener::DbEvent::Pages,
        crate::queue::Queue {
            name: "pages",
            deliver_due: move || {
                let (pool, settings) = (work_pool.clone(), settings.clone());
                async move { work_due(&pool, &settings).await }
            },
            next_due: move || {
                let pool = due_pool.clone();
                async move {
                    let mut conn = pool.get().await?;
                    Ok(pages::seconds_until_next_due(&mut conn).await?)
                }
            },
        },
    );
}

/// One round: due pages, then due channels. Returns how much it did.
async fn work_due(pool: &DbPool, settings: &Settings) -> anyhow::Result<usize> {
    let mut conn = pool.get().await?;
    let mut done = 0;
    for _ in 0..PAGES_PER_ROUND {
        let worked = conn
            .transaction(async |conn| {
                let Some(page) = pages::claim_due(conn).await? else { return Ok::<_, ServiceError>(false) };
                work_page(conn, settings, page).await?;
                Ok(true)
            })
            .await
            .map_err(|e| anyhow::anyhow!("paging step failed: {e}"))?;
        if !worked {
            break;
        }
        done += 1;
    }
    let channels = pages::due_channels(&mut conn, CHANNELS_PER_ROUND).await?;
    for channel in channels {
        let worked = conn
            .transaction(async |conn| work_channel(conn, settings, &channel).await)
            .await
            .map_err(|e| anyhow::anyhow!("paging message failed: {e}"))?;
        if worked {
            done += 1;
        }
    }
    Ok(done)
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
