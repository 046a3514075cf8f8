//! Declaring an incident from the form or the API: parse, then open it
//! through the kernel and announce it.

use chrono::Utc;
use diesel_async::AsyncConnection;

use super::{notify, parse_responder, require_responder};
use crate::db::incidents::Incident;
use crate::db::{ComponentId, DbPool, components};
use crate::domain::incident::{self as rules, DetectionSource, IncidentKind, Severity, Visibility};
use crate::services::{Actor, FieldErrors, ServiceError};

/// The raw values of the declare form (it is deserialised straight into this).
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(default)]
pub struct DeclareInput {
    pub title: String,
    pub severity: String,
    pub components: Vec<String>,
    pub environment: String,
    pub kind: String,
    pub detection_source: String,
    pub impact_started_at: String,
    pub conference_url: String,
    pub lead: String,
    pub restricted: bool,
    /// Page the on-call people at once, through the severity's default escalation policy.
    pub page_oncall: bool,
}

/// Declares an incident: the row, its components, the lead (the declarer
/// unless someone else is chosen) and the first timeline entries.
pub async fn declare(
    pool: &DbPool,
    settings: &crate::config::Settings,
    actor: &Actor,
    tz: chrono_tz::Tz,
    input: &DeclareInput,
) -> Result<Incident, ServiceError> {
    let me = require_responder(actor)?;
    let now = Utc::now();
    let mut conn = pool.get().await?;
    let mut errors = FieldErrors::new();
    let title = errors.check("title", rules::parse_title(&input.title));
    let severity = errors.check(
        "severity",
        if input.severity.trim().is_empty() { Ok(Severity::ALL[2]) } else { Severity::parse(&input.severity) },
    );
    let kind = errors.check(
        "kind",
        if input.kind.trim().is_empty() { Ok(IncidentKind::Outage) } else { IncidentKind::parse(&input.kind) },
    );
    let detection = errors.check(
        "detection_source",
        if input.detection_source.trim().is_empty() {
            Ok(DetectionSource::Staff)
        } else {
            DetectionSource::parse(&input.detection_source)
        },
    );
    let environment = errors.check("environment", rules::parse_short_text(&input.environment, "environment", 60));
    let impact_started = errors.check("impact_started_at", rules::parse_past_time(&input.impact_started_at, tz, now));
    let conference_url = errors.check("conference_url", rules::parse_optional_url(&input.conference_url));
    let lead = match parse_responder(&mut conn, &input.lead).await {
        Ok(l) => Some(l.unwrap_or(me)),
        Err(m) => {
            errors.add("lead", m);
            None
        }
    };
    let mut component_ids = Vec::new();
    for c in &input.components {
        match c.trim().parse::<ComponentId>() {
            Ok(id) => component_ids.push(id),
            Err(_) => errors.add("components", "Choose components from the list."),
        }
    }
    component_ids.sort();
    component_ids.dedup();
    if components::existing(&mut conn, &component_ids).await?.len() != component_ids.len() {
        errors.add("components", "One of the chosen components no longer exists.");
    }
    let (
        Some(title),
        Some(severity),
        Some(kind),
        Some(detection),
        Some(environment),
        Some(impact),
        Some(conference_url),
        Some(lead),
    ) = (title, severity, kind, detection, environment, impact_started, conference_url, lead)
    else {
        return Err(ServiceError::Invalid(errors));
    };
    let page_policy = if input.page_oncall {
        let policy = crate::db::escalation::severity_policy(&mut conn, severity.level()).await?;
        if policy.is_none() {
            errors.add(
                "page_oncall",
                format!(
                    "{} has no default escalation policy to page: an admin sets one under On call → Routing. \
                     Untick this to declare without paging.",
                    severity.label()
                ),
            );
        }
        policy
    } else {
        None
    };
    if !errors.is_empty() {
        return Err(ServiceError::Invalid(errors));
    }
    let environment = if environment.is_empty() { "production".to_owned() } else { environment };
    let visibility =
        if kind == IncidentKind::Security || input.restricted { Visibility::Restricted } else { Visibility::Internal };

    let opening = super::Opening {
        title: &title,
        severity,
        kind,
        detection,
        environment: &environment,
        visibility,
        conference_url: conference_url.as_deref(),
        impact_started_at: impact.unwrap_or(now),
        detected_at: now,
        components: &component_ids,
        declared_by: Some(me),
        lead: Some(lead),
    };
    conn.transaction(async |conn| {
        let incident = super::open(conn, settings, &opening, now).await?;
        crate::services::updates::announce_new(conn, settings, &incident, now).await?;
        if let Some(policy) = page_policy {
            crate::services::paging::start(conn, incident.id, policy, "manual", Some(me), now).await?;
        }
        notify(conn, incident.id).await?;
        Ok(incident)
    })
    .await
}
