//! Outgoing webhooks: admins register receivers; deliveries are queued in the
//! transaction of the action that caused them (so they never block or undo
//! it) and sent by a background worker in each app instance.
//!
//! The worker works like the email outbox's: it wakes on NOTIFY and at least
//! every few seconds, claims due rows with a lease (`FOR UPDATE SKIP LOCKED`,
//! so instances never share a row), sends a few at once and records every
//! attempt. Rows stay in the table until delivered or given up on, so nothing
//! is lost when Firebreak restarts; a delivery whose worker died is sent again
//! when its lease ends (at least once; receivers can drop repeats by the
//! `X-Firebreak-Delivery` header). See `domain::webhooks` for the body,
//! signature and retry rules.

use std::time::{Duration, Instant};

use chrono::Utc;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use tokio::task::JoinSet;

use super::components::{one_line, require_admin};
use super::{Actor, FieldErrors, ServiceError, audit};
use crate::config::Settings;
use crate::db::ids::{WebhookDeliveryId, WebhookId};
use crate::db::incidents::Incident;
use crate::db::listener::{DbEvent, Listener};
use crate::db::webhooks::{self as db, AttemptResult, Claimed, NewDelivery, Then, Webhook, WebhookValues};
use crate::db::{DbPool, IncidentId};
use crate::domain::webhooks::{self as rules, EventKind, Format, IncidentFacts, Verdict};
use crate::email::compose::link;

/// What a delivery says about an incident.
pub fn facts(settings: &Settings, incident: &Incident) -> IncidentFacts {
    IncidentFacts {
        id: incident.id.0,
        public_id: incident.public_id.clone(),
        title: incident.title.clone(),
        summary: incident.summary.clone(),
        severity: incident.severity,
        status: incident.status.clone(),
        kind: incident.kind.clone(),
        visibility: incident.visibility.clone(),
        environment: incident.environment.clone(),
        url: link(settings, &format!("/incidents/{}", incident.id)),
        impact_started_at: incident.impact_started_at,
        detected_at: incident.detected_at,
        declared_at: incident.declared_at,
        resolved_at: incident.resolved_at,
    }
}

/// Queues one delivery per enabled webhook that wants this event (in the
/// caller's transaction). `detail` is the event's own data (e.g. from/to).
pub(crate) async fn enqueue(
    conn: &mut AsyncPgConnection,
    settings: &Settings,
    kind: EventKind,
    incident: &Incident,
    detail: serde_json::Value,
) -> diesel::QueryResult<()> {
    let hooks = db::subscribed(conn, kind.as_str()).await?;
    if hooks.is_empty() {
        return Ok(());
    }
    let facts = facts(settings, incident);
    let now = Utc::now();
    let rows: Vec<NewDelivery> = hooks
        .iter()
        .map(|hook| {
            let delivery_id = rules::new_delivery_id();
            let body = match Format::parse(&hook.format) {
                Ok(Format::Slack) => rules::slack_body(kind.as_str(), &facts, &detail),
                _ => rules::json_body(&delivery_id, kind.as_str(), now, Some(&facts), &detail),
            };
            NewDelivery {
                webhook_id: hook.id,
                delivery_id,
                event: kind.as_str().to_owned(),
                incident_id: Some(incident.id),
                body,
            }
        })
        .collect();
    db::enqueue(conn, &rows).await?;
    Ok(())
}

/// The raw values of the webhook form.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(default)]
pub struct WebhookInput {
    pub name: String,
    pub url: String,
    /// Empty: generate one (new webhooks) or keep the current one (edits).
    pub secret: String,
    pub events: Vec<String>,
    pub format: String,
}

impl WebhookInput {
    /// The form filled in from a saved webhook (the secret is never shown again).
    pub fn from_webhook(w: &Webhook) -> Self {
        WebhookInput {
            name: w.name.clone(),
            url: w.url.clone(),
            secret: String::new(),
            events: w.events.clone(),
            format: w.format.clone(),
        }
    }
}

struct Checked {
    name: String,
    url: String,
    secret: Option<String>,
    events: Vec<EventKind>,
    format: Format,
}

fn check(input: &WebhookInput) -> Result<Checked, ServiceError> {
    let mut errors = FieldErrors::new();
    let name = errors.check("name", one_line(&input.name, "name", 80)).unwrap_or_default();
    if name.is_empty() && errors.get("name").is_none() {
        errors.add("name", "Name the webhook, e.g. \"Chat: #incidents\" or \"Paging bridge\".");
    }
    let url = errors.check("url", rules::parse_url(&input.url));
    let secret = errors.check("secret", rules::parse_secret(&input.secret));
    let events = errors.check("events", rules::parse_events(&input.events));
    let format = errors.check("format", Format::parse(&input.format));
    match (url, secret, events, format) {
        (Some(url), Some(secret), Some(events), Some(format)) if errors.is_empty() => {
            Ok(Checked { name, url, secret, events, format })
        }
        _ => Err(ServiceError::Invalid(errors)),
    }
}

/// Refuses a URL pointing inside (see `services::outgoing`), as a message beside the field.
async fn check_destination(url: &str, allowed_hosts: &[String]) -> Result<(), ServiceError> {
    super::outgoing::check_destination(url, allowed_hosts)
        .await
        .map_err(|refused| ServiceError::Invalid(FieldErrors::single("url", refused.to_string())))
}

/// A webhook URL as the audit log shows it: scheme, host and port only. Some
/// receivers (chat tools' incoming webhooks) keep their secret in the path.
fn audited_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => match u.port() {
            Some(port) => format!("{}://{}:{port}/…", u.scheme(), u.host_str().unwrap_or_default()),
            None => format!("{}://{}/…", u.scheme(), u.host_str().unwrap_or_default()),
        },
        Err(_) => "(not a URL)".to_owned(),
    }
}

fn event_names(events: &[EventKind]) -> Vec<String> {
    events.iter().map(|e| e.as_str().to_owned()).collect()
}

/// Registers a webhook. Returns it and, when the secret was left empty, the
/// generated secret (to show once).
pub async fn create(
    pool: &DbPool,
    actor: &Actor,
    input: &WebhookInput,
    allowed_hosts: &[String],
) -> Result<(Webhook, Option<String>), ServiceError> {
    require_admin(actor)?;
    let c = check(input)?;
    check_destination(&c.url, allowed_hosts).await?;
    let generated = c.secret.is_none().then(rules::generate_secret);
    let secret = c.secret.clone().or_else(|| generated.clone()).unwrap_or_default();
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        let values = WebhookValues {
            name: &c.name,
            url: &c.url,
            secret: &secret,
            events: event_names(&c.events),
            format: c.format.as_str(),
        };
        let hook = db::insert(conn, &values, actor.id).await?;
        let detail = format!("{} ({}): {}", audited_url(&hook.url), c.format.as_str(), hook.events.join(", "));
        audit(conn, actor, "webhook.add", &hook.name, &detail).await?;
        Ok((hook, generated))
    })
    .await
}

/// Saves a webhook's settings; an empty secret keeps the current one.
pub async fn update(
    pool: &DbPool,
    actor: &Actor,
    id: WebhookId,
    input: &WebhookInput,
    allowed_hosts: &[String],
) -> Result<Webhook, ServiceError> {
    require_admin(actor)?;
    let c = check(input)?;
    check_destination(&c.url, allowed_hosts).await?;
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        let before = db::find_for_update(conn, id).await?.ok_or(ServiceError::NotFound)?;
        let secret = c.secret.clone().unwrap_or_else(|| before.secret.clone());
        let values = WebhookValues {
            name: &c.name,
            url: &c.url,
            secret: &secret,
            events: event_names(&c.events),
            format: c.format.as_str(),
        };
        let hook = db::update(conn, id, &values).await?;
        let mut changes = Vec::new();
        if before.name != hook.name {
            changes.push(format!("name: {} → {}", before.name, hook.name));
        }
        if before.url != hook.url {
            changes.push(format!("URL: {} → {}", audited_url(&before.url), audited_url(&hook.url)));
        }
        if before.secret != hook.secret {
            changes.push("new secret".to_owned());
        }
        if before.events != hook.events {
            changes.push(format!("events: {}", hook.events.join(", ")));
        }
        if before.format != hook.format {
            changes.push(format!("format: {}", hook.format));
        }
        if changes.is_empty() {
            changes.push("no changes".to_owned());
        }
        audit(conn, actor, "webhook.edit", &hook.name, &changes.join("; ")).await?;
        Ok(hook)
    })
    .await
}

/// Enables or disables a webhook. Disabling fails its queued deliveries (they
/// can be retried from the log once it is enabled again).
pub async fn set_enabled(pool: &DbPool, actor: &Actor, id: WebhookId, enabled: bool) -> Result<Webhook, ServiceError> {
    require_admin(actor)?;
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        let hook = db::find_for_update(conn, id).await?.ok_or(ServiceError::NotFound)?;
        db::set_enabled(conn, id, enabled).await?;
        let detail = if enabled {
            String::new()
        } else {
            let n = db::fail_pending(conn, id, "The webhook was disabled before this was delivered.").await?;
            format!("{n} queued deliver{} dropped", if n == 1 { "y" } else { "ies" })
        };
        let action = if enabled { "webhook.enable" } else { "webhook.disable" };
        audit(conn, actor, action, &hook.name, &detail).await?;
        Ok(Webhook { enabled, ..hook })
    })
    .await
}

/// Deletes a webhook with its delivery log.
pub async fn delete(pool: &DbPool, actor: &Actor, id: WebhookId) -> Result<Webhook, ServiceError> {
    require_admin(actor)?;
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        let hook = db::find_for_update(conn, id).await?.ok_or(ServiceError::NotFound)?;
        db::delete(conn, id).await?;
        audit(conn, actor, "webhook.delete", &hook.name, &audited_url(&hook.url)).await?;
        Ok(hook)
    })
    .await
}

/// Queues a test event (event name `test`, no incident) for one webhook,
/// enabled or not.
pub async fn send_test(pool: &DbPool, actor: &Actor, id: WebhookId) -> Result<Webhook, ServiceError> {
    require_admin(actor)?;
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        let hook = db::find(conn, id).await?.ok_or(ServiceError::NotFound)?;
        let delivery_id = rules::new_delivery_id();
        let format = Format::parse(&hook.format).unwrap_or(Format::Json);
        let body = rules::test_body(format, &delivery_id, Utc::now(), &hook.name);
        let row = NewDelivery {
            webhook_id: hook.id,
            delivery_id,
            event: rules::TEST_EVENT.to_owned(),
            incident_id: None::<IncidentId>,
            body,
        };
        db::enqueue(conn, &[row]).await?;
        audit(conn, actor, "webhook.test", &hook.name, &audited_url(&hook.url)).await?;
        Ok(hook)
    })
    .await
}

/// Sends a failed (or still pending) delivery again now. Returns false when
/// it was delivered already.
pub async fn retry(
    pool: &DbPool,
    actor: &Actor,
    id: WebhookId,
    delivery: WebhookDeliveryId,
) -> Result<bool, ServiceError> {
    require_admin(actor)?;
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        let hook = db::find(conn, id).await?.ok_or(ServiceError::NotFound)?;
        let row = db::find_delivery(conn, id, delivery).await?.ok_or(ServiceError::NotFound)?;
        if !db::retry_now(conn, id, delivery).await? {
            return Ok(false);
        }
        let detail = format!("{} {} was {} after {} attempts", row.event, row.delivery_id, row.status, row.attempts);
        audit(conn, actor, "webhook.retry", &hook.name, &detail).await?;
        Ok(true)
    })
    .await
}

// --- The delivery worker -------------------------------------------------

/// Deliveries being sent at the same time.
const IN_FLIGHT: usize = 8;
/// Rows claimed at once.
const BATCH: i64 = 4 * IN_FLIGHT as i64;
/// The most one attempt may take, answer included.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a claim lasts: longer than a batch can take, so a live worker
/// never loses its rows to another.
const LEASE: Duration = Duration::from_secs(120);
/// How much of a refusing receiver's answer is kept in the log.
const ANSWER_SNIPPET: usize = 300;

const _: () = assert!((BATCH as u64 / IN_FLIGHT as u64 + 1) * SEND_TIMEOUT.as_secs() < LEASE.as_secs());

/// The HTTP client every delivery uses: short timeouts, no redirects, and names
/// resolving to internal addresses refused (unless their host is allowed).
pub fn http_client(allowed_hosts: &[String]) -> reqwest::Result<reqwest::Client> {
    super::outgoing::guarded_client(allowed_hosts)
        .user_agent("Firebreak-Webhooks")
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(SEND_TIMEOUT)
        .build()
}

/// How long the delivery log keeps finished deliveries.
const DELIVERY_RETENTION_DAYS: i64 = 30;

/// Deletes delivered and failed deliveries older than the retention period
/// (pending ones stay until they finish); returns how many.
pub async fn delete_old_deliveries(pool: &DbPool, now: chrono::DateTime<Utc>) -> Result<usize, ServiceError> {
    let cutoff = now - chrono::Duration::days(DELIVERY_RETENTION_DAYS);
    let mut conn = pool.get().await?;
    Ok(db::delete_finished_before(&mut conn, cutoff).await?)
}

/// Prunes the delivery log at start-up, then hourly.
fn spawn_retention_job(pool: DbPool) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match delete_old_deliveries(&pool, Utc::now()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, "deleted webhook deliveries older than 30 days"),
                Err(e) => tracing::warn!(error = %e, "could not delete old webhook deliveries"),
            }
        }
    });
}

/// Starts the delivery worker (LISTEN + poll, like the email outbox) and the
/// delivery log's retention job.
pub fn spawn_worker(pool: DbPool, settings: Settings, listener: &Listener) {
    spawn_retention_job(pool.clone());
    let allowed = std::sync::Arc::new(settings.outgoing_allowed_hosts.clone());
    let client = match http_client(&allowed) {
        Ok(c) => c,
        Err(e) => {
            // Rows stay queued (nothing is lost) until this is fixed.
            tracing::error!(error = %e, "webhooks are not being delivered: cannot build the HTTP client");
            return;
        }
    };
    let retry_base = settings.webhook_retry_base;
    let (deliver_pool, due_pool) = (pool.clone(), pool);
    crate::queue::spawn(
        listener,
        DbEvent::Webhook,
        crate::queue::Queue {
            name: "webhook",
            deliver_due: move || {
                let (pool, client, allowed) = (deliver_pool.clone(), client.clone(), allowed.clone());
                async move { deliver_due(&pool, &client, retry_base, allowed).await }
            },
            next_due: move || {
                let pool = due_pool.clone();
                async move { next_due(&pool).await }
            },
        },
    );
}

async fn next_due(pool: &DbPool) -> anyhow::Result<Option<f64>> {
    let mut conn = pool.get().await?;
    Ok(db::seconds_until_next_due(&mut conn).await?)
}

/// Claims one batch and sends it, several at once, recording each attempt as
/// it ends. Returns how many rows it claimed.
async fn deliver_due(
    pool: &DbPool,
    client: &reqwest::Client,
    retry_base: Duration,
    allowed: std::sync::Arc<Vec<String>>,
) -> anyhow::Result<usize> {
    let rows = {
        let mut conn = pool.get().await?;
        db::claim_due(&mut conn, BATCH, LEASE).await?
    };
    let claimed = rows.len();
    let mut tasks = JoinSet::new();
    for row in rows {
        while tasks.len() >= IN_FLIGHT {
            tasks.join_next().await;
        }
        let (pool, client, allowed) = (pool.clone(), client.clone(), allowed.clone());
        tasks.spawn(async move {
            let result = attempt(&client, &row, retry_base, &allowed).await;
            if let Err(e) = record(&pool, row.id, &result).await {
                // The lease runs out and the row is claimed again: sent twice at worst.
                tracing::error!(error = %e, delivery = %row.delivery_id, "cannot record a webhook attempt");
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    Ok(claimed)
}

/// The error and its causes on one line.
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return format!("no answer within {} s", SEND_TIMEOUT.as_secs());
    }
    let mut parts = Vec::new();
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    let what = if e.is_connect() { "cannot connect" } else { "request failed" };
    if parts.is_empty() { what.to_owned() } else { format!("{what}: {}", parts.join(": ")) }
}

/// The start of a response body, as text.
async fn snippet(mut response: reqwest::Response) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < ANSWER_SNIPPET {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            _ => break,
        }
    }
    let text = String::from_utf8_lossy(&bytes);
    let text: String = text.chars().filter(|c| !c.is_control() || *c == ' ').take(ANSWER_SNIPPET).collect();
    text.trim().to_owned()
}

/// Sends one delivery and decides what becomes of it.
async fn attempt(client: &reqwest::Client, row: &Claimed, retry_base: Duration, allowed: &[String]) -> AttemptResult {
    let timestamp = Utc::now().timestamp();
    let started = Instant::now();
    // Again at send time: the URL was checked when saved, but a name may resolve
    // elsewhere now (the client's resolver checks names; this also covers IP literals).
    if let Err(refused) = super::outgoing::check_destination(&row.url, allowed).await {
        return finish(row, retry_base, started, (None, Some(refused.to_string()), Verdict::Retry));
    }
    let sent = client
        .post(&row.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("X-Firebreak-Event", &row.event)
        .header("X-Firebreak-Delivery", &row.delivery_id)
        .header("X-Firebreak-Timestamp", timestamp.to_string())
        .header("X-Firebreak-Signature", rules::signature(&row.secret, timestamp, &row.body))
        .body(row.body.clone())
        .send()
        .await;
    let (status_code, error, verdict) = match sent {
        Ok(response) => {
            let status = response.status().as_u16();
            let verdict = rules::verdict(status);
            let error = match verdict {
                Verdict::Delivered => None,
                _ if response.status().is_redirection() => {
                    let to = response.headers().get(reqwest::header::LOCATION).and_then(|v| v.to_str().ok());
                    Some(format!(
                        "HTTP {status}: redirected to {}; redirects are not followed, so use the final URL",
                        to.unwrap_or("another address")
                    ))
                }
                _ => {
                    let answer = snippet(response).await;
                    Some(if answer.is_empty() { format!("HTTP {status}") } else { format!("HTTP {status}: {answer}") })
                }
            };
            (Some(i32::from(status)), error, verdict)
        }
        Err(e) => (None, Some(describe(&e)), Verdict::Retry),
    };
    finish(row, retry_base, started, (status_code, error, verdict))
}

/// What becomes of a delivery after an attempt, logged.
fn finish(
    row: &Claimed,
    retry_base: Duration,
    started: Instant,
    (status_code, error, verdict): (Option<i32>, Option<String>, Verdict),
) -> AttemptResult {
    let duration_ms = i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
    let then = match verdict {
        Verdict::Delivered => Then::Delivered,
        v => match rules::next_try(retry_base, row.attempts, v) {
            Some(wait) => {
                Then::RetryAt(Utc::now() + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(1)))
            }
            None => Then::GiveUp,
        },
    };
    match (&error, then) {
        (None, _) => tracing::debug!(delivery = %row.delivery_id, event = %row.event, duration_ms, "webhook delivered"),
        (Some(e), then) => tracing::warn!(
            delivery = %row.delivery_id,
            event = %row.event,
            attempts = row.attempts,
            error = %e,
            ?then,
            "webhook not delivered"
        ),
    }
    AttemptResult { status_code, error, duration_ms, then }
}

/// Writes an attempt's outcome, retrying for a while: the request went out,
/// and leaving the row claimed would send it again when the lease ends.
async fn record(pool: &DbPool, id: WebhookDeliveryId, result: &AttemptResult) -> anyhow::Result<()> {
    let mut wait = Duration::from_millis(250);
    let mut tries = 0;
    loop {
        tries += 1;
        let outcome = async {
            let mut conn = pool.get().await?;
            db::record_attempt(&mut conn, id, result).await?;
            anyhow::Ok(())
        }
        .await;
        match outcome {
            Ok(()) => return Ok(()),
            Err(e) if tries < 6 => {
                tracing::warn!(error = %e, "cannot record a webhook attempt yet; retrying");
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_audit_log_never_shows_a_webhook_urls_path() {
        assert_eq!(super::audited_url("https://hooks.slack.com/services/T0/B0/s3cret"), "https://hooks.slack.com/…");
        assert_eq!(super::audited_url("http://127.0.0.1:9000/in?token=x"), "http://127.0.0.1:9000/…");
    }
}
