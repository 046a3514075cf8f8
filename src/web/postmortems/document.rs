//! The post-mortem document: `/postmortems/{id}` (read and print),
//! `/postmortems/{id}/edit` (write, preview, save with optimistic locking),
//! `/postmortems/{id}/status` (the review flow), `/postmortems/{id}.md` (the
//! Markdown export) and its card in the incident room.

use actix_session::Session;
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use actix_web::web::{self, ServiceConfig};
use askama::Template;
use chrono::Utc;
use diesel_async::AsyncPgConnection;
use serde::Deserialize;

use crate::db::ids::PostmortemId;
use crate::db::incidents::Incident;
use crate::db::postmortems::{self, Postmortem};
use crate::db::{UserId, incident_roles, tasks, updates, users};
use crate::domain::Role;
use crate::domain::incident::{EntryKind, IncidentRole, TaskKind};
use crate::domain::markdown::to_safe_html;
use crate::domain::metrics::format_duration;
use crate::domain::postmortem::{
    self as rules, Facts, NOT_RECORDED, PostmortemStatus, Section, Situation, Transition, Who, document_markdown,
    format_time,
};
use crate::services::postmortems::{self as svc, EditInput, Rebased};
use crate::services::{FieldErrors, ServiceError};
use crate::startup::AppState;
use crate::web::csrf::{CsrfForm, NoFields};
use crate::web::incidents::iso;
use crate::web::session::{self, FlashKind};
use crate::web::{AppError, CurrentUser, Layout, render, see_other};

pub fn configure(cfg: &mut ServiceConfig) {
    // The export first: "{id}" alone would also match "12.md".
    cfg.route("/postmortems/{id}.md", web::get().to(markdown))
        .route("/postmortems/{id}", web::get().to(show))
        .route("/postmortems/{id}/edit", web::get().to(edit_form))
        .route("/postmortems/{id}/edit", web::post().to(save))
        .route("/postmortems/{id}/status", web::post().to(change_status))
        .route("/postmortems/{id}/followup", web::post().to(monitoring_followup));
}

/// A labelled value of the header or the key times.
pub struct Fact {
    pub label: &'static str,
    pub value: String,
    /// For `<time datetime>`, when the value is a moment.
    pub iso: Option<String>,
}

pub struct EntryView {
    pub time: String,
    pub iso: String,
    pub author: String,
    pub kind: String,
    /// Sanitised HTML for notes; `None` for plain-text entries.
    pub html: Option<String>,
    pub text: String,
    pub highlighted: bool,
}

pub struct UpdateView {
    pub time: String,
    pub iso: String,
    pub by: String,
    pub audience: String,
    pub subject: String,
    pub body: String,
}

pub struct ChangeView {
    pub requested: String,
    pub by: String,
    pub description: String,
    pub rollback_plan: String,
    pub status: String,
    pub outcome: String,
}

pub struct TaskView {
    pub title: String,
    pub kind: String,
    pub status: String,
    pub assignee: String,
    pub due: String,
    pub ticket_url: String,
}

/// The drafted facts, shaped for the page in the viewer's time zone.
pub struct FactsView {
    pub header: Vec<Fact>,
    pub times: Vec<Fact>,
    pub metrics: Vec<Fact>,
    pub timeline: Vec<EntryView>,
    pub updates: Vec<UpdateView>,
    pub changes: Vec<ChangeView>,
    pub tasks: Vec<TaskView>,
}

fn facts_view(f: &Facts, tz: chrono_tz::Tz) -> FactsView {
    let t = |at| format_time(at, tz);
    let names = |v: &[String]| if v.is_empty() { "Nobody".to_owned() } else { v.join(", ") };
    let plain = |label, value: String| Fact { label, value, iso: None };
    FactsView {
        header: vec![
            plain("Title", f.title.clone()),
            plain("Severity", f.severity.clone()),
            plain("Kind", f.kind.clone()),
            plain("Components", if f.components.is_empty() { "None".to_owned() } else { f.components.join(", ") }),
            plain("Environment", f.environment.clone()),
            plain("Detected by", f.detection_source.clone()),
            plain("Incident lead", names(&f.leads)),
            plain("Note taker", names(&f.note_takers)),
            plain("Communications lead", names(&f.comms_leads)),
            plain("Participants", names(&f.participants)),
        ],
        times: f
            .times
            .iter()
            .map(|(label, at)| Fact {
                label,
                value: at.map(t).unwrap_or_else(|| NOT_RECORDED.to_owned()),
                iso: at.map(iso),
            })
            .collect(),
        metrics: f
            .metric_rows()
            .into_iter()
            .map(|(label, d)| plain(label, d.map(format_duration).unwrap_or_else(|| NOT_RECORDED.to_owned())))
            .collect(),
        timeline: f
            .timeline
            .iter()
            .map(|e| EntryView {
                time: t(e.at),
                iso: iso(e.at),
                author: e.author.clone(),
                kind: e.kind.clone(),
                html: (e.kind == EntryKind::Note.label()).then(|| to_safe_html(&e.body)),
                text: e.body.clone(),
                highlighted: e.highlighted,
            })
            .collect(),
        updates: f
            .updates
            .iter()
            .map(|u| UpdateView {
                time: t(u.at),
                iso: iso(u.at),
                by: u.by.clone(),
                audience: u.audience.clone(),
                subject: u.subject.clone(),
                body: u.body.clone(),
            })
            .collect(),
        changes: f
            .changes
            .iter()
            .map(|c| {
                let mut outcome = Vec::new();
                if let Some((by, at)) = &c.decided {
                    outcome.push(format!("decided by {by} at {}", t(*at)));
                }
                if let Some((by, at)) = &c.applied {
                    outcome.push(format!("applied by {by} at {}", t(*at)));
                }
                ChangeView {
                    requested: t(c.requested_at),
                    by: c.requested_by.clone(),
                    description: c.description.clone(),
                    rollback_plan: c.rollback_plan.clone(),
                    status: c.status.clone(),
                    outcome: outcome.join("; "),
                }
            })
            .collect(),
        tasks: f
            .tasks
            .iter()
            .map(|x| TaskView {
                title: x.title.clone(),
                kind: x.kind.clone(),
                status: x.status.clone(),
                assignee: x.assignee.clone().unwrap_or_else(|| "Unassigned".to_owned()),
                due: x.due_at.map(t).unwrap_or_default(),
                ticket_url: x.ticket_url.clone().unwrap_or_default(),
            })
            .collect(),
    }
}

/// When and by whom it was published.
pub struct Published {
    pub when: String,
    pub iso: String,
    pub by: String,
}

pub struct SectionView {
    pub section: Section,
    pub html: String,
}

/// One step of the review flow offered on the page.
pub struct StepView {
    pub value: &'static str,
    pub label: &'static str,
    pub rule: &'static str,
    pub primary: bool,
}

/// After publication: the final stakeholder note, offered to whoever speaks
/// for the incident.
pub struct NoteOffer {
    /// The viewer may send updates (communications lead, lead, admin).
    pub may_send: bool,
    pub url: String,
    pub comms_lead: Option<String>,
    /// An update went out after publication already.
    pub sent: bool,
}

#[derive(Template)]
#[template(path = "postmortems/show.html")]
pub struct ShowPage {
    pub layout: Layout,
    pub pm: Postmortem,
    pub incident: Incident,
    pub status: PostmortemStatus,
    pub owner: String,
    pub published: Option<Published>,
    /// The incident is resolved or closed.
    pub resolved: bool,
    /// Drafted live (until publication).
    pub facts: Option<FactsView>,
    /// Frozen at publication, as sanitised HTML.
    pub frozen_html: Option<String>,
    pub sections: Vec<SectionView>,
    pub steps: Vec<StepView>,
    pub can_write: bool,
    pub detection_missing: bool,
    pub errors: FieldErrors,
    pub meeting_panel: String,
    pub note: Option<NoteOffer>,
    pub printed_at: String,
}

impl ShowPage {
    pub fn editable(&self) -> bool {
        self.can_write && self.status.is_editable()
    }
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

async fn show_page(
    state: &AppState,
    user: &CurrentUser,
    layout: Layout,
    id: PostmortemId,
    errors: FieldErrors,
) -> Result<ShowPage, AppError> {
    let tz = user.time_zone;
    let mut conn = state.pool.get().await?;
    let (pm, incident) = load(&mut conn, user, id).await?;
    let status = pm.status();
    let owner = name(&mut conn, pm.owner_id).await?.unwrap_or_else(|| "Nobody yet".to_owned());
    let resolved = !incident.status().is_active();
    let (facts, frozen_html) = match &pm.published_facts {
        Some(md) if status == PostmortemStatus::Published => (None, Some(to_safe_html(md))),
        _ => (Some(facts_view(&svc::facts(&mut conn, &incident).await?, tz)), None),
    };
    let published = match pm.published_at {
        Some(at) => {
            let by = name(&mut conn, pm.published_by).await?.unwrap_or_else(|| "someone".to_owned());
            Some(Published { when: format_time(at, tz), iso: iso(at), by })
        }
        None => None,
    };
    let who = who(&mut conn, &pm, user).await?;
    let detection_missing = svc::detection_missing(&incident, &pm.detection);
    let situation =
        Situation { status, has_owner: pm.owner_id.is_some(), incident_resolved: resolved, detection_missing };
    let steps = rules::offered(&who, &situation)
        .into_iter()
        .map(|t| StepView {
            value: t.as_str(),
            label: t.label(),
            rule: t.rule(),
            primary: t != Transition::ReturnToDraft,
        })
        .collect();
    let note = if status == PostmortemStatus::Published {
        let may_send = crate::services::updates::may_send(&mut conn, incident.id, &user.actor()).await?;
        let comms = incident_roles::current_holder(&mut conn, incident.id, IncidentRole::CommsLead).await?;
        let comms_lead = name(&mut conn, comms.map(|c| c.user_id)).await?;
        let last = updates::latest_for(&mut conn, incident.id).await?;
        let sent = matches!((last, pm.published_at), (Some(u), Some(p)) if u.created_at >= p);
        Some(NoteOffer {
            may_send,
            url: format!("/incidents/{}/updates/new?postmortem={}", incident.id, pm.id),
            comms_lead,
            sent,
        })
    } else {
        None
    };
    let meeting_panel = super::meeting::document_panel(&mut conn, &incident, user, &layout.csrf_token).await?;
    drop(conn);
    let sections =
        Section::ALL.iter().map(|s| SectionView { section: *s, html: to_safe_html(pm.section(*s)) }).collect();
    Ok(ShowPage {
        layout: layout.at("postmortems"),
        status,
        owner,
        published,
        resolved,
        facts,
        frozen_html,
        sections,
        steps,
        can_write: user.role.allows(Role::Responder),
        detection_missing,
        errors,
        meeting_panel,
        note,
        printed_at: format_time(Utc::now(), tz),
        pm,
        incident,
    })
}

pub async fn show(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    id: web::Path<PostmortemId>,
) -> Result<HttpResponse, AppError> {
    render(StatusCode::OK, &show_page(&state, &user, layout, *id, FieldErrors::new()).await?)
}

/// A file name for the export: `postmortem-12-checkout-errors.md`.
fn file_name(id: PostmortemId, title: &str) -> String {
    let mut slug = String::new();
    for c in title.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
        if slug.len() >= 60 {
            break;
        }
    }
    let slug = slug.trim_end_matches('-');
    if slug.is_empty() { format!("postmortem-{id}.md") } else { format!("postmortem-{id}-{slug}.md") }
}

/// `GET /postmortems/{id}.md`: the whole document (facts and sections) as Markdown.
pub async fn markdown(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<PostmortemId>,
) -> Result<HttpResponse, AppError> {
    let tz = user.time_zone;
    let mut conn = state.pool.get().await?;
    let (pm, incident) = load(&mut conn, &user, *id).await?;
    let owner = name(&mut conn, pm.owner_id).await?.unwrap_or_else(|| "nobody yet".to_owned());
    let (facts, status_line) = match (&pm.published_facts, pm.published_at) {
        (Some(md), Some(at)) if pm.status() == PostmortemStatus::Published => {
            let by = name(&mut conn, pm.published_by).await?.unwrap_or_else(|| "someone".to_owned());
            (md.clone(), format!("Status: Published {} by {by}. Owner: {owner}.", format_time(at, chrono_tz::UTC)))
        }
        _ => {
            let facts = svc::facts(&mut conn, &incident).await?;
            let note = if incident.status().is_active() {
                " The facts are drafted when the incident is resolved; these are as of now."
            } else {
                ""
            };
            (facts.to_markdown(tz), format!("Status: {}. Owner: {owner}.{note}", pm.status().label()))
        }
    };
    drop(conn);
    let sections: Vec<(Section, String)> = Section::ALL.iter().map(|s| (*s, pm.section(*s).to_owned())).collect();
    let body = document_markdown(&incident.title, &status_line, &facts, &sections);
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/markdown; charset=utf-8"))
        .insert_header((CONTENT_DISPOSITION, format!("attachment; filename=\"{}\"", file_name(pm.id, &incident.title))))
        .body(body))
}

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
struct EditState {
    /// The typed values (`None`: the saved ones).
    form: Option<EditInput>,
    errors: FieldErrors,
    previews: Option<Vec<SectionView>>,
    conflict: Option<ConflictView>,
}

async fn edit_page(
    state: &AppState,
    user: &CurrentUser,
    layout: Layout,
    id: PostmortemId,
    edit: EditState,
) -> Result<EditPage, AppError> {
    let EditState { form, errors, previews, conflict } = edit;
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
            EditState { form: Some(form), errors, previews: Some(previews), conflict: None },
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

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct StepForm {
    pub transition: String,
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
    match svc::change_status(&state.pool, &state.settings, &user.actor(), id, &form.transition).await {
        Ok((pm, incident)) => {
            let message = match pm.status() {
                PostmortemStatus::Published => {
                    if incident.visibility() == crate::domain::incident::Visibility::Public {
                        // The summary shows on the public incident page right away.
                        state.status.refresh().await;
                        "Post-mortem published: it is in the library, and its summary is on the public incident page."
                    } else {
                        "Post-mortem published: it is in the library."
                    }
                }
                s => match s {
                    PostmortemStatus::InReview => "Post-mortem sent for review.",
                    PostmortemStatus::Reviewed => "Post-mortem marked reviewed.",
                    _ => "Post-mortem back to draft.",
                },
            };
            session::flash(&session, FlashKind::Success, message);
            Ok(see_other(&format!("/postmortems/{id}")))
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
            let mut chars = m.chars();
            let message: String = chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default();
            let errors = FieldErrors::single("status", format!("{}.", message.trim_end_matches('.')));
            render(StatusCode::FORBIDDEN, &show_page(&state, &user, layout, id, errors).await?)
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /postmortems/{id}/followup`: the monitoring follow-up the detection
/// question offers.
pub async fn monitoring_followup(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    id: web::Path<PostmortemId>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Responder)?;
    let task = svc::create_monitoring_followup(&state.pool, &user.actor(), user.time_zone, *id).await?;
    session::flash(&session, FlashKind::Success, format!("Follow-up task added: {}", task.title));
    Ok(see_other(&format!("/postmortems/{id}/edit#section-detection")))
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_file_names_are_plain() {
        assert_eq!(
            file_name(PostmortemId(12), "Checkout fails: 500 errors!"),
            "postmortem-12-checkout-fails-500-errors.md"
        );
        assert_eq!(file_name(PostmortemId(3), "“Ünïcode” only"), "postmortem-3-n-code-only.md");
        assert_eq!(file_name(PostmortemId(4), "!!!"), "postmortem-4.md");
    }
}
