//! Public pages (no sign-in): the status page, its history, one incident,
//! the Atom and RSS feeds and the Statuspage v2-compatible JSON API.
//!
//! Everything but the history (and incidents older than the snapshot keeps)
//! is served from the in-memory snapshot (`crate::status`): no database, no
//! session, the same bytes for everybody, with ETag, Cache-Control and gzip.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{
    ACCEPT_ENCODING, ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, ETAG, IF_NONE_MATCH,
    RETRY_AFTER, VARY,
};
use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse, guard};
use serde::Deserialize;

use crate::status::render::{self, Rendered};
use crate::status::{Surface, load};
use crate::web::AppState;

/// How long browsers and proxies may reuse a response without asking.
const CACHE_CONTROL_PUBLIC: &str = "public, max-age=10";
/// The history queries the database: a little longer.
const CACHE_CONTROL_HISTORY: &str = "public, max-age=30";
/// Longest a page that needs the database waits for it.
const DB_WAIT: Duration = Duration::from_secs(5);

pub fn configure(cfg: &mut ServiceConfig) {
    for (path, surface) in [
        ("/status", Surface::Page),
        ("/status/feed.atom", Surface::Atom),
        ("/status/feed.rss", Surface::Rss),
        ("/api/v2/summary.json", Surface::Summary),
        ("/api/v2/status.json", Surface::Status),
        ("/api/v2/components.json", Surface::Components),
        ("/api/v2/incidents.json", Surface::Incidents),
        ("/api/v2/incidents/unresolved.json", Surface::Unresolved),
        ("/api/v2/scheduled-maintenances.json", Surface::Maintenances),
        ("/api/v2/scheduled-maintenances/upcoming.json", Surface::Upcoming),
        ("/api/v2/scheduled-maintenances/active.json", Surface::Active),
    ] {
        cfg.service(web::resource(path).route(read_route().to(
            move |req: HttpRequest, state: web::Data<AppState>| async move {
                let snapshot = state.status.current().await;
                respond(&req, snapshot.get(surface), CACHE_CONTROL_PUBLIC)
            },
        )));
    }
    cfg.service(web::resource("/status/history").route(read_route().to(history)))
        .service(web::resource("/status/incidents/{public_id}").route(read_route().to(incident)));
}

/// GET and HEAD.
fn read_route() -> actix_web::Route {
    web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
}

#[derive(Debug, Deserialize)]
pub struct HistoryQuery {
    page: Option<String>,
}

/// `GET /status/history?page=N`: public incidents, newest first, from the
/// database (503 while it is unreachable).
pub async fn history(req: HttpRequest, state: web::Data<AppState>, query: web::Query<HistoryQuery>) -> HttpResponse {
    let page = query.page.as_deref().and_then(|p| p.trim().parse::<i64>().ok()).unwrap_or(1).clamp(1, 1_000_000);
    let identity = state.status.identity();
    let loaded = tokio::time::timeout(DB_WAIT, async {
        let mut conn = state.pool.get().await.map_err(|e| anyhow::anyhow!("no database connection: {e}"))?;
        Ok::<_, anyhow::Error>(load::load_history(&mut conn, page).await?)
    })
    .await;
    match loaded {
        Ok(Ok((_, _, total))) if page > 1 && (page - 1) * load::HISTORY_PAGE_SIZE >= total => respond(
            &req,
            &render::message(identity, 404, "No such page", "The incident history has fewer pages."),
            CACHE_CONTROL_HISTORY,
        ),
        Ok(Ok((components, incidents, total))) => {
            respond(&req, &render::history_page(identity, &components, &incidents, page, total), CACHE_CONTROL_HISTORY)
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %format!("{e:#}"), "cannot load the status history");
            respond(&req, &unavailable(identity), CACHE_CONTROL_HISTORY)
        }
        Err(_) => respond(&req, &unavailable(identity), CACHE_CONTROL_HISTORY),
    }
}

/// `GET /status/incidents/{public_id}`: one public incident's updates; 404
/// for anything not public.
pub async fn incident(req: HttpRequest, state: web::Data<AppState>, path: web::Path<String>) -> HttpResponse {
    let public_id = path.into_inner();
    let snapshot = state.status.current().await;
    if let Some(page) = snapshot.incident(&public_id) {
        return respond(&req, page, CACHE_CONTROL_PUBLIC);
    }
    let identity = state.status.identity();
    let not_found =
        || render::message(identity, 404, "Incident not found", "There is no public incident at this address.");
    // Public ids are short lowercase hex; anything else is not worth a query.
    if public_id.is_empty() || public_id.len() > 32 || !public_id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return respond(&req, &not_found(), CACHE_CONTROL_PUBLIC);
    }
    // Older than the snapshot keeps: ask the database.
    let loaded = tokio::time::timeout(DB_WAIT, async {
        let mut conn = state.pool.get().await.map_err(|e| anyhow::anyhow!("no database connection: {e}"))?;
        Ok::<_, anyhow::Error>(load::load_incident(&mut conn, &public_id).await?)
    })
    .await;
    match loaded {
        Ok(Ok(Some((components, incident)))) => {
            respond(&req, &render::incident_page(identity, &components, &incident), CACHE_CONTROL_PUBLIC)
        }
        Ok(Ok(None)) => respond(&req, &not_found(), CACHE_CONTROL_PUBLIC),
        Ok(Err(e)) => {
            tracing::warn!(error = %format!("{e:#}"), "cannot load a public incident");
            respond(&req, snapshot.unavailable_page(), CACHE_CONTROL_PUBLIC)
        }
        Err(_) => respond(&req, snapshot.unavailable_page(), CACHE_CONTROL_PUBLIC),
    }
}

fn unavailable(identity: &crate::status::Identity) -> Rendered {
    render::message(
        identity,
        503,
        "History temporarily unavailable",
        "The incident history cannot be shown right now. The current status is still on the status page.",
    )
}

/// Sends a pre-rendered body: gzip when the client takes it, 304 when its
/// copy is current. Only 200s are cacheable.
pub fn respond(req: &HttpRequest, r: &Rendered, cache_control: &'static str) -> HttpResponse {
    let gzip = r.gzip.as_ref().filter(|_| accepts_gzip(req));
    let mut response = HttpResponse::build(StatusCode::from_u16(r.status).unwrap_or(StatusCode::OK));
    response.insert_header((VARY, "Accept-Encoding"));
    if r.cors {
        response.insert_header((ACCESS_CONTROL_ALLOW_ORIGIN, "*"));
    }
    if r.is_ok() {
        let etag = if gzip.is_some() { &r.gzip_etag } else { &r.etag };
        response.insert_header((CACHE_CONTROL, cache_control)).insert_header((ETAG, etag.as_str()));
        if matches_etag(req, r) {
            return response.status(StatusCode::NOT_MODIFIED).finish();
        }
    } else {
        response.insert_header((CACHE_CONTROL, "no-store"));
        if r.status == 503 {
            response.insert_header((RETRY_AFTER, "30"));
        }
    }
    response.insert_header((CONTENT_TYPE, r.content_type));
    match gzip {
        Some(body) => response.insert_header((CONTENT_ENCODING, "gzip")).body(Slices::new(body.clone())),
        None => response.body(Slices::new(r.body.clone())),
    }
}

/// Size of the pieces a body is handed to the server in. Not smaller: without
/// TCP_NODELAY, writes below the loopback MSS (~64 KiB) wait for delayed ACKs
/// (40 ms stalls measured with 16 and 32 KiB slices).
const SLICE: usize = 64 * 1024;

/// A shared body handed out in slices (no copies: `Bytes::slice`). actix
/// copies each chunk it is given into the connection's write buffer, which
/// keeps its capacity: one chunk per response would cost every keep-alive
/// connection the size of the largest page (bench/status.sh: 59 -> 49 MiB
/// peak at 256 connections).
struct Slices {
    body: actix_web::web::Bytes,
    at: usize,
}

impl Slices {
    fn new(body: actix_web::web::Bytes) -> Slices {
        Slices { body, at: 0 }
    }
}

impl actix_web::body::MessageBody for Slices {
    type Error = std::convert::Infallible;

    fn size(&self) -> actix_web::body::BodySize {
        actix_web::body::BodySize::Sized((self.body.len() - self.at) as u64)
    }

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<actix_web::web::Bytes, Self::Error>>> {
        let this = self.get_mut();
        if this.at >= this.body.len() {
            return std::task::Poll::Ready(None);
        }
        let end = (this.at + SLICE).min(this.body.len());
        let slice = this.body.slice(this.at..end);
        this.at = end;
        std::task::Poll::Ready(Some(Ok(slice)))
    }
}

/// Whether `If-None-Match` names this body (in either encoding) or `*`.
fn matches_etag(req: &HttpRequest, r: &Rendered) -> bool {
    let Some(value) = req.headers().get(IF_NONE_MATCH).and_then(|v| v.to_str().ok()) else { return false };
    value.split(',').map(|t| t.trim().trim_start_matches("W/")).any(|t| t == "*" || t == r.etag || t == r.gzip_etag)
}

/// Whether `Accept-Encoding` allows gzip (q > 0, by name or by `*`).
fn accepts_gzip(req: &HttpRequest) -> bool {
    let Some(value) = req.headers().get(ACCEPT_ENCODING).and_then(|v| v.to_str().ok()) else { return false };
    let mut star = false;
    for part in value.split(',') {
        let mut pieces = part.split(';');
        let name = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = pieces
            .filter_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.trim().parse::<f32>().ok()))
            .next()
            .unwrap_or(1.0);
        match name.as_str() {
            "gzip" | "x-gzip" => return q > 0.0,
            "*" => star = q > 0.0,
            _ => {}
        }
    }
    star
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn gzip_is_used_only_when_the_client_accepts_it() {
        let with =
            |v: &str| accepts_gzip(&TestRequest::default().insert_header((ACCEPT_ENCODING, v)).to_http_request());
        assert!(with("gzip, deflate, br"));
        assert!(with("br;q=1.0, gzip;q=0.8"));
        assert!(!with("gzip;q=0"));
        assert!(!with("br"));
        assert!(with("*"));
        assert!(!with("identity"));
        assert!(!accepts_gzip(&TestRequest::default().to_http_request()));
    }

    #[test]
    fn either_encodings_etag_matches() {
        let r = Rendered::new(200, render::HTML, b"<p>hello</p>".repeat(50), false);
        let req = |v: &str| TestRequest::default().insert_header((IF_NONE_MATCH, v.to_owned())).to_http_request();
        assert!(matches_etag(&req(&r.etag), &r));
        assert!(matches_etag(&req(&format!("\"x\", W/{}", r.gzip_etag)), &r));
        assert!(!matches_etag(&req("\"other\""), &r));
    }
}
