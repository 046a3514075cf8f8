//! `/postmortems/{id}/status`: the review flow, up to publication;
//! `/postmortems/{id}/publish`: what publication makes public, chosen with the
//! text in view; `/postmortems/{id}/entries/{entry}`: which timeline entries
//! the published version leaves out.

use actix_session::Session;
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web;
use askama::Template;
use serde::Deserialize;

use crate::db::EntryId;
use crate::db::ids::PostmortemId;
use crate::db::incidents::Incident;
use crate::db::postmortems::Postmortem;
use crate::domain::Role;
use crate::domain::markdown::to_safe_html;
use crate::domain::postmortem::{PostmortemStatus, Transition};
use crate::services::postmortems as svc;
use crate::services::{FieldErrors, ServiceError};
use crate::web::AppState;
use crate::web::csrf::CsrfForm;
use crate::web::session::{self, FlashKind};
use crate::web::{AppError, CurrentUser, Layout, render, see_other};

use super::edit::{EditState, edit_page};
use super::show::show_page;
use super::{load, steps};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct StepForm {
    pub transition: String,
    /// On publication: "yes" puts the summary on the public status page, "no"
    /// publishes internally only (asked on `/postmortems/{id}/publish`).
    pub summary_public: String,
}

/// `POST /postmortems/{id}/status`: one step of the review flow.
pub async fn change_status(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    session: Session,
    id: web::Path<PostmortemId>,
    CsrfForm(form): CsrfForm<StepForm>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Responder)?;
    let id = *id;
    let summary_public = match form.summary_public.as_str() {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    };
    match svc::change_status(&state.pool, &state.settings, &user.actor(), id, &form.transition, summary_public).await {
        Ok((pm, _)) => {
            let message = match pm.status() {
                PostmortemStatus::Published if pm.summary_public => {
                    // The summary shows on the public incident page right away.
                    state.status.refresh().await;
                    "Post-mortem published: it is in the library, and its summary is on the public incident page."
                }
                PostmortemStatus::Published => "Post-mortem published: it is in the library.",
                PostmortemStatus::InReview => "Post-mortem sent for review.",
                PostmortemStatus::Reviewed => "Post-mortem marked reviewed.",
                PostmortemStatus::Draft => "Post-mortem back to draft.",
            };
            session::flash(&session, FlashKind::Success, message);
            Ok(see_other(&format!("/postmortems/{id}")))
        }
        // Where the summary goes is asked on its own page, with the text in view.
        Err(ServiceError::Invalid(errors)) if errors.get("summary_public").is_some() => {
            Ok(see_other(&format!("/postmortems/{id}/publish")))
        }
        Err(ServiceError::Invalid(errors)) if errors.get("detection").is_some() => {
            // The section is what is missing: open it, with the message beside it.
            let page = edit_page(&state, &user, layout, id, EditState { errors, ..Default::default() }).await?;
            render(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(ServiceError::Invalid(errors)) => {
            render(StatusCode::UNPROCESSABLE_ENTITY, &show_page(&state, &user, layout, id, errors).await?)
        }
        Err(ServiceError::Forbidden(m)) => {
            let errors = FieldErrors::single("status", sentence(m));
            render(StatusCode::FORBIDDEN, &show_page(&state, &user, layout, id, errors).await?)
        }
        Err(e) => Err(e.into()),
    }
}

/// "a published post-mortem is final" → "A published post-mortem is final."
fn sentence(m: &str) -> String {
    format!("{}.", crate::web::error::sentence(m))
}

#[derive(Template)]
#[template(path = "postmortems/publish.html")]
struct PublishPage {
    layout: Layout,
    pm: Postmortem,
    incident: Incident,
    /// The summary as the public incident page will show it (sanitised HTML).
    summary_html: String,
    public_url: String,
}

/// `GET /postmortems/{id}/publish`: before a summary goes public, the
/// publisher sees it as the status page will show it and chooses.
pub async fn confirm_publish(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    id: web::Path<PostmortemId>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Responder)?;
    let mut conn = state.pool.get().await?;
    let (pm, incident) = load(&mut conn, &user, *id).await?;
    let offered = steps(&mut conn, &pm, &incident, &user).await?;
    drop(conn);
    if !offered.contains(&Transition::Publish) || !svc::publication_asks(&pm, &incident) {
        // Nothing to choose here (or not theirs to publish): the document says why.
        return Ok(see_other(&format!("/postmortems/{id}#pm-review")));
    }
    let page = PublishPage {
        layout: layout.at("postmortems"),
        summary_html: to_safe_html(&pm.summary),
        public_url: format!("/status/incidents/{}", incident.public_id),
        pm,
        incident,
    };
    render(StatusCode::OK, &page)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct HideForm {
    /// "yes" leaves the entry out of the published version, "no" puts it back.
    pub hidden: String,
}

/// `POST /postmortems/{id}/entries/{entry}`: leaves a timeline entry out of
/// the published facts, or puts it back.
pub async fn hide_entry(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    session: Session,
    path: web::Path<(PostmortemId, EntryId)>,
    CsrfForm(form): CsrfForm<HideForm>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Responder)?;
    let (id, entry) = *path;
    let hidden = form.hidden == "yes";
    match svc::set_entry_hidden(&state.pool, &user.actor(), id, entry, hidden).await {
        Ok(()) => {
            let message = if hidden {
                "The entry is left out of the published post-mortem. The incident's timeline keeps it."
            } else {
                "The entry is back in the published post-mortem."
            };
            session::flash(&session, FlashKind::Success, message);
            Ok(see_other(&format!("/postmortems/{id}#entry-{entry}")))
        }
        Err(ServiceError::Forbidden(m)) => {
            let errors = FieldErrors::single("status", sentence(m));
            render(StatusCode::FORBIDDEN, &show_page(&state, &user, layout, id, errors).await?)
        }
        Err(e) => Err(e.into()),
    }
}
