//! `GET /incidents/{id}/entries?after={entry id}`: the timeline entries a live
//! room has not seen yet, as HTML to insert, with what the room needs to know
//! whether anything else changed (its side panels' state and the key moments).
//! A refresh after one new note sends one entry, not the room.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::room::{EntryView, entry_view, panel_state};
use crate::db::{EntryId, IncidentId, incidents, timeline};
use crate::domain::Role;
use crate::services::incidents::can_view;
use crate::web::AppState;
use crate::web::{AppError, CurrentUser};

/// At most this many entries per answer; the room asks again for the rest.
const MOST: i64 = 200;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct EntriesQuery {
    pub after: i64,
}

#[derive(Template)]
#[template(path = "incidents/entries.html")]
pub struct EntriesFragment {
    pub entries: Vec<EntryView>,
    pub can_write: bool,
    pub panel_state: String,
    pub highlighted: String,
    pub last_entry_id: i64,
    pub more: bool,
}

pub async fn entries(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<IncidentId>,
    query: web::Query<EntriesQuery>,
) -> Result<HttpResponse, AppError> {
    let id = *id;
    let mut conn = state.pool.get().await?;
    let incident = incidents::find(&mut conn, id).await?.ok_or(AppError::NotFound)?;
    if !can_view(&mut conn, &incident, &user.actor()).await? {
        return Err(AppError::NotFound);
    }
    let rows = timeline::list_after(&mut conn, id, EntryId(query.after.max(0)), MOST).await?;
    let highlighted = timeline::highlighted_ids(&mut conn, id).await?;
    let panel_state = panel_state(&mut conn, &incident).await?;
    drop(conn);
    let more = rows.len() as i64 >= MOST;
    let last_entry_id = rows.iter().map(|(e, _)| e.id.0).max().unwrap_or(query.after).max(query.after);
    let page = EntriesFragment {
        entries: rows.into_iter().map(|(e, author)| entry_view(e, author, user.time_zone)).collect(),
        can_write: user.role.allows(Role::Responder),
        panel_state,
        highlighted: highlighted.iter().map(|e| e.0.to_string()).collect::<Vec<_>>().join(","),
        last_entry_id,
        more,
    };
    let body = page.render().map_err(AppError::unexpected)?;
    Ok(HttpResponse::build(StatusCode::OK)
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(body))
}
