//! The incident's own fields (title, summary, kind, environment, detection
//! source, conference link, components, customer impact), changeable at any
//! time after declaring. Edited with optimistic locking, and only the fields
//! the editor changed are written, so two people editing different fields
//! never undo each other.

use chrono::Utc;
use diesel_async::AsyncConnection;

use super::{load_for_change, name_of, notify, record, require_responder};
use crate::db::incidents::{self, Incident, IncidentChanges};
use crate::db::{ComponentId, DbPool, IncidentId, components};
use crate::domain::incident::{self as rules, DetectionSource, EntryKind, IncidentKind, Visibility};
use crate::services::{Actor, FieldErrors, ServiceError};

/// The values of the details form. `version` is what the editor saw; if
/// someone saved since, nothing is written. The `original_*` values are what
/// the form showed when it was opened: a field equal to its original is left
/// alone (absent originals mean "every field was edited").
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(default)]
pub struct DetailsInput {
    pub version: String,
    pub title: String,
    /// The title the public reads; empty: the title.
    pub public_title: String,
    pub summary: String,
    pub environment: String,
    pub conference_url: String,
    pub customer_impact: String,
    pub kind: String,
    pub detection_source: String,
    pub components: Vec<String>,
    pub original_title: Option<String>,
    pub original_public_title: Option<String>,
    pub original_summary: Option<String>,
    pub original_environment: Option<String>,
    pub original_conference_url: Option<String>,
    pub original_customer_impact: Option<String>,
    pub original_kind: Option<String>,
    pub original_detection_source: Option<String>,
    /// Component ids, comma-separated.
    pub original_components: Option<String>,
    /// "yes" when the form shows the components: only then are they changed
    /// (an empty choice is a choice).
    pub components_shown: String,
}

impl DetailsInput {
    /// The chosen components as a sorted, comma-separated list of ids (the
    /// form of `original_components`).
    pub fn components_key(&self) -> String {
        components_key(&self.components)
    }
}

/// Component ids as the form carries them: sorted, comma-separated.
pub fn components_key(ids: &[String]) -> String {
    let mut ids: Vec<i64> = ids.iter().filter_map(|s| s.trim().parse().ok()).collect();
    ids.sort_unstable();
    ids.dedup();
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

fn optional<T>(input: &str, parse: fn(&str) -> Result<T, String>) -> Result<Option<T>, String> {
    if input.trim().is_empty() { Ok(None) } else { parse(input).map(Some) }
}

/// Whether the editor changed this field (no original: assume so).
fn edited(value: &str, original: &Option<String>) -> bool {
    original.as_deref().is_none_or(|o| o.trim() != value.trim())
}

pub async fn edit_details(
    pool: &DbPool,
    actor: &Actor,
    id: IncidentId,
    input: &DetailsInput,
) -> Result<Incident, ServiceError> {
    let me = require_responder(actor)?;
    let mut errors = FieldErrors::new();
    let title = errors.check("title", rules::parse_title(&input.title));
    let public_title = errors.check("public_title", optional(&input.public_title, rules::parse_title));
    let environment = errors.check("environment", rules::parse_short_text(&input.environment, "environment", 60));
    let conference_url = errors.check("conference_url", rules::parse_optional_url(&input.conference_url));
    let summary = errors.check("summary", rules::parse_short_text(&input.summary, "summary", 5000));
    let impact =
        errors.check("customer_impact", rules::parse_short_text(&input.customer_impact, "customer impact", 5000));
    // Empty (a form without these fields): left as they are.
    let kind = errors.check("kind", optional(&input.kind, IncidentKind::parse));
    let detection = errors.check("detection_source", optional(&input.detection_source, DetectionSource::parse));
    let mut component_ids = Vec::new();
    for c in &input.components {
        match c.trim().parse::<ComponentId>() {
            Ok(cid) => component_ids.push(cid),
            Err(_) => errors.add("components", "Choose components from the list."),
        }
    }
    component_ids.sort();
    component_ids.dedup();
    let version: Option<i32> = input.version.trim().parse().ok();
    if version.is_none() {
        errors.add("version", "The form is missing its version; reload the page.");
    }
    let (
        Some(title),
        Some(public_title),
        Some(environment),
        Some(conference_url),
        Some(summary),
        Some(impact),
        Some(kind),
        Some(detection),
        Some(version),
        true,
    ) = (
        title,
        public_title,
        environment,
        conference_url,
        summary,
        impact,
        kind,
        detection,
        version,
        errors.is_empty(),
    )
    else {
        return Err(ServiceError::Invalid(errors));
    };
    let now = Utc::now();
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        let incident = load_for_change(conn, actor, id).await?;
        if incident.version != version {
            return Err(ServiceError::Conflict);
        }
        if components::existing(conn, &component_ids).await?.len() != component_ids.len() {
            return Err(ServiceError::Invalid(FieldErrors::single(
                "components",
                "One of the chosen components no longer exists.",
            )));
        }
        let who = name_of(conn, me).await?;
        let mut changes = IncidentChanges::default();
        let mut said: Vec<String> = Vec::new();
        if edited(&input.title, &input.original_title) && title != incident.title {
            changes.title = Some(&title);
            said.push(format!("{who} changed the title to “{title}”."));
        }
        let public_title = public_title.unwrap_or_default();
        if edited(&input.public_title, &input.original_public_title) && public_title != incident.public_title {
            changes.public_title = Some(&public_title);
            said.push(if public_title.is_empty() {
                format!("{who} removed the public title: the status page shows the title.")
            } else {
                format!("{who} set the public title to “{public_title}”.")
            });
        }
        if edited(&input.environment, &input.original_environment) && environment != incident.environment {
            changes.environment = Some(&environment);
            said.push(format!("{who} changed the environment: {} → {environment}.", incident.environment));
        }
        if edited(&input.conference_url, &input.original_conference_url) && conference_url != incident.conference_url {
            changes.conference_url = Some(conference_url.as_deref());
            said.push(match &conference_url {
                Some(url) => format!("{who} set the conference link to {url}."),
                None => format!("{who} removed the conference link."),
            });
        }
        if edited(&input.summary, &input.original_summary) && summary != incident.summary {
            changes.summary = Some(&summary);
            said.push(format!("{who} changed the summary."));
        }
        if edited(&input.customer_impact, &input.original_customer_impact) && impact != incident.customer_impact {
            changes.customer_impact = Some(&impact);
            said.push(format!("{who} changed the customer impact."));
        }
        if let Some(kind) = kind
            && edited(&input.kind, &input.original_kind)
            && kind != incident.kind()
        {
            changes.kind = Some(kind.as_str());
            let mut body = format!("{who} changed the kind: {} → {}.", incident.kind().label(), kind.label());
            // A security incident is restricted to its participants, as when declared.
            if kind == IncidentKind::Security && incident.visibility() != Visibility::Restricted {
                changes.visibility = Some(Visibility::Restricted.as_str());
                body.push_str(" It is now restricted to its participants.");
            }
            said.push(body);
        }
        if let Some(detection) = detection
            && edited(&input.detection_source, &input.original_detection_source)
            && detection != incident.detection_source()
        {
            changes.detection_source = Some(detection.as_str());
            said.push(format!(
                "{who} changed how it was detected: {} → {}.",
                incident.detection_source().label(),
                detection.label()
            ));
        }
        let before = components::for_incident(conn, id).await?;
        let before_ids: Vec<ComponentId> = before.iter().map(|c| c.id).collect();
        // Only a form that shows the components (and so says what they were) changes them.
        if input.components_shown == "yes"
            && input.original_components.as_deref().unwrap_or_default() != input.components_key()
            && {
                let mut sorted = before_ids.clone();
                sorted.sort();
                sorted != component_ids
            }
        {
            incidents::set_components(conn, id, &component_ids).await?;
            let after = components::for_incident(conn, id).await?;
            let added: Vec<&str> =
                after.iter().filter(|c| !before_ids.contains(&c.id)).map(|c| c.name.as_str()).collect();
            let removed: Vec<&str> =
                before.iter().filter(|c| !component_ids.contains(&c.id)).map(|c| c.name.as_str()).collect();
            let mut parts = Vec::new();
            if !added.is_empty() {
                parts.push(format!("added {}", added.join(", ")));
            }
            if !removed.is_empty() {
                parts.push(format!("removed {}", removed.join(", ")));
            }
            said.push(format!("{who} changed the affected components: {}.", parts.join("; ")));
        }
        if said.is_empty() {
            return Ok(incident);
        }
        // Always written, even for a components-only change: the version moves on.
        let updated = incidents::update(conn, id, &changes).await?;
        for body in &said {
            record(conn, id, Some(me), EntryKind::System, body, now).await?;
        }
        notify(conn, id).await?;
        Ok(updated)
    })
    .await
}
