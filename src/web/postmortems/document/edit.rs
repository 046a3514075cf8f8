//! `/postmortems/{id}/edit`: write, preview and save the sections (optimistic
//! locking on `version`), and the monitoring follow-up the detection question offers.

use actix_session::Session;
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::{self};
use askama::Template;
use diesel_async::AsyncPgConnection;

use super::show::SectionView;
use super::{load, name};
use crate::db::ids::PostmortemId;
use crate::db::incidents::Incident;
use crate::db::{UserId, users};
use crate::domain::Role;
use crate::domain::markdown::to_safe_html;
use crate::domain::postmortem::{PostmortemStatus, Section};
use crate::services::postmortems::{self as svc, EditInput, Rebased};
use crate::services::{FieldErrors, ServiceError};
use crate::web::AppState;
use crate::web::csrf::CsrfForm;
use crate::web::session::{self, FlashKind};
use crate::web::{AppError, CurrentUser, Layout, render, see_other};

/// What a save that lost the race brings back to the edit page.
pub struct ConflictView {
    pub rebased: Rebased,
    pub owner_mine: String,
    pub owner_theirs: String,
}

#[derive(Template)]
#[template(path = "postmortems/edit.html")]
pub struct EditPage {
    pub layout: Layout,
    pub pm_id: PostmortemId,
    pub incident: Incident,
    pub status: PostmortemStatus,
    pub form: EditInput,
    pub errors: FieldErrors,
    pub responders: Vec<(UserId, String)>,
    /// Rendered sections, after "Preview".
    pub previews: Option<Vec<SectionView>>,
    pub conflict: Option<ConflictView>,
    /// Not detected by an alert: the detection section is required before review.
    pub detection_required: bool,
    pub resolved: bool,
    pub notice: Option<String>,
}

impl EditPage {
    pub fn sections(&self) -> &'static [Section] {
        Section::ALL
    }
    pub fn text(&self, s: &Section) -> &str {
        self.form.text(*s)
    }
    pub fn base(&self, s: &Section) -> &str {
        self.form.base(*s)
    }
    pub fn error(&self, s: &Section) -> Option<&str> {
        self.errors.get(s.as_str())
    }
    pub fn preview(&self, s: &Section) -> Option<&str> {
        self.previews.as_ref()?.iter().find(|p| p.section == *s).map(|p| p.html.as_str())
    }
    pub fn theirs(&self, s: &Section) -> Option<&str> {
        let c = self.conflict.as_ref()?;
        c.rebased.conflicts.iter().find(|x| x.section == *s).map(|x| x.theirs.as_str())
    }
    pub fn mine(&self, s: &Section) -> Option<&str> {
        let c = self.conflict.as_ref()?;
        c.rebased.conflicts.iter().find(|x| x.section == *s).map(|x| x.mine.as_str())
    }
    pub fn taken(&self, s: &Section) -> bool {
        self.conflict.as_ref().is_some_and(|c| c.rebased.taken.contains(s))
    }
    pub fn is_owner(&self, id: &UserId) -> bool {
        self.form.owner.trim() == id.to_string()
    }
    pub fn saved_by(&self) -> String {
        self.conflict.as_ref().and_then(|c| c.rebased.saved_by.clone()).unwrap_or_else(|| "Someone else".to_owned())
    }
    pub fn is_detection(&self, s: &Section) -> bool {
        *s == Section::Detection
    }
}

/// What the edit page shows besides the saved post-mortem.
#[derive(Default)]
pub(super) struct EditState {
    /// The typed values (`None`: the saved ones).
    pub form: Option<EditInput>,
    pub errors: FieldErrors,
    pub previews: Option<Vec<SectionView>>,
    pub conflict: Option<ConflictView>,
    /// What an in-page action did ("Follow-up task added…").
    pub notice: Option<String>,
}

pub(super) async fn edit_page(
    state: &AppState,
    user: &CurrentUser,
    layout: Layout,
    id: PostmortemId,
    edit: EditState,
) -> Result<EditPage, AppError> {
    let EditState { form, errors, previews, conflict, notice } = edit;
    let mut conn = state.pool.get().await?;
    let (pm, incident) = load(&mut conn, user, id).await?;
    let all = users::list(&mut conn).await?;
    drop(conn);
    let responders = all
        .iter()
        .filter(|u| !u.disabled && u.role().allows(Role::Responder))
        .map(|u| (u.id, u.display_name.clone()))
        .collect();
    Ok(EditPage {
        layout: layout.at("postmortems"),
        pm_id: pm.id,
        status: pm.status(),
        form: form.unwrap_or_else(|| EditInput::from_saved(&pm)),
        errors,
        responders,
        previews,
        conflict,
        detection_required: incident.detection_source() != crate::domain::incident::DetectionSource::Alert,
        resolved: !incident.status().is_active(),
        notice,
        incident,
    })
}

pub async fn edit_form(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    session: Session,
    id: web::Path<PostmortemId>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Responder)?;
    let mut conn = state.pool.get().await?;
    let (pm, _) = load(&mut conn, &user, *id).await?;
    drop(conn);
    if !pm.status().is_editable() {
        session::flash(&session, FlashKind::Info, "This post-mortem is published: it is final and no longer edited.");
        return Ok(see_other(&format!("/postmortems/{id}")));
    }
    let page = edit_page(&state, &user, layout, *id, EditState::default()).await?;
    render(StatusCode::OK, &page)
}

/// `POST /postmortems/{id}/edit`: "Preview" renders the sections, "Save
/// post-mortem" saves over the version the form was opened at.
pub async fn save(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    session: Session,
    id: web::Path<PostmortemId>,
    CsrfForm(form): CsrfForm<EditInput>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Responder)?;
    let id = *id;
    if form.action == "preview" {
        let errors = svc::check_sections(&form);
        let previews =
            Section::ALL.iter().map(|s| SectionView { section: *s, html: to_safe_html(form.text(*s)) }).collect();
        let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
        let page = edit_page(
            &state,
            &user,
            layout,
            id,
            EditState { form: Some(form), errors, previews: Some(previews), ..Default::default() },
        )
        .await?;
        return render(status, &page);
    }
    match svc::save(&state.pool, &user.actor(), id, &form).await {
        Ok(_) => {
            session::flash(&session, FlashKind::Success, "Post-mortem saved.");
            Ok(see_other(&format!("/postmortems/{id}")))
        }
        Err(ServiceError::Conflict) => {
            let mut conn = state.pool.get().await?;
            let (saved, _) = load(&mut conn, &user, id).await?;
            let saved_by = name(&mut conn, saved.updated_by).await?;
            let rebased = svc::rebase(&form, &saved, saved_by);
            let (owner_mine, owner_theirs) = match &rebased.owner_conflict {
                Some((mine, theirs)) => (owner_name(&mut conn, mine).await?, owner_name(&mut conn, theirs).await?),
                None => (String::new(), String::new()),
            };
            drop(conn);
            let form = rebased.form.clone();
            let conflict = ConflictView { rebased, owner_mine, owner_theirs };
            let page = edit_page(
                &state,
                &user,
                layout,
                id,
                EditState { form: Some(form), conflict: Some(conflict), ..Default::default() },
            )
            .await?;
            render(StatusCode::CONFLICT, &page)
        }
        Err(ServiceError::Invalid(errors)) => {
            let page =
                edit_page(&state, &user, layout, id, EditState { form: Some(form), errors, ..Default::default() })
                    .await?;
            render(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(ServiceError::Forbidden(m)) => {
            session::flash(&session, FlashKind::Error, format!("Not saved: {m}."));
            Ok(see_other(&format!("/postmortems/{id}")))
        }
        Err(e) => Err(e.into()),
    }
}

async fn owner_name(conn: &mut AsyncPgConnection, id: &str) -> Result<String, AppError> {
    let id = id.trim().parse::<UserId>().ok();
    Ok(name(conn, id).await?.unwrap_or_else(|| "Nobody".to_owned()))
}

/// `POST /postmortems/{id}/followup`: the monitoring follow-up the detection
/// question offers. Its button belongs to the edit form, so the sections come
/// along: the page comes back with them as typed (not saved) and the task added.
pub async fn monitoring_followup(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    id: web::Path<PostmortemId>,
    CsrfForm(form): CsrfForm<EditInput>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Responder)?;
    let (task, added) = svc::create_monitoring_followup(&state.pool, &user.actor(), user.time_zone, *id).await?;
    let notice = if added {
        format!("Follow-up task added: {}. Your text below is not saved yet.", task.title)
    } else {
        format!("A follow-up task already tracks this: {}. Your text below is not saved yet.", task.title)
    };
    let page = edit_page(
        &state,
        &user,
        layout,
        *id,
        EditState { form: Some(form), notice: Some(notice), ..Default::default() },
    )
    .await?;
    render(StatusCode::OK, &page)
}
