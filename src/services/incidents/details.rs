//! The incident's own fields (title, summary, ...), edited with optimistic locking.

use chrono::Utc;
use diesel_async::AsyncConnection;

use super::{load_for_change, name_of, notify, record, require_responder};
use crate::db::incidents::{self, Incident, IncidentChanges};
use crate::db::{DbPool, IncidentId};
use crate::domain::incident::{self as rules, EntryKind};
use crate::services::{Actor, FieldErrors, ServiceError};

/// The incident's own fields, edited with optimistic locking: `version` is
/// what the editor saw; if someone saved since, nothing is written.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(default)]
pub struct DetailsInput {
    pub version: String,
    pub title: String,
    pub summary: String,
    pub environment: String,
    pub conference_url: String,
    pub customer_impact: String,
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
    let environment = errors.check("environment", rules::parse_short_text(&input.environment, "environment", 60));
    let conference_url = errors.check("conference_url", rules::parse_optional_url(&input.conference_url));
    let summary = errors.check("summary", rules::parse_short_text(&input.summary, "summary", 5000));
    let impact =
        errors.check("customer_impact", rules::parse_short_text(&input.customer_impact, "customer impact", 5000));
    let version: Option<i32> = input.version.trim().parse().ok();
    let (Some(title), Some(environment), Some(conference_url), Some(summary), Some(impact), Some(version), true) =
        (title, environment, conference_url, summary, impact, version, errors.is_empty())
    else {
        if input.version.trim().parse::<i32>().is_err() {
            errors.add("version", "The form is missing its version; reload the page.");
        }
        return Err(ServiceError::Invalid(errors));
    };
    let now = Utc::now();
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        let incident = load_for_change(conn, actor, id).await?;
        if incident.version != version {
            return Err(ServiceError::Conflict);
        }
        let updated = incidents::update(
            conn,
            id,
            &IncidentChanges {
                title: Some(&title),
                summary: Some(&summary),
                environment: Some(&environment),
                conference_url: Some(conference_url.as_deref()),
                customer_impact: Some(&impact),
                ..Default::default()
            },
        )
        .await?;
        let who = name_of(conn, me).await?;
        let mut changed = Vec::new();
        if incident.title != updated.title {
            changed.push(format!("title to “{}”", updated.title));
        }
        if incident.environment != updated.environment {
            changed.push(format!("environment to {}", updated.environment));
        }
        if incident.conference_url != updated.conference_url {
            changed.push("the conference link".to_owned());
        }
        if incident.summary != updated.summary {
            changed.push("the summary".to_owned());
        }
        if incident.customer_impact != updated.customer_impact {
            changed.push("the customer impact".to_owned());
        }
        if !changed.is_empty() {
            record(conn, id, Some(me), EntryKind::System, &format!("{who} changed {}.", changed.join(", ")), now)
                .await?;
        }
        notify(conn, id).await?;
        Ok(updated)
    })
    .await
}
