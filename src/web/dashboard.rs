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
use crate::domain::incident::{IncidentRole, format_duration};
use crate::startup::AppState;

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

#[derive(Template)]
#[template(path = "dashboard.html")]
pub struct DashboardPage {
    pub layout: Layout,
    pub active: Vec<ActiveRow>,
    pub my_tasks: Vec<MyTask>,
    pub rows: Vec<Row>,
}

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
    let my_tasks = tasks::open_for_assignee(&mut conn, user.id)
        .await?
        .into_iter()
        .map(|(t, incident)| MyTask {
            incident_id: t.incident_id,
            incident,
            status: t.status().label(),
            due: t.due_at.map(|d| local_time(d, tz)).unwrap_or_default(),
            title: t.title,
        })
        .collect();
    let resolved_filter = IncidentFilter { statuses: Some(vec!["resolved", "closed"]), ..Default::default() };
    let (resolved, _) = incidents::list(&mut conn, user.id, user.is_admin(), &resolved_filter, 10, 0).await?;
    drop(conn);
    // Built only now: building it takes the flash messages, which a redirect must leave for the next page.
    let layout = Layout::extract(&req).await?;
    let page = DashboardPage {
        layout: layout.at("dashboard"),
        active,
        my_tasks,
        rows: resolved.iter().map(|i| row(i, tz)).collect(),
    };
    render(actix_web::http::StatusCode::OK, &page)
}
