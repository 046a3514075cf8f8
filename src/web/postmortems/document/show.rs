//! `/postmortems/{id}`: the document as read and printed, and its Markdown export.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use actix_web::web::{self};
use askama::Template;
use chrono::Utc;

use super::{load, name, steps};
use crate::db::ids::PostmortemId;
use crate::db::incidents::Incident;
use crate::db::postmortems::Postmortem;
use crate::db::{incident_roles, updates};
use crate::domain::Role;
use crate::domain::incident::{EntryKind, IncidentRole};
use crate::domain::markdown::to_safe_html;
use crate::domain::metrics::format_duration;
use crate::domain::postmortem::{
    Facts, NOT_RECORDED, PostmortemStatus, Section, Transition, document_markdown, format_time,
};
use crate::services::FieldErrors;
use crate::services::postmortems::{self as svc};
use crate::web::AppState;
use crate::web::incidents::iso;
use crate::web::{AppError, CurrentUser, Layout, render};

/// A labelled value of the header or the key times.
pub struct Fact {
    pub label: &'static str,
    pub value: String,
    /// For `<time datetime>`, when the value is a moment.
    pub iso: Option<String>,
}

pub struct EntryView {
    pub id: i64,
    /// Left out of the published version.
    pub hidden: bool,
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
                id: e.id,
                hidden: e.hidden,
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
    /// Taken through a confirmation page instead of straight from the button.
    pub confirm_url: Option<String>,
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

pub(super) async fn show_page(
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
    let detection_missing = svc::detection_missing(&incident, &pm.detection);
    let asks = svc::publication_asks(&pm, &incident);
    let steps = steps(&mut conn, &pm, &incident, user)
        .await?
        .into_iter()
        .map(|t| StepView {
            value: t.as_str(),
            label: t.label(),
            rule: t.rule(),
            primary: t != Transition::ReturnToDraft,
            // A summary about to go public is read first, on its own page.
            confirm_url: (t == Transition::Publish && asks).then(|| format!("/postmortems/{}/publish", pm.id)),
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
    let meeting_panel = super::super::meeting::document_panel(&mut conn, &incident, user, &layout.csrf_token).await?;
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
