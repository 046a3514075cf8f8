//! Scheduling, rescheduling and cancelling the review meeting:
//! `/postmortems/{id}/meeting` (the form; POST schedules or reschedules) and
//! `/postmortems/{id}/meeting/cancel` (confirmation; POST cancels), plus the
//! meeting card on the incident room and on the post-mortem page.

use actix_session::Session;
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::{self, ServiceConfig};
use askama::Template;
use chrono::Utc;
use diesel_async::AsyncPgConnection;

use crate::db::GroupId;
use crate::db::ids::PostmortemId;
use crate::db::incidents::Incident;
use crate::db::meetings::{self, Meeting};
use crate::db::stakeholders::{self, Group};
use crate::domain::Role;
use crate::domain::incident::Visibility;
use crate::domain::meeting::DEFAULT_MINUTES;
use crate::services::incidents::name_of;
use crate::services::meetings::{self as svc, MeetingContext, MeetingInput};
use crate::services::{FieldErrors, ServiceError};
use crate::web::AppState;
use crate::web::incidents::iso;
use crate::web::session::{self, FlashKind};
use crate::web::{AppError, CurrentUser, Layout, render, see_other};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.route("/postmortems/{id}/meeting", web::get().to(show))
        .route("/postmortems/{id}/meeting", web::post().to(submit))
        .route("/postmortems/{id}/meeting/cancel", web::get().to(confirm_cancel))
        .route("/postmortems/{id}/meeting/cancel", web::post().to(cancel));
}

/// A meeting as the pages show it, in the viewer's time zone.
pub struct MeetingView {
    pub when: String,
    pub utc: String,
    pub iso: String,
    pub minutes: i64,
    pub location: String,
    pub conference_url: Option<String>,
    pub organizer: String,
    pub invitees: i64,
    pub sequence: i32,
    /// Starts after the proposal deadline.
    pub late: bool,
    /// Already over.
    pub past: bool,
}

impl MeetingView {
    fn new(m: &Meeting, tz: chrono_tz::Tz, organizer: String, invitees: i64, incident: &Incident) -> Self {
        let now = Utc::now();
        MeetingView {
            when: svc::local_span(m.starts_at, m.ends_at, tz),
            utc: svc::local_span(m.starts_at, m.ends_at, chrono_tz::UTC),
            iso: iso(m.starts_at),
            minutes: m.minutes(),
            location: m.location.clone(),
            conference_url: m.conference_url.clone(),
            organizer,
            invitees,
            sequence: m.sequence,
            late: !svc::window(incident, tz).allows(m.starts_at),
            past: m.ends_at < now,
        }
    }

    pub fn invitee_text(&self) -> String {
        if self.invitees == 1 { "1 person".to_owned() } else { format!("{} people", self.invitees) }
    }
}

#[derive(Template)]
#[template(path = "postmortems/meeting.html")]
pub struct MeetingPage {
    pub layout: Layout,
    pub postmortem: PostmortemId,
    pub incident: Incident,
    pub resolved: bool,
    pub window_text: String,
    pub tz_name: String,
    pub existing: Option<MeetingView>,
    pub invitees: Vec<(String, String)>,
    pub groups: Vec<Group>,
    pub selected_group: Option<GroupId>,
    pub form: MeetingInput,
    pub errors: FieldErrors,
    pub min_date: String,
}

impl MeetingPage {
    pub fn is_selected(&self, g: &Group) -> bool {
        self.selected_group == Some(g.id)
    }
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct MeetingQuery {
    /// A stakeholder group to fill the invitees from ("" for none).
    pub group: Option<String>,
}

/// The form's values for a meeting that is on.
fn values_of(m: &Meeting, people: &[(String, String)], tz: chrono_tz::Tz) -> MeetingInput {
    let start = m.starts_at.with_timezone(&tz);
    MeetingInput {
        date: start.format("%Y-%m-%d").to_string(),
        time: start.format("%H:%M").to_string(),
        duration: m.minutes().to_string(),
        location: m.location.clone(),
        conference_url: m.conference_url.clone().unwrap_or_default(),
        invitees: svc::as_lines(people),
        sequence: m.sequence.to_string(),
    }
}

async fn meeting_page(
    state: &AppState,
    layout: Layout,
    user: &CurrentUser,
    postmortem: PostmortemId,
    group_choice: Option<String>,
    refused: Option<(MeetingInput, FieldErrors)>,
) -> Result<MeetingPage, AppError> {
    let mut conn = state.pool.get().await?;
    let tz = user.time_zone;
    let MeetingContext { incident, meeting, invitees, organizer, .. } =
        svc::context(&mut conn, &user.actor(), postmortem).await.map_err(AppError::from)?;
    let groups = stakeholders::list_groups(&mut conn).await?;
    // Which team list fills the invitees: the one asked for, else (for a new
    // meeting) "engineering" unless the incident is restricted.
    let asked = group_choice.map(|g| g.trim().parse::<GroupId>().ok().filter(|id| groups.iter().any(|x| x.id == *id)));
    let default = if incident.visibility() == Visibility::Restricted {
        None
    } else {
        svc::default_group(&mut conn).await?.map(|g| g.id)
    };
    let selected_group = asked.unwrap_or(default);
    let current: Vec<(String, String)> = invitees.iter().map(|i| (i.name.clone(), i.email.clone())).collect();
    let now = Utc::now();
    let window = svc::window(&incident, tz);
    let (form, errors) = match refused {
        Some((mut form, errors)) => {
            // Resubmitting must work: the form now carries the meeting as it is.
            form.sequence = meeting.as_ref().map(|m| m.sequence.to_string()).unwrap_or_default();
            (form, errors)
        }
        None => {
            let mut form = match &meeting {
                Some(m) => values_of(m, &current, tz),
                None => {
                    let start = window.suggest(svc::resolved_at(&incident), now, tz).with_timezone(&tz);
                    MeetingInput {
                        date: start.format("%Y-%m-%d").to_string(),
                        time: start.format("%H:%M").to_string(),
                        duration: DEFAULT_MINUTES.to_string(),
                        ..MeetingInput::default()
                    }
                }
            };
            if asked.is_some() || meeting.is_none() {
                let team = svc::team_list(&mut conn, incident.id, selected_group).await?;
                form.invitees = svc::as_lines(&team);
            }
            (form, FieldErrors::new())
        }
    };
    let count = i64::try_from(invitees.len()).unwrap_or(i64::MAX);
    let existing = meeting.as_ref().map(|m| MeetingView::new(m, tz, organizer.unwrap_or_default(), count, &incident));
    Ok(MeetingPage {
        layout: layout.at("postmortems"),
        postmortem,
        resolved: svc::is_resolved(&incident),
        window_text: window.describe(tz, now),
        tz_name: tz.name().to_owned(),
        incident,
        existing,
        invitees: current,
        groups,
        selected_group,
        form,
        errors,
        min_date: now.with_timezone(&tz).format("%Y-%m-%d").to_string(),
    })
}

pub async fn show(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    id: web::Path<PostmortemId>,
    query: web::Query<MeetingQuery>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Responder)?;
    let page = meeting_page(&state, layout, &user, *id, query.into_inner().group, None).await?;
    render(StatusCode::OK, &page)
}

pub async fn submit(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    session: Session,
    id: web::Path<PostmortemId>,
    crate::web::csrf::CsrfForm(form): crate::web::csrf::CsrfForm<MeetingInput>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Responder)?;
    match svc::save(&state.pool, &state.settings, &user.actor(), user.time_zone, *id, &form).await {
        Ok(saved) => {
            let when = svc::local_span(saved.meeting.starts_at, saved.meeting.ends_at, user.time_zone);
            let who = if saved.invited == 1 { "1 person".to_owned() } else { format!("{} people", saved.invited) };
            let message = if saved.rescheduled {
                let mut m = format!("Rescheduled the review meeting to {when}; updated invitations go to {who}.");
                if saved.removed > 0 {
                    m.push_str(&format!(" {} taken off the list get a cancellation.", saved.removed));
                }
                m
            } else {
                format!("Scheduled the review meeting for {when}; invitations go to {who}.")
            };
            session::flash(&session, FlashKind::Success, message);
            Ok(see_other(&format!("/postmortems/{}", *id)))
        }
        Err(ServiceError::Invalid(errors)) => {
            let page = meeting_page(&state, layout, &user, *id, None, Some((form, errors))).await?;
            render(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "postmortems/meeting_cancel.html")]
pub struct CancelPage {
    pub layout: Layout,
    pub postmortem: PostmortemId,
    pub incident: Incident,
    pub meeting: MeetingView,
}

pub async fn confirm_cancel(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    session: Session,
    id: web::Path<PostmortemId>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Responder)?;
    let mut conn = state.pool.get().await?;
    let MeetingContext { incident, meeting, invitees, organizer, .. } =
        svc::context(&mut conn, &user.actor(), *id).await.map_err(AppError::from)?;
    let Some(m) = meeting else {
        session::flash(&session, FlashKind::Info, "There is no review meeting to cancel.");
        return Ok(see_other(&format!("/postmortems/{}/meeting", *id)));
    };
    let view = MeetingView::new(
        &m,
        user.time_zone,
        organizer.unwrap_or_default(),
        i64::try_from(invitees.len()).unwrap_or(i64::MAX),
        &incident,
    );
    render(StatusCode::OK, &CancelPage { layout: layout.at("postmortems"), postmortem: *id, incident, meeting: view })
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct CancelInput {
    pub sequence: String,
}

pub async fn cancel(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    id: web::Path<PostmortemId>,
    crate::web::csrf::CsrfForm(form): crate::web::csrf::CsrfForm<CancelInput>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Responder)?;
    match svc::cancel(&state.pool, &state.settings, &user.actor(), *id, &form.sequence).await {
        Ok((_, told)) => {
            let who = if told == 1 { "1 person".to_owned() } else { format!("{told} people") };
            session::flash(
                &session,
                FlashKind::Success,
                format!("Cancelled the review meeting; {who} get a cancellation."),
            );
            Ok(see_other(&format!("/postmortems/{}", *id)))
        }
        Err(ServiceError::Invalid(errors)) => {
            let message = errors.get("meeting").unwrap_or("The meeting could not be cancelled.").to_owned();
            session::flash(&session, FlashKind::Error, message);
            Ok(see_other(&format!("/postmortems/{}/meeting", *id)))
        }
        Err(e) => Err(e.into()),
    }
}

/// The meeting card (room and post-mortem page).
#[derive(Template)]
#[template(path = "postmortems/meeting_panel.html")]
pub struct MeetingPanel {
    /// The section's id; its heading's id adds `-heading`.
    pub id: &'static str,
    pub postmortem: PostmortemId,
    pub meeting: Option<MeetingView>,
    pub window_text: String,
    pub can_change: bool,
}

async fn panel(
    conn: &mut AsyncPgConnection,
    incident: &Incident,
    user: &CurrentUser,
    id: &'static str,
) -> Result<String, AppError> {
    let Some(postmortem) = meetings::postmortem_of(conn, incident.id).await? else { return Ok(String::new()) };
    let meeting = meetings::active(conn, postmortem).await?;
    if meeting.is_none() && !svc::is_resolved(incident) {
        return Ok(String::new());
    }
    let tz = user.time_zone;
    let view = match &meeting {
        Some(m) => {
            let organizer = name_of(conn, m.organizer_id).await?;
            let count = meetings::count_invitees(conn, m.id).await?;
            Some(MeetingView::new(m, tz, organizer, count, incident))
        }
        None => None,
    };
    let page = MeetingPanel {
        id,
        postmortem,
        meeting: view,
        window_text: svc::window(incident, tz).describe(tz, Utc::now()),
        can_change: user.role.allows(Role::Responder),
    };
    page.render().map_err(AppError::unexpected)
}

/// The card this area adds to the incident room (rendered HTML; empty for none).
pub async fn room_panel(
    conn: &mut diesel_async::AsyncPgConnection,
    incident: &crate::db::incidents::Incident,
    user: &crate::web::CurrentUser,
) -> Result<String, crate::web::AppError> {
    panel(conn, incident, user, "review-meeting").await
}

/// The meeting card on the post-mortem page (rendered HTML; empty for none).
pub async fn document_panel(
    conn: &mut diesel_async::AsyncPgConnection,
    incident: &crate::db::incidents::Incident,
    user: &crate::web::CurrentUser,
    _csrf_token: &str,
) -> Result<String, crate::web::AppError> {
    panel(conn, incident, user, "postmortem-meeting").await
}
