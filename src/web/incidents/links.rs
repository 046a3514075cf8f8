//! The room's card for how this incident relates to others: duplicate of
//! another, false alarm, related incidents. Its forms post here and come
//! back to the room (a refused one with its message and the typed number).

use actix_web::{HttpResponse, web};
use askama::Template;
use diesel_async::AsyncPgConnection;
use serde::Deserialize;

use super::actions::finish;
use super::room::RoomForm;
use crate::db::IncidentId;
use crate::db::incidents::{self, Incident, IncidentRef};
use crate::domain::Role;
use crate::services::FieldErrors;
use crate::services::incidents as svc;
use crate::web::AppState;
use crate::web::csrf::CsrfForm;
use crate::web::{AppError, CurrentUser, Layout};

/// Another incident as the card names it: restricted ones the viewer may not
/// see are "a restricted incident", without title or link.
pub struct RefView {
    pub id: IncidentId,
    pub title: Option<String>,
    pub status: &'static str,
}

#[derive(Template)]
#[template(path = "incidents/links_panel.html")]
struct LinksPanel<'a> {
    incident_id: IncidentId,
    csrf_token: &'a str,
    can_write: bool,
    duplicate_of: Option<RefView>,
    duplicates: Vec<RefView>,
    related: Vec<RefView>,
    false_alarm: bool,
    errors: &'a FieldErrors,
    typed_duplicate_of: &'a str,
    typed_related: &'a str,
}

async fn views(
    conn: &mut AsyncPgConnection,
    user: &CurrentUser,
    refs: Vec<IncidentRef>,
) -> Result<Vec<RefView>, AppError> {
    let ids: Vec<IncidentId> = refs.iter().map(|r| r.id).collect();
    let hidden = incidents::hidden_from(conn, user.id, user.is_admin(), &ids).await?;
    Ok(refs
        .into_iter()
        .map(|r| RefView { id: r.id, status: r.status().label(), title: (!hidden.contains(&r.id)).then_some(r.title) })
        .collect())
}

/// The card, for the room: `errors` and `form` carry a refused form back.
pub async fn room_panel(
    conn: &mut AsyncPgConnection,
    incident: &Incident,
    user: &CurrentUser,
    csrf_token: &str,
    errors: &FieldErrors,
    form: &RoomForm,
) -> Result<String, AppError> {
    let duplicate_of = match incident.duplicate_of {
        Some(d) => {
            let refs = incidents::refs(conn, &[d]).await?;
            views(conn, user, refs).await?.into_iter().next()
        }
        None => None,
    };
    let refs = incidents::duplicates_of(conn, incident.id).await?;
    let duplicates = views(conn, user, refs).await?;
    let refs = incidents::related(conn, incident.id).await?;
    let related = views(conn, user, refs).await?;
    let panel = LinksPanel {
        incident_id: incident.id,
        csrf_token,
        can_write: user.role.allows(Role::Responder),
        duplicate_of,
        duplicates,
        related,
        false_alarm: incident.false_alarm,
        errors,
        typed_duplicate_of: &form.duplicate_of,
        typed_related: &form.related,
    };
    panel.render().map_err(AppError::unexpected)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DuplicateForm {
    /// The other incident ("42", "#42" or its link); empty with `remove`.
    pub duplicate_of: String,
    /// "yes": take the duplicate mark off.
    pub remove: String,
}

/// `POST /incidents/{id}/duplicate`
pub async fn duplicate(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    id: web::Path<IncidentId>,
    CsrfForm(f): CsrfForm<DuplicateForm>,
) -> Result<HttpResponse, AppError> {
    let result = if f.remove == "yes" {
        svc::unmark_duplicate(&state.pool, &user.actor(), *id).await
    } else {
        svc::mark_duplicate(&state.pool, &state.settings, &user.actor(), *id, &f.duplicate_of).await
    };
    let form = RoomForm { duplicate_of: f.duplicate_of, ..Default::default() };
    finish(&state, &user, layout, *id, result, form, "links").await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct FalseAlarmForm {
    /// "yes" marks it, "no" takes the mark off.
    pub false_alarm: String,
}

/// `POST /incidents/{id}/false-alarm`
pub async fn false_alarm(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    id: web::Path<IncidentId>,
    CsrfForm(f): CsrfForm<FalseAlarmForm>,
) -> Result<HttpResponse, AppError> {
    let on = f.false_alarm == "yes";
    let result = svc::set_false_alarm(&state.pool, &state.settings, &user.actor(), *id, on).await;
    finish(&state, &user, layout, *id, result, RoomForm::default(), "links").await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RelatedForm {
    /// The other incident ("42", "#42" or its link).
    pub related: String,
    /// "yes": remove the link instead.
    pub remove: String,
}

/// `POST /incidents/{id}/related`
pub async fn related(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    id: web::Path<IncidentId>,
    CsrfForm(f): CsrfForm<RelatedForm>,
) -> Result<HttpResponse, AppError> {
    let result = svc::set_related(&state.pool, &user.actor(), *id, &f.related, f.remove != "yes").await;
    let form = RoomForm { related: if f.remove == "yes" { String::new() } else { f.related }, ..Default::default() };
    finish(&state, &user, layout, *id, result, form, "links").await
}
