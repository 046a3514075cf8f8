//! `/`: active incidents, my tasks, recently resolved.

use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::Utc;

use super::auth::setup::needs_setup;
use super::incidents::list::{Row, row};
use super::incidents::local_time;
use super::session::MaybeUser;
use super::{AppError, Layout, render, see_other};
use crate::db::incidents::IncidentFilter;
use crate::db::{IncidentId, incident_roles, incidents, tasks};
use crate::domain::followups::{Closure, closure};
use crate::domain::incident::{IncidentRole, IncidentStatus, RESTRICTED_TITLE, Severity, format_duration};
use crate::web::AppState;

pub struct ActiveRow {
    pub row: Row,
    pub lead: String,
    pub age: String,
}

pub struct MyTask {
    pub incident_id: IncidentId,
    pub incident: String,
    pub title: String,
    pub status: &'static str,
    pub due: String,
}

/// A resolved or closed incident that is not fully closed yet.
pub struct WaitingRow {
    pub id: IncidentId,
    pub title: String,
    pub severity: Severity,
    pub status: IncidentStatus,
    pub resolved: String,
    /// "post-mortem draft (not published); 2 open follow-ups"
    pub waiting_on: String,
    pub open_followups: i64,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
pub struct DashboardPage {
    pub layout: Layout,
    pub active: Vec<ActiveRow>,
    pub my_tasks: Vec<MyTask>,
    pub rows: Vec<Row>,
    pub waiting: Vec<WaitingRow>,
    /// How many incidents wait in all (more than listed when there are many).
    pub waiting_total: i64,
}

/// How many not-yet-fully-closed incidents the dashboard lists.
const WAITING_LIMIT: i64 = 20;

pub async fn show(req: HttpRequest, state: web::Data<AppState>, user: MaybeUser) -> Result<HttpResponse, AppError> {
    let Some(user) = user.0 else {
        let to = if needs_setup(&state).await? { "/setup" } else { "/login" };
        return Ok(see_other(to));
    };
    let tz = user.time_zone;
    let now = Utc::now();
    let mut conn = state.pool.get().await?;
    let active_filter =
        IncidentFilter { statuses: Some(vec!["investigating", "identified", "monitoring"]), ..Default::default() };
    let (active_incidents, _) = incidents::list(&mut conn, user.id, user.is_admin(), &active_filter, 100, 0).await?;
    let ids: Vec<IncidentId> = active_incidents.iter().map(|i| i.id).collect();
    let leads = incident_roles::current_names(&mut conn, &ids, IncidentRole::Lead).await?;
    let active = active_incidents
        .iter()
        .map(|i| ActiveRow {
            row: row(i, tz),
            lead: leads
                .iter()
                .find(|(id, _)| *id == i.id)
                .map(|(_, n)| n.clone())
                .unwrap_or_else(|| "nobody".to_owned()),
            age: format_duration(now - i.declared_at),
        })
        .collect();
    let my_tasks = tasks::open_for_assignee(&mut conn, user.id).await?;
    let task_incidents: Vec<IncidentId> = my_tasks.iter().map(|(t, _)| t.incident_id).collect();
    let hidden = incidents::hidden_from(&mut conn, user.id, user.is_admin(), &task_incidents).await?;
    let my_tasks = my_tasks
        .into_iter()
        .map(|(t, incident)| MyTask {
            incident_id: t.incident_id,
            incident: if hidden.contains(&t.incident_id) { RESTRICTED_TITLE.to_owned() } else { incident },
            status: t.status().label(),
            due: t.due_at.map(|d| local_time(d, tz)).unwrap_or_default(),
            title: t.title,
        })
        .collect();
    let resolved_filter = IncidentFilter { statuses: Some(vec!["resolved", "closed"]), ..Default::default() };
    let (resolved, _) = incidents::list(&mut conn, user.id, user.is_admin(), &resolved_filter, 10, 0).await?;
    let candidates = tasks::awaiting_closure(&mut conn, user.id, user.is_admin(), WAITING_LIMIT).await?;
    drop(conn);
    let waiting_total = candidates.first().map_or(0, |c| c.total);
    let waiting = candidates
        .into_iter()
        .filter_map(|c| {
            let status = IncidentStatus::parse(&c.status).ok()?;
            let closure = closure(status, &c.postmortem_status, c.open_followups);
            matches!(closure, Closure::Waiting { .. }).then(|| WaitingRow {
                id: c.id,
                severity: Severity::new(c.severity).unwrap_or(Severity::ALL[0]),
                status,
                resolved: c.resolved_at.map(|t| local_time(t, tz)).unwrap_or_default(),
                waiting_on: closure.waiting_on(),
                open_followups: c.open_followups,
                title: c.title,
            })
        })
        .collect();
    // Built only now: building it takes the flash messages, which a redirect must leave for the next page.
    let layout = Layout::extract(&req).await?;
    let page = DashboardPage {
        layout: layout.at("dashboard"),
        active,
        my_tasks,
        rows: resolved.iter().map(|i| row(i, tz)).collect(),
        waiting,
        waiting_total,
    };
    render(actix_web::http::StatusCode::OK, &page)
}
