//! The post-mortem's card in the incident room, and the final stakeholder note.

use askama::Template;
use diesel_async::AsyncPgConnection;

use super::name;
use crate::db::ids::PostmortemId;
use crate::db::incidents::Incident;
use crate::db::postmortems::{self};
use crate::db::{tasks, updates};
use crate::domain::incident::TaskKind;
use crate::domain::postmortem::PostmortemStatus;
use crate::services::postmortems::{self as svc};
use crate::web::{AppError, CurrentUser};

#[derive(Template)]
#[template(path = "postmortems/room_panel.html")]
struct RoomPanel {
    id: PostmortemId,
    status: PostmortemStatus,
    owner: String,
    drafted: bool,
    note_url: Option<String>,
}

/// The card this area adds to the incident room: the post-mortem's status,
/// owner and a link to it.
pub async fn room_panel(
    conn: &mut AsyncPgConnection,
    incident: &Incident,
    user: &CurrentUser,
) -> Result<String, AppError> {
    let Some(pm) = postmortems::find_for_incident(conn, incident.id).await? else {
        return Ok(String::new());
    };
    let owner = name(conn, pm.owner_id).await?.unwrap_or_else(|| "Nobody yet".to_owned());
    let status = pm.status();
    let mut note_url = None;
    if status == PostmortemStatus::Published
        && crate::services::updates::may_send(conn, incident.id, &user.actor()).await?
    {
        let last = updates::latest_for(conn, incident.id).await?;
        let sent = matches!((last, pm.published_at), (Some(u), Some(p)) if u.created_at >= p);
        if !sent {
            note_url = Some(format!("/incidents/{}/updates/new?postmortem={}", incident.id, pm.id));
        }
    }
    let panel = RoomPanel { id: pm.id, status, owner, drafted: pm.drafted_at.is_some(), note_url };
    panel.render().map_err(AppError::unexpected)
}

/// The follow-up tasks' titles, for the final stakeholder note.
pub async fn followup_titles(conn: &mut AsyncPgConnection, incident: &Incident) -> Result<Vec<String>, AppError> {
    Ok(tasks::list_for(conn, incident.id)
        .await?
        .into_iter()
        .filter(|(t, _)| t.kind() == TaskKind::FollowUp)
        .map(|(t, _)| t.title)
        .collect())
}

/// Fills the update form with the final note for `postmortem` (from the
/// `postmortem` query parameter of the compose form), when it belongs to
/// this incident and is published.
pub async fn prefill_note(
    conn: &mut AsyncPgConnection,
    incident: &Incident,
    postmortem: &str,
    form: &mut crate::services::updates::UpdateInput,
) -> Result<(), AppError> {
    let Ok(id) = postmortem.trim().parse::<PostmortemId>() else { return Ok(()) };
    let Some(pm) = postmortems::find(conn, id).await? else { return Ok(()) };
    if pm.incident_id != incident.id || pm.status() != PostmortemStatus::Published {
        return Ok(());
    }
    let followups = followup_titles(conn, incident).await?;
    svc::stakeholder_note(form, &pm, &followups);
    Ok(())
}
