//! Renders every public surface once per snapshot: body, gzip and ETag, so a
//! request only picks bytes out of memory.

use std::collections::HashMap;
use std::io::Write;

use actix_web::web::Bytes;
use askama::Template;
use chrono::{DateTime, Utc};
use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

use super::api::{ComponentsDoc, Documents, Identity, IncidentsDoc, MaintenancesDoc, StatusDoc};
use super::load::{ComponentRow, Data, HISTORY_PAGE_SIZE, IncidentData, Phase};
use super::view::{self, FrontPage, IncidentView, PastDay, TimeView};

pub const HTML: &str = "text/html; charset=utf-8";
pub const JSON: &str = "application/json; charset=utf-8";
pub const ATOM: &str = "application/atom+xml; charset=utf-8";
pub const RSS: &str = "application/rss+xml; charset=utf-8";

/// One response body, ready to send.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Bytes,
    /// The gzip-compressed body, when that is smaller.
    pub gzip: Option<Bytes>,
    /// Strong ETags, quoted: one per encoding (the bytes differ).
    pub etag: String,
    pub gzip_etag: String,
    /// Readable from other origins (JSON and feeds: widgets fetch them).
    pub cors: bool,
}

impl Rendered {
    pub fn new(status: u16, content_type: &'static str, body: Vec<u8>, cors: bool) -> Rendered {
        let hash: String = Sha256::digest(&body).iter().take(12).map(|b| format!("{b:02x}")).collect();
        let gzip = gzip(&body).filter(|z| z.len() < body.len()).map(Bytes::from);
        Rendered {
            status,
            content_type,
            body: Bytes::from(body),
            gzip,
            etag: format!("\"{hash}\""),
            gzip_etag: format!("\"{hash}-gz\""),
            cors,
        }
    }

    pub fn html(status: u16, body: String) -> Rendered {
        Rendered::new(status, HTML, body.into_bytes(), false)
    }

    /// A successful response (one that caches may keep).
    pub fn is_ok(&self) -> bool {
        self.status == 200
    }
}

fn gzip(body: &[u8]) -> Option<Vec<u8>> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(body.len() / 4), Compression::best());
    encoder.write_all(body).ok()?;
    encoder.finish().ok()
}

/// The surfaces served straight from a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    Page,
    Atom,
    Rss,
    Summary,
    Status,
    Components,
    Incidents,
    Unresolved,
    Maintenances,
    Upcoming,
    Active,
}

impl Surface {
    pub const ALL: [Surface; 11] = [
        Surface::Page,
        Surface::Atom,
        Surface::Rss,
        Surface::Summary,
        Surface::Status,
        Surface::Components,
        Surface::Incidents,
        Surface::Unresolved,
        Surface::Maintenances,
        Surface::Upcoming,
        Surface::Active,
    ];

    fn is_json(self) -> bool {
        !matches!(self, Surface::Page | Surface::Atom | Surface::Rss)
    }
}

/// Everything public, pre-rendered.
#[derive(Debug)]
pub struct Snapshot {
    /// False until data was loaded once: the surfaces then say "unavailable".
    pub ready: bool,
    /// Built from older data because the database did not answer.
    pub stale: bool,
    /// When the data was read.
    pub loaded_at: Option<DateTime<Utc>>,
    surfaces: Vec<Rendered>,
    incidents: HashMap<String, Rendered>,
    /// Served when an incident page cannot be looked up.
    unavailable: Rendered,
}

impl Snapshot {
    pub fn get(&self, surface: Surface) -> &Rendered {
        // `surfaces` holds one entry per `Surface::ALL`, in declaration order.
        &self.surfaces[surface as usize]
    }

    /// An incident's page, when it is in the snapshot.
    pub fn incident(&self, public_id: &str) -> Option<&Rendered> {
        self.incidents.get(public_id)
    }

    pub fn unavailable_page(&self) -> &Rendered {
        &self.unavailable
    }

    /// Served before any data could be read: a short page saying so.
    pub fn unavailable(id: &Identity) -> Snapshot {
        let page = message(
            id,
            503,
            "Status temporarily unavailable",
            "We cannot show the current status right now. Please try again in a minute.",
        );
        let json = Rendered::new(
            503,
            JSON,
            serde_json::json!({ "error": "The status is temporarily unavailable; try again in a minute." })
                .to_string()
                .into_bytes(),
            true,
        );
        let surfaces = Surface::ALL.iter().map(|s| if s.is_json() { json.clone() } else { page.clone() }).collect();
        Snapshot { ready: false, stale: false, loaded_at: None, surfaces, incidents: HashMap::new(), unavailable: page }
    }

    /// Renders every surface from `data`; `stale` is when that data was read,
    /// if it is being served because newer data could not be.
    pub fn build(id: &Identity, data: &Data, stale: Option<DateTime<Utc>>) -> Result<Snapshot, askama::Error> {
        let stale_view = stale.map(TimeView::of);
        let front = FrontTemplate { name: &id.name, stale: stale_view.clone(), page: view::front_page(data) };
        let docs = Documents::build(id, data);
        let json = |value: &dyn erased::Json| Rendered::new(200, JSON, value.to_vec(), true);
        let mut surfaces = Vec::with_capacity(Surface::ALL.len());
        for surface in Surface::ALL {
            surfaces.push(match surface {
                Surface::Page => Rendered::html(200, front.render()?),
                Surface::Atom => Rendered::new(200, ATOM, feed(id, data).atom()?.into_bytes(), true),
                Surface::Rss => Rendered::new(200, RSS, feed(id, data).rss()?.into_bytes(), true),
                Surface::Summary => json(&docs.summary()),
                Surface::Status => json(&StatusDoc { page: &docs.page, status: &docs.status }),
                Surface::Components => json(&ComponentsDoc { page: &docs.page, components: &docs.components }),
                Surface::Incidents => json(&docs.recent_incidents()),
                Surface::Unresolved => json(&IncidentsDoc { page: &docs.page, incidents: docs.unresolved() }),
                Surface::Maintenances => json(&MaintenancesDoc {
                    page: &docs.page,
                    scheduled_maintenances: docs
                        .maintenances_in(&[Phase::InProgress, Phase::Upcoming, Phase::Completed])
                        .into_iter()
                        .take(super::load::RECENT_LIMIT as usize)
                        .collect(),
                }),
                Surface::Upcoming => json(&MaintenancesDoc {
                    page: &docs.page,
                    scheduled_maintenances: docs.maintenances_in(&[Phase::Upcoming]),
                }),
                Surface::Active => json(&MaintenancesDoc {
                    page: &docs.page,
                    scheduled_maintenances: docs.maintenances_in(&[Phase::InProgress]),
                }),
            });
        }
        let mut incidents = HashMap::with_capacity(data.incidents.len());
        for i in &data.incidents {
            let page = IncidentTemplate {
                name: &id.name,
                stale: stale_view.clone(),
                incident: view::incident(&data.components, i),
            };
            incidents.insert(i.public_id.clone(), Rendered::html(200, page.render()?));
        }
        Ok(Snapshot {
            ready: true,
            stale: stale.is_some(),
            loaded_at: Some(data.loaded_at),
            surfaces,
            incidents,
            unavailable: message(
                id,
                503,
                "Temporarily unavailable",
                "This part of the status page cannot be shown right now. Please try again in a minute.",
            ),
        })
    }
}

/// JSON documents of different types behind one closure.
mod erased {
    pub trait Json {
        fn to_vec(&self) -> Vec<u8>;
    }
    impl<T: serde::Serialize> Json for T {
        fn to_vec(&self) -> Vec<u8> {
            // Serializing plain structs of strings cannot fail.
            serde_json::to_vec(self).unwrap_or_default()
        }
    }
}

#[derive(Template)]
#[template(path = "status/page.html")]
struct FrontTemplate<'a> {
    name: &'a str,
    stale: Option<TimeView>,
    page: FrontPage,
}

#[derive(Template)]
#[template(path = "status/incident.html")]
struct IncidentTemplate<'a> {
    name: &'a str,
    stale: Option<TimeView>,
    incident: IncidentView,
}

#[derive(Template)]
#[template(path = "status/history.html")]
struct HistoryTemplate<'a> {
    name: &'a str,
    stale: Option<TimeView>,
    days: Vec<PastDay>,
    page: i64,
    pages: i64,
    newer: Option<String>,
    older: Option<String>,
}

#[derive(Template)]
#[template(path = "status/message.html")]
struct MessageTemplate<'a> {
    name: &'a str,
    stale: Option<TimeView>,
    title: &'a str,
    message: &'a str,
}

/// A short page with a title and one sentence (not found, unavailable).
pub fn message(id: &Identity, status: u16, title: &str, text: &str) -> Rendered {
    let page = MessageTemplate { name: &id.name, stale: None, title, message: text };
    // The template has no fallible parts; fall back to plain text regardless.
    let body = page.render().unwrap_or_else(|_| format!("{title}: {text}"));
    Rendered::html(status, body)
}

/// One incident's page, for incidents older than the snapshot keeps.
pub fn incident_page(id: &Identity, components: &[ComponentRow], incident: &IncidentData) -> Rendered {
    let page = IncidentTemplate { name: &id.name, stale: None, incident: view::incident(components, incident) };
    match page.render() {
        Ok(body) => Rendered::html(200, body),
        Err(e) => {
            tracing::error!(error = %e, "cannot render an incident page");
            message(id, 500, "Something went wrong", "This page cannot be shown right now.")
        }
    }
}

/// A page of `/status/history`.
pub fn history_page(
    id: &Identity,
    components: &[ComponentRow],
    incidents: &[IncidentData],
    page: i64,
    total: i64,
) -> Rendered {
    let pages = ((total + HISTORY_PAGE_SIZE - 1) / HISTORY_PAGE_SIZE).max(1);
    let link = |p: i64| if p == 1 { "/status/history".to_owned() } else { format!("/status/history?page={p}") };
    let body = HistoryTemplate {
        name: &id.name,
        stale: None,
        days: view::by_month(components, incidents),
        page,
        pages,
        newer: (page > 1).then(|| link((page - 1).min(pages))),
        older: (page < pages).then(|| link(page + 1)),
    };
    match body.render() {
        Ok(body) => Rendered::html(200, body),
        Err(e) => {
            tracing::error!(error = %e, "cannot render the history page");
            message(id, 500, "Something went wrong", "This page cannot be shown right now.")
        }
    }
}

struct FeedItem {
    id: String,
    url: String,
    title: String,
    body: String,
    updated: String,
    pub_date: String,
}

struct Feed {
    id: String,
    title: String,
    name: String,
    page_url: String,
    atom_url: String,
    rss_url: String,
    updated: String,
    build_date: String,
    entries: Vec<FeedItem>,
}

#[derive(Template)]
#[template(path = "status/feed.atom.xml")]
struct AtomTemplate<'a> {
    feed: &'a Feed,
}

#[derive(Template)]
#[template(path = "status/feed.rss.xml")]
struct RssTemplate<'a> {
    feed: &'a Feed,
}

impl Feed {
    fn atom(&self) -> Result<String, askama::Error> {
        AtomTemplate { feed: self }.render()
    }
    fn rss(&self) -> Result<String, askama::Error> {
        RssTemplate { feed: self }.render()
    }
}

/// One entry per published public update, newest first.
fn feed(id: &Identity, data: &Data) -> Feed {
    let updated = data.feed.first().map_or_else(|| data.updated_at(), |e| e.created_at);
    Feed {
        id: id.url("status"),
        title: format!("{} status", id.name),
        name: id.name.clone(),
        page_url: id.url("status"),
        atom_url: id.url("status/feed.atom"),
        rss_url: id.url("status/feed.rss"),
        updated: updated.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        build_date: updated.to_rfc2822(),
        entries: data
            .feed
            .iter()
            .map(|e| {
                let url = id.incident_url(&e.incident_public_id);
                FeedItem {
                    id: format!("{url}#update-{}", e.public_id),
                    url,
                    title: format!("{} — {}", e.incident_title, e.status.label()),
                    body: e.body.clone(),
                    updated: e.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    pub_date: e.created_at.to_rfc2822(),
                }
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::load::ComponentRow;

    fn identity() -> Identity {
        Identity::new("Acme", &url::Url::parse("https://status.example.com").expect("url"))
    }

    fn text(r: &Rendered) -> String {
        String::from_utf8_lossy(&r.body).into_owned()
    }

    #[test]
    fn before_any_data_every_surface_says_unavailable() {
        let s = Snapshot::unavailable(&identity());
        assert!(!s.ready);
        for surface in Surface::ALL {
            assert_eq!(s.get(surface).status, 503, "{surface:?}");
        }
        assert!(text(s.get(Surface::Page)).contains("Status temporarily unavailable"));
        assert_eq!(s.get(Surface::Summary).content_type, JSON);
        assert!(s.get(Surface::Summary).cors);
    }

    #[test]
    fn stale_data_is_served_with_a_note() {
        let at = DateTime::parse_from_rfc3339("2026-11-21T10:00:00Z").expect("time").with_timezone(&Utc);
        let data = Data {
            loaded_at: at,
            components: vec![ComponentRow {
                id: crate::db::ComponentId(1),
                public_id: "abc123abc123".to_owned(),
                name: "API".to_owned(),
                description: String::new(),
                group_name: String::new(),
                position: 0,
                status: crate::domain::status::ComponentStatus::MajorOutage,
                created_at: at - chrono::Duration::days(3),
                updated_at: at,
            }],
            changes: HashMap::new(),
            state_before: HashMap::new(),
            incidents: Vec::new(),
            maintenances: Vec::new(),
            feed: Vec::new(),
        };
        let fresh = Snapshot::build(&identity(), &data, None).expect("renders");
        assert!(fresh.ready && !fresh.stale);
        assert!(text(fresh.get(Surface::Page)).contains("Major System Outage"));
        assert!(!text(fresh.get(Surface::Page)).contains("may be out of date"));
        let stale = Snapshot::build(&identity(), &data, Some(at)).expect("renders");
        let page = text(stale.get(Surface::Page));
        assert!(stale.stale);
        assert!(page.contains("This page may be out of date: last updated <time datetime=\"2026-11-21T10:00:00Z\">"));
        assert_eq!(text(stale.get(Surface::Status)), text(fresh.get(Surface::Status)), "the JSON stays as it was");
    }

    #[test]
    fn bodies_get_a_gzip_copy_and_an_etag_per_encoding() {
        let r = Rendered::new(200, HTML, b"<p>All systems operational</p>".repeat(20), false);
        assert!(r.gzip.as_ref().is_some_and(|z| z.len() < r.body.len()));
        assert_ne!(r.etag, r.gzip_etag);
        let tiny = Rendered::new(200, JSON, b"{}".to_vec(), true);
        assert!(tiny.gzip.is_none(), "not worth compressing");
    }
}
