//! The post-mortem document, one module per part of its page:
//! - `show`: `/postmortems/{id}` (read and print) and `/postmortems/{id}.md`
//!   (the Markdown export);
//! - `edit`: `/postmortems/{id}/edit` (write, preview, save with optimistic
//!   locking) and the monitoring follow-up it offers;
//! - `review`: `/postmortems/{id}/status` (the review flow and publication);
//! - `panel`: its card in the incident room and the final stakeholder note.

mod edit;
mod panel;
mod review;
mod show;

use actix_web::web::{self, ServiceConfig};
use diesel_async::AsyncPgConnection;

use crate::db::ids::PostmortemId;
use crate::db::incidents::Incident;
use crate::db::postmortems::Postmortem;
use crate::db::{UserId, incident_roles, users};
use crate::domain::Role;
use crate::domain::incident::IncidentRole;
use crate::domain::postmortem::{self as rules, Situation, Transition, Who};
use crate::services::postmortems as svc;
use crate::web::{AppError, CurrentUser};

pub use panel::{followup_titles, prefill_note, room_panel};

pub fn configure(cfg: &mut ServiceConfig) {
    // The export first: "{id}" alone would also match "12.md".
    cfg.route("/postmortems/{id}.md", web::get().to(show::markdown))
        .route("/postmortems/{id}", web::get().to(show::show))
        .route("/postmortems/{id}/edit", web::get().to(edit::edit_form))
        .route("/postmortems/{id}/edit", web::post().to(edit::save))
        .route("/postmortems/{id}/status", web::post().to(review::change_status))
        .route("/postmortems/{id}/publish", web::get().to(review::confirm_publish))
        .route("/postmortems/{id}/entries/{entry}", web::post().to(review::hide_entry))
        .route("/postmortems/{id}/followup", web::post().to(edit::monitoring_followup));
}

/// Who the viewer is to this post-mortem, for the review rules.
async fn who(conn: &mut AsyncPgConnection, pm: &Postmortem, user: &CurrentUser) -> Result<Who, AppError> {
    let lead = incident_roles::current_holder(conn, pm.incident_id, IncidentRole::Lead).await?;
    Ok(Who {
        is_responder: user.role.allows(Role::Responder),
        is_admin: user.is_admin(),
        is_owner: pm.owner_id == Some(user.id),
        is_lead: lead.is_some_and(|l| l.user_id == user.id),
    })
}

async fn name(conn: &mut AsyncPgConnection, id: Option<UserId>) -> Result<Option<String>, AppError> {
    Ok(match id {
        Some(id) => users::find(conn, id).await?.map(|u| u.display_name),
        None => None,
    })
}

async fn load(
    conn: &mut AsyncPgConnection,
    user: &CurrentUser,
    id: PostmortemId,
) -> Result<(Postmortem, Incident), AppError> {
    Ok(svc::find_visible(conn, &user.actor(), id).await?)
}

/// The review steps offered to `user` on this post-mortem now.
async fn steps(
    conn: &mut AsyncPgConnection,
    pm: &Postmortem,
    incident: &Incident,
    user: &CurrentUser,
) -> Result<Vec<Transition>, AppError> {
    let who = who(conn, pm, user).await?;
    let situation = Situation {
        status: pm.status(),
        has_owner: pm.owner_id.is_some(),
        incident_resolved: !incident.status().is_active(),
        detection_missing: svc::detection_missing(incident, &pm.detection),
    };
    Ok(rules::offered(&who, &situation))
}
