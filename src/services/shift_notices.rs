//! "You are on call for Payments from … to …": each instance looks twice
//! per escalation minute (every 30 s; more often in tests) for shifts that
//! just started and emails their person once (a row per shift start makes it
//! once across instances).

use chrono::{Duration, Utc};
use diesel_async::AsyncConnection;

use super::ServiceError;
use crate::config::Settings;
use crate::db::{DbPool, outbox, schedules, users};
use crate::email::compose::{Email, link};

/// Shifts that started this long ago still get their notice (an instance was down a moment).
const GRACE: Duration = Duration::minutes(10);

pub fn spawn_job(pool: DbPool, settings: Settings) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(settings.escalation_minute / 2);
        loop {
            tick.tick().await;
            if let Err(e) = send_due(&pool, &settings).await {
                tracing::warn!(error = %e, "shift-start notices failed; trying again soon");
            }
        }
    });
}

/// Sends the notices of shifts that started in the last few minutes; returns how many.
pub async fn send_due(pool: &DbPool, settings: &Settings) -> Result<usize, ServiceError> {
    let now = Utc::now();
    let from = now - GRACE;
    let mut conn = pool.get().await?;
    let rotations = schedules::rotations(&mut conn, None, from).await?;
    let mut sent = 0;
    for (schedule, rotation) in rotations {
        // The shift that holds `from` started earlier: it had its notice then.
        for shift in rotation.shifts(from, now + Duration::seconds(1)).into_iter().filter(|s| s.start > from) {
            let Some(person) = users::find(&mut conn, shift.user).await? else { continue };
            let full = rotation.shifts(shift.start, shift.start + Duration::days(60));
            let end = full.first().map_or(shift.end, |s| s.end);
            let tz: chrono_tz::Tz = person.time_zone.parse().unwrap_or(chrono_tz::UTC);
            let fmt = |t: chrono::DateTime<Utc>| t.with_timezone(&tz).format("%a %Y-%m-%d %H:%M %Z").to_string();
            let text = format!("You are on call for {} from {} to {}.", schedule.name, fmt(shift.start), fmt(end));
            let email = Email {
                kind: "shift",
                subject: text.clone(),
                heading: format!("You are on call for {}", schedule.name),
                body: text,
                link_label: "Open the schedule".to_owned(),
                link_url: link(settings, &format!("/oncall/schedules/{}", schedule.id)),
                footer: None,
                unsubscribe_url: None,
                incident_id: None,
                ..Default::default()
            };
            let row = email
                .to(settings, &person.display_name, &person.email)
                .map_err(|e| ServiceError::Unexpected(e.into()))?;
            let did = conn
                .transaction(async |conn| {
                    if !schedules::claim_shift_notice(conn, schedule.id, shift.user, shift.start).await? {
                        return Ok::<_, ServiceError>(false);
                    }
                    outbox::enqueue(conn, &[row]).await?;
                    Ok(true)
                })
                .await?;
            if did {
                sent += 1;
            }
        }
    }
    Ok(sent)
}
