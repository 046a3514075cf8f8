//! Page messages: a contact channel's due messages go out as one (folded when
//! several incidents wait), at most one a minute per channel; email through
//! the outbox in the worker's transaction, HTTP methods after it commits.

use chrono::Utc;
use diesel::sql_types::BigInt;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::worker::{SENDING_LEASE, minute};
use crate::config::Settings;
use crate::db::pages::{self, Page};
use crate::db::{IncidentId, PageNotificationId, alerts, incidents, users};
use crate::domain::alerts::{labels_line, new_token, token_hash};
use crate::domain::incident::EntryKind;
use crate::domain::oncall::{folded_subject, next_send_time};
use crate::email::compose::{Email, link};
use crate::services::ServiceError;
use crate::services::contact_delivery::{self, HttpMessage, Prepared};
use crate::services::incidents::{notify, record};

/// One page's message in a (possibly folded) message to a channel.
struct Item {
    page: Page,
    title: String,
    severity: i16,
    /// For an alert's page: its firing alerts' labels, one line each.
    alerts: Vec<String>,
    ack_url: String,
    room_url: String,
}

/// Alerts named per page (an incident can hold hundreds).
const ALERTS_PER_PAGE: i64 = 3;

/// The rows and incidents one message to a channel carries.
pub(super) struct Batch {
    ids: Vec<PageNotificationId>,
    attempts: i32,
    incidents: Vec<IncidentId>,
    person: String,
}

/// A channel's message handed to an HTTP contact method: sent after the
/// channel's transaction commits, so a slow receiver holds no locks; its rows
/// are `sending` meanwhile, and due again if this instance dies first.
pub(super) struct Sending {
    pub(super) batch: Batch,
    pub(super) message: HttpMessage,
}

/// Works one channel whose messages are due: sends them as one (folded when
/// several pages wait) if the channel may send now, or puts them off until it
/// may. Email goes into the outbox here; an HTTP method's message comes back
/// to be sent after commit. Returns whether it did anything.
pub(super) async fn work_channel(
    conn: &mut AsyncPgConnection,
    settings: &Settings,
    channel: &str,
) -> Result<(bool, Option<Sending>), ServiceError> {
    let Some(last_sent) = pages::lock_channel(conn, channel).await? else {
        return Ok((false, None));
    };
    let now = Utc::now();
    let due = pages::pending_for_channel(conn, channel, now).await?;
    if due.is_empty() {
        return Ok((false, None));
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
        return Ok((true, None));
    }
    let gap = minute(settings);
    let ids: Vec<_> = live.iter().map(|(n, _)| n.id).collect();
    let send_at = next_send_time(last_sent, now, gap);
    if send_at > now {
        pages::postpone(conn, &ids, send_at).await?;
        return Ok((true, None));
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
        let alerts = if p.origin == "alert" {
            alerts::firing_labels(conn, p.incident_id, ALERTS_PER_PAGE).await?.iter().map(labels_line).collect()
        } else {
            Vec::new()
        };
        items.push(Item {
            page: p.clone(),
            title: incident.title,
            severity: incident.severity,
            alerts,
            ack_url: link(settings, &format!("/ack/{token}")),
            room_url: link(settings, &format!("/incidents/{}", incident.id)),
        });
    }
    let person = users::find(conn, user).await?.ok_or(ServiceError::NotFound)?;
    let batch = Batch {
        ids,
        attempts: live.iter().map(|(n, _)| n.attempts).max().unwrap_or(0),
        incidents: items.iter().map(|i| i.page.incident_id).collect(),
        person: person.display_name.clone(),
    };
    match contact_delivery::prepare(conn, settings, &person, method, &items_view(&items)).await {
        Ok(Prepared::Queued(how)) => {
            pages::set_channel_sent(conn, channel, now).await?;
            record_outcome(conn, settings, &batch, Ok(how)).await?;
            Ok((true, None))
        }
        Ok(Prepared::Http(message)) => {
            // The channel counts as used from now: the one-a-minute limit holds
            // however long the receiver takes.
            pages::set_channel_sent(conn, channel, now).await?;
            let lease = chrono::Duration::from_std(SENDING_LEASE).unwrap_or(gap);
            pages::mark_sending(conn, &batch.ids, now + lease).await?;
            Ok((true, Some(Sending { batch, message })))
        }
        Err(e) => {
            record_outcome(conn, settings, &batch, Err(e)).await?;
            Ok((true, None))
        }
    }
}

/// Records how a message went, on its rows and on each incident's timeline:
/// sent, or failed (tried again later, up to five attempts).
pub(super) async fn record_outcome(
    conn: &mut AsyncPgConnection,
    settings: &Settings,
    batch: &Batch,
    outcome: Result<String, String>,
) -> Result<(), ServiceError> {
    let now = Utc::now();
    let bodies = match outcome {
        Ok(how) => {
            pages::mark_sent(conn, &batch.ids, now).await?;
            format!("Paged {} by {how}.", batch.person)
        }
        Err(e) => {
            let attempts = batch.attempts + 1;
            let retry = (attempts < 5).then(|| now + minute(settings) * attempts);
            pages::mark_failed(conn, &batch.ids, &e, retry).await?;
            format!(
                "Could not page {}: {e}{}",
                batch.person,
                if retry.is_some() { " (trying again)" } else { " (gave up)" }
            )
        }
    };
    for incident in &batch.incidents {
        record(conn, *incident, None, EntryKind::System, &bodies, now).await?;
        notify(conn, *incident).await?;
    }
    Ok(())
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
    /// For an alert's page: the labels of its firing alerts (up to three).
    pub alerts: Vec<String>,
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
                alerts: i.alerts.clone(),
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
            body.push_str(&format!("SEV{} · {}\n", l.severity, l.title));
            for a in &l.alerts {
                body.push_str(&format!("Alert: {a}\n"));
            }
            body.push_str(&format!("Acknowledge: {}\nIncident room: {}\n\n", l.ack_url, l.room_url));
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
            banner: Some(crate::email::compose::Banner {
                label: match first {
                    Some(l) if self.lines.len() == 1 => format!("Page · SEV{}", l.severity),
                    _ => format!("Page · {} incidents", self.lines.len()),
                },
                tone: crate::email::compose::Tone::Bad,
            }),
            ..Default::default()
        }
    }
}
