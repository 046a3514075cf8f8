//! `/incidents`: every incident the viewer may see, filtered and paged.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::{NaiveDate, TimeZone, Utc};
use serde::Deserialize;

use super::local_time;
use crate::db::components::Component;
use crate::db::incidents::{Incident, IncidentFilter};
use crate::db::{ComponentId, components, incidents};
use crate::domain::incident::{IncidentKind, IncidentStatus, Severity};
use crate::web::AppState;
use crate::web::{AppError, CurrentUser, Layout, render};

pub const PAGE_SIZE: i64 = 25;

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(default)]
pub struct ListQuery {
    pub status: String,
    pub severity: String,
    pub component: String,
    pub kind: String,
    pub from: String,
    pub until: String,
    pub page: String,
}

pub struct Row {
    pub id: i64,
    pub title: String,
    pub severity: Severity,
    pub status: IncidentStatus,
    pub kind: IncidentKind,
    pub declared: String,
    pub restricted: bool,
    pub duplicate_of: Option<i64>,
    pub false_alarm: bool,
}

pub fn row(i: &Incident, tz: chrono_tz::Tz) -> Row {
    Row {
        id: i.id.0,
        title: i.title.clone(),
        severity: i.severity(),
        status: i.status(),
        kind: i.kind(),
        declared: local_time(i.declared_at, tz),
        restricted: i.visibility() == crate::domain::incident::Visibility::Restricted,
        duplicate_of: i.duplicate_of.map(|d| d.0),
        false_alarm: i.false_alarm,
    }
}

#[derive(Template)]
#[template(path = "incidents/list.html")]
pub struct ListPage {
    pub layout: Layout,
    pub query: ListQuery,
    pub rows: Vec<Row>,
    pub total: i64,
    pub page: i64,
    pub pages: i64,
    pub components: Vec<Component>,
    pub error: Option<String>,
}

impl ListPage {
    pub fn severities(&self) -> [Severity; 4] {
        Severity::ALL
    }
    pub fn kinds(&self) -> &'static [IncidentKind] {
        IncidentKind::ALL
    }
    /// The query string for another page, filters kept.
    pub fn page_link(&self, page: &i64) -> String {
        let q = &self.query;
        let pairs = [
            ("status", q.status.as_str()),
            ("severity", q.severity.as_str()),
            ("component", q.component.as_str()),
            ("kind", q.kind.as_str()),
            ("from", q.from.as_str()),
            ("until", q.until.as_str()),
        ];
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
            s.append_pair(k, v);
        }
        s.append_pair("page", &page.to_string());
        format!("/incidents?{}", s.finish())
    }
}

fn parse_filter(q: &ListQuery, tz: chrono_tz::Tz) -> Result<IncidentFilter, String> {
    let statuses = match q.status.as_str() {
        "" | "all" => None,
        "active" => Some(vec!["investigating", "identified", "monitoring"]),
        s => Some(vec![IncidentStatus::parse(s)?.as_str()]),
    };
    let mut f = IncidentFilter { statuses, ..Default::default() };
    if !q.severity.is_empty() {
        f.severity = Some(Severity::parse(&q.severity)?.level());
    }
    if !q.kind.is_empty() {
        f.kind = Some(IncidentKind::parse(&q.kind)?.as_str());
    }
    if !q.component.is_empty() {
        f.component = Some(q.component.parse::<ComponentId>().map_err(|_| "Unknown component.".to_owned())?);
    }
    let day = |s: &str| -> Result<Option<chrono::DateTime<Utc>>, String> {
        if s.is_empty() {
            return Ok(None);
        }
        let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| "Enter dates like 2026-11-21.".to_owned())?;
        let midnight = d.and_hms_opt(0, 0, 0).ok_or("bad date")?;
        Ok(tz.from_local_datetime(&midnight).earliest().map(|t| t.with_timezone(&Utc)))
    };
    f.declared_from = day(&q.from)?;
    f.declared_until = day(&q.until)?.map(|t| t + chrono::Duration::days(1));
    Ok(f)
}

pub async fn show(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let mut query = query.into_inner();
    let page = query.page.parse::<i64>().unwrap_or(1).max(1);
    let mut conn = state.pool.get().await?;
    let components = components::list(&mut conn).await?;
    let (filter, error, status) = match parse_filter(&query, user.time_zone) {
        Ok(f) => (f, None, StatusCode::OK),
        Err(e) => (IncidentFilter::default(), Some(e), StatusCode::UNPROCESSABLE_ENTITY),
    };
    // A date field can only show a date: drop what is not one (the message says why).
    for d in [&mut query.from, &mut query.until] {
        if NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err() {
            d.clear();
        }
    }
    let (found, total) =
        incidents::list(&mut conn, user.id, user.is_admin(), &filter, PAGE_SIZE, (page - 1) * PAGE_SIZE).await?;
    let rows = found.iter().map(|i| row(i, user.time_zone)).collect();
    let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    render(status, &ListPage { layout: layout.at("incidents"), query, rows, total, page, pages, components, error })
}
