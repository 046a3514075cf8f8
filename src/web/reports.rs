//! /reports: incident metrics per month and severity, as SVG charts and
//! tables, and the paging report of the last 12 weeks (`web::oncall::reports`).
//!
//! Any signed-in user may look. Restricted incidents count only for the
//! people who may see them (their participants and admins), exactly like the
//! incident list, so a report never reveals that a restricted incident exists;
//! the page shows no titles at all. Months are the viewer's time zone's.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::{self, ServiceConfig};
use askama::Template;
use chrono::Utc;
use serde::Deserialize;

use actix_web::http::header::CONTENT_DISPOSITION;

use crate::db::reports::{self as queries, ReportRow, Viewer};
use crate::db::{component_status, components};
use crate::domain::charts;
use crate::domain::component_report::{self, ComponentInput, ComponentLine, csv_record};
use crate::domain::incident::Severity;
use crate::domain::metrics::{Summary, format_duration};
use crate::domain::reports::{
    Bucket, FilterErrors, Month, MonthRange, Report, ReportFilter, Row, parse_filter, percent,
};
use crate::domain::status::ComponentStatus;
use crate::domain::uptime::{self, History};
use crate::web::AppState;
use crate::web::oncall::reports::{PagingReport, paging_report};
use crate::web::{AppError, CurrentUser, Layout, render};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.route("/reports", web::get().to(show))
        .route("/reports/incidents.csv", web::get().to(incidents_csv))
        .route("/reports/components.csv", web::get().to(components_csv));
}

/// The form, as sent (every field optional).
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(default)]
pub struct ReportQuery {
    pub from: String,
    pub to: String,
    pub severity: String,
}

/// A median and a mean, ready to show ("—" for none).
pub struct Spans {
    pub median: String,
    pub mean: String,
}

impl Spans {
    fn of(s: &Summary) -> Spans {
        let show = |d: Option<chrono::Duration>| d.map(format_duration).unwrap_or_else(|| "—".to_owned());
        Spans { median: show(s.median), mean: show(s.mean) }
    }
}

/// One line of the month × severity tables.
pub struct BucketRow {
    pub label: String,
    pub incidents: usize,
    /// Detect, acknowledge, mitigate, resolve.
    pub spans: Vec<Spans>,
    pub alert: String,
    pub customer: String,
    pub staff_or_other: String,
    pub open_followups: u64,
    pub overdue_followups: u64,
}

fn share(part: usize, whole: usize) -> String {
    match percent(part, whole) {
        Some(p) => format!("{part} ({p}%)"),
        None => "—".to_owned(),
    }
}

impl BucketRow {
    fn of(label: String, b: &Bucket) -> BucketRow {
        let d = b.detection;
        BucketRow {
            label,
            incidents: b.incidents,
            spans: [&b.time_to_detect, &b.time_to_acknowledge, &b.time_to_mitigate, &b.time_to_resolve]
                .into_iter()
                .map(Spans::of)
                .collect(),
            alert: share(d.alert, b.incidents),
            customer: share(d.customer, b.incidents),
            staff_or_other: share(d.staff_or_other, b.incidents),
            open_followups: b.open_followups,
            overdue_followups: b.overdue_followups,
        }
    }
}

/// A month (or "All months") and its lines: each severity that had incidents,
/// then all severities together (just the one line when one severity is shown).
pub struct Group {
    pub label: String,
    pub rows: Vec<BucketRow>,
}

impl Group {
    fn of(label: String, row: &Row) -> Group {
        let rows = if row.by_severity.len() == 1 {
            row.by_severity.iter().map(|(s, b)| BucketRow::of(s.label(), b)).collect()
        } else {
            let mut rows: Vec<BucketRow> = row
                .by_severity
                .iter()
                .filter(|(_, b)| b.incidents > 0)
                .map(|(s, b)| BucketRow::of(s.label(), b))
                .collect();
            rows.push(BucketRow::of("All severities".to_owned(), &row.all));
            rows
        };
        Group { label, rows }
    }
}

/// A line of the incidents-per-month table.
pub struct CountRow {
    pub label: String,
    pub counts: Vec<usize>,
    pub total: usize,
}

impl CountRow {
    fn of(label: String, row: &Row) -> CountRow {
        CountRow { label, counts: row.by_severity.iter().map(|(_, b)| b.incidents).collect(), total: row.all.incidents }
    }
}

/// Everything the report part of the page shows.
pub struct ReportView {
    pub range: String,
    pub incidents: usize,
    pub detected_by_alert: String,
    pub open_followups: u64,
    pub overdue_followups: u64,
    pub severities: Vec<String>,
    /// Whether the tables have an "All severities" column / line.
    pub several_severities: bool,
    pub count_rows: Vec<CountRow>,
    pub count_total: CountRow,
    pub groups: Vec<Group>,
    pub incidents_chart: String,
    pub times_chart: String,
    pub detection_chart: String,
    pub followups_chart: String,
}

impl ReportView {
    pub fn of(report: &Report) -> ReportView {
        let total = &report.total.all;
        let mut groups: Vec<Group> = report.months.iter().map(|(m, row)| Group::of(m.label(), row)).collect();
        groups.push(Group::of("All months".to_owned(), &report.total));
        ReportView {
            range: report.range.label(),
            incidents: total.incidents,
            detected_by_alert: share(total.detection.alert, total.incidents),
            open_followups: total.open_followups,
            overdue_followups: total.overdue_followups,
            severities: report.severities.iter().map(|s| s.label()).collect(),
            several_severities: report.severities.len() > 1,
            count_rows: report.months.iter().map(|(m, row)| CountRow::of(m.label(), row)).collect(),
            count_total: CountRow::of("All months".to_owned(), &report.total),
            groups,
            incidents_chart: charts::incidents_per_month(report).to_svg(),
            times_chart: charts::median_times(report).to_svg(),
            detection_chart: charts::detection_shares(report).to_svg(),
            followups_chart: charts::follow_ups(report).to_svg(),
        }
    }
}

#[derive(Template)]
#[template(path = "reports/index.html")]
pub struct ReportsPage {
    pub layout: Layout,
    pub form: ReportQuery,
    pub errors: FilterErrors,
    pub report: Option<ReportView>,
    pub time_zone: String,
    pub sees_everything: bool,
    /// The last 12 weeks of paging, whatever the filter.
    pub paging: PagingReport,
    /// Per component, over the same months (every severity).
    pub components: Option<ComponentsView>,
    /// The query string of the downloads: the months and severity shown.
    pub csv_query: String,
}

/// The report per component as the page shows it.
pub struct ComponentsView {
    /// "Jan 2026"... one uptime column each.
    pub months: Vec<String>,
    pub lines: Vec<ComponentLineView>,
}

pub struct ComponentLineView {
    pub name: String,
    pub incidents: usize,
    pub total_to_resolve: String,
    pub median_to_resolve: String,
    pub uptime: Vec<String>,
}

impl ReportsPage {
    pub fn severities(&self) -> [Severity; 4] {
        Severity::ALL
    }

    pub fn error(&self, field: &str) -> Option<&str> {
        match field {
            "from" => self.errors.from.as_deref(),
            "to" => self.errors.to.as_deref(),
            "severity" => self.errors.severity.as_deref(),
            _ => None,
        }
    }

    pub fn has_errors(&self) -> bool {
        self.errors != FilterErrors::default()
    }
}

/// A month field can only show a month: what is not one is dropped (its
/// message quotes it).
fn month_or_empty(s: &str) -> String {
    Month::parse(s).map(Month::iso).unwrap_or_default()
}

pub async fn show(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    query: web::Query<ReportQuery>,
) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    let now = Utc::now();
    let tz = user.time_zone;
    let paging = paging_report(&state).await?;
    let page = |form: ReportQuery, errors, report, components| ReportsPage {
        layout: layout.clone().at("reports"),
        csv_query: format!("from={}&to={}&severity={}", form.from, form.to, form.severity),
        form,
        errors,
        report,
        time_zone: tz.name().to_owned(),
        sees_everything: user.is_admin(),
        paging,
        components,
    };
    let filter = match parse_filter(&query.from, &query.to, &query.severity, now, tz) {
        Ok(filter) => filter,
        Err(errors) => {
            let form = ReportQuery {
                from: month_or_empty(&query.from),
                to: month_or_empty(&query.to),
                severity: Severity::parse(&query.severity).map(|s| s.level().to_string()).unwrap_or_default(),
            };
            return render(StatusCode::UNPROCESSABLE_ENTITY, &page(form, errors, None, None));
        }
    };
    let viewer = Viewer { id: user.id, is_admin: user.is_admin() };
    let report = report_for(&state, viewer, &filter, tz, now).await?;
    let lines = component_lines(&state, viewer, filter.range, tz, now).await?;
    let components = ComponentsView {
        months: filter.range.months().iter().map(|m| m.label()).collect(),
        lines: lines
            .iter()
            .map(|l| ComponentLineView {
                name: l.name.clone(),
                incidents: l.incidents,
                total_to_resolve: duration_or_dash(l.total_to_resolve),
                median_to_resolve: duration_or_dash(l.to_resolve.median),
                uptime: l
                    .uptime
                    .iter()
                    .map(|u| u.map(|p| uptime::format_percent(p, 2)).unwrap_or_else(|| "no data".to_owned()))
                    .collect(),
            })
            .collect(),
    };
    let form = ReportQuery {
        from: filter.range.from.iso(),
        to: filter.range.to.iso(),
        severity: filter.severity.map(|s| s.level().to_string()).unwrap_or_default(),
    };
    render(StatusCode::OK, &page(form, FilterErrors::default(), Some(ReportView::of(&report)), Some(components)))
}

/// The month × severity report the viewer may see.
async fn report_for(
    state: &AppState,
    viewer: Viewer,
    filter: &ReportFilter,
    tz: chrono_tz::Tz,
    now: chrono::DateTime<Utc>,
) -> Result<Report, AppError> {
    let (from, until) = filter.range.bounds(tz);
    let rows = {
        let mut conn = state.pool.get().await?;
        queries::incidents_declared(&mut conn, viewer, from, until, filter.severity, now).await?
    };
    let facts: Vec<_> = rows.iter().map(ReportRow::facts).collect();
    Ok(Report::build(filter, tz, &facts))
}

fn duration_or_dash(d: Option<chrono::Duration>) -> String {
    d.map(format_duration).unwrap_or_else(|| "—".to_owned())
}

/// The report per component over `range` (every severity).
async fn component_lines(
    state: &AppState,
    viewer: Viewer,
    range: MonthRange,
    tz: chrono_tz::Tz,
    now: chrono::DateTime<Utc>,
) -> Result<Vec<ComponentLine>, AppError> {
    let (from, until) = range.bounds(tz);
    let mut conn = state.pool.get().await?;
    let list = components::list(&mut conn).await?;
    let histories = component_status::histories(&mut conn, from).await?;
    let rows = queries::component_incidents(&mut conn, viewer, from, until).await?;
    drop(conn);
    let inputs: Vec<ComponentInput<'_>> = list
        .iter()
        .map(|c| ComponentInput {
            id: c.id.0,
            name: &c.name,
            history: History {
                created_at: c.created_at,
                state_before: histories.state_before.get(&c.id).copied(),
                changes: histories.changes.get(&c.id).map(Vec::as_slice).unwrap_or(&[]),
                current: ComponentStatus::parse(&c.status).unwrap_or(ComponentStatus::Operational),
            },
        })
        .collect();
    let incidents: Vec<_> = rows.iter().map(queries::ComponentIncidentRow::facts).collect();
    Ok(component_report::build(range, tz, &inputs, &incidents, now))
}

/// The months and severity of a download, or the messages of a bad filter (422).
fn csv_filter(query: &ReportQuery, user: &CurrentUser) -> Result<ReportFilter, HttpResponse> {
    parse_filter(&query.from, &query.to, &query.severity, Utc::now(), user.time_zone).map_err(|e| {
        let messages: Vec<String> = [e.from, e.to, e.severity].into_iter().flatten().collect();
        HttpResponse::UnprocessableEntity().content_type("text/plain; charset=utf-8").body(messages.join("\n"))
    })
}

fn csv_response(name: &str, range: MonthRange, body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            CONTENT_DISPOSITION,
            format!("attachment; filename=\"firebreak-{name}-{}-to-{}.csv\"", range.from.iso(), range.to.iso()),
        ))
        .body(body)
}

fn seconds(d: Option<chrono::Duration>) -> String {
    d.map(|d| d.num_seconds().to_string()).unwrap_or_default()
}

/// `GET /reports/components.csv?from=&to=`: the report per component, one line
/// each, times in seconds, uptime in percent per month (empty: no data).
pub async fn components_csv(
    state: web::Data<AppState>,
    user: CurrentUser,
    query: web::Query<ReportQuery>,
) -> Result<HttpResponse, AppError> {
    let filter = match csv_filter(&query, &user) {
        Ok(f) => f,
        Err(response) => return Ok(response),
    };
    let viewer = Viewer { id: user.id, is_admin: user.is_admin() };
    let lines = component_lines(&state, viewer, filter.range, user.time_zone, Utc::now()).await?;
    let mut header: Vec<String> =
        ["component", "incidents", "total_time_to_resolve_seconds", "median_time_to_resolve_seconds"]
            .map(str::to_owned)
            .to_vec();
    header.extend(filter.range.months().iter().map(|m| format!("uptime_percent_{}", m.iso())));
    let mut body = csv_record(&header);
    for l in &lines {
        let mut fields =
            vec![l.name.clone(), l.incidents.to_string(), seconds(l.total_to_resolve), seconds(l.to_resolve.median)];
        fields.extend(l.uptime.iter().map(|u| u.map(|p| format!("{p:.3}")).unwrap_or_default()));
        body.push_str(&csv_record(&fields));
    }
    Ok(csv_response("components", filter.range, body))
}

/// `GET /reports/incidents.csv?from=&to=&severity=`: the month × severity
/// tables in one, a line per month and severity (and "all"), times in seconds.
pub async fn incidents_csv(
    state: web::Data<AppState>,
    user: CurrentUser,
    query: web::Query<ReportQuery>,
) -> Result<HttpResponse, AppError> {
    let filter = match csv_filter(&query, &user) {
        Ok(f) => f,
        Err(response) => return Ok(response),
    };
    let viewer = Viewer { id: user.id, is_admin: user.is_admin() };
    let report = report_for(&state, viewer, &filter, user.time_zone, Utc::now()).await?;
    let mut body = csv_record(
        &[
            "month",
            "severity",
            "incidents",
            "median_time_to_detect_seconds",
            "median_time_to_acknowledge_seconds",
            "median_time_to_mitigate_seconds",
            "median_time_to_resolve_seconds",
            "mean_time_to_resolve_seconds",
            "detected_by_alert",
            "detected_by_customer",
            "detected_by_staff_or_other",
            "open_followups",
            "overdue_followups",
        ]
        .map(str::to_owned),
    );
    let months = report.months.iter().map(|(m, row)| (m.iso(), row)).chain([("all".to_owned(), &report.total)]);
    for (month, row) in months {
        let buckets = row.by_severity.iter().map(|(s, b)| (s.label(), b)).chain([("all".to_owned(), &row.all)]);
        for (severity, b) in buckets {
            body.push_str(&csv_record(&[
                month.clone(),
                severity,
                b.incidents.to_string(),
                seconds(b.time_to_detect.median),
                seconds(b.time_to_acknowledge.median),
                seconds(b.time_to_mitigate.median),
                seconds(b.time_to_resolve.median),
                seconds(b.time_to_resolve.mean),
                b.detection.alert.to_string(),
                b.detection.customer.to_string(),
                b.detection.staff_or_other.to_string(),
                b.open_followups.to_string(),
                b.overdue_followups.to_string(),
            ]));
        }
    }
    Ok(csv_response("incidents", filter.range, body))
}
