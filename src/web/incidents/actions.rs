//! Everything done in the room: each POST calls one service, then redirects
//! back to the room (post/redirect/get), or shows the room again with the
//! message beside the field and the typed values kept (422).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::room::{self, Conflict, DetailsValues, Feedback, RoomForm, details_of};
use crate::db::{ChangeRequestId, EntryId, IncidentId, TaskId, incidents};
use crate::services::incidents::{self as svc, DetailsInput, TaskInput};
use crate::services::{FieldErrors, ServiceError};
use crate::web::AppState;
use crate::web::csrf::CsrfForm;
use crate::web::{AppError, CurrentUser, Layout, render, see_other};

/// The common ending of a room action.
pub(super) async fn finish(
    state: &AppState,
    user: &CurrentUser,
    layout: Layout,
    id: IncidentId,
    result: Result<(), ServiceError>,
    form: RoomForm,
    anchor: &str,
) -> Result<HttpResponse, AppError> {
    match result {
        Ok(()) => Ok(see_other(&format!("/incidents/{id}#{anchor}"))),
        Err(ServiceError::Invalid(errors)) => {
            let page = room::build(state, user, layout, id, true, Feedback { errors, form, conflict: None }).await?;
            render(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NoteForm {
    pub body: String,
    pub happened_at: String,
    pub corrects: String,
}

pub async fn add_note(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    id: web::Path<IncidentId>,
    CsrfForm(f): CsrfForm<NoteForm>,
) -> Result<HttpResponse, AppError> {
    let corrects = match f.corrects.trim() {
        "" => None,
        s => Some(s.parse::<EntryId>().map_err(|_| AppError::NotFound)?),
    };
    let result = svc::add_note(&state.pool, &user.actor(), user.time_zone, *id, &f.body, &f.happened_at, corrects)
        .await
        .map(|_| ());
    let form = RoomForm {
        note_body: f.body,
        note_happened_at: f.happened_at,
        note_corrects: f.corrects,
        ..Default::default()
    };
    finish(&state, &user, layout, *id, result, form, "note-form").await
}

/// The timeline is one form: each entry's button sends `mark` or `unmark`
/// with its id (one CSRF token for the page, not one per entry).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct HighlightForm {
    pub mark: String,
    pub unmark: String,
}

pub async fn highlight(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    id: web::Path<IncidentId>,
    CsrfForm(f): CsrfForm<HighlightForm>,
) -> Result<HttpResponse, AppError> {
    let (entry, on) = match (f.mark.trim(), f.unmark.trim()) {
        (m, "") if !m.is_empty() => (m, true),
        ("", u) if !u.is_empty() => (u, false),
        _ => return Err(AppError::BadRequest("say which entry to mark or unmark".into())),
    };
    let entry: EntryId = entry.parse().map_err(|_| AppError::NotFound)?;
    let result = svc::set_highlight(&state.pool, &user.actor(), *id, entry, on).await;
    finish(&state, &user, layout, *id, result, RoomForm::default(), &format!("entry-{entry}")).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct StatusForm {
    pub status: String,
    /// "yes" when the person ticked the box confirming a step back.
    pub confirm_back: String,
}

pub async fn change_status(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    id: web::Path<IncidentId>,
    CsrfForm(f): CsrfForm<StatusForm>,
) -> Result<HttpResponse, AppError> {
    let result =
        svc::change_status(&state.pool, &state.settings, &user.actor(), *id, &f.status, f.confirm_back == "yes")
            .await
            .map(|_| ());
    finish(&state, &user, layout, *id, result, RoomForm::default(), "status").await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SeverityForm {
    pub severity: String,
}

pub async fn change_severity(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    id: web::Path<IncidentId>,
    CsrfForm(f): CsrfForm<SeverityForm>,
) -> Result<HttpResponse, AppError> {
    let result = svc::change_severity(&state.pool, &state.settings, &user.actor(), *id, &f.severity).await.map(|_| ());
    finish(&state, &user, layout, *id, result, RoomForm::default(), "status").await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RoleForm {
    pub role: String,
    pub user: String,
}

pub async fn assign_role(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    id: web::Path<IncidentId>,
    CsrfForm(f): CsrfForm<RoleForm>,
) -> Result<HttpResponse, AppError> {
    let result = svc::assign_role(&state.pool, &user.actor(), *id, &f.role, &f.user).await;
    finish(&state, &user, layout, *id, result, RoomForm::default(), "roles").await
}

pub async fn relieve_role(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    id: web::Path<IncidentId>,
    CsrfForm(f): CsrfForm<RoleForm>,
) -> Result<HttpResponse, AppError> {
    let result = svc::relieve_role(&state.pool, &user.actor(), *id, &f.role).await;
    finish(&state, &user, layout, *id, result, RoomForm::default(), "roles").await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TimestampForm {
    pub which: String,
    pub value: String,
}

pub async fn correct_timestamp(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    id: web::Path<IncidentId>,
    CsrfForm(f): CsrfForm<TimestampForm>,
) -> Result<HttpResponse, AppError> {
    let result =
        svc::correct_timestamp(&state.pool, &user.actor(), user.time_zone, *id, &f.which, &f.value).await.map(|_| ());
    let typed = RoomForm { moment_which: f.which.clone(), moment_value: f.value.clone(), ..Default::default() };
    finish(&state, &user, layout, *id, result, typed, "moments").await
}

/// The lead's review of the key times at resolve (one form, four moments).
pub async fn review_key_times(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    id: web::Path<IncidentId>,
    CsrfForm(f): CsrfForm<svc::KeyTimesInput>,
) -> Result<HttpResponse, AppError> {
    let result = svc::review_key_times(&state.pool, &user.actor(), user.time_zone, *id, &f).await.map(|_| ());
    finish(&state, &user, layout, *id, result, RoomForm { key_times: Some(f), ..Default::default() }, "moments").await
}

/// Saving the incident's details. When someone else saved first, nothing is
/// written: the room shows their version beside yours (409). The form comes
/// back based on their version, holding your value only where you changed
/// something, so saving again changes only your fields.
pub async fn edit_details(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    id: web::Path<IncidentId>,
    CsrfForm(f): CsrfForm<DetailsInput>,
) -> Result<HttpResponse, AppError> {
    let typed = |version: i32| DetailsValues {
        version,
        title: f.title.clone(),
        public_title: f.public_title.clone(),
        summary: f.summary.clone(),
        environment: f.environment.clone(),
        conference_url: f.conference_url.clone(),
        customer_impact: f.customer_impact.clone(),
        kind: f.kind.clone(),
        detection_source: f.detection_source.clone(),
        components: f.components_key(),
    };
    let originals = |version: i32| DetailsValues {
        version,
        title: f.original_title.clone().unwrap_or_default(),
        public_title: f.original_public_title.clone().unwrap_or_default(),
        summary: f.original_summary.clone().unwrap_or_default(),
        environment: f.original_environment.clone().unwrap_or_default(),
        conference_url: f.original_conference_url.clone().unwrap_or_default(),
        customer_impact: f.original_customer_impact.clone().unwrap_or_default(),
        kind: f.original_kind.clone().unwrap_or_default(),
        detection_source: f.original_detection_source.clone().unwrap_or_default(),
        components: f.original_components.clone().unwrap_or_default(),
    };
    match svc::edit_details(&state.pool, &user.actor(), *id, &f).await {
        Ok(_) => Ok(see_other(&format!("/incidents/{id}#details"))),
        Err(ServiceError::Conflict) => {
            let mut conn = state.pool.get().await?;
            let current = incidents::find(&mut conn, *id).await?.ok_or(AppError::NotFound)?;
            let theirs = details_of(&current, &components_of(&mut conn, *id).await?);
            drop(conn);
            let merged = typed(current.version).keep_edits_over(&originals(current.version), &theirs);
            let form = RoomForm { details: Some(merged), details_original: Some(theirs.clone()), ..Default::default() };
            let mut errors = FieldErrors::new();
            errors.add("details", "Someone else saved these details while you were editing. Nothing of yours was saved yet: their version is below; the form keeps what you changed. Save again to apply your changes.");
            let page = room::build(
                &state,
                &user,
                layout,
                *id,
                true,
                Feedback { errors, form, conflict: Some(Conflict { theirs }) },
            )
            .await?;
            render(StatusCode::CONFLICT, &page)
        }
        Err(ServiceError::Invalid(errors)) => {
            let version = f.version.trim().parse().unwrap_or(0);
            let form = RoomForm {
                details: Some(typed(version)),
                details_original: Some(originals(version)),
                ..Default::default()
            };
            let page = room::build(&state, &user, layout, *id, true, Feedback { errors, form, conflict: None }).await?;
            render(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(e) => Err(e.into()),
    }
}

/// The incident's component ids as the details form carries them.
async fn components_of(
    conn: &mut diesel_async::AsyncPgConnection,
    id: IncidentId,
) -> Result<Vec<crate::db::ComponentId>, AppError> {
    Ok(crate::db::components::for_incident(conn, id).await?.into_iter().map(|c| c.id).collect())
}

pub async fn create_task(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    id: web::Path<IncidentId>,
    CsrfForm(f): CsrfForm<TaskInput>,
) -> Result<HttpResponse, AppError> {
    let result = svc::add_task(&state.pool, &state.settings, &user.actor(), user.time_zone, *id, &f).await.map(|_| ());
    let form = RoomForm {
        task_title: f.title,
        task_kind: f.kind,
        task_assignee: f.assignee,
        task_timebox: f.timebox_minutes,
        task_due_at: f.due_at,
        task_ticket_url: f.ticket_url,
        task_details: f.details,
        task_priority: f.priority,
        ..Default::default()
    };
    finish(&state, &user, layout, *id, result, form, "tasks").await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TaskStatusForm {
    pub status: String,
}

pub async fn set_task_status(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    path: web::Path<(IncidentId, TaskId)>,
    CsrfForm(f): CsrfForm<TaskStatusForm>,
) -> Result<HttpResponse, AppError> {
    let (id, task) = path.into_inner();
    let result = svc::set_task_status(&state.pool, &user.actor(), id, task, &f.status).await.map(|_| ());
    finish(&state, &user, layout, id, result, RoomForm::default(), "tasks").await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TaskAssigneeForm {
    pub assignee: String,
}

pub async fn assign_task(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    path: web::Path<(IncidentId, TaskId)>,
    CsrfForm(f): CsrfForm<TaskAssigneeForm>,
) -> Result<HttpResponse, AppError> {
    let (id, task) = path.into_inner();
    let result = svc::assign_task(&state.pool, &state.settings, &user.actor(), id, task, &f.assignee).await.map(|_| ());
    finish(&state, &user, layout, id, result, RoomForm::default(), "tasks").await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ChangeForm {
    pub description: String,
    pub rollback_plan: String,
}

pub async fn request_change(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    id: web::Path<IncidentId>,
    CsrfForm(f): CsrfForm<ChangeForm>,
) -> Result<HttpResponse, AppError> {
    let result =
        svc::request_change(&state.pool, &user.actor(), *id, &f.description, &f.rollback_plan).await.map(|_| ());
    let form = RoomForm { change_description: f.description, change_rollback: f.rollback_plan, ..Default::default() };
    finish(&state, &user, layout, *id, result, form, "changes").await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DecisionForm {
    pub decision: String,
}

pub async fn decide_change(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    path: web::Path<(IncidentId, ChangeRequestId)>,
    CsrfForm(f): CsrfForm<DecisionForm>,
) -> Result<HttpResponse, AppError> {
    let (id, change) = path.into_inner();
    let approve = match f.decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => return Err(AppError::BadRequest("decision must be approve or reject".into())),
    };
    let result = svc::decide_change(&state.pool, &user.actor(), id, change, approve).await.map(|_| ());
    finish(&state, &user, layout, id, result, RoomForm::default(), "changes").await
}

pub async fn mark_change_applied(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    path: web::Path<(IncidentId, ChangeRequestId)>,
    _form: CsrfForm<crate::web::csrf::NoFields>,
) -> Result<HttpResponse, AppError> {
    let (id, change) = path.into_inner();
    let result = svc::mark_change_applied(&state.pool, &user.actor(), id, change).await.map(|_| ());
    finish(&state, &user, layout, id, result, RoomForm::default(), "changes").await
}
