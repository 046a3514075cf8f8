//! Alert payloads (Alertmanager, Grafana, generic JSON) parsed into alerts, and the label mappings.
//!
//! Everything here is pure: the hook handler parses the body with [`parse`]
//! before anything is written, so a bad payload is refused with a message
//! that names the offending field (e.g. `alerts[0].labels: missing field`).
//!
//! Formats:
//! - Prometheus Alertmanager webhook, version "4": `status`, `groupKey`,
//!   `alerts[]` with `status`, `labels`, `annotations`, `startsAt`, `endsAt`,
//!   `generatorURL`, `fingerprint`. Firing alerts carry `endsAt`
//!   `0001-01-01T00:00:00Z`, read as "no end".
//! - Grafana alerting webhook, version "1": the same alert fields plus
//!   `title`, `message`, `orgId`, `state` and per-alert `values`,
//!   `silenceURL`, `dashboardURL`, `panelURL` (all optional here).
//! - Generic JSON: one object (or an array of them) with `title` (required),
//!   `status` (`firing` | `resolved`, default firing), `severity`,
//!   `component`, `fingerprint`, `url`, and optionally `summary` and
//!   `starts_at` (RFC 3339). A missing fingerprint is derived from the title
//!   and the component, so resending the same title for the same component
//!   is the same alert.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Datelike, Utc};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::incident::{Severity, text_enum};

text_enum!(
    /// What sends alerts to a source.
    SourceKind, "Choose Prometheus Alertmanager, Grafana alerting or generic JSON." {
        Alertmanager = "alertmanager" / "Prometheus Alertmanager",
        Grafana = "grafana" / "Grafana alerting",
        Generic = "generic" / "Generic JSON",
    }
);

text_enum!(
    AlertStatus, "Use firing or resolved." {
        Firing = "firing" / "Firing",
        Resolved = "resolved" / "Resolved",
    }
);

/// Longest incident title (as `incident::parse_title` allows).
pub const TITLE_MAX: usize = 200;

/// Largest payload accepted, in bytes.
pub const MAX_PAYLOAD_BYTES: usize = 1024 * 1024;

/// One alert of a payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub status: AlertStatus,
    /// `labels.alertname` (generic: the title).
    pub name: String,
    /// The `summary` annotation (generic: `summary`), possibly empty.
    pub summary: String,
    pub labels: BTreeMap<String, String>,
    /// `None` when the sender gave none (generic payloads): "now".
    pub starts_at: Option<DateTime<Utc>>,
    /// `None` for firing alerts (Alertmanager's `0001-01-01T00:00:00Z`).
    pub ends_at: Option<DateTime<Utc>>,
    pub generator_url: Option<String>,
    pub fingerprint: String,
    /// Alertmanager's and Grafana's `groupKey`: alerts of one group share an incident.
    pub group_key: Option<String>,
    /// Generic payloads name severity and component in fields, not labels.
    pub severity: Option<String>,
    pub component: Option<String>,
}

impl Alert {
    /// The value that selects the severity: the generic `severity` field, else the label.
    pub fn severity_value(&self, label: &str) -> Option<&str> {
        self.severity.as_deref().or_else(|| self.labels.get(label).map(String::as_str))
    }

    /// The value that selects components: the generic `component` field, else the label.
    pub fn component_value(&self, label: &str) -> Option<&str> {
        self.component.as_deref().or_else(|| self.labels.get(label).map(String::as_str))
    }
}

/// Why a payload was refused: a message naming the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadError(pub String);

impl std::fmt::Display for PayloadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PayloadError {}

fn err<T>(path: &str, message: impl std::fmt::Display) -> Result<T, PayloadError> {
    Err(PayloadError(if path.is_empty() { message.to_string() } else { format!("{path}: {message}") }))
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn object<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>, PayloadError> {
    v.as_object().map_or_else(|| err(path, format!("expected an object, got {}", type_name(v))), Ok)
}

fn required<'a>(m: &'a Map<String, Value>, path: &str, key: &str) -> Result<&'a Value, PayloadError> {
    match m.get(key) {
        Some(v) => Ok(v),
        None => err(&join(path, key), "missing field"),
    }
}

/// A string field; `None` when absent or null.
fn opt_string(m: &Map<String, Value>, path: &str, key: &str) -> Result<Option<String>, PayloadError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(v) => err(&join(path, key), format!("expected a string, got {}", type_name(v))),
    }
}

fn req_string(m: &Map<String, Value>, path: &str, key: &str) -> Result<String, PayloadError> {
    let v = required(m, path, key)?;
    v.as_str()
        .map_or_else(|| err(&join(path, key), format!("expected a string, got {}", type_name(v))), |s| Ok(s.to_owned()))
}

/// A map of string to string (labels, annotations).
fn string_map(v: &Value, path: &str) -> Result<BTreeMap<String, String>, PayloadError> {
    let m = object(v, path)?;
    let mut out = BTreeMap::new();
    for (k, v) in m {
        match v {
            Value::String(s) => {
                out.insert(k.clone(), s.clone());
            }
            other => return err(&join(path, k), format!("expected a string, got {}", type_name(other))),
        }
    }
    Ok(out)
}

/// An RFC 3339 time (nanoseconds and offsets allowed). Year 1 (Go's zero
/// time, `0001-01-01T00:00:00Z`) means "none".
pub fn parse_time(s: &str) -> Result<Option<DateTime<Utc>>, String> {
    let t = s.trim();
    if t.is_empty() {
        return Ok(None);
    }
    let at = DateTime::parse_from_rfc3339(t)
        .map_err(|_| format!("expected an RFC 3339 time like 2026-11-21T01:14:15Z, got {t:?}"))?
        .with_timezone(&Utc);
    Ok(if at.year() <= 1 { None } else { Some(at) })
}

fn opt_time(m: &Map<String, Value>, path: &str, key: &str) -> Result<Option<DateTime<Utc>>, PayloadError> {
    match opt_string(m, path, key)? {
        None => Ok(None),
        Some(s) => parse_time(&s).or_else(|e| err(&join(path, key), e)),
    }
}

fn status(
    m: &Map<String, Value>,
    path: &str,
    key: &str,
    default: Option<AlertStatus>,
) -> Result<AlertStatus, PayloadError> {
    let s = match (opt_string(m, path, key)?, default) {
        (Some(s), _) => s,
        (None, Some(d)) => return Ok(d),
        (None, None) => return err(&join(path, key), "missing field"),
    };
    AlertStatus::parse(&s.to_ascii_lowercase())
        .or_else(|_| err(&join(path, key), format!("expected \"firing\" or \"resolved\", got {s:?}")))
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// SHA-256 hex of the input.
pub fn sha256_hex(input: &[u8]) -> String {
    let digest = Sha256::digest(input);
    let mut out = String::with_capacity(64);
    for b in digest {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// A fingerprint for an alert that came without one: a hash of its labels
/// (what Alertmanager's own fingerprint is).
fn labels_fingerprint(labels: &BTreeMap<String, String>) -> String {
    let mut text = String::new();
    for (k, v) in labels {
        let _ = write!(text, "{k}\u{1f}{v}\u{1e}");
    }
    sha256_hex(text.as_bytes())[..16].to_owned()
}

/// The generic format's fingerprint when none is given: from title + component.
pub fn derived_fingerprint(title: &str, component: Option<&str>) -> String {
    let text = format!("{}\u{1f}{}", title.trim(), component.unwrap_or("").trim());
    sha256_hex(text.as_bytes())[..16].to_owned()
}

/// Longest fingerprint or group key stored as sent; longer ones are stored as their hash.
pub const KEY_MAX: usize = 500;

/// A fingerprint or group key short enough to index: as sent, or `sha256:` and its hash.
fn bounded_key(key: String) -> String {
    if key.len() <= KEY_MAX { key } else { format!("sha256:{}", sha256_hex(key.as_bytes())) }
}

/// Parses a payload of the given kind. The body must be JSON.
pub fn parse(kind: SourceKind, body: &[u8]) -> Result<Vec<Alert>, PayloadError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return err("", "the body is empty; send a JSON payload");
    }
    let value: Value =
        serde_json::from_slice(body).map_err(|e| PayloadError(format!("the body is not valid JSON: {e}")))?;
    match kind {
        SourceKind::Alertmanager => parse_grouped(&value, "4", "Alertmanager"),
        SourceKind::Grafana => parse_grouped(&value, "1", "Grafana"),
        SourceKind::Generic => parse_generic(&value),
    }
}

/// Alertmanager's and Grafana's shape: a group with `alerts[]`.
fn parse_grouped(value: &Value, version: &str, sender: &str) -> Result<Vec<Alert>, PayloadError> {
    let top = object(value, "")
        .map_err(|_| PayloadError(format!("the body must be a JSON object (the {sender} webhook payload)")))?;
    if let Some(v) = opt_string(top, "", "version")?
        && v != version
    {
        return err(
            "version",
            format!("expected \"{version}\" (the {sender} webhook payload), got {v:?}; is the source's kind right?"),
        );
    }
    let group_key = non_empty(opt_string(top, "", "groupKey")?).map(bounded_key);
    let alerts = required(top, "", "alerts")?;
    let Value::Array(items) = alerts else {
        return err("alerts", format!("expected an array, got {}", type_name(alerts)));
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let path = format!("alerts[{i}]");
        let a = object(item, &path)?;
        let status = status(a, &path, "status", None)?;
        let labels = string_map(required(a, &path, "labels")?, &join(&path, "labels"))?;
        let annotations = match a.get("annotations") {
            None | Some(Value::Null) => BTreeMap::new(),
            Some(v) => string_map(v, &join(&path, "annotations"))?,
        };
        let starts_at = match opt_time(a, &path, "startsAt")? {
            Some(t) => Some(t),
            None if a.get("startsAt").is_none() => return err(&join(&path, "startsAt"), "missing field"),
            None => None,
        };
        let ends_at = opt_time(a, &path, "endsAt")?;
        let generator_url = non_empty(opt_string(a, &path, "generatorURL")?);
        let fingerprint = non_empty(opt_string(a, &path, "fingerprint")?)
            .map(bounded_key)
            .unwrap_or_else(|| labels_fingerprint(&labels));
        let name = labels.get("alertname").map(|s| s.trim().to_owned()).unwrap_or_default();
        let summary = annotations.get("summary").map(|s| s.trim().to_owned()).unwrap_or_default();
        out.push(Alert {
            status,
            name,
            summary,
            labels,
            starts_at,
            ends_at,
            generator_url,
            fingerprint,
            group_key: group_key.clone(),
            severity: None,
            component: None,
        });
    }
    Ok(out)
}

fn parse_generic(value: &Value) -> Result<Vec<Alert>, PayloadError> {
    match value {
        Value::Array(items) => {
            items.iter().enumerate().map(|(i, item)| generic_alert(item, &format!("[{i}]"))).collect()
        }
        Value::Object(_) => Ok(vec![generic_alert(value, "")?]),
        other => err("", format!("the body must be a JSON object with a title, got {}", type_name(other))),
    }
}

/// A string, or a number written as one (severity 1).
fn string_or_number(m: &Map<String, Value>, path: &str, key: &str) -> Result<Option<String>, PayloadError> {
    match m.get(key) {
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        _ => opt_string(m, path, key),
    }
}

fn generic_alert(value: &Value, path: &str) -> Result<Alert, PayloadError> {
    let m = object(value, path)?;
    let title = req_string(m, path, "title")?.trim().to_owned();
    if title.is_empty() {
        return err(&join(path, "title"), "must not be empty");
    }
    let status = status(m, path, "status", Some(AlertStatus::Firing))?;
    let severity = non_empty(string_or_number(m, path, "severity")?);
    let component = non_empty(opt_string(m, path, "component")?);
    let fingerprint = non_empty(string_or_number(m, path, "fingerprint")?)
        .map(bounded_key)
        .unwrap_or_else(|| derived_fingerprint(&title, component.as_deref()));
    let summary = non_empty(opt_string(m, path, "summary")?).unwrap_or_default();
    let generator_url = non_empty(opt_string(m, path, "url")?);
    let starts_at = opt_time(m, path, "starts_at")?;
    let mut labels = BTreeMap::new();
    labels.insert("alertname".to_owned(), title.clone());
    if let Some(s) = &severity {
        labels.insert("severity".to_owned(), s.clone());
    }
    if let Some(c) = &component {
        labels.insert("component".to_owned(), c.clone());
    }
    Ok(Alert {
        status,
        name: title,
        summary,
        labels,
        starts_at,
        ends_at: None,
        generator_url,
        fingerprint,
        group_key: None,
        severity,
        component,
    })
}

/// One "label value = target" line of a mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingLine<T> {
    /// Its line number in the text (1-based).
    pub line: usize,
    pub value: String,
    pub target: T,
}

fn mapping_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())).filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
}

fn split_line(line: &str) -> Option<(&str, &str)> {
    let (value, target) = line.split_once('=')?;
    let (value, target) = (value.trim(), target.trim());
    (!value.is_empty() && !target.is_empty()).then_some((value, target))
}

/// "critical = 1" lines (`1` or `SEV1`); blank lines and `#` comments are skipped.
pub fn parse_severity_mapping(text: &str) -> Result<Vec<MappingLine<Severity>>, String> {
    let mut out = Vec::new();
    for (n, line) in mapping_lines(text) {
        let Some((value, target)) = split_line(line) else {
            return Err(format!("Line {n}: write “label value = severity”, e.g. “critical = 1” or “warning = SEV3”."));
        };
        let severity = Severity::parse(target)
            .map_err(|_| format!("Line {n}: “{target}” is not a severity; use 1 to 4 or SEV1 to SEV4."))?;
        out.push(MappingLine { line: n, value: value.to_owned(), target: severity });
    }
    Ok(out)
}

/// "label value = Component name" lines; the names are checked against the
/// components by the caller.
pub fn parse_component_mapping(text: &str) -> Result<Vec<MappingLine<String>>, String> {
    let mut out = Vec::new();
    for (n, line) in mapping_lines(text) {
        let Some((value, target)) = split_line(line) else {
            return Err(format!("Line {n}: write “label value = Component name”, e.g. “checkout = Checkout”."));
        };
        out.push(MappingLine { line: n, value: value.to_owned(), target: target.to_owned() });
    }
    Ok(out)
}

/// The severity for a label value: the mapping's line for it (ignoring case),
/// else the value itself when it reads as a severity (`SEV2`, `2`), else the
/// source's default.
pub fn severity_for(mapping: &[MappingLine<Severity>], value: Option<&str>, default: Severity) -> Severity {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return default;
    };
    mapping
        .iter()
        .find(|l| l.value.eq_ignore_ascii_case(value))
        .map(|l| l.target)
        .or_else(|| Severity::parse(value).ok())
        .unwrap_or(default)
}

/// The component names for a label value: every mapping line for it
/// (ignoring case), else the value itself (a component of that name, when one exists).
pub fn components_for(mapping: &[MappingLine<String>], value: Option<&str>) -> Vec<String> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Vec::new();
    };
    let mapped: Vec<String> =
        mapping.iter().filter(|l| l.value.eq_ignore_ascii_case(value)).map(|l| l.target.clone()).collect();
    if mapped.is_empty() { vec![value.to_owned()] } else { mapped }
}

/// One line of text: control characters become spaces, runs of spaces one.
fn one_line(s: &str) -> String {
    s.split(|c: char| c.is_control() || c.is_whitespace()).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ")
}

/// At most `max` characters, with an ellipsis when cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The incident title for an alert: "Name: summary", one line, at most
/// [`TITLE_MAX`] characters.
pub fn incident_title(name: &str, summary: &str) -> String {
    let (name, summary) = (one_line(name), one_line(summary));
    let title = match (name.is_empty(), summary.is_empty()) {
        (false, false) => format!("{name}: {summary}"),
        (false, true) => name,
        (true, false) => summary,
        (true, true) => "Alert".to_owned(),
    };
    truncate(&title, TITLE_MAX)
}

/// The labels as one short line ("service=checkout, severity=critical"),
/// without the alert name.
pub fn labels_summary(labels: &BTreeMap<String, String>, max: usize) -> String {
    let text = labels
        .iter()
        .filter(|(k, _)| k.as_str() != "alertname")
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ");
    truncate(&one_line(&text), max)
}

/// Whether a link may be rendered as a link: only http(s).
pub fn is_web_link(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
}

/// A new token: 32 random bytes, URL-safe base64 (43 characters).
pub fn new_token() -> String {
    super::tokens::url_safe(32)
}

/// What is stored for a token: its SHA-256, hex.
pub fn token_hash(token: &str) -> String {
    sha256_hex(token.as_bytes())
}

/// Whether a presented token matches the stored hash (compared in constant time).
pub fn token_matches(presented: &str, stored_hash: &str) -> bool {
    let a = token_hash(presented);
    let (a, b) = (a.as_bytes(), stored_hash.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Exactly as Prometheus Alertmanager 0.25 sent it.
    const AM_FIRING: &str = r#"{"receiver":"ir-app","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"HighErrorRate","service":"checkout","severity":"critical"},"annotations":{"runbook_url":"https://runbooks.example.test/5xx","summary":"5xx ratio above 5%"},"startsAt":"2026-11-21T01:14:15.725947033Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus.example.test/graph","fingerprint":"7d2d332feada5c59"}],"groupLabels":{"alertname":"HighErrorRate","service":"checkout"},"commonLabels":{"alertname":"HighErrorRate","service":"checkout","severity":"critical"},"commonAnnotations":{"runbook_url":"https://runbooks.example.test/5xx","summary":"5xx ratio above 5%"},"externalURL":"http://127.0.0.1:19093","version":"4","groupKey":"{}:{alertname=\"HighErrorRate\", service=\"checkout\"}","truncatedAlerts":0}"#;

    const AM_RESOLVED: &str = r#"{"receiver":"ir-app","status":"resolved","alerts":[{"status":"resolved","labels":{"alertname":"HighErrorRate","service":"checkout","severity":"critical"},"annotations":{"runbook_url":"https://runbooks.example.test/5xx","summary":"5xx ratio above 5%"},"startsAt":"2026-11-21T01:14:15.725947033Z","endsAt":"2026-11-21T01:14:22Z","generatorURL":"http://prometheus.example.test/graph","fingerprint":"7d2d332feada5c59"}],"groupLabels":{"alertname":"HighErrorRate","service":"checkout"},"commonLabels":{"alertname":"HighErrorRate","service":"checkout","severity":"critical"},"commonAnnotations":{"runbook_url":"https://runbooks.example.test/5xx","summary":"5xx ratio above 5%"},"externalURL":"http://127.0.0.1:19093","version":"4","groupKey":"{}:{alertname=\"HighErrorRate\", service=\"checkout\"}","truncatedAlerts":0}"#;

    /// Grafana's documented webhook example.
    const GRAFANA: &str = r#"{
  "receiver": "My Super Webhook", "status": "firing", "orgId": 1,
  "alerts": [
    {"status": "firing",
     "labels": {"alertname": "High memory usage", "team": "blue", "zone": "us-1"},
     "annotations": {"description": "The system has high memory usage", "runbook_url": "https://myrunbook.com/runbook/1234", "summary": "This alert was triggered for zone us-1"},
     "startsAt": "2021-10-12T09:51:03.157076+02:00", "endsAt": "0001-01-01T00:00:00Z",
     "generatorURL": "https://play.grafana.org/alerting/1afz29v7z/edit", "fingerprint": "c6eadffa33fcdf37",
     "silenceURL": "https://play.grafana.org/alerting/silence/new?alertmanager=grafana&matchers=alertname%3DT2%2Cteam%3Dblue%2Czone%3Dus-1",
     "dashboardURL": "", "panelURL": "", "values": {"B": 44.23943737541908, "C": 1}},
    {"status": "firing",
     "labels": {"alertname": "High CPU usage", "team": "blue", "zone": "eu-1"},
     "annotations": {"description": "The system has high CPU usage", "runbook_url": "https://myrunbook.com/runbook/1234", "summary": "This alert was triggered for zone eu-1"},
     "startsAt": "2021-10-12T09:56:03.157076+02:00", "endsAt": "0001-01-01T00:00:00Z",
     "generatorURL": "https://play.grafana.org/alerting/d1rdpdv7k/edit", "fingerprint": "bc97ff14869b13e3",
     "silenceURL": "https://play.grafana.org/alerting/silence/new?alertmanager=grafana&matchers=alertname%3DT1%2Cteam%3Dblue%2Czone%3Deu-1",
     "dashboardURL": "", "panelURL": "", "values": {"B": 44.23943737541908, "C": 1}}
  ],
  "groupLabels": {}, "commonLabels": {"team": "blue"}, "commonAnnotations": {},
  "externalURL": "https://play.grafana.org/", "version": "1", "groupKey": "{}:{}", "truncatedAlerts": 0,
  "title": "[FIRING:2]  (blue)", "state": "alerting",
  "message": "**Firing**\n\nLabels:\n - alertname = T2\n"
}"#;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("time").with_timezone(&Utc)
    }

    #[test]
    fn alertmanager_firing_payload() {
        let alerts = parse(SourceKind::Alertmanager, AM_FIRING.as_bytes()).expect("parses");
        assert_eq!(alerts.len(), 1);
        let a = &alerts[0];
        assert_eq!(a.status, AlertStatus::Firing);
        assert_eq!(a.name, "HighErrorRate");
        assert_eq!(a.summary, "5xx ratio above 5%");
        assert_eq!(a.fingerprint, "7d2d332feada5c59");
        assert_eq!(a.group_key.as_deref(), Some("{}:{alertname=\"HighErrorRate\", service=\"checkout\"}"));
        // Nanoseconds kept; Go's zero time read as "no end".
        assert_eq!(a.starts_at, Some(at("2026-11-21T01:14:15.725947033Z")));
        assert_eq!(a.starts_at.map(|t| t.timestamp_subsec_nanos()), Some(725_947_033));
        assert_eq!(a.ends_at, None);
        assert_eq!(a.generator_url.as_deref(), Some("http://prometheus.example.test/graph"));
        assert_eq!(a.severity_value("severity"), Some("critical"));
        assert_eq!(a.component_value("service"), Some("checkout"));
        assert_eq!(a.component_value("team"), None);
    }

    #[test]
    fn alertmanager_resolved_payload() {
        let alerts = parse(SourceKind::Alertmanager, AM_RESOLVED.as_bytes()).expect("parses");
        assert_eq!(alerts[0].status, AlertStatus::Resolved);
        assert_eq!(alerts[0].ends_at, Some(at("2026-11-21T01:14:22Z")));
    }

    #[test]
    fn grafana_payload() {
        let alerts = parse(SourceKind::Grafana, GRAFANA.as_bytes()).expect("parses");
        assert_eq!(alerts.len(), 2);
        assert_eq!(alerts[0].name, "High memory usage");
        assert_eq!(alerts[1].fingerprint, "bc97ff14869b13e3");
        assert_eq!(alerts[0].starts_at, Some(at("2021-10-12T07:51:03.157076Z")));
        assert_eq!(alerts[0].ends_at, None);
        assert_eq!(alerts[0].group_key.as_deref(), Some("{}:{}"));
        assert_eq!(alerts[1].summary, "This alert was triggered for zone eu-1");
    }

    #[test]
    fn the_wrong_kind_is_named() {
        let e = parse(SourceKind::Alertmanager, GRAFANA.as_bytes()).expect_err("version 1 is Grafana");
        assert!(e.0.starts_with("version: expected \"4\""), "{e}");
        let e = parse(SourceKind::Grafana, AM_FIRING.as_bytes()).expect_err("version 4 is Alertmanager");
        assert!(e.0.starts_with("version: expected \"1\""), "{e}");
    }

    #[test]
    fn bad_payloads_say_what_is_wrong() {
        let cases = [
            ("", "the body is empty; send a JSON payload"),
            ("{", "the body is not valid JSON"),
            ("[]", "the body must be a JSON object"),
            (r#"{"version":"4"}"#, "alerts: missing field"),
            (r#"{"alerts":{}}"#, "alerts: expected an array, got an object"),
            (
                r#"{"alerts":[{"status":"firing","startsAt":"2026-01-01T00:00:00Z"}]}"#,
                "alerts[0].labels: missing field",
            ),
            (r#"{"alerts":[{"labels":{},"startsAt":"2026-01-01T00:00:00Z"}]}"#, "alerts[0].status: missing field"),
            (
                r#"{"alerts":[{"status":"boom","labels":{},"startsAt":"2026-01-01T00:00:00Z"}]}"#,
                "alerts[0].status: expected \"firing\" or \"resolved\", got \"boom\"",
            ),
            (
                r#"{"alerts":[{"status":"firing","labels":{"a":1},"startsAt":"x"}]}"#,
                "alerts[0].labels.a: expected a string, got a number",
            ),
            (r#"{"alerts":[{"status":"firing","labels":{}}]}"#, "alerts[0].startsAt: missing field"),
            (
                r#"{"alerts":[{"status":"firing","labels":{},"startsAt":"yesterday"}]}"#,
                "alerts[0].startsAt: expected an RFC 3339 time",
            ),
            (
                r#"{"alerts":[{"status":"firing","labels":{},"startsAt":"2026-01-01T00:00:00Z","annotations":[]}]}"#,
                "alerts[0].annotations: expected an object, got an array",
            ),
        ];
        for (body, expected) in cases {
            let e = parse(SourceKind::Alertmanager, body.as_bytes()).expect_err(body);
            assert!(e.0.starts_with(expected), "{body}: got {e:?}, expected {expected:?}");
        }
    }

    #[test]
    fn a_missing_fingerprint_is_the_labels_hash() {
        let body = r#"{"alerts":[{"status":"firing","labels":{"alertname":"A","x":"1"},"startsAt":"2026-01-01T00:00:00Z"},
                                  {"status":"firing","labels":{"x":"1","alertname":"A"},"startsAt":"2026-01-01T00:01:00Z"}]}"#;
        let alerts = parse(SourceKind::Alertmanager, body.as_bytes()).expect("parses");
        assert_eq!(alerts[0].fingerprint.len(), 16);
        assert_eq!(alerts[0].fingerprint, alerts[1].fingerprint);
        assert_eq!(alerts[0].group_key, None);
    }

    #[test]
    fn long_keys_are_hashed() {
        let body = format!(r#"{{"title":"A","fingerprint":"{}"}}"#, "f".repeat(5000));
        let a = &parse(SourceKind::Generic, body.as_bytes()).expect("parses")[0];
        assert!(a.fingerprint.starts_with("sha256:") && a.fingerprint.len() == 71, "{}", a.fingerprint);
    }

    #[test]
    fn generic_payloads() {
        let body = r#"{"title":"Disk full on db-1","severity":"SEV2","component":"Database","status":"firing","url":"https://grafana.example.test/d/1","fingerprint":"disk-db-1"}"#;
        let a = &parse(SourceKind::Generic, body.as_bytes()).expect("parses")[0];
        assert_eq!(a.name, "Disk full on db-1");
        assert_eq!(a.fingerprint, "disk-db-1");
        assert_eq!(a.severity_value("whatever"), Some("SEV2"));
        assert_eq!(a.component_value("service"), Some("Database"));
        assert_eq!(a.generator_url.as_deref(), Some("https://grafana.example.test/d/1"));
        assert_eq!(a.status, AlertStatus::Firing);
        assert_eq!(a.starts_at, None);

        // No fingerprint: derived from title + component, stable across posts.
        let one = &parse(SourceKind::Generic, br#"{"title":"Queue backlog","component":"Jobs","severity":2}"#)
            .expect("ok")[0];
        let two = &parse(SourceKind::Generic, br#"{"title":" Queue backlog ","component":"Jobs","status":"resolved"}"#)
            .expect("ok")[0];
        assert_eq!(one.fingerprint, two.fingerprint);
        assert_eq!(one.severity.as_deref(), Some("2"));
        assert_eq!(two.status, AlertStatus::Resolved);
        let other = &parse(SourceKind::Generic, br#"{"title":"Queue backlog","component":"Mail"}"#).expect("ok")[0];
        assert_ne!(one.fingerprint, other.fingerprint);

        let many =
            parse(SourceKind::Generic, br#"[{"title":"A"},{"title":"B","starts_at":"2026-01-01T10:00:00+01:00"}]"#)
                .expect("ok");
        assert_eq!(many.len(), 2);
        assert_eq!(many[1].starts_at, Some(at("2026-01-01T09:00:00Z")));

        for (body, expected) in [
            (r#"{"severity":"1"}"#, "title: missing field"),
            (r#"{"title":"  "}"#, "title: must not be empty"),
            (r#"{"title":5}"#, "title: expected a string, got a number"),
            (r#"{"title":"A","status":"open"}"#, "status: expected \"firing\" or \"resolved\""),
            (r#"[{"title":"A"},{}]"#, "[1].title: missing field"),
            ("42", "the body must be a JSON object with a title"),
        ] {
            let e = parse(SourceKind::Generic, body.as_bytes()).expect_err(body);
            assert!(e.0.starts_with(expected), "{body}: {e:?}");
        }
    }

    #[test]
    fn severity_mapping() {
        let m = parse_severity_mapping("# ours\ncritical = 1\n\nwarning = SEV3\n page=sev2 ").expect("parses");
        assert_eq!(m.len(), 3);
        let default = Severity::ALL[3];
        assert_eq!(severity_for(&m, Some("critical"), default), Severity::ALL[0]);
        assert_eq!(severity_for(&m, Some("Warning"), default), Severity::ALL[2]);
        assert_eq!(severity_for(&m, Some("page"), default), Severity::ALL[1]);
        assert_eq!(severity_for(&m, Some("info"), default), default);
        assert_eq!(severity_for(&m, None, default), default);
        // A value that already is a severity.
        assert_eq!(severity_for(&m, Some("SEV2"), default), Severity::ALL[1]);
        assert_eq!(severity_for(&[], Some("1"), default), Severity::ALL[0]);

        assert!(parse_severity_mapping("critical").expect_err("no =").starts_with("Line 1:"));
        assert!(
            parse_severity_mapping("a = 1\ncritical = 5").expect_err("5").starts_with("Line 2: “5” is not a severity")
        );
        assert!(parse_severity_mapping(" = 1").is_err());
    }

    #[test]
    fn component_mapping() {
        let m = parse_component_mapping("checkout = Checkout\ncheckout = Payments API\napi=Public API").expect("ok");
        assert_eq!(components_for(&m, Some("checkout")), vec!["Checkout".to_owned(), "Payments API".to_owned()]);
        assert_eq!(components_for(&m, Some("API")), vec!["Public API".to_owned()]);
        assert_eq!(components_for(&m, Some("Search")), vec!["Search".to_owned()]);
        assert!(components_for(&m, None).is_empty());
        assert!(parse_component_mapping("checkout =").expect_err("no name").starts_with("Line 1:"));
    }

    #[test]
    fn titles() {
        assert_eq!(incident_title("HighErrorRate", "5xx ratio above 5%"), "HighErrorRate: 5xx ratio above 5%");
        assert_eq!(incident_title("HighErrorRate", ""), "HighErrorRate");
        assert_eq!(incident_title("", ""), "Alert");
        assert_eq!(incident_title("A\nB", "line one\r\n\tline two"), "A B: line one line two");
        let long = incident_title("Name", &"x".repeat(500));
        assert_eq!(long.chars().count(), TITLE_MAX);
        assert!(long.ends_with('…'));
        assert!(super::super::incident::parse_title(&long).is_ok());
    }

    #[test]
    fn labels_and_links() {
        let labels: BTreeMap<String, String> = [("alertname", "A"), ("service", "checkout"), ("severity", "critical")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        assert_eq!(labels_summary(&labels, 100), "service=checkout, severity=critical");
        assert_eq!(labels_summary(&labels, 10).chars().count(), 10);
        assert!(is_web_link("http://prometheus.example.test/graph?g0.expr=up"));
        assert!(is_web_link("https://grafana.example.test/"));
        assert!(!is_web_link("javascript:alert(1)"));
        assert!(!is_web_link("data:text/html,hi"));
        assert!(!is_web_link("/relative"));
    }

    #[test]
    fn tokens() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        let hash = token_hash(&a);
        assert_eq!(hash.len(), 64);
        assert!(token_matches(&a, &hash));
        assert!(!token_matches(&b, &hash));
        assert!(!token_matches("", &hash));
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}

/// An alert's labels as one line for a page ("alertname=HighErrorRate,
/// service=checkout"), sorted by name, values cut at 80 characters and the
/// line at 300: enough to tell alerts apart on a phone's lock screen.
pub fn labels_line(labels: &serde_json::Value) -> String {
    let Some(map) = labels.as_object() else { return String::new() };
    let mut pairs: Vec<(&String, String)> = map
        .iter()
        .map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), str::to_owned).chars().take(80).collect()))
        .collect();
    pairs.sort();
    let line = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ");
    if line.chars().count() > 300 { format!("{}…", line.chars().take(299).collect::<String>()) } else { line }
}

#[cfg(test)]
mod labels_line_tests {
    use super::labels_line;

    #[test]
    fn labels_read_as_sorted_pairs_and_stay_short() {
        let labels = serde_json::json!({"service": "checkout", "alertname": "HighErrorRate", "severity": "critical"});
        assert_eq!(labels_line(&labels), "alertname=HighErrorRate, service=checkout, severity=critical");
        assert_eq!(labels_line(&serde_json::json!({})), "");
        assert_eq!(labels_line(&serde_json::json!("not an object")), "");
        let long =
            serde_json::json!({"a": "x".repeat(500), "b": "y".repeat(500), "c": "z".repeat(500), "d": "w".repeat(500)});
        let line = labels_line(&long);
        assert_eq!(line.chars().count(), 300);
        assert!(line.starts_with(&format!("a={}, b=", "x".repeat(80))) && line.ends_with('…'));
    }
}
