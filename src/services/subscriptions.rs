//! Status-page subscriptions with double opt-in. Nothing is sent to an
//! address until its owner clicks the confirmation link, and the answer to a
//! subscribe request never reveals whether the address was already subscribed.

use chrono::{Duration, Utc};
use diesel_async::AsyncConnection;
use rand::Rng;

use super::updates::unsubscribe_link;
use super::{FieldErrors, ServiceError};
use crate::config::Settings;
use crate::db::components::Component;
use crate::db::subscribers::{self, Subscriber};
use crate::db::{DbPool, components, outbox, request_log};
use crate::domain::EmailAddress;
use crate::email::compose::{Email, link};

/// Subscribe requests one client may make per hour.
pub const PER_CLIENT_PER_HOUR: i64 = 20;
/// Confirmation emails one address may receive per hour.
pub const PER_ADDRESS_PER_HOUR: i64 = 3;

/// The raw values of the subscribe form.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(default)]
pub struct SubscribeInput {
    pub email: String,
    /// `all` or `chosen`.
    pub scope: String,
    /// Component public ids.
    pub components: Vec<String>,
    /// Optional: POST updates here as JSON instead of emailing them.
    pub webhook_url: String,
}

/// Why a subscribe request was refused before anything was checked.
pub const RATE_LIMIT_FIELD: &str = "rate";

fn new_token() -> String {
    crate::domain::tokens::hex(24)
}

/// Handles a subscribe request. On success the caller shows the same "check
/// your inbox" page whatever the address's state was.
pub async fn subscribe(
    pool: &DbPool,
    settings: &Settings,
    client: &str,
    input: &SubscribeInput,
) -> Result<(), ServiceError> {
    let now = Utc::now();
    let mut errors = FieldErrors::new();
    let email = errors.check("email", EmailAddress::parse(&input.email));
    let webhook_url = match input.webhook_url.trim() {
        "" => Some(None),
        url => errors.check("webhook_url", crate::domain::webhooks::parse_url(url)).map(Some),
    };
    let all = input.scope.trim() != "chosen";
    let mut conn = pool.get().await?;
    let known = components::list(&mut conn).await?;
    let mut chosen: Vec<&Component> = Vec::new();
    if !all {
        for public_id in &input.components {
            match known.iter().find(|c| c.public_id == public_id.trim()) {
                Some(c) => chosen.push(c),
                None => errors.add("components", "Choose components from the list."),
            }
        }
        if input.components.is_empty() {
            errors.add("components", "Choose at least one component, or subscribe to all of them.");
        }
    }
    let (Some(email), Some(webhook_url), true) = (email, webhook_url, errors.is_empty()) else {
        return Err(ServiceError::Invalid(errors));
    };
    let email = email.as_str().to_owned();
    let component_ids: Vec<_> = chosen.iter().map(|c| c.id).collect();

    // Counted on its own (not rolled back with a refusal), before any name is
    // resolved: an anonymous caller cannot make us look up more hosts than it
    // may subscribe.
    let hour_ago = now - Duration::hours(1);
    let from_client = request_log::record_and_count(&mut conn, "subscribe-client", client, hour_ago).await?;
    if from_client > PER_CLIENT_PER_HOUR {
        return Err(ServiceError::Invalid(FieldErrors::single(
            RATE_LIMIT_FIELD,
            "Too many subscription requests from your network. Try again in an hour.",
        )));
    }
    if let Some(url) = &webhook_url {
        // The address rule of every outgoing webhook: no internal hosts.
        super::outgoing::check_destination(url, &settings.outgoing_allowed_hosts)
            .await
            .map_err(|refused| ServiceError::Invalid(FieldErrors::single("webhook_url", refused.to_string())))?;
    }

    conn.transaction(async |conn| {
        let for_address =
            request_log::record_and_count(conn, "subscribe-address", &email.to_lowercase(), hour_ago).await?;
        let may_email = for_address <= PER_ADDRESS_PER_HOUR;

        let existing = subscribers::find_by_email_for_update(conn, &email).await?;
        let subscriber = match existing {
            Some(s) => s,
            None => match subscribers::insert(conn, &email, &new_token(), all, webhook_url.as_deref()).await? {
                Some(s) => s,
                // Someone subscribed the same address a moment ago: same answer.
                None => return Ok(()),
            },
        };
        if subscriber.confirmed_at.is_some() {
            // Already subscribed: tell the owner (not the requester), and keep
            // their choice of components until they change it themselves.
            if may_email {
                outbox::enqueue(conn, &[already_subscribed(settings, &subscriber)?]).await?;
            }
            return Ok(());
        }
        subscribers::set_components(conn, subscriber.id, all, &component_ids).await?;
        subscribers::set_webhook_url(conn, subscriber.id, webhook_url.as_deref()).await?;
        let subscriber = Subscriber { webhook_url, ..subscriber };
        if may_email {
            outbox::enqueue(conn, &[confirmation(settings, &subscriber)?]).await?;
            subscribers::mark_confirmation_sent(conn, subscriber.id, now).await?;
        }
        Ok::<_, ServiceError>(())
    })
    .await?;

    // Old rate-limit rows are of no use; drop them now and then.
    if rand::rng().random_ratio(1, 50) {
        let _ = request_log::prune(&mut conn, now - Duration::days(1)).await;
    }
    Ok(())
}

fn confirmation(settings: &Settings, s: &Subscriber) -> Result<crate::db::outbox::NewMessage, ServiceError> {
    let email = Email {
        kind: "confirm_subscription",
        subject: format!("Confirm your subscription to {} status updates", settings.status_page_name),
        heading: "Confirm your subscription".to_owned(),
        body: match &s.webhook_url {
            None => format!(
                "Someone, hopefully you, asked to receive {} status updates at this address.\n\n\
                 Nothing will be sent until you confirm. If you did not ask for this, ignore this email.",
                settings.status_page_name
            ),
            Some(url) => format!(
                "Someone, hopefully you, asked for {} status updates to be posted as JSON to {url}.\n\n\
                 Nothing will be sent until you confirm; the page that confirms shows the secret that signs \
                 each post. If you did not ask for this, ignore this email.",
                settings.status_page_name
            ),
        },
        link_label: "Confirm subscription".to_owned(),
        link_url: link(settings, &format!("/status/subscriptions/{}/confirm", s.token)),
        footer: None,
        unsubscribe_url: None,
        incident_id: None,
        ..Default::default()
    };
    email.to(settings, "", &s.email).map_err(|e| ServiceError::Unexpected(e.into()))
}

fn already_subscribed(settings: &Settings, s: &Subscriber) -> Result<crate::db::outbox::NewMessage, ServiceError> {
    let email = Email {
        kind: "already_subscribed",
        subject: format!("You are already subscribed to {} status updates", settings.status_page_name),
        heading: "You are already subscribed".to_owned(),
        body: "Someone asked to subscribe this address again. You are already subscribed, so nothing changed.\n\n\
               To follow different components, open your preferences with the link below."
            .to_owned(),
        link_label: "Choose the components you follow".to_owned(),
        link_url: preferences_link(settings, &s.manage_token),
        footer: None,
        unsubscribe_url: Some(unsubscribe_link(settings, &s.token)),
        incident_id: None,
        ..Default::default()
    };
    email.to(settings, "", &s.email).map_err(|e| ServiceError::Unexpected(e.into()))
}

/// A confirmed subscription, and for a webhook subscriber the secret that
/// signs its posts (shown once, at the confirmation that made the webhook).
pub struct Confirmed {
    pub subscriber: Subscriber,
    pub webhook_secret: Option<String>,
}

/// Confirms a subscription from its emailed link; `None` for an unknown or
/// withdrawn link. A subscription with a URL gets its webhook now.
pub async fn confirm(pool: &DbPool, token: &str) -> Result<Option<Confirmed>, ServiceError> {
    if !valid_token(token) {
        return Ok(None);
    }
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        let Some(subscriber) = subscribers::confirm(conn, token, Utc::now()).await? else { return Ok(None) };
        let (Some(url), None) = (&subscriber.webhook_url, subscriber.webhook_id) else {
            return Ok(Some(Confirmed { subscriber, webhook_secret: None }));
        };
        let secret = crate::domain::webhooks::generate_secret();
        let name = format!("Subscriber {}", subscriber.email);
        let hook = crate::db::webhooks::insert_for_subscriber(conn, &name, url, &secret).await?;
        subscribers::set_webhook(conn, subscriber.id, hook.id).await?;
        Ok(Some(Confirmed {
            subscriber: Subscriber { webhook_id: Some(hook.id), ..subscriber },
            webhook_secret: Some(secret),
        }))
    })
    .await
}

/// Looks a subscription up by its link (for the unsubscribe page).
pub async fn find(pool: &DbPool, token: &str) -> Result<Option<Subscriber>, ServiceError> {
    if !valid_token(token) {
        return Ok(None);
    }
    let mut conn = pool.get().await?;
    Ok(subscribers::find_by_token(&mut conn, token).await?)
}

/// Removes a subscription; whether there was one.
pub async fn unsubscribe(pool: &DbPool, token: &str) -> Result<bool, ServiceError> {
    if !valid_token(token) {
        return Ok(false);
    }
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        let hook = subscribers::find_by_token(conn, token).await?.and_then(|s| s.webhook_id);
        let gone = subscribers::delete_by_token(conn, token).await?;
        if let Some(hook) = hook {
            crate::db::webhooks::delete(conn, hook).await?;
        }
        Ok(gone)
    })
    .await
}

/// A subscriber's preferences page: the address and what it follows.
#[derive(Debug, Clone)]
pub struct Preferences {
    pub subscriber: Subscriber,
    pub all_components: bool,
    /// Public ids of the components followed (when not all).
    pub components: Vec<String>,
}

/// The preferences behind a manage link; `None` for an unknown link.
pub async fn preferences(pool: &DbPool, token: &str) -> Result<Option<Preferences>, ServiceError> {
    if !valid_manage_token(token) {
        return Ok(None);
    }
    let mut conn = pool.get().await?;
    let Some(subscriber) = subscribers::find_by_manage_token(&mut conn, token).await? else { return Ok(None) };
    let chosen = subscribers::components_of(&mut conn, subscriber.id).await?;
    let known = components::list(&mut conn).await?;
    let components = known.iter().filter(|c| chosen.contains(&c.id)).map(|c| c.public_id.clone()).collect();
    Ok(Some(Preferences { all_components: subscriber.all_components, subscriber, components }))
}

/// Saves which components a subscriber follows, from the preferences page
/// (the same fields as the subscribe form; the address cannot change here).
pub async fn save_preferences(
    pool: &DbPool,
    token: &str,
    input: &SubscribeInput,
) -> Result<Option<Preferences>, ServiceError> {
    if !valid_manage_token(token) {
        return Ok(None);
    }
    let all = input.scope.trim() != "chosen";
    let mut conn = pool.get().await?;
    let known = components::list(&mut conn).await?;
    let mut errors = FieldErrors::new();
    let mut chosen = Vec::new();
    if !all {
        for public_id in &input.components {
            match known.iter().find(|c| c.public_id == public_id.trim()) {
                Some(c) => chosen.push(c.id),
                None => errors.add("components", "Choose components from the list."),
            }
        }
        if input.components.is_empty() {
            errors.add("components", "Tick at least one component, or choose everything.");
        }
    }
    if !errors.is_empty() {
        return Err(ServiceError::Invalid(errors));
    }
    let saved = conn
        .transaction(async |conn| {
            let Some(s) = subscribers::find_by_manage_token(conn, token).await? else { return Ok(false) };
            subscribers::set_components(conn, s.id, all, &chosen).await?;
            Ok::<_, ServiceError>(true)
        })
        .await?;
    if !saved {
        return Ok(None);
    }
    drop(conn);
    preferences(pool, token).await
}

/// Subscribers' emails rendered and queued per chunk: 10,000 rendered at once
/// held ~70 MiB (bench/fanout.sh); a chunk at a time, a few MiB.
const ENQUEUE_CHUNK: usize = 250;

/// Queues one copy of `email` per subscriber, in the caller's transaction,
/// each with their own preferences and unsubscribe links (every subscriber
/// email carries both). Returns how many were queued.
pub async fn enqueue_for_subscribers(
    conn: &mut diesel_async::AsyncPgConnection,
    settings: &Settings,
    mut email: Email,
    subs: &[Subscriber],
) -> Result<usize, ServiceError> {
    let mut queued = 0;
    for chunk in subs.chunks(ENQUEUE_CHUNK) {
        let mut rows = Vec::with_capacity(chunk.len());
        // Webhook subscribers get their updates posted (`enqueue_webhooks`), no email.
        for s in chunk.iter().filter(|s| s.webhook_id.is_none()) {
            email.footer = Some(subscriber_footer(settings, &preferences_link(settings, &s.manage_token)));
            email.unsubscribe_url = Some(unsubscribe_link(settings, &s.token));
            rows.push(email.to(settings, "", &s.email).map_err(anyhow::Error::from)?);
        }
        queued += outbox::enqueue(conn, &rows).await?;
    }
    Ok(queued)
}

/// Queues one signed post per webhook subscriber among `subs` (in the
/// caller's transaction, through the webhooks' durable queue); `body` makes
/// the JSON from the subscriber's unsubscribe link. Returns how many.
pub async fn enqueue_webhooks(
    conn: &mut diesel_async::AsyncPgConnection,
    settings: &Settings,
    incident: crate::db::IncidentId,
    subs: &[Subscriber],
    body: impl Fn(&str) -> String,
) -> Result<usize, ServiceError> {
    let rows: Vec<crate::db::webhooks::NewDelivery> = subs
        .iter()
        .filter_map(|s| {
            s.webhook_id.map(|hook| crate::db::webhooks::NewDelivery {
                webhook_id: hook,
                delivery_id: crate::domain::webhooks::new_delivery_id(),
                event: crate::db::webhooks::SUBSCRIBER_EVENT.to_owned(),
                incident_id: Some(incident),
                body: body(&unsubscribe_link(settings, &s.token)),
            })
        })
        .collect();
    if rows.is_empty() {
        return Ok(0);
    }
    Ok(crate::db::webhooks::enqueue(conn, &rows).await?)
}

/// The foot of every subscriber email: why they get it and where to change that.
pub fn subscriber_footer(settings: &Settings, preferences_url: &str) -> String {
    format!(
        "You receive this because you subscribed to {} status updates.\nChoose the components you follow: {preferences_url}",
        settings.status_page_name
    )
}

/// The preferences page of a subscriber (linked from every email they get).
pub fn preferences_link(settings: &Settings, manage_token: &str) -> String {
    link(settings, &format!("/status/subscriptions/{manage_token}/preferences"))
}

fn valid_manage_token(token: &str) -> bool {
    token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

fn valid_token(token: &str) -> bool {
    token.len() == 48 && token.bytes().all(|b| b.is_ascii_hexdigit())
}
