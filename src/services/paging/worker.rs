//! The paging worker: each round claims the pages whose step is due (a batch
//! per transaction, a savepoint per page), notifies their step or moves them
//! on, then works the channels with messages due (`messages`), then makes the
//! HTTP calls those produced with no locks held.

use chrono::{DateTime, Utc};
use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use super::messages::{record_outcome, work_channel};
use crate::config::Settings;
use crate::db::escalation::{self, Target};
use crate::db::pages::{self, Page, PageChanges};
use crate::db::{DbPool, UserId, incidents, schedules};
use crate::domain::incident::{EntryKind, IncidentStatus};
use crate::domain::oncall::{EscalationPosition, next_step};
use crate::services::ServiceError;
use crate::services::contact_delivery::HTTP_TIMEOUT;
use crate::services::incidents::{name_of, notify, record};

/// Pages whose step is worked per transaction (one commit for the lot).
const PAGES_PER_BATCH: i64 = 50;
/// Pages worked per round of the worker, before it turns to the channels.
const PAGES_PER_ROUND: usize = 200;
/// Channels worked per round (in one transaction).
const CHANNELS_PER_ROUND: i64 = 50;
/// HTTP contact methods (ntfy, webhooks) called at once.
const HTTP_AT_ONCE: usize = 8;
/// How long a message handed to an HTTP method stays `sending` before another
/// instance may send it again: long enough for a whole round of them, each
/// taking up to `HTTP_TIMEOUT` to resolve its host and as long to answer.
pub(super) const SENDING_LEASE: std::time::Duration =
    HTTP_TIMEOUT.saturating_mul(2 * (CHANNELS_PER_ROUND as u32 / HTTP_AT_ONCE as u32 + 2));

/// The escalation minute (shorter in tests).
pub(super) fn minute(settings: &Settings) -> chrono::Duration {
    chrono::Duration::from_std(settings.escalation_minute).unwrap_or(chrono::Duration::minutes(1))
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

/// One round: due pages, then due channels, then the HTTP messages those
/// produced. Returns how much it did.
///
/// Due pages are claimed a batch at a time, in one transaction (one commit,
/// one fsync, for the batch), each page in its own savepoint: a page whose
/// step fails is put off a minute and logged, and the rest go on. Channels
/// work the same way.
async fn work_due(pool: &DbPool, settings: &Settings) -> anyhow::Result<usize> {
    let mut conn = pool.get().await?;
    let mut done = 0;
    while done < PAGES_PER_ROUND {
        let claimed = conn
            .transaction(async |conn| {
                let batch = pages::claim_due(conn, PAGES_PER_BATCH).await?;
                for page in &batch {
                    let id = page.id;
                    if let Err(e) = conn.transaction(async |conn| work_page(conn, settings, page.clone()).await).await {
                        tracing::warn!(page = id.0, error = %e, "a paging step failed; trying it again in a minute");
                        pages::postpone_step(conn, id, Utc::now() + minute(settings)).await?;
                    }
                }
                Ok::<_, ServiceError>(batch.len())
            })
            .await
            .map_err(|e| anyhow::anyhow!("paging steps failed: {e}"))?;
        done += claimed;
        if claimed < PAGES_PER_BATCH as usize {
            break;
        }
    }
    let channels = pages::due_channels(&mut conn, CHANNELS_PER_ROUND).await?;
    let (worked, sends) = conn
        .transaction(async |conn| {
            let (mut worked, mut sends) = (0, Vec::new());
            for channel in &channels {
                match conn.transaction(async |conn| work_channel(conn, settings, channel).await).await {
                    Ok((did, sending)) => {
                        worked += usize::from(did);
                        sends.extend(sending);
                    }
                    Err(e) => {
                        // Put off a minute, like a failed step: a channel that fails
                        // every time must not spin the worker or flood the log.
                        tracing::warn!(channel, error = %e, "a page message failed; trying it again in a minute");
                        pages::postpone_channel(conn, channel, Utc::now() + minute(settings)).await?;
                    }
                }
            }
            Ok::<_, ServiceError>((worked, sends))
        })
        .await
        .map_err(|e| anyhow::anyhow!("page messages failed: {e}"))?;
    done += worked;
    // The HTTP messages, a few at a time, with no locks held.
    let mut running = tokio::task::JoinSet::new();
    let mut finished = Vec::new();
    for sending in sends {
        if running.len() >= HTTP_AT_ONCE {
            finished.extend(running.join_next().await.and_then(Result::ok));
        }
        let allowed = settings.outgoing_allowed_hosts.clone();
        running.spawn(async move {
            let outcome = sending.message.send(&allowed).await.map(|()| sending.message.how.clone());
            (sending.batch, outcome)
        });
    }
    while let Some(joined) = running.join_next().await {
        finished.extend(joined.ok());
    }
    for (batch, outcome) in finished {
        conn.transaction(async |conn| record_outcome(conn, settings, &batch, outcome).await)
            .await
            .map_err(|e| anyhow::anyhow!("recording a page message failed: {e}"))?;
    }
    Ok(done)
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
pub(super) struct Count {
    #[diesel(sql_type = BigInt)]
    pub(super) n: i64,
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
    let minute = minute(settings);
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
