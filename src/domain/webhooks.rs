//! Outgoing webhooks: which events there are, what a delivery's body looks
//! like (JSON or Slack-compatible), how it is signed, and what the delivery
//! worker does with the receiver's answer.
//!
//! The rules, in one place:
//! - Every delivery is signed: `X-Firebreak-Signature: sha256=<hex>` where the
//!   hex is HMAC-SHA256 with the webhook's secret over `"{timestamp}.{body}"`,
//!   `timestamp` being `X-Firebreak-Timestamp` (unix seconds of the attempt).
//!   Receivers recompute it, compare in constant time and refuse old timestamps.
//! - A 2xx answer means delivered. 408, 425, 429, any 5xx, a timeout or a
//!   connection error mean "try again later" (waiting longer each time, up to
//!   `MAX_ATTEMPTS`). Any other answer (3xx: redirects are not followed; 4xx)
//!   fails the delivery at once: the receiver refused this request and would
//!   refuse the same one again. An admin can retry it from the delivery log.
//! - Restricted incidents still announce their events (so automation sees that
//!   something happened), but their title and summary are replaced by
//!   "Restricted incident" and the event data keeps only its non-text fields
//!   (e.g. the status change, never an update's subject or body).

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde_json::{Value, json};
use sha2::Sha256;

use super::incident::{IncidentStatus, text_enum};

text_enum!(
    /// Something that happened to an incident, as announced to webhooks.
    EventKind, "Choose an event from the list." {
        IncidentDeclared = "incident_declared" / "Incident declared",
        StatusChanged = "status_changed" / "Status changed",
        SeverityChanged = "severity_changed" / "Severity changed",
        UpdatePublished = "update_published" / "Update published",
        Resolved = "resolved" / "Incident resolved",
        PostmortemPublished = "postmortem_published" / "Post-mortem published",
    }
);

text_enum!(
    /// The shape of a delivery's body.
    Format, "Choose JSON or Slack-compatible." {
        Json = "json" / "JSON (signed, every field)",
        Slack = "slack" / "Slack-compatible ({\"text\": …})",
    }
);

/// The event name of the admin's "Send test event" button.
pub const TEST_EVENT: &str = "test";

/// What restricted incidents are called in deliveries.
pub const RESTRICTED_TITLE: &str = "Restricted incident";

/// Attempts before a delivery is given up on.
pub const MAX_ATTEMPTS: i32 = 10;

/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// Event data fields a restricted incident's deliveries keep: none of them is
/// free text written by people (`url` is a link to a page behind sign-in).
const RESTRICTED_DATA_FIELDS: &[&str] =
    &["from", "to", "update_id", "audience", "postmortem_id", "url", "published_at"];

/// What a delivery says about its incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentFacts {
    pub id: i64,
    pub public_id: String,
    pub title: String,
    pub summary: String,
    pub severity: i16,
    pub status: String,
    pub kind: String,
    pub visibility: String,
    pub environment: String,
    /// The incident room.
    pub url: String,
    pub impact_started_at: DateTime<Utc>,
    pub detected_at: DateTime<Utc>,
    pub declared_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
}

impl IncidentFacts {
    pub fn is_restricted(&self) -> bool {
        self.visibility == "restricted"
    }

    /// The title receivers may see.
    pub fn shown_title(&self) -> &str {
        if self.is_restricted() { RESTRICTED_TITLE } else { &self.title }
    }
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The event data a receiver may see: all of it, or for a restricted
/// incident only the fields without free text.
pub fn shown_data(incident: Option<&IncidentFacts>, data: &Value) -> Value {
    match (incident.is_some_and(IncidentFacts::is_restricted), data) {
        (false, _) => data.clone(),
        (true, Value::Object(fields)) => Value::Object(
            fields
                .iter()
                .filter(|(k, _)| RESTRICTED_DATA_FIELDS.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        (true, _) => Value::Null,
    }
}

fn incident_json(i: &IncidentFacts) -> Value {
    let restricted = i.is_restricted();
    let mut v = json!({
        "id": i.id,
        "public_id": i.public_id,
        "title": i.shown_title(),
        "summary": if restricted { "" } else { i.summary.as_str() },
        "severity": format!("SEV{}", i.severity),
        "severity_level": i.severity,
        "status": i.status,
        "kind": i.kind,
        "visibility": i.visibility,
        "restricted": restricted,
        "environment": i.environment,
        "url": i.url,
        "impact_started_at": time(i.impact_started_at),
        "detected_at": time(i.detected_at),
        "declared_at": time(i.declared_at),
        "resolved_at": i.resolved_at.map(time),
    });
    // A restricted incident's environment says what was hit: leave it out.
    if let (true, Some(fields)) = (restricted, v.as_object_mut()) {
        fields.remove("environment");
    }
    v
}

/// The body of a JSON-format delivery:
/// `{id, event, occurred_at, incident: {...} | null, data}`.
pub fn json_body(
    delivery_id: &str,
    event: &str,
    occurred_at: DateTime<Utc>,
    incident: Option<&IncidentFacts>,
    data: &Value,
) -> String {
    json!({
        "id": delivery_id,
        "event": event,
        "occurred_at": time(occurred_at),
        "incident": incident.map(incident_json),
        "data": shown_data(incident, data),
    })
    .to_string()
}

/// One public update as a status-page subscriber's webhook receives it, in
/// the shape of Statuspage's incident webhooks (`meta`, `page`, `incident`
/// with the update and the affected components): public text only.
pub struct PublicUpdate<'a> {
    pub page_name: &'a str,
    pub page_url: &'a str,
    pub unsubscribe_url: &'a str,
    pub incident_id: &'a str,
    /// The public title.
    pub incident_name: &'a str,
    pub incident_url: &'a str,
    pub status: &'a str,
    pub update_id: &'a str,
    pub body: &'a str,
    pub created_at: DateTime<Utc>,
    /// (name, status) after the update.
    pub components: &'a [(String, String)],
}

pub fn subscriber_body(u: &PublicUpdate<'_>) -> String {
    json!({
        "meta": { "unsubscribe": u.unsubscribe_url, "generated_at": time(u.created_at) },
        "page": { "name": u.page_name, "url": u.page_url },
        "incident": {
            "id": u.incident_id,
            "name": u.incident_name,
            "status": u.status,
            "shortlink": u.incident_url,
            "updated_at": time(u.created_at),
            "incident_updates": [{
                "id": u.update_id,
                "status": u.status,
                "body": u.body,
                "created_at": time(u.created_at),
            }],
            "components": u.components.iter().map(|(name, status)| json!({ "name": name, "status": status })).collect::<Vec<_>>(),
        },
    })
    .to_string()
}

/// Slack's three control characters; everything else is shown as typed.
/// (Also stops a title like `<!channel>` from pinging a whole channel.)
pub fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn status_label(s: &str) -> String {
    IncidentStatus::parse(s).map(|s| s.label().to_owned()).unwrap_or_else(|_| s.to_owned())
}

/// The one line a Slack-compatible delivery shows, with the room's link.
pub fn slack_text(event: &str, i: &IncidentFacts, data: &Value) -> String {
    let head = format!("[SEV{}] {}", i.severity, slack_escape(i.shown_title()));
    let data = shown_data(Some(i), data);
    let field = |k: &str| match &data[k] {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    };
    let line = match EventKind::parse(event) {
        Ok(EventKind::IncidentDeclared) => format!("{head}: incident declared ({})", status_label(&i.status)),
        Ok(EventKind::StatusChanged) => {
            format!("{head}: status {} → {}", status_label(&field("from")), status_label(&field("to")))
        }
        Ok(EventKind::SeverityChanged) => format!("{head}: severity SEV{} → SEV{}", field("from"), field("to")),
        Ok(EventKind::UpdatePublished) => match field("subject") {
            s if s.is_empty() => format!("{head}: update published"),
            s => format!("{head}: update published: {}", slack_escape(&s)),
        },
        Ok(EventKind::Resolved) => format!("{head}: resolved"),
        Ok(EventKind::PostmortemPublished) => format!("{head}: post-mortem published"),
        Err(_) => format!("{head}: {}", slack_escape(event)),
    };
    // The post-mortem's own page when the event names one, else the room.
    let url = match (EventKind::parse(event), field("url")) {
        (Ok(EventKind::PostmortemPublished), u) if u.starts_with("http") => u,
        _ => i.url.clone(),
    };
    format!("{line} — {url}")
}

/// The body of a Slack-compatible delivery: `{"text": "..."}`.
pub fn slack_body(event: &str, incident: &IncidentFacts, data: &Value) -> String {
    json!({ "text": slack_text(event, incident, data) }).to_string()
}

/// The body of a test delivery in either format.
pub fn test_body(format: Format, delivery_id: &str, occurred_at: DateTime<Utc>, webhook_name: &str) -> String {
    let message = format!("Test event from Firebreak: the webhook “{webhook_name}” works.");
    match format {
        Format::Json => json_body(delivery_id, TEST_EVENT, occurred_at, None, &json!({ "message": message })),
        Format::Slack => json!({ "text": slack_escape(&message) }).to_string(),
    }
}

/// Lowercase hex of HMAC-SHA256(key, message).
pub fn hmac_sha256_hex(key: &[u8], message: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(message);
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// The `X-Firebreak-Signature` value: `sha256=` and the hex HMAC-SHA256 of
/// `"{timestamp}.{body}"` with the webhook's secret.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    format!("sha256={}", hmac_sha256_hex(secret.as_bytes(), format!("{timestamp}.{body}").as_bytes()))
}

/// What one attempt's answer means for the delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Delivered,
    /// Try again later (the receiver is busy, down or broken for now).
    Retry,
    /// The receiver refused this request; sending it again would not help.
    GiveUp,
}

/// The verdict on an HTTP status (timeouts and connection errors: `Retry`).
pub fn verdict(status: u16) -> Verdict {
    match status {
        200..=299 => Verdict::Delivered,
        408 | 425 | 429 | 500..=599 => Verdict::Retry,
        _ => Verdict::GiveUp,
    }
}

/// The wait after the `attempts`-th failed attempt: base, 2 × base, 4 × base, … up to an hour.
pub fn backoff(base: Duration, attempts: i32) -> Duration {
    let exponent = u32::try_from(attempts.saturating_sub(1)).unwrap_or(0).min(30);
    base.saturating_mul(2u32.saturating_pow(exponent)).min(MAX_BACKOFF)
}

/// When to try again after the `attempts`-th attempt failed with this verdict;
/// `None` gives up.
pub fn next_try(base: Duration, attempts: i32, verdict: Verdict) -> Option<Duration> {
    match verdict {
        Verdict::Retry if attempts < MAX_ATTEMPTS => Some(backoff(base, attempts)),
        _ => None,
    }
}

/// Checks a webhook URL: absolute http(s) with a host, no fragment.
pub fn parse_url(input: &str) -> Result<String, String> {
    let s = input.trim();
    if s.is_empty() {
        return Err("Enter the URL to send events to, e.g. https://hooks.example.com/firebreak.".into());
    }
    if s.len() > 2000 {
        return Err("Keep the URL under 2,000 characters.".into());
    }
    let url = url::Url::parse(s).map_err(|_| "Enter a full URL starting with https:// or http://.".to_owned())?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("Use an https:// (or http://) URL.".into());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("The URL needs a host name, e.g. https://hooks.example.com/firebreak.".into());
    }
    if url.fragment().is_some() {
        return Err("Remove the #… part: it is never sent to the server.".into());
    }
    Ok(s.to_owned())
}

/// Checks a secret typed by an admin; `None` when left empty (generate one).
pub fn parse_secret(input: &str) -> Result<Option<String>, String> {
    let s = input.trim();
    if s.is_empty() {
        return Ok(None);
    }
    if s.chars().count() < 16 {
        return Err("Use at least 16 characters, or leave it empty to have one generated.".into());
    }
    if s.chars().count() > 200 {
        return Err("Keep the secret under 200 characters.".into());
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("Leave spaces out of the secret.".into());
    }
    Ok(Some(s.to_owned()))
}

/// The chosen events in the order of the list, each once; at least one.
pub fn parse_events(inputs: &[String]) -> Result<Vec<EventKind>, String> {
    let mut chosen = Vec::new();
    for input in inputs {
        chosen.push(EventKind::parse(input)?);
    }
    let events: Vec<EventKind> = EventKind::ALL.iter().copied().filter(|e| chosen.contains(e)).collect();
    if events.is_empty() {
        return Err("Choose at least one event.".into());
    }
    Ok(events)
}

/// A new random secret: 32 bytes as hex.
pub fn generate_secret() -> String {
    format!("whsec_{}", super::tokens::hex(32))
}

/// A new delivery id: a random (version 4) UUID.
pub fn new_delivery_id() -> String {
    let mut b = [0u8; 16];
    rand::rng().fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, h, 0, 0).single().expect("time")
    }

    fn facts(visibility: &str) -> IncidentFacts {
        IncidentFacts {
            id: 12,
            public_id: "abc123".into(),
            title: "Checkout <errors> & timeouts".into(),
            summary: "Card payments fail.".into(),
            severity: 2,
            status: "identified".into(),
            kind: "outage".into(),
            visibility: visibility.into(),
            environment: "production".into(),
            url: "https://firebreak.example.com/incidents/12".into(),
            impact_started_at: at(8),
            detected_at: at(9),
            declared_at: at(10),
            resolved_at: None,
        }
    }

    #[test]
    fn hmac_matches_rfc_4231_test_case_2() {
        assert_eq!(
            hmac_sha256_hex(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn the_signature_covers_timestamp_and_body() {
        // printf '%s' '1700000000.{"event":"test"}' | openssl dgst -sha256 -hmac whsec-example
        assert_eq!(
            signature("whsec-example", 1_700_000_000, r#"{"event":"test"}"#),
            "sha256=c90bf2b5bbd47ae45154ff2e9cda19392cbdacffeb44eed411f4b4ef81c15c19"
        );
        assert_ne!(
            signature("whsec-example", 1_700_000_001, r#"{"event":"test"}"#),
            signature("whsec-example", 1_700_000_000, r#"{"event":"test"}"#)
        );
    }

    #[test]
    fn json_bodies_carry_the_incident_and_the_event_data() {
        let body = json_body(
            "d-1",
            "status_changed",
            at(11),
            Some(&facts("internal")),
            &json!({"from": "investigating", "to": "identified"}),
        );
        let v: Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(v["id"], "d-1");
        assert_eq!(v["event"], "status_changed");
        assert_eq!(v["occurred_at"], "2026-03-01T11:00:00Z");
        assert_eq!(v["incident"]["title"], "Checkout <errors> & timeouts");
        assert_eq!(v["incident"]["severity"], "SEV2");
        assert_eq!(v["incident"]["url"], "https://firebreak.example.com/incidents/12");
        assert_eq!(v["incident"]["declared_at"], "2026-03-01T10:00:00Z");
        assert_eq!(v["incident"]["resolved_at"], Value::Null);
        assert_eq!(v["data"]["to"], "identified");
    }

    #[test]
    fn restricted_incidents_withhold_their_text() {
        let data = json!({"update_id": "u1", "audience": "internal", "subject": "Keys leaked", "body": "Rotate"});
        let body = json_body("d-2", "update_published", at(11), Some(&facts("restricted")), &data);
        let v: Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(v["incident"]["title"], RESTRICTED_TITLE);
        assert_eq!(v["incident"]["summary"], "");
        assert_eq!(v["incident"]["restricted"], true);
        assert!(v["incident"].get("environment").is_none() && !body.contains("production"), "{body}");
        assert_eq!(v["data"], json!({"update_id": "u1", "audience": "internal"}));
        assert!(!body.contains("Checkout") && !body.contains("leaked") && !body.contains("Card payments"));
        let text = slack_text("update_published", &facts("restricted"), &data);
        assert_eq!(text, "[SEV2] Restricted incident: update published — https://firebreak.example.com/incidents/12");
    }

    #[test]
    fn slack_lines_are_readable_and_escaped() {
        let i = facts("public");
        assert_eq!(
            slack_text("incident_declared", &i, &Value::Null),
            "[SEV2] Checkout &lt;errors&gt; &amp; timeouts: incident declared (Identified) — https://firebreak.example.com/incidents/12"
        );
        assert!(
            slack_text("status_changed", &i, &json!({"from": "investigating", "to": "identified"}))
                .contains("status Investigating → Identified")
        );
        assert!(slack_text("severity_changed", &i, &json!({"from": 3, "to": 2})).contains("severity SEV3 → SEV2"));
        assert!(slack_text("update_published", &i, &json!({"subject": "Fixed"})).contains("update published: Fixed"));
        let published =
            json!({"postmortem_id": 3, "url": "https://firebreak.example.com/postmortems/3", "summary": "S"});
        assert_eq!(
            slack_text("postmortem_published", &facts("restricted"), &published),
            "[SEV2] Restricted incident: post-mortem published — https://firebreak.example.com/postmortems/3"
        );
        assert_eq!(
            shown_data(Some(&facts("restricted")), &published),
            json!({"postmortem_id": 3, "url": "https://firebreak.example.com/postmortems/3"})
        );
        let body: Value = serde_json::from_str(&slack_body("resolved", &i, &Value::Null)).expect("JSON");
        assert_eq!(body.as_object().map(|o| o.len()), Some(1), "only text");
        assert!(body["text"].as_str().is_some_and(|t| t.contains("resolved")));
    }

    #[test]
    fn answers_decide_between_delivered_retry_and_give_up() {
        assert_eq!(verdict(200), Verdict::Delivered);
        assert_eq!(verdict(204), Verdict::Delivered);
        assert_eq!(verdict(500), Verdict::Retry);
        assert_eq!(verdict(503), Verdict::Retry);
        assert_eq!(verdict(429), Verdict::Retry);
        assert_eq!(verdict(408), Verdict::Retry);
        assert_eq!(verdict(404), Verdict::GiveUp);
        assert_eq!(verdict(401), Verdict::GiveUp);
        assert_eq!(verdict(301), Verdict::GiveUp);
        let base = Duration::from_secs(30);
        assert_eq!(next_try(base, 1, Verdict::Retry), Some(Duration::from_secs(30)));
        assert_eq!(next_try(base, 3, Verdict::Retry), Some(Duration::from_secs(120)));
        assert_eq!(next_try(base, 9, Verdict::Retry), Some(Duration::from_secs(3600)));
        assert_eq!(next_try(base, MAX_ATTEMPTS, Verdict::Retry), None);
        assert_eq!(next_try(base, 1, Verdict::GiveUp), None);
    }

    #[test]
    fn urls_secrets_and_events_are_checked() {
        assert_eq!(parse_url(" https://hooks.example.com/x?a=1 "), Ok("https://hooks.example.com/x?a=1".into()));
        assert!(parse_url("http://127.0.0.1:9000/hook").is_ok());
        assert!(parse_url("").is_err());
        assert!(parse_url("ftp://example.com/").is_err());
        assert!(parse_url("hooks.example.com").is_err());
        assert!(parse_url("https://example.com/#frag").is_err());
        assert_eq!(parse_secret("  "), Ok(None));
        assert!(parse_secret("short").is_err());
        assert!(parse_secret("has a space in it somewhere").is_err());
        assert_eq!(parse_secret("0123456789abcdef"), Ok(Some("0123456789abcdef".into())));
        assert_eq!(
            parse_events(&["resolved".into(), "incident_declared".into(), "resolved".into()]),
            Ok(vec![EventKind::IncidentDeclared, EventKind::Resolved])
        );
        assert!(parse_events(&[]).is_err());
        assert!(parse_events(&["bogus".into()]).is_err());
        let s = generate_secret();
        assert_eq!(s.len(), 6 + 64);
        assert_ne!(s, generate_secret());
        let id = new_delivery_id();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
    }
}
