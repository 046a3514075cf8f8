//! The library of published post-mortems (`/postmortems`): newest first,
//! searched with PostgreSQL full-text search over the written sections and
//! the incident's title, filtered by severity, component and date. Restricted
//! incidents' post-mortems only show to their participants and admins.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::{self, ServiceConfig};
use askama::Template;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde::Deserialize;

use crate::db::components::Component;
use crate::db::ids::PostmortemId;
use crate::db::postmortems::{self, DateField, LibraryFilter};
use crate::db::{ComponentId, IncidentId, components};
use crate::domain::incident::Severity;
use crate::domain::postmortem::{PostmortemStatus, format_time};
use crate::services::FieldErrors;
use crate::web::AppState;
use crate::web::incidents::iso;
use crate::web::{AppError, CurrentUser, Layout, render};

pub const PAGE_SIZE: i64 = 20;
/// The longest search text taken.
const MAX_QUERY_CHARS: usize = 200;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.route("/postmortems", web::get().to(show));
}

/// The search form, as typed (kept in the query string and in the form).
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(default)]
pub struct LibraryQuery {
    pub q: String,
    pub severity: String,
    pub component: String,
    /// `published` (default) or `declared`: which date `from`/`until` filter.
    pub dates: String,
    pub from: String,
    pub until: String,
    pub page: String,
}

impl LibraryQuery {
    fn is_filtered(&self) -> bool {
        [&self.q, &self.severity, &self.component, &self.from, &self.until].iter().any(|v| !v.trim().is_empty())
    }
}

pub struct Row {
    pub id: PostmortemId,
    pub title: String,
    pub severity: Severity,
    pub components: String,
    pub declared: String,
    pub declared_iso: String,
    pub published: String,
    pub published_iso: String,
    pub owner: String,
    pub excerpt: String,
}

pub struct Draft {
    pub id: PostmortemId,
    pub title: String,
    pub status: PostmortemStatus,
    pub owner: String,
}

#[derive(Template)]
#[template(path = "postmortems/library.html")]
pub struct LibraryPage {
    pub layout: Layout,
    pub query: LibraryQuery,
    pub errors: FieldErrors,
    pub rows: Vec<Row>,
    pub total: i64,
    pub page: i64,
    pub pages: i64,
    pub components: Vec<Component>,
    pub filtered: bool,
    /// Unpublished post-mortems of resolved incidents (only without filters).
    pub drafts: Vec<Draft>,
}

impl LibraryPage {
    pub fn severities(&self) -> [Severity; 4] {
        Severity::ALL
    }
    pub fn by_declared(&self) -> bool {
        self.query.dates == "declared"
    }
    pub fn page_link(&self, page: &i64) -> String {
        let q = &self.query;
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("q", q.q.as_str()),
            ("severity", q.severity.as_str()),
            ("component", q.component.as_str()),
            ("dates", q.dates.as_str()),
            ("from", q.from.as_str()),
            ("until", q.until.as_str()),
        ] {
            if !v.trim().is_empty() {
                s.append_pair(k, v);
            }
        }
        s.append_pair("page", &page.to_string());
        format!("/postmortems?{}", s.finish())
    }
}

fn parse_day(input: &str, tz: chrono_tz::Tz) -> Result<Option<DateTime<Utc>>, String> {
    let t = input.trim();
    if t.is_empty() {
        return Ok(None);
    }
    let d = NaiveDate::parse_from_str(t, "%Y-%m-%d").map_err(|_| "Enter a date like 2026-11-21.".to_owned())?;
    let midnight = d.and_hms_opt(0, 0, 0).ok_or_else(|| "Enter a real date.".to_owned())?;
    Ok(tz.from_local_datetime(&midnight).earliest().map(|t| t.with_timezone(&Utc)))
}

fn parse_filter(q: &LibraryQuery, tz: chrono_tz::Tz) -> Result<LibraryFilter, FieldErrors> {
    let mut errors = FieldErrors::new();
    let mut f = LibraryFilter::default();
    let text = q.q.trim();
    if text.chars().count() > MAX_QUERY_CHARS {
        errors.add("q", format!("Search for at most {MAX_QUERY_CHARS} characters."));
    } else if !text.is_empty() {
        // PostgreSQL text cannot hold NUL (a query with one answered 500): search with a space.
        f.text = Some(text.replace('\0', " "));
    }
    if !q.severity.trim().is_empty() {
        f.severity = errors.check("severity", Severity::parse(&q.severity).map(Severity::level));
    }
    if !q.component.trim().is_empty() {
        f.component = errors.check(
            "component",
            q.component.trim().parse::<ComponentId>().map_err(|_| "Choose a component from the list.".to_owned()),
        );
    }
    f.date_field = match q.dates.as_str() {
        "" | "published" => DateField::Published,
        "declared" => DateField::Declared,
        _ => {
            errors.add("dates", "Choose publication or declaration date.");
            DateField::Published
        }
    };
    f.from = errors.check("from", parse_day(&q.from, tz)).flatten();
    f.until = errors.check("until", parse_day(&q.until, tz)).flatten().map(|t| t + chrono::Duration::days(1));
    if let (Some(from), Some(until)) = (f.from, f.until)
        && until <= from
    {
        errors.add("until", "The end date is before the start date.");
    }
    if errors.is_empty() { Ok(f) } else { Err(errors) }
}

/// The summary's first words, as plain text.
fn excerpt(markdown: &str) -> String {
    let plain: String = markdown
        .chars()
        .filter(|c| !matches!(c, '#' | '*' | '_' | '`' | '>' | '[' | ']'))
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if plain.chars().count() <= 280 { plain } else { format!("{}…", plain.chars().take(280).collect::<String>()) }
}

pub async fn show(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    query: web::Query<LibraryQuery>,
) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    let tz = user.time_zone;
    let page = query.page.trim().parse::<i64>().unwrap_or(1).clamp(1, 100_000);
    let filtered = query.is_filtered();
    let mut conn = state.pool.get().await?;
    let components = components::list(&mut conn).await?;
    let (rows, total, errors) = match parse_filter(&query, tz) {
        Ok(filter) => {
            let (found, total) =
                postmortems::library(&mut conn, user.id, user.is_admin(), &filter, PAGE_SIZE, (page - 1) * PAGE_SIZE)
                    .await?;
            (found, total, FieldErrors::new())
        }
        Err(errors) => (Vec::new(), 0, errors),
    };
    let ids: Vec<IncidentId> = rows.iter().map(|r| r.incident_id).collect();
    let names = postmortems::component_names(&mut conn, &ids).await?;
    let drafts = if filtered || !errors.is_empty() {
        Vec::new()
    } else {
        postmortems::in_progress(&mut conn, user.id, user.is_admin(), 20)
            .await?
            .into_iter()
            .map(|(id, title, status, owner)| Draft {
                id,
                title,
                status: PostmortemStatus::parse(&status).unwrap_or(PostmortemStatus::Draft),
                owner: owner.unwrap_or_else(|| "Nobody yet".to_owned()),
            })
            .collect()
    };
    drop(conn);
    let rows = rows
        .into_iter()
        .map(|r| {
            let published = r.published_at.unwrap_or(r.declared_at);
            Row {
                id: r.id,
                severity: Severity::new(r.severity).unwrap_or(Severity::ALL[0]),
                components: names
                    .iter()
                    .filter(|(i, _)| *i == r.incident_id)
                    .map(|(_, n)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                declared: format_time(r.declared_at, tz),
                declared_iso: iso(r.declared_at),
                published: format_time(published, tz),
                published_iso: iso(published),
                owner: r.owner.unwrap_or_else(|| "Nobody".to_owned()),
                excerpt: excerpt(&r.summary),
                title: r.title,
            }
        })
        .collect();
    let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let page = LibraryPage {
        layout: layout.at("postmortems"),
        query,
        errors,
        rows,
        total,
        page,
        pages,
        components,
        filtered,
        drafts,
    };
    render(status, &page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nul_in_the_search_text_is_searched_as_a_space() {
        let q = LibraryQuery { q: "expired\0certificate".into(), ..Default::default() };
        let f = parse_filter(&q, chrono_tz::UTC).expect("valid");
        assert_eq!(f.text.as_deref(), Some("expired certificate"));
    }

    #[test]
    fn filters_are_read_in_the_viewers_time_zone() {
        let q = LibraryQuery {
            q: " expired certificate ".into(),
            severity: "2".into(),
            dates: "declared".into(),
            from: "2026-11-01".into(),
            until: "2026-11-01".into(),
            ..Default::default()
        };
        let f = parse_filter(&q, chrono_tz::Europe::Berlin).expect("valid");
        assert_eq!(f.text.as_deref(), Some("expired certificate"));
        assert_eq!(f.severity, Some(2));
        assert_eq!(f.date_field, DateField::Declared);
        assert_eq!(f.from, Some(Utc.with_ymd_and_hms(2026, 10, 31, 23, 0, 0).single().expect("valid")));
        assert_eq!(
            f.until,
            Some(Utc.with_ymd_and_hms(2026, 11, 1, 23, 0, 0).single().expect("valid")),
            "the whole last day"
        );
    }

    #[test]
    fn bad_filters_say_which_field() {
        let q = LibraryQuery {
            severity: "9".into(),
            component: "x".into(),
            from: "2026-11-05".into(),
            until: "2026-11-01".into(),
            dates: "tomorrow".into(),
            ..Default::default()
        };
        let errors = parse_filter(&q, chrono_tz::UTC).expect_err("invalid");
        for field in ["severity", "component", "until", "dates"] {
            assert!(errors.get(field).is_some(), "{field}");
        }
    }

    #[test]
    fn excerpts_are_short_plain_text() {
        assert_eq!(excerpt("## Summary\n\nThe **cert** expired."), "Summary The cert expired.");
        assert_eq!(excerpt(&"word ".repeat(200)).chars().count(), 281);
    }
}
