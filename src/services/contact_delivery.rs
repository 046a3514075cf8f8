//! Makes one page message for one contact method: email through the outbox
//! (in the caller's transaction), or a request to an ntfy topic (with an
//! Acknowledge action), a signed webhook, or a Slack-compatible incoming
//! webhook, made after the caller's transaction. Outgoing URLs follow
//! `domain::oncall::outgoing_url_allowed`.

use std::time::Duration;

use diesel_async::AsyncPgConnection;

use super::paging::PageMessage;
use crate::config::Settings;
use crate::db::users::User;
use crate::db::{ContactMethodId, contact_methods, outbox};
use crate::domain::oncall::outgoing_url_allowed;

/// The longest an HTTP contact method may take to resolve its host, and again
/// to answer. No row locks are held meanwhile (see `services::paging`).
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(5);

/// A page message made ready for its contact method.
pub enum Prepared {
    /// Email: already in the outbox, in the caller's transaction. Says how.
    Queued(String),
    /// An HTTP contact method: a request to make once the caller's
    /// transaction has committed.
    Http(HttpMessage),
}

/// One POST to an ntfy topic, a signed webhook or a Slack-compatible webhook.
pub struct HttpMessage {
    /// For the timeline: "ntfy", "webhook", "Slack webhook".
    pub how: String,
    address: String,
    content_type: &'static str,
    body: String,
    headers: Vec<(&'static str, String)>,
}

impl HttpMessage {
    /// Makes the request (checking the URL first); `Ok` when the receiver took it.
    pub async fn send(&self, allowed: &[String]) -> Result<(), String> {
        post(&self.address, self.content_type, self.body.clone(), &self.headers, allowed).await
    }
}

/// Makes the message for the method (the person's account email when
/// `None`): email goes into the outbox at once; HTTP methods come back as a
/// request to make. `Err` says why it cannot be sent.
pub async fn prepare(
    conn: &mut AsyncPgConnection,
    settings: &Settings,
    person: &User,
    method: Option<ContactMethodId>,
    message: &PageMessage,
) -> Result<Prepared, String> {
    let method = match method {
        None => None,
        Some(id) => Some(
            contact_methods::find(conn, id)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| "the contact method was deleted".to_owned())?,
        ),
    };
    let (kind, address) = match &method {
        None => ("email", person.email.clone()),
        Some(m) => (m.kind.as_str(), m.address.clone()),
    };
    let http = |how: &str, content_type, body, headers| {
        Ok(Prepared::Http(HttpMessage { how: how.to_owned(), address: address.clone(), content_type, body, headers }))
    };
    match kind {
        "email" => {
            let row = message.email().to(settings, &person.display_name, &address).map_err(|e| e.to_string())?;
            outbox::enqueue(conn, &[row]).await.map_err(|e| e.to_string())?;
            Ok(Prepared::Queued(format!("email to {address}")))
        }
        "ntfy" => {
            let first = message.lines.first();
            let mut body = String::new();
            for l in &message.lines {
                body.push_str(&format!("SEV{} {}\n", l.severity, l.title));
                for a in &l.alerts {
                    body.push_str(&format!("{a}\n"));
                }
            }
            let mut headers = vec![("Title", message.subject.clone()), ("Priority", "urgent".to_owned())];
            if let Some(l) = first {
                let api = l.ack_url.replace("/ack/", "/api/v1/pages/acknowledge/");
                headers.push(("Actions", format!("http, Acknowledge, {api}, method=POST, clear=true")));
                headers.push(("Click", l.room_url.clone()));
            }
            http("ntfy", "text/plain", body, headers)
        }
        "slack" => {
            let mut text = format!("*{}*", message.subject);
            for l in &message.lines {
                text.push_str(&format!(
                    "\nSEV{} {} — <{}|Acknowledge> · <{}|Room>",
                    l.severity, l.title, l.ack_url, l.room_url
                ));
                for a in &l.alerts {
                    text.push_str(&format!("\n    {}", crate::domain::webhooks::slack_escape(a)));
                }
            }
            let body = serde_json::json!({ "text": text }).to_string();
            http("Slack webhook", "application/json", body, Vec::new())
        }
        "webhook" => {
            let pages: Vec<_> = message
                .lines
                .iter()
                .map(|l| {
                    serde_json::json!({
                        "title": l.title, "severity": format!("SEV{}", l.severity),
                        "alerts": l.alerts,
                        "acknowledge_url": l.ack_url, "incident_url": l.room_url,
                    })
                })
                .collect();
            let body = serde_json::json!({ "event": "page", "subject": message.subject, "pages": pages }).to_string();
            let secret = method
                .as_ref()
                .and_then(|m| m.signing_secret.as_deref())
                .ok_or_else(|| "the webhook has no signing secret: remove it and add it again".to_owned())?;
            let headers = signed(secret, &body);
            http("webhook", "application/json", body, headers)
        }
        other => Err(format!("unknown contact method kind {other}")),
    }
}

/// Posts a short text (a verification code) to an HTTP contact method, signed
/// when the method has a signing secret.
pub async fn post_text(address: &str, body: &str, secret: Option<&str>, allowed: &[String]) -> Result<(), String> {
    let content_type = if body.starts_with('{') { "application/json" } else { "text/plain" };
    let headers = secret.map(|s| signed(s, body)).unwrap_or_default();
    post(address, content_type, body.to_owned(), &headers, allowed).await
}

/// The headers that let a receiver check a body came from Firebreak, as for
/// outgoing incident webhooks: HMAC-SHA256 over "<timestamp>.<body>".
fn signed(secret: &str, body: &str) -> Vec<(&'static str, String)> {
    let ts = chrono::Utc::now().timestamp();
    vec![
        ("X-Firebreak-Timestamp", ts.to_string()),
        ("X-Firebreak-Signature", crate::domain::webhooks::signature(secret, ts, body)),
    ]
}

/// Checks the URL (and what its host resolves to), then POSTs with a short timeout.
async fn post(
    address: &str,
    content_type: &str,
    body: String,
    headers: &[(&str, String)],
    allowed: &[String],
) -> Result<(), String> {
    let url = url::Url::parse(address).map_err(|e| format!("not a URL: {e}"))?;
    let host = url.host_str().unwrap_or_default().to_owned();
    let port = url.port_or_known_default().unwrap_or(443);
    // The lookup is bounded too: the paging worker's lease counts on it.
    let resolved: Vec<std::net::IpAddr> =
        match tokio::time::timeout(HTTP_TIMEOUT, tokio::net::lookup_host((host.as_str(), port))).await {
            Ok(Ok(addrs)) => addrs.map(|a| a.ip()).collect(),
            Ok(Err(e)) => return Err(format!("cannot resolve {host}: {e}")),
            Err(_) => return Err(format!("cannot resolve {host}: no answer in {} s", HTTP_TIMEOUT.as_secs())),
        };
    outgoing_url_allowed(&url, &resolved, allowed)?;
    let client = reqwest::Client::builder()
        .user_agent("Firebreak-Paging")
        .redirect(reqwest::redirect::Policy::none())
        .timeout(HTTP_TIMEOUT)
        .build()
        .map_err(|e| e.to_string())?;
    let mut req = client.post(url).header("Content-Type", content_type).body(body);
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let resp = req.send().await.map_err(|e| e.to_string())?;
    if resp.status().is_success() { Ok(()) } else { Err(format!("the server answered {}", resp.status())) }
}
