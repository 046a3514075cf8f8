//! Alerts in: a payload from an alert source opens or annotates incidents.
//!
//! One transaction per payload: the raw body is kept (30 days) with what was
//! done with it, and every firing alert either joins the open incident that
//! already carries its fingerprint or group key, or opens a new incident.
//! Payloads for the same fingerprint or group key are serialised with
//! transaction-scoped advisory locks, so concurrent deliveries (several app
//! instances, Alertmanager retries, a flapping alert) open one incident.
//! A resolved alert is recorded on the timeline; it never resolves the incident.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};

use super::components::{is_unique_violation, one_line, require_admin};
use super::incidents::{Opening, notify, open, record};
use super::{Actor, FieldErrors, ServiceError, audit};
use crate::config::Settings;
use crate::db::alerts::{self as db, AlertChanges, AlertSource, NewAlert, SourceFields};
use crate::db::ids::{AlertPayloadId, AlertSourceId};
use crate::db::{ComponentId, DbPool, IncidentId, components};
use crate::domain::alerts::{
    Alert, AlertStatus, MappingLine, SourceKind, components_for, incident_title, labels_summary,
    parse_component_mapping, parse_severity_mapping, severity_for, token_hash, truncate,
};
use crate::domain::incident::{DetectionSource, EntryKind, IncidentKind, Severity, Visibility};

/// How long raw payloads are kept.
pub const PAYLOAD_RETENTION_DAYS: i64 = 30;

/// How often old payloads are deleted.
pub const RETENTION_INTERVAL: std::time::Duration = std::time::Duration::from_secs(3600);

/// The raw values of the source form.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(default)]
pub struct SourceInput {
    pub name: String,
    pub kind: String,
    pub severity_label: String,
    pub severity_mapping: String,
    pub default_severity: String,
    pub component_label: String,
    pub component_mapping: String,
}

impl SourceInput {
    /// The form filled in from a saved source.
    pub fn from_source(s: &AlertSource) -> Self {
        SourceInput {
            name: s.name.clone(),
            kind: s.kind.clone(),
            severity_label: s.severity_label.clone(),
            severity_mapping: s.severity_mapping.clone(),
            default_severity: s.default_severity.to_string(),
            component_label: s.component_label.clone(),
            component_mapping: s.component_mapping.clone(),
        }
    }
}

struct Checked {
    name: String,
    kind: SourceKind,
    severity_label: String,
    severity_mapping: String,
    default_severity: Severity,
    component_label: String,
    component_mapping: String,
}

impl Checked {
    fn fields(&self) -> SourceFields<'_> {
        SourceFields {
            name: &self.name,
            kind: self.kind.as_str(),
            severity_label: &self.severity_label,
            severity_mapping: &self.severity_mapping,
            default_severity: self.default_severity.level(),
            component_label: &self.component_label,
            component_mapping: &self.component_mapping,
        }
    }
}

/// A label name as Prometheus allows them: `[a-zA-Z_][a-zA-Z0-9_]*`.
fn label_name(input: &str, default: &str) -> Result<String, String> {
    let t = input.trim();
    if t.is_empty() {
        return Ok(default.to_owned());
    }
    let mut chars = t.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && t.len() <= 100;
    if ok { Ok(t.to_owned()) } else { Err("Use a label name: letters, digits and _, e.g. \"severity\".".into()) }
}

/// The mapping text as stored: trimmed lines, Unix line ends.
fn mapping_text(input: &str) -> String {
    input.lines().map(str::trim).collect::<Vec<_>>().join("\n").trim().to_owned()
}

async fn check(conn: &mut AsyncPgConnection, input: &SourceInput) -> Result<Checked, ServiceError> {
    let mut errors = FieldErrors::new();
    let name = errors.check("name", one_line(&input.name, "name", 80)).unwrap_or_default();
    if name.is_empty() && errors.get("name").is_none() {
        errors.add("name", "Name the source, e.g. \"Production Alertmanager\".");
    }
    let kind = errors.check("kind", SourceKind::parse(&input.kind));
    let severity_label = errors.check("severity_label", label_name(&input.severity_label, "severity"));
    let component_label = errors.check("component_label", label_name(&input.component_label, "service"));
    let default_severity = errors.check(
        "default_severity",
        if input.default_severity.trim().is_empty() {
            Ok(Severity::ALL[2])
        } else {
            Severity::parse(&input.default_severity)
        },
    );
    let severity_mapping = mapping_text(&input.severity_mapping);
    let component_mapping = mapping_text(&input.component_mapping);
    for (field, text) in [("severity_mapping", &severity_mapping), ("component_mapping", &component_mapping)] {
        if text.chars().count() > 10_000 {
            errors.add(field, "Keep the mapping under 10,000 characters.");
        }
    }
    errors.check("severity_mapping", parse_severity_mapping(&severity_mapping));
    if let Some(lines) = errors.check("component_mapping", parse_component_mapping(&component_mapping)) {
        let known = component_ids_by_name(conn).await?;
        if let Some(l) = lines.iter().find(|l| !known.contains_key(&l.target.to_lowercase())) {
            errors.add(
                "component_mapping",
                format!(
                    "Line {}: there is no component “{}”; add it under Components first, or fix the name.",
                    l.line, l.target
                ),
            );
        }
    }
    match (kind, severity_label, component_label, default_severity) {
        (Some(kind), Some(severity_label), Some(component_label), Some(default_severity)) if errors.is_empty() => {
            Ok(Checked {
                name,
                kind,
                severity_label,
                severity_mapping,
                default_severity,
                component_label,
                component_mapping,
            })
        }
        _ => Err(ServiceError::Invalid(errors)),
    }
}

fn duplicate_name() -> ServiceError {
    ServiceError::Invalid(FieldErrors::single("name", "An alert source with this name exists already."))
}

/// Component ids by lower-case name.
async fn component_ids_by_name(conn: &mut AsyncPgConnection) -> diesel::QueryResult<HashMap<String, ComponentId>> {
    Ok(components::list(conn).await?.into_iter().map(|c| (c.name.to_lowercase(), c.id)).collect())
}

/// Creates a source; returns it with its token (shown once, only its hash is kept).
pub async fn create(pool: &DbPool, actor: &Actor, input: &SourceInput) -> Result<(AlertSource, String), ServiceError> {
    require_admin(actor)?;
    let mut conn = pool.get().await?;
    let c = check(&mut conn, input).await?;
    if db::find_by_name(&mut conn, &c.name).await?.is_some() {
        return Err(duplicate_name());
    }
    let token = crate::domain::alerts::new_token();
    let hash = token_hash(&token);
    let source = conn
        .transaction(async |conn| {
            let source = match db::insert_source(conn, &c.fields(), &hash, actor.id).await {
                Err(e) if is_unique_violation(&e) => return Err(duplicate_name()),
                other => other?,
            };
            audit(conn, actor, "alert_source.add", &source.name, c.kind.label()).await?;
            Ok::<_, ServiceError>(source)
        })
        .await?;
    Ok((source, token))
}

/// Saves a source's name, kind and mappings.
pub async fn update(
    pool: &DbPool,
    actor: &Actor,
    id: AlertSourceId,
    input: &SourceInput,
) -> Result<AlertSource, ServiceError> {
    require_admin(actor)?;
    let mut conn = pool.get().await?;
    let c = check(&mut conn, input).await?;
    if db::find_by_name(&mut conn, &c.name).await?.is_some_and(|s| s.id != id) {
        return Err(duplicate_name());
    }
    conn.transaction(async |conn| {
        let before = db::find_source_for_update(conn, id).await?.ok_or(ServiceError::NotFound)?;
        let source = match db::update_source(conn, id, &c.fields()).await {
            Err(e) if is_unique_violation(&e) => return Err(duplicate_name()),
            other => other?,
        };
        let mut changed = Vec::new();
        if before.name != source.name {
            changed.push(format!("name: {} → {}", before.name, source.name));
        }
        if before.kind != source.kind {
            changed.push(format!("kind: {} → {}", before.kind, source.kind));
        }
        if before.severity_label != source.severity_label
            || before.severity_mapping != source.severity_mapping
            || before.default_severity != source.default_severity
        {
            changed.push("severity mapping changed".to_owned());
        }
        if before.component_label != source.component_label || before.component_mapping != source.component_mapping {
            changed.push("component mapping changed".to_owned());
        }
        if changed.is_empty() {
            changed.push("no changes".to_owned());
        }
        audit(conn, actor, "alert_source.edit", &source.name, &changed.join("; ")).await?;
        Ok(source)
    })
    .await
}

/// Turns a source off (its hook refuses payloads) or on again.
pub async fn set_enabled(
    pool: &DbPool,
    actor: &Actor,
    id: AlertSourceId,
    enabled: bool,
) -> Result<AlertSource, ServiceError> {
    require_admin(actor)?;
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        let source = db::find_source_for_update(conn, id).await?.ok_or(ServiceError::NotFound)?;
        db::set_enabled(conn, id, enabled).await?;
        let action = if enabled { "alert_source.enable" } else { "alert_source.disable" };
        audit(conn, actor, action, &source.name, "").await?;
        Ok(AlertSource { enabled, ..source })
    })
    .await
}

/// Replaces a source's token; the old one stops working at once. Returns the new token.
pub async fn regenerate_token(
    pool: &DbPool,
    actor: &Actor,
    id: AlertSourceId,
) -> Result<(AlertSource, String), ServiceError> {
    require_admin(actor)?;
    let token = crate::domain::alerts::new_token();
    let hash = token_hash(&token);
    let mut conn = pool.get().await?;
    let source = conn
        .transaction(async |conn| {
            let source = db::find_source_for_update(conn, id).await?.ok_or(ServiceError::NotFound)?;
            db::set_token_hash(conn, id, &hash).await?;
            audit(conn, actor, "alert_source.token", &source.name, "new token; the old one no longer works").await?;
            Ok::<_, ServiceError>(source)
        })
        .await?;
    Ok((source, token))
}

/// Deletes a source, its kept payloads and its alert rows; incidents it opened stay.
pub async fn delete(pool: &DbPool, actor: &Actor, id: AlertSourceId) -> Result<AlertSource, ServiceError> {
    require_admin(actor)?;
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        let source = db::find_source_for_update(conn, id).await?.ok_or(ServiceError::NotFound)?;
        db::delete_source(conn, id).await?;
        audit(conn, actor, "alert_source.delete", &source.name, source.kind().label()).await?;
        Ok(source)
    })
    .await
}

/// What one payload did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IngestReport {
    /// Alerts in the payload (all of them were looked at).
    pub accepted: usize,
    /// Every incident an alert of the payload is attached to, in order, once each.
    pub incidents: Vec<IncidentId>,
    /// The incidents this payload opened.
    pub opened: Vec<IncidentId>,
    /// Resolved alerts for which no open incident carries the alert.
    pub ignored: usize,
    pub payload_id: AlertPayloadId,
    pub outcome: String,
}

/// The source's mappings, read once per payload.
struct Rules {
    severity: Vec<MappingLine<Severity>>,
    components: Vec<MappingLine<String>>,
    default_severity: Severity,
    /// Read when the first incident of the payload opens (repeats never need it).
    component_ids: Option<HashMap<String, ComponentId>>,
}

#[derive(Default)]
struct Tally {
    opened: Vec<IncidentId>,
    joined: usize,
    fired_again: usize,
    repeats: usize,
    resolved: usize,
    ignored: usize,
    incidents: Vec<IncidentId>,
    changed: Vec<IncidentId>,
}

impl Tally {
    fn touch(&mut self, id: IncidentId, changed: bool) {
        if !self.incidents.contains(&id) {
            self.incidents.push(id);
        }
        if changed && !self.changed.contains(&id) {
            self.changed.push(id);
        }
    }

    fn outcome(&self, accepted: usize) -> String {
        let plural = |n: usize, one: &str| if n == 1 { format!("1 {one}") } else { format!("{n} {one}s") };
        let mut parts = Vec::new();
        if !self.opened.is_empty() {
            let ids: Vec<String> = self.opened.iter().map(|i| i.to_string()).collect();
            parts.push(format!("opened incident{} {}", if ids.len() == 1 { "" } else { "s" }, ids.join(", ")));
        }
        if self.joined > 0 {
            parts.push(format!("{} joined an open incident", plural(self.joined, "alert")));
        }
        if self.fired_again > 0 {
            parts.push(format!("{} fired again", plural(self.fired_again, "alert")));
        }
        if self.repeats > 0 {
            parts.push(format!("{} already known", plural(self.repeats, "alert")));
        }
        if self.resolved > 0 {
            parts.push(format!("{} resolved", plural(self.resolved, "alert")));
        }
        if self.ignored > 0 {
            parts.push(format!("{} ignored (no open incident carries it)", plural(self.ignored, "resolved alert")));
        }
        if parts.is_empty() {
            parts.push(format!("{} (nothing to do)", plural(accepted, "alert")));
        }
        if !self.incidents.is_empty() {
            let ids: Vec<String> = self.incidents.iter().map(|i| i.to_string()).collect();
            parts.push(format!("incidents: {}", ids.join(", ")));
        }
        parts.join("; ")
    }
}

/// The advisory-lock keys a payload needs: every fingerprint and group key, per source.
fn lock_keys(source: AlertSourceId, alerts: &[Alert]) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for a in alerts {
        keys.push(format!("firebreak-alert:{source}:fp:{}", a.fingerprint));
        if a.status == AlertStatus::Firing
            && let Some(g) = &a.group_key
        {
            keys.push(format!("firebreak-alert:{source}:gk:{g}"));
        }
    }
    keys.sort();
    keys.dedup();
    keys
}

/// Takes in a parsed payload: keeps the raw body and opens or annotates
/// incidents, in one transaction. The caller has checked the token and parsed `body` into `alerts`.
pub async fn ingest(
    pool: &DbPool,
    settings: &Settings,
    source: &AlertSource,
    body: &str,
    alerts: &[Alert],
    now: DateTime<Utc>,
) -> Result<IngestReport, ServiceError> {
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        db::lock_keys(conn, &lock_keys(source.id, alerts)).await?;
        let mut rules = Rules {
            // Saved mappings were checked; a line that no longer parses is skipped, not fatal.
            severity: parse_severity_mapping(&source.severity_mapping).unwrap_or_default(),
            components: parse_component_mapping(&source.component_mapping).unwrap_or_default(),
            default_severity: Severity::new(source.default_severity).unwrap_or(Severity::ALL[2]),
            component_ids: None,
        };
        let mut tally = Tally::default();
        for alert in alerts {
            match alert.status {
                AlertStatus::Firing => firing(conn, settings, source, &mut rules, alert, now, &mut tally).await?,
                AlertStatus::Resolved => resolved(conn, source, alert, now, &mut tally).await?,
            }
        }
        for id in &tally.changed {
            notify(conn, *id).await?;
        }
        let outcome = tally.outcome(alerts.len());
        let payload_id = db::insert_payload(conn, source.id, now, body, &outcome).await?;
        Ok(IngestReport {
            accepted: alerts.len(),
            incidents: tally.incidents,
            opened: tally.opened,
            ignored: tally.ignored,
            payload_id,
            outcome,
        })
    })
    .await
}

fn labels_json(alert: &Alert) -> serde_json::Value {
    serde_json::to_value(&alert.labels).unwrap_or_default()
}

/// "“HighErrorRate”" plus ": summary" when there is one, for timeline entries.
fn described(alert: &Alert) -> String {
    let name = if alert.name.is_empty() { "(unnamed)" } else { alert.name.as_str() };
    if alert.summary.is_empty() {
        format!("“{name}”")
    } else {
        format!("“{name}” ({})", truncate(&alert.summary, 500))
    }
}

async fn firing(
    conn: &mut AsyncPgConnection,
    settings: &Settings,
    source: &AlertSource,
    rules: &mut Rules,
    alert: &Alert,
    now: DateTime<Utc>,
    tally: &mut Tally,
) -> Result<(), ServiceError> {
    let started = alert.starts_at.unwrap_or(now).min(now);
    let summary = truncate(&alert.summary, 2000);
    // Already on an open incident: a repeat, or the same alert firing again.
    if let Some(row) = db::find_open_by_fingerprint(conn, source.id, &alert.fingerprint).await? {
        let again = row.status != AlertStatus::Firing.as_str();
        db::update_alert(
            conn,
            row.id,
            &AlertChanges {
                status: Some(AlertStatus::Firing.as_str()),
                starts_at: again.then_some(started),
                ends_at: again.then_some(None),
                summary: (row.summary != summary).then_some(summary.as_str()),
                generator_url: None,
                last_seen_at: Some(now),
            },
        )
        .await?;
        if again {
            let body = format!("Alert {} fired again (source “{}”).", described(alert), source.name);
            record(conn, row.incident_id, None, EntryKind::Alert, &body, started).await?;
            tally.fired_again += 1;
        } else {
            tally.repeats += 1;
        }
        tally.touch(row.incident_id, again);
        return Ok(());
    }
    // Another alert of its group is on an open incident: it joins that one.
    let joined = match &alert.group_key {
        Some(g) => db::find_open_incident_by_group_key(conn, source.id, g).await?,
        None => None,
    };
    let incident_id = match joined {
        Some(id) => {
            let labels = labels_summary(&alert.labels, 300);
            let body = format!(
                "Alert {} joined this incident (same group, source “{}”){}.",
                described(alert),
                source.name,
                if labels.is_empty() { String::new() } else { format!("; labels: {labels}") }
            );
            record(conn, id, None, EntryKind::Alert, &body, started).await?;
            tally.joined += 1;
            id
        }
        None => {
            let id = open_for(conn, settings, source, rules, alert, started, now).await?;
            tally.opened.push(id);
            id
        }
    };
    db::insert_alert(
        conn,
        &NewAlert {
            source_id: source.id,
            incident_id,
            fingerprint: &alert.fingerprint,
            group_key: alert.group_key.as_deref(),
            name: &alert.name,
            summary: &summary,
            status: AlertStatus::Firing.as_str(),
            labels: labels_json(alert),
            starts_at: started,
            ends_at: None,
            generator_url: alert.generator_url.as_deref(),
            first_seen_at: now,
            last_seen_at: now,
        },
    )
    .await?;
    tally.touch(incident_id, true);
    Ok(())
}

/// Opens an incident for a firing alert that no open incident carries.
async fn open_for(
    conn: &mut AsyncPgConnection,
    settings: &Settings,
    source: &AlertSource,
    rules: &mut Rules,
    alert: &Alert,
    started: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<IncidentId, ServiceError> {
    let known = match rules.component_ids.take() {
        Some(known) => known,
        None => component_ids_by_name(conn).await?,
    };
    let title = incident_title(&alert.name, &alert.summary);
    let severity = severity_for(&rules.severity, alert.severity_value(&source.severity_label), rules.default_severity);
    let mut component_ids: Vec<ComponentId> =
        components_for(&rules.components, alert.component_value(&source.component_label))
            .iter()
            .filter_map(|name| known.get(&name.to_lowercase()).copied())
            .collect();
    component_ids.sort();
    component_ids.dedup();
    rules.component_ids = Some(known);
    let environment = ["environment", "env"]
        .iter()
        .find_map(|k| alert.labels.get(*k))
        .map(|e| truncate(e.trim(), 60))
        .filter(|e| !e.is_empty() && !e.chars().any(char::is_control))
        .unwrap_or_else(|| "production".to_owned());
    let opening = Opening {
        title: &title,
        severity,
        kind: IncidentKind::Outage,
        detection: DetectionSource::Alert,
        environment: &environment,
        visibility: Visibility::Internal,
        conference_url: None,
        impact_started_at: started,
        detected_at: started,
        components: &component_ids,
        declared_by: None,
        lead: None,
    };
    let incident = open(conn, settings, &opening, now).await?;
    super::updates::announce_new(conn, settings, &incident, now).await?;
    let labels = labels_summary(&alert.labels, 300);
    let body = format!(
        "Alert {} fired (source “{}”){}.",
        described(alert),
        source.name,
        if labels.is_empty() { String::new() } else { format!("; labels: {labels}") }
    );
    record(conn, incident.id, None, EntryKind::Alert, &body, started).await?;
    // The source's escalation policy pages, else the severity's default one.
    let policy = match crate::db::escalation::source_policy(conn, source.id).await? {
        Some(p) => Some(p),
        None => crate::db::escalation::severity_policy(conn, severity.level()).await?,
    };
    if let Some(policy) = policy {
        super::paging::start(conn, incident.id, policy, "alert", None, now).await?;
    }
    Ok(incident.id)
}

async fn resolved(
    conn: &mut AsyncPgConnection,
    source: &AlertSource,
    alert: &Alert,
    now: DateTime<Utc>,
    tally: &mut Tally,
) -> Result<(), ServiceError> {
    let Some(row) = db::find_open_by_fingerprint(conn, source.id, &alert.fingerprint).await? else {
        tally.ignored += 1;
        return Ok(());
    };
    let ended = alert.ends_at.unwrap_or(now).min(now);
    let change = row.status != AlertStatus::Resolved.as_str();
    db::update_alert(
        conn,
        row.id,
        &AlertChanges {
            status: Some(AlertStatus::Resolved.as_str()),
            ends_at: change.then_some(Some(ended)),
            last_seen_at: Some(now),
            ..Default::default()
        },
    )
    .await?;
    if change {
        let body = format!(
            "Alert {} resolved (source “{}”). The incident stays open until someone resolves it.",
            described(alert),
            source.name
        );
        record(conn, row.incident_id, None, EntryKind::Alert, &body, ended).await?;
        tally.resolved += 1;
    } else {
        tally.repeats += 1;
    }
    tally.touch(row.incident_id, change);
    Ok(())
}

/// Deletes payloads older than the retention period; returns how many.
pub async fn delete_old_payloads(pool: &DbPool, now: DateTime<Utc>) -> Result<usize, ServiceError> {
    let cutoff = now - chrono::Duration::days(PAYLOAD_RETENTION_DAYS);
    let mut conn = pool.get().await?;
    Ok(db::delete_payloads_before(&mut conn, cutoff).await?)
}

/// Deletes raw payloads older than 30 days, periodically (at start-up, then hourly).
pub fn spawn_retention_job(pool: DbPool) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(RETENTION_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match delete_old_payloads(&pool, Utc::now()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, "deleted alert payloads older than 30 days"),
                Err(e) => tracing::warn!(error = %e, "could not delete old alert payloads"),
            }
        }
    });
}
