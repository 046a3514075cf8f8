//! A person's own contact methods and notification rules. A method is used
//! only once verified: a 6-digit code is sent through it (kept as a hash,
//! five tries) and typed back in.

use chrono::Utc;
use diesel_async::AsyncConnection;
use rand::Rng;
use serde::Deserialize;

use super::components::one_line;
use super::{Actor, FieldErrors, ServiceError, audit};
use crate::config::Settings;
use crate::db::{ContactMethodId, DbPool, UserId, contact_methods, outbox};
use crate::domain::EmailAddress;
use crate::domain::alerts::token_hash;
use crate::domain::oncall::outgoing_url_allowed;
use crate::email::compose::Email;

/// Wrong codes allowed before a method must be added again.
const MAX_ATTEMPTS: i32 = 5;

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct MethodInput {
    pub kind: String,
    pub label: String,
    pub address: String,
}

fn me(actor: &Actor) -> Result<UserId, ServiceError> {
    actor.id.ok_or(ServiceError::Forbidden("sign in first"))
}

/// Adds a method and sends its verification code. Email codes go through the
/// outbox; for ntfy and webhooks the code is posted to the URL now. A signed
/// webhook gets its own random signing secret, returned to be shown once.
pub async fn add(
    pool: &DbPool,
    settings: &Settings,
    actor: &Actor,
    input: &MethodInput,
) -> Result<Option<String>, ServiceError> {
    let user = me(actor)?;
    let mut errors = FieldErrors::new();
    let label = errors.check("label", one_line(&input.label, "label", 60)).unwrap_or_default();
    let kind = input.kind.trim();
    let address = match kind {
        "email" => errors.check("address", EmailAddress::parse(&input.address).map(|e| e.as_str().to_owned())),
        "ntfy" | "webhook" | "slack" => errors.check(
            "address",
            url::Url::parse(input.address.trim())
                .map_err(|_| "Enter a full URL, e.g. https://ntfy.sh/your-topic.".to_owned())
                .and_then(|u| outgoing_url_allowed(&u, &[], &settings.outgoing_allowed_hosts).map(|()| u.to_string())),
        ),
        _ => {
            errors.add("kind", "Choose email, ntfy, webhook or Slack-compatible webhook.");
            None
        }
    };
    let Some(address) = address.filter(|_| errors.is_empty()) else { return Err(ServiceError::Invalid(errors)) };
    let label = if label.is_empty() { kind.to_owned() } else { label };
    let code = format!("{:06}", rand::rng().random_range(0..1_000_000));
    let text = format!("Your Firebreak verification code for “{label}” is {code}.");
    let secret = (kind == "webhook").then(crate::domain::webhooks::generate_secret);
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        contact_methods::insert(conn, user, kind, &label, &address, &token_hash(&code), secret.as_deref()).await?;
        if kind == "email" {
            let email = Email {
                kind: "verify",
                subject: "Your Firebreak verification code".to_owned(),
                heading: "Confirm this address for paging".to_owned(),
                body: text.clone(),
                link_label: "Open your contact methods".to_owned(),
                link_url: crate::email::compose::link(settings, "/oncall/me"),
                footer: None,
                unsubscribe_url: None,
                incident_id: None,
                ..Default::default()
            };
            let row = email.to(settings, "", &address).map_err(|e| ServiceError::Unexpected(e.into()))?;
            outbox::enqueue(conn, &[row]).await?;
        }
        audit(conn, actor, "oncall.contact.add", &label, kind).await?;
        Ok::<_, ServiceError>(())
    })
    .await?;
    if kind != "email" {
        let body = match kind {
            "slack" => serde_json::json!({ "text": text }).to_string(),
            "webhook" => serde_json::json!({ "event": "verify", "text": text }).to_string(),
            _ => text,
        };
        let sent =
            super::contact_delivery::post_text(&address, &body, secret.as_deref(), &settings.outgoing_allowed_hosts)
                .await;
        if let Err(e) = sent {
            return Err(ServiceError::Invalid(FieldErrors::single(
                "address",
                format!("The method is saved but the code could not be sent: {e}. Remove it and try again."),
            )));
        }
    }
    Ok(secret)
}

pub async fn verify(pool: &DbPool, actor: &Actor, id: ContactMethodId, code: &str) -> Result<(), ServiceError> {
    let user = me(actor)?;
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        let m = contact_methods::find(conn, id).await?.filter(|m| m.user_id == user).ok_or(ServiceError::NotFound)?;
        let wrong = |msg: &str| ServiceError::Invalid(FieldErrors::single("code", msg.to_owned()));
        if m.verified_at.is_some() {
            return Ok(());
        }
        if m.verify_attempts >= MAX_ATTEMPTS {
            return Err(wrong("Too many wrong codes: remove this method and add it again."));
        }
        let ok = m.verify_code_hash.as_deref().is_some_and(|h| crate::domain::alerts::token_matches(code.trim(), h));
        if !ok {
            contact_methods::count_attempt(conn, id).await?;
            return Err(wrong("That is not the code we sent."));
        }
        contact_methods::mark_verified(conn, id, Utc::now()).await?;
        audit(conn, actor, "oncall.contact.verify", &m.label, &m.kind).await?;
        Ok(())
    })
    .await
}

pub async fn remove(pool: &DbPool, actor: &Actor, id: ContactMethodId) -> Result<(), ServiceError> {
    let user = me(actor)?;
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        let m = contact_methods::find(conn, id).await?.filter(|m| m.user_id == user).ok_or(ServiceError::NotFound)?;
        contact_methods::delete(conn, user, id).await?;
        audit(conn, actor, "oncall.contact.delete", &m.label, &m.kind).await?;
        Ok(())
    })
    .await
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct RuleInput {
    pub method: String,
    pub delay_minutes: String,
}

pub async fn add_rule(pool: &DbPool, actor: &Actor, input: &RuleInput) -> Result<(), ServiceError> {
    let user = me(actor)?;
    let mut conn = pool.get().await?;
    let mut errors = FieldErrors::new();
    let method = match input.method.trim().parse::<ContactMethodId>() {
        Ok(id) => match contact_methods::find(&mut conn, id).await? {
            Some(m) if m.user_id == user && m.verified_at.is_some() => Some(m),
            Some(m) if m.user_id == user => {
                errors.add("method", "Verify this method first.");
                None
            }
            _ => {
                errors.add("method", "Choose one of your methods.");
                None
            }
        },
        Err(_) => {
            errors.add("method", "Choose one of your methods.");
            None
        }
    };
    let delay = errors.check(
        "delay_minutes",
        input
            .delay_minutes
            .trim()
            .parse::<i32>()
            .ok()
            .filter(|n| (0..=1440).contains(n))
            .ok_or_else(|| "Enter minutes from 0 to 1440.".to_owned()),
    );
    let (Some(method), Some(delay)) = (method, delay) else { return Err(ServiceError::Invalid(errors)) };
    conn.transaction(async |conn| {
        contact_methods::insert_rule(conn, user, method.id, delay).await?;
        audit(conn, actor, "oncall.rule.add", &method.label, &format!("after {delay} min")).await?;
        Ok(())
    })
    .await
}

pub async fn remove_rule(pool: &DbPool, actor: &Actor, id: i64) -> Result<(), ServiceError> {
    let user = me(actor)?;
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        if !contact_methods::delete_rule(conn, user, id).await? {
            return Err(ServiceError::NotFound);
        }
        audit(conn, actor, "oncall.rule.delete", &format!("rule {id}"), "").await?;
        Ok(())
    })
    .await
}
