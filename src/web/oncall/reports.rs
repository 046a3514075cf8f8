//! The paging report: time to acknowledge (median, p90) per policy and per
//! person, pages per person per week, and pages at night (22:00–07:00 in the
//! person's zone), over the last 12 weeks. It is a section of `/reports`
//! (`paging_report`), and `/oncall/reports` shows it on its own.

use std::collections::BTreeMap;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::{self, ServiceConfig};
use askama::Template;
use chrono::{DateTime, Datelike, Utc};
use diesel::sql_types::{BigInt, Nullable, Text, Timestamptz};
use diesel_async::RunQueryDsl;

use crate::domain::oncall::{is_night, percentile};
use crate::web::AppState;
use crate::web::{AppError, CurrentUser, Layout, render};

/// How far back the report looks; rows beyond the cap are left out (bounded work).
const WEEKS: i64 = 12;
const MAX_ROWS: i64 = 20_000;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.route("/oncall/reports", web::get().to(show));
}

pub struct AckRow {
    pub name: String,
    pub pages: usize,
    pub median: String,
    pub p90: String,
}

pub struct PersonRow {
    pub name: String,
    pub weeks: Vec<(String, usize)>,
    pub total: usize,
    pub at_night: usize,
}

/// The paging report's three tables.
pub struct PagingReport {
    pub by_policy: Vec<AckRow>,
    pub by_person: Vec<AckRow>,
    pub people: Vec<PersonRow>,
}

#[derive(Template)]
#[template(path = "oncall/reports.html")]
pub struct ReportsPage {
    pub layout: Layout,
    pub paging: PagingReport,
}

#[derive(diesel::QueryableByName)]
struct AckFact {
    #[diesel(sql_type = Text)]
    policy: String,
    #[diesel(sql_type = Nullable<Text>)]
    person: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    seconds: Option<i64>,
}

#[derive(diesel::QueryableByName)]
struct SentFact {
    #[diesel(sql_type = Text)]
    person: String,
    #[diesel(sql_type = Text)]
    time_zone: String,
    #[diesel(sql_type = Timestamptz)]
    sent_at: DateTime<Utc>,
}

fn minutes(seconds: Option<i64>) -> String {
    seconds.map_or("–".to_owned(), |s| format!("{:.1} min", s as f64 / 60.0))
}

fn ack_rows(groups: BTreeMap<String, Vec<i64>>, counts: &BTreeMap<String, usize>) -> Vec<AckRow> {
    counts
        .iter()
        .map(|(name, pages)| {
            let v = groups.get(name).cloned().unwrap_or_default();
            AckRow {
                name: name.clone(),
                pages: *pages,
                median: minutes(percentile(&v, 50)),
                p90: minutes(percentile(&v, 90)),
            }
        })
        .collect()
}

pub async fn show(state: web::Data<AppState>, _user: CurrentUser, layout: Layout) -> Result<HttpResponse, AppError> {
    let paging = paging_report(&state).await?;
    render(StatusCode::OK, &ReportsPage { layout: layout.at("oncall"), paging })
}

/// The last 12 weeks of pages (at most 20,000 rows of each kind).
pub async fn paging_report(state: &AppState) -> Result<PagingReport, AppError> {
    let mut conn = state.pool.get().await?;
    let acks: Vec<AckFact> = diesel::sql_query(
        "SELECT COALESCE(ep.name, '(deleted policy)') AS policy, u.display_name AS person, \
                EXTRACT(EPOCH FROM (p.acknowledged_at - p.created_at))::int8 AS seconds \
         FROM pages p LEFT JOIN escalation_policies ep ON ep.id = p.policy_id \
         LEFT JOIN users u ON u.id = p.acknowledged_by \
         WHERE p.created_at > now() - make_interval(weeks => $1::int) ORDER BY p.id DESC LIMIT $2",
    )
    .bind::<BigInt, _>(WEEKS)
    .bind::<BigInt, _>(MAX_ROWS)
    .load(&mut conn)
    .await?;
    let sent: Vec<SentFact> = diesel::sql_query(
        "SELECT u.display_name AS person, u.time_zone, n.sent_at AS sent_at \
         FROM page_notifications n JOIN users u ON u.id = n.user_id \
         WHERE n.status = 'sent' AND n.sent_at > now() - make_interval(weeks => $1::int) \
         ORDER BY n.id DESC LIMIT $2",
    )
    .bind::<BigInt, _>(WEEKS)
    .bind::<BigInt, _>(MAX_ROWS)
    .load(&mut conn)
    .await?;
    drop(conn);
    let mut policy_times: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut policy_counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut person_times: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut person_counts: BTreeMap<String, usize> = BTreeMap::new();
    for a in &acks {
        *policy_counts.entry(a.policy.clone()).or_default() += 1;
        if let Some(s) = a.seconds {
            policy_times.entry(a.policy.clone()).or_default().push(s);
        }
        if let (Some(p), Some(s)) = (&a.person, a.seconds) {
            *person_counts.entry(p.clone()).or_default() += 1;
            person_times.entry(p.clone()).or_default().push(s);
        }
    }
    let mut people: BTreeMap<String, PersonRow> = BTreeMap::new();
    for s in &sent {
        let tz: chrono_tz::Tz = s.time_zone.parse().unwrap_or(chrono_tz::UTC);
        let week = s.sent_at.with_timezone(&tz).iso_week();
        let label = format!("{}-W{:02}", week.year(), week.week());
        let row = people.entry(s.person.clone()).or_insert_with(|| PersonRow {
            name: s.person.clone(),
            weeks: Vec::new(),
            total: 0,
            at_night: 0,
        });
        row.total += 1;
        if is_night(tz, s.sent_at) {
            row.at_night += 1;
        }
        match row.weeks.iter_mut().find(|(w, _)| *w == label) {
            Some((_, n)) => *n += 1,
            None => row.weeks.push((label, 1)),
        }
    }
    for row in people.values_mut() {
        row.weeks.sort();
    }
    Ok(PagingReport {
        by_policy: ack_rows(policy_times, &policy_counts),
        by_person: ack_rows(person_times, &person_counts),
        people: people.into_values().collect(),
    })
}
