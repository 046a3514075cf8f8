//! `/incidents/{id}/updates`: the communications lead composes a stakeholder
//! update from a filled-in template, previews exactly what goes out, and sends it.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::db::components::Component;
use crate::db::incidents::Incident;
use crate::db::stakeholders::Group;
use crate::db::{IncidentId, components, incidents, stakeholders, updates};
use crate::domain::incident::IncidentStatus;
use crate::domain::status::{Audience, ComponentStatus};
use crate::domain::updates::NEXT_UPDATE_CHOICES;
use crate::services::updates::{self as svc, Prepared, Sent, UpdateInput};
use crate::services::{FieldErrors, ServiceError, incidents::can_view};
use crate::web::AppState;
use crate::web::csrf::CsrfForm;
use crate::web::session::{self, FlashKind};
use crate::web::{AppError, CurrentUser, Layout, render, see_other};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NewQuery {
    /// `resolved` offers the restoration notice.
    pub status: String,
    /// A published post-mortem's id: the final note, why it happened and what
    /// we are doing about it.
    pub postmortem: String,
}

#[derive(Template)]
#[template(path = "incidents/update.html")]
pub struct UpdatePage {
    pub layout: Layout,
    pub incident: Incident,
    pub form: UpdateInput,
    pub errors: FieldErrors,
    pub groups: Vec<Group>,
    pub components: Vec<Component>,
    pub preview: Option<Prepared>,
    pub subscribers_note: String,
    pub tz_name: String,
}

impl UpdatePage {
    pub fn statuses(&self) -> [IncidentStatus; 4] {
        [
            IncidentStatus::Investigating,
            IncidentStatus::Identified,
            IncidentStatus::Monitoring,
            IncidentStatus::Resolved,
        ]
    }
    pub fn audiences(&self) -> &'static [Audience] {
        Audience::ALL
    }
    pub fn component_statuses(&self) -> &'static [ComponentStatus] {
        ComponentStatus::ALL
    }
    pub fn next_choices(&self) -> [i64; 6] {
        NEXT_UPDATE_CHOICES
    }
    pub fn next_label(&self, minutes: &i64) -> String {
        match *minutes {
            m if m < 60 => format!("In {m} minutes"),
            60 => "In 1 hour".to_owned(),
            m => format!("In {} hours", m / 60),
        }
    }
    pub fn group_checked(&self, id: &crate::db::GroupId) -> bool {
        self.form.groups.iter().any(|g| g.trim() == id.to_string())
    }
    /// The status chosen for a component in the form ("" = no change).
    pub fn chosen(&self, c: &Component) -> String {
        let prefix = format!("{}:", c.id);
        self.form.component_status.iter().find_map(|v| v.strip_prefix(&prefix)).map(str::to_owned).unwrap_or_default()
    }
    pub fn is_chosen(&self, c: &Component, s: &ComponentStatus) -> bool {
        self.chosen(c) == s.as_str()
    }
    pub fn current_label(&self, c: &Component) -> &'static str {
        ComponentStatus::parse(&c.status).map(|s| s.label()).unwrap_or("Unknown")
    }
    pub fn recipients_summary(&self) -> String {
        let Some(p) = &self.preview else { return String::new() };
        let mut parts = Vec::new();
        if p.audience.is_internal() {
            let n = p.internal_recipients.len();
            parts.push(format!("{n} internal stakeholder{}", if n == 1 { "" } else { "s" }));
        }
        if p.audience.is_public() {
            parts.push(format!(
                "the public status page and {} confirmed subscriber{}",
                p.subscribers,
                if p.subscribers == 1 { "" } else { "s" }
            ));
        }
        parts.join(" and ")
    }
}

async fn page(
    state: &AppState,
    user: &CurrentUser,
    layout: Layout,
    id: IncidentId,
    form: UpdateInput,
    errors: FieldErrors,
    preview: Option<Prepared>,
) -> Result<UpdatePage, AppError> {
    let mut form = form;
    if form.idempotency_key.trim().is_empty() {
        // Every form shown carries a key, so its "Send update" happens once.
        form.idempotency_key = crate::domain::alerts::new_token();
    }
    let mut conn = state.pool.get().await?;
    let incident = incidents::find(&mut conn, id).await?.ok_or(AppError::NotFound)?;
    if !can_view(&mut conn, &incident, &user.actor()).await? {
        return Err(AppError::NotFound);
    }
    let groups = stakeholders::list_groups(&mut conn).await?;
    let components = components::for_incident(&mut conn, id).await?;
    let subscribers_note = if incident.visibility == "restricted" {
        "This incident is restricted: updates go to internal stakeholders only.".to_owned()
    } else {
        String::new()
    };
    Ok(UpdatePage {
        layout: layout.at("incidents"),
        incident,
        form,
        errors,
        groups,
        components,
        preview,
        subscribers_note,
        tz_name: user.time_zone.name().to_owned(),
    })
}

pub async fn new_form(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    id: web::Path<IncidentId>,
    query: web::Query<NewQuery>,
) -> Result<HttpResponse, AppError> {
    let id = *id;
    let mut conn = state.pool.get().await?;
    let incident = incidents::find(&mut conn, id).await?.ok_or(AppError::NotFound)?;
    if !can_view(&mut conn, &incident, &user.actor()).await? {
        return Err(AppError::NotFound);
    }
    if !svc::may_send(&mut conn, id, &user.actor()).await? {
        return Err(AppError::Forbidden);
    }
    let last = updates::latest_for(&mut conn, id).await?;
    let wanted = IncidentStatus::parse(&query.status).ok();
    let mut form = svc::prefill(&incident, last.as_ref(), wanted, user.time_zone);
    form.groups = stakeholders::groups_for_incident(&mut conn, id).await?.iter().map(|g| g.to_string()).collect();
    if !query.postmortem.is_empty() {
        crate::web::postmortems::document::prefill_note(&mut conn, &incident, &query.postmortem, &mut form).await?;
    }
    if form.status == IncidentStatus::Resolved.as_str() {
        // The restoration notice: offer to set every affected component back to operational.
        form.component_status = components::for_incident(&mut conn, id)
            .await?
            .iter()
            .filter(|c| c.status != ComponentStatus::Operational.as_str())
            .map(|c| format!("{}:{}", c.id, ComponentStatus::Operational.as_str()))
            .collect();
    }
    drop(conn);
    render(StatusCode::OK, &page(&state, &user, layout, id, form, FieldErrors::new(), None).await?)
}

pub async fn submit(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    id: web::Path<IncidentId>,
    session: actix_session::Session,
    CsrfForm(form): CsrfForm<UpdateInput>,
) -> Result<HttpResponse, AppError> {
    let id = *id;
    let actor = user.actor();
    let mut form = form;
    if form.action == "send" {
        match svc::send(&state.pool, &state.settings, &actor, user.time_zone, id, &form).await {
            Ok(Sent::Sent(update)) => {
                state.status.refresh().await;
                session::flash(&session, FlashKind::Success, format!("Update sent: {}", update.subject));
                return Ok(see_other(&format!("/incidents/{id}")));
            }
            Ok(Sent::AlreadySent(update)) => {
                session::flash(
                    &session,
                    FlashKind::Success,
                    format!("This update was already sent: {}", update.subject),
                );
                return Ok(see_other(&format!("/incidents/{id}")));
            }
            Ok(Sent::PreviewChanged(prepared)) => {
                // Nothing was sent: show what would go out now, to be read and sent again.
                freeze(&mut form, &prepared);
                let mut errors = FieldErrors::new();
                errors.add(
                    "preview",
                    "The message changed since your preview (the incident or the form changed), so nothing was sent. Read the new preview below and send again.",
                );
                let page = page(&state, &user, layout, id, form, errors, Some(*prepared)).await?;
                return render(StatusCode::CONFLICT, &page);
            }
            Err(ServiceError::Invalid(errors)) => {
                let page = page(&state, &user, layout, id, form, errors, None).await?;
                return render(StatusCode::UNPROCESSABLE_ENTITY, &page);
            }
            Err(e) => return Err(e.into()),
        }
    }
    match svc::preview(&state.pool, &state.settings, &actor, user.time_zone, id, &form).await {
        Ok(prepared) => {
            freeze(&mut form, &prepared);
            render(StatusCode::OK, &page(&state, &user, layout, id, form, FieldErrors::new(), Some(prepared)).await?)
        }
        Err(ServiceError::Invalid(errors)) => {
            render(StatusCode::UNPROCESSABLE_ENTITY, &page(&state, &user, layout, id, form, errors, None).await?)
        }
        Err(e) => Err(e.into()),
    }
}

/// The form remembers the preview it shows, so "Send update" sends that text.
fn freeze(form: &mut UpdateInput, prepared: &Prepared) {
    form.composed_at = prepared.composed_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    form.preview_digest = prepared.digest.clone();
}
