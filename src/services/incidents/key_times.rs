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
