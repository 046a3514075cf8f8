//! Notes on the timeline and marking key moments. A note changes nothing on
//! the incident, so it does not lock it.

use chrono::Utc;
use diesel_async::AsyncConnection;

use super::{can_view, load_for_change, notify, require_responder};
use crate::db::incidents;
use crate::db::timeline::{self, Entry, NewEntry};
use crate::db::{DbPool, EntryId, IncidentId};
use crate::domain::incident::{self as rules, EntryKind};
use crate::domain::markdown::to_safe_html;
use crate::services::{Actor, FieldErrors, ServiceError};

/// A note from the timeline form: Markdown, optionally back-dated, optionally
/// correcting an earlier entry.
pub async fn add_note(
    pool: &DbPool,
    actor: &Actor,
    tz: chrono_tz::Tz,
    id: IncidentId,
    body: &str,
    happened_at: &str,
    corrects: Option<EntryId>,
) -> Result<Entry, ServiceError> {
    let me = require_responder(actor)?;
    let now = Utc::now();
    let mut errors = FieldErrors::new();
    let text = body.trim();
    if text.is_empty() {
        errors.add("body", "Write the note first.");
    } else if text.chars().count() > 20_000 {
        errors.add("body", "Keep a note under 20,000 characters.");
    }
    let occurred = errors.check("happened_at", rules::parse_past_time(happened_at, tz, now));
    let (Some(occurred), true) = (occurred, errors.is_empty()) else {
        return Err(ServiceError::Invalid(errors));
    };
    // Rendered once here: entries never change, and the room shows thousands.
    let html = to_safe_html(text);
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        // A plain read, not FOR UPDATE: notes change nothing on the incident,
        // so many note takers never queue behind each other.
        let incident = incidents::find(conn, id).await?.ok_or(ServiceError::NotFound)?;
        if !can_view(conn, &incident, actor).await? {
            return Err(ServiceError::NotFound);
        }
        if let Some(c) = corrects
            && timeline::find_in(conn, incident.id, c).await?.is_none()
        {
            return Err(ServiceError::NotFound);
        }
        let entry = timeline::insert(
            conn,
            &NewEntry {
                incident_id: incident.id,
                occurred_at: occurred.unwrap_or(now),
                author_id: Some(me),
                kind: EntryKind::Note.as_str(),
                body: text,
                body_html: &html,
                corrects_id: corrects,
            },
        )
        .await?;
        notify(conn, incident.id).await?;
        Ok(entry)
    })
    .await
}

pub async fn set_highlight(
    pool: &DbPool,
    actor: &Actor,
    id: IncidentId,
    entry: EntryId,
    on: bool,
) -> Result<(), ServiceError> {
    require_responder(actor)?;
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        let incident = load_for_change(conn, actor, id).await?;
        timeline::find_in(conn, incident.id, entry).await?.ok_or(ServiceError::NotFound)?;
        timeline::set_highlighted(conn, entry, on).await?;
        notify(conn, incident.id).await?;
        Ok(())
    })
    .await
}
