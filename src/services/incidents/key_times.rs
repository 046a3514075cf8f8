//! The lead corrects the recorded moments (impact start, detected, ...).

use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection;

use super::{load_for_change, name_of, record_and_notify, require_current_lead, require_responder};
use crate::db::incidents::{self, Incident, IncidentChanges};
use crate::db::{DbPool, IncidentId};
use crate::domain::incident::{self as rules, EntryKind};
use crate::services::{Actor, FieldErrors, ServiceError};

/// Which recorded moment the lead corrects.
pub fn timestamp_label(which: &str) -> Option<&'static str> {
    match which {
        "impact_started_at" => Some("impact start"),
        "detected_at" => Some("detected"),
        "acknowledged_at" => Some("acknowledged"),
        "mitigated_at" => Some("mitigated"),
        "resolved_at" => Some("resolved"),
        "closed_at" => Some("closed"),
        _ => None,
    }
}

/// The lead corrects a recorded moment (e.g. mitigation happened earlier than
/// the status change); the correction is on the timeline.
pub async fn correct_timestamp(
    pool: &DbPool,
    actor: &Actor,
    tz: chrono_tz::Tz,
    id: IncidentId,
    which: &str,
    value: &str,
) -> Result<Incident, ServiceError> {
    let me = require_responder(actor)?;
    let now = Utc::now();
    let label = timestamp_label(which)
        .ok_or_else(|| ServiceError::Invalid(FieldErrors::single("which", "Choose which moment to correct.")))?;
    let at = match rules::parse_past_time(value, tz, now) {
        Ok(Some(at)) => at,
        Ok(None) => return Err(ServiceError::Invalid(FieldErrors::single("value", "Enter the corrected time."))),
        Err(m) => return Err(ServiceError::Invalid(FieldErrors::single("value", m))),
    };
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        let incident = load_for_change(conn, actor, id).await?;
        require_current_lead(conn, id, me).await?;
        let mut changes = IncidentChanges::default();
        let before = match which {
            "impact_started_at" => {
                changes.impact_started_at = Some(at);
                Some(incident.impact_started_at)
            }
            "detected_at" => {
                changes.detected_at = Some(at);
                Some(incident.detected_at)
            }
            "acknowledged_at" => {
                changes.acknowledged_at = Some(at);
                incident.acknowledged_at
            }
            "mitigated_at" => {
                changes.mitigated_at = Some(at);
                incident.mitigated_at
            }
            "resolved_at" => {
                changes.resolved_at = Some(at);
                incident.resolved_at
            }
            _ => {
                changes.closed_at = Some(at);
                incident.closed_at
            }
        };
        let updated = incidents::update(conn, id, &changes).await?;
        let who = name_of(conn, me).await?;
        let fmt = |t: DateTime<Utc>| t.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string();
        let body = match before {
            Some(b) => format!("{who} corrected the {label} time from {} to {}.", fmt(b), fmt(at)),
            None => format!("{who} set the {label} time to {}.", fmt(at)),
        };
        record_and_notify(conn, id, me, EntryKind::System, &body, now).await?;
        Ok(updated)
    })
    .await
}

/// The review at resolve: the four moments the metrics are computed from, as
/// the lead confirms or corrects them (empty: leave as recorded).
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(default)]
pub struct KeyTimesInput {
    pub impact_started_at: String,
    pub detected_at: String,
    pub acknowledged_at: String,
    pub mitigated_at: String,
}

/// Applies the lead's review of the key times in one transaction: each
/// moment that differs from the record (by a minute or more; the form has
/// minute precision) is corrected with its own timeline entry, and the
/// review itself is recorded.
pub async fn review_key_times(
    pool: &DbPool,
    actor: &Actor,
    tz: chrono_tz::Tz,
    id: IncidentId,
    input: &KeyTimesInput,
) -> Result<Incident, ServiceError> {
    let me = require_responder(actor)?;
    let now = Utc::now();
    let mut errors = FieldErrors::new();
    let impact = errors.check("review_impact_started_at", rules::parse_past_time(&input.impact_started_at, tz, now));
    let detected = errors.check("review_detected_at", rules::parse_past_time(&input.detected_at, tz, now));
    let acknowledged = errors.check("review_acknowledged_at", rules::parse_past_time(&input.acknowledged_at, tz, now));
    let mitigated = errors.check("review_mitigated_at", rules::parse_past_time(&input.mitigated_at, tz, now));
    let (Some(impact), Some(detected), Some(acknowledged), Some(mitigated), true) =
        (impact, detected, acknowledged, mitigated, errors.is_empty())
    else {
        return Err(ServiceError::Invalid(errors));
    };
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        let incident = load_for_change(conn, actor, id).await?;
        require_current_lead(conn, id, me).await?;
        let fmt = |t: DateTime<Utc>| t.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string();
        // Checked against the impact start as reviewed: nothing is written when one is earlier.
        let start = impact.unwrap_or(incident.impact_started_at);
        let mut order = FieldErrors::new();
        for (field, what, at) in [
            ("review_detected_at", "The detected time", detected),
            ("review_acknowledged_at", "The acknowledged time", acknowledged),
            ("review_mitigated_at", "The mitigated time", mitigated),
        ] {
            if let Some(at) = at {
                order.check(field, rules::not_before_impact(start, at, what, &fmt(start)));
            }
        }
        if !order.is_empty() {
            return Err(ServiceError::Invalid(order));
        }
        let who = name_of(conn, me).await?;
        let differs =
            |new: DateTime<Utc>, old: Option<DateTime<Utc>>| old.is_none_or(|o| (new - o).num_seconds().abs() >= 60);
        let mut changes = IncidentChanges::default();
        let mut said = Vec::new();
        let mut consider = |label: &str, new: Option<DateTime<Utc>>, old: Option<DateTime<Utc>>| {
            let new = new.filter(|n| differs(*n, old))?;
            said.push(match old {
                Some(o) => format!("{who} corrected the {label} time from {} to {}.", fmt(o), fmt(new)),
                None => format!("{who} set the {label} time to {}.", fmt(new)),
            });
            Some(new)
        };
        changes.impact_started_at = consider("impact start", impact, Some(incident.impact_started_at));
        changes.detected_at = consider("detected", detected, Some(incident.detected_at));
        changes.acknowledged_at = consider("acknowledged", acknowledged, incident.acknowledged_at);
        changes.mitigated_at = consider("mitigated", mitigated, incident.mitigated_at);
        let updated = incidents::update(conn, id, &changes).await?;
        for body in &said {
            super::record(conn, id, Some(me), EntryKind::System, body, now).await?;
        }
        let summary = if said.is_empty() {
            format!("{who} reviewed the key times and confirmed them as recorded.")
        } else {
            format!("{who} reviewed the key times.")
        };
        record_and_notify(conn, id, me, EntryKind::System, &summary, now).await?;
        Ok(updated)
    })
    .await
}
