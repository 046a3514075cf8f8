//! Alerts in: /hooks/alerts/{source}, and the alerts shown in the room.
//!
//! The hook is a machine endpoint: no session, no CSRF; the source's token
//! (as `Authorization: Bearer <token>` or `?token=`) authenticates it. Every
//! answer is JSON. Nothing is written unless the token, the size and the
//! payload are all right.

use actix_web::http::StatusCode;
use actix_web::http::header::{AUTHORIZATION, CONTENT_LENGTH, WWW_AUTHENTICATE};
use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use chrono::Utc;
use futures_util::StreamExt;

use crate::db::alerts as db;
use crate::domain::alerts::{AlertStatus, MAX_PAYLOAD_BYTES, is_web_link, labels_summary, parse, token_matches};
use crate::web::AppState;
use crate::web::incidents::{iso, local_time};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.route("/hooks/alerts/{public_id}", web::post().to(receive));
}

fn json_error(status: StatusCode, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(serde_json::json!({ "error": message }))
}

/// The token from `Authorization: Bearer …`, else from `?token=`.
fn presented_token(req: &HttpRequest) -> Option<String> {
    if let Some(value) = req.headers().get(AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let value = value.trim();
        if let Some((scheme, token)) = value.split_once(' ')
            && scheme.eq_ignore_ascii_case("bearer")
        {
            return Some(token.trim().to_owned());
        }
        return None;
    }
    url::form_urlencoded::parse(req.query_string().as_bytes()).find(|(k, _)| k == "token").map(|(_, v)| v.into_owned())
}

/// Reads the body, refusing more than [`MAX_PAYLOAD_BYTES`].
async fn read_body(req: &HttpRequest, mut payload: web::Payload) -> Result<Vec<u8>, HttpResponse> {
    let too_large =
        || json_error(StatusCode::PAYLOAD_TOO_LARGE, "the payload is larger than 1 MiB; nothing was recorded");
    let declared =
        req.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_PAYLOAD_BYTES) {
        return Err(too_large());
    }
    let mut body = Vec::with_capacity(declared.unwrap_or(4096).min(MAX_PAYLOAD_BYTES));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| json_error(StatusCode::BAD_REQUEST, &format!("could not read the body: {e}")))?;
        if body.len() + chunk.len() > MAX_PAYLOAD_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// `POST /hooks/alerts/{public_id}`: an alert source delivers a payload.
pub async fn receive(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    let now = Utc::now();
    let source = match state.pool.get().await {
        Ok(mut conn) => match db::find_by_public_id(&mut conn, &path).await {
            Ok(s) => s,
            Err(e) => return unexpected(&e.to_string()),
        },
        Err(e) => return unexpected(&e.to_string()),
    };
    let Some(source) = source else {
        return json_error(StatusCode::NOT_FOUND, "there is no alert source at this address");
    };
    match presented_token(&req) {
        Some(t) if token_matches(&t, &source.token_hash) => {}
        Some(_) => {
            return HttpResponse::Unauthorized()
                .insert_header((WWW_AUTHENTICATE, "Bearer"))
                .json(serde_json::json!({ "error": "the token is wrong; nothing was recorded" }));
        }
        None => {
            return HttpResponse::Unauthorized().insert_header((WWW_AUTHENTICATE, "Bearer")).json(serde_json::json!({
                "error": "a token is required: send it as \"Authorization: Bearer <token>\" or ?token=; nothing was recorded"
            }));
        }
    }
    if !source.enabled {
        return json_error(StatusCode::FORBIDDEN, "this alert source is disabled; nothing was recorded");
    }
    let body = match read_body(&req, payload).await {
        Ok(b) => b,
        Err(response) => return response,
    };
    let Ok(text) = std::str::from_utf8(&body) else {
        return json_error(StatusCode::BAD_REQUEST, "the body is not UTF-8 text; send JSON; nothing was recorded");
    };
    // PostgreSQL text cannot hold NUL: keep the alert, with U+FFFD in its place, and say so.
    let replaced;
    let text = if text.contains("\\u0000") {
        tracing::warn!(source = %source.public_id, "alert payload held NUL characters; stored with U+FFFD instead");
        replaced = text.replace("\\u0000", "\\ufffd");
        replaced.as_str()
    } else {
        text
    };
    let alerts = match parse(source.kind(), text.as_bytes()) {
        Ok(a) => a,
        Err(e) => return json_error(StatusCode::BAD_REQUEST, &format!("{e}; nothing was recorded")),
    };
    match crate::services::alerts::ingest(&state.pool, &state.settings, &source, text, &alerts, now).await {
        Ok(report) => HttpResponse::Ok().json(report),
        Err(e) => unexpected(&format!("{e:#}")),
    }
}

fn unexpected(detail: &str) -> HttpResponse {
    tracing::error!(error = %detail, "alert hook failed");
    json_error(StatusCode::INTERNAL_SERVER_ERROR, "Firebreak could not record this payload; try again")
}

/// One alert as the room shows it.
pub struct AlertView {
    pub name: String,
    pub summary: String,
    pub firing: bool,
    pub status: &'static str,
    pub source: String,
    pub starts: String,
    pub starts_iso: String,
    pub ends: Option<(String, String)>,
    pub labels: String,
    /// Only http(s) links become links.
    pub link: Option<String>,
}

#[derive(Template)]
#[template(path = "alerts/room_panel.html")]
struct RoomPanel {
    alerts: Vec<AlertView>,
    firing: usize,
}

/// The card this area adds to the incident room (rendered HTML; empty for none).
pub async fn room_panel(
    conn: &mut diesel_async::AsyncPgConnection,
    incident: &crate::db::incidents::Incident,
    user: &crate::web::CurrentUser,
) -> Result<String, crate::web::AppError> {
    let rows = db::for_incident(conn, incident.id).await?;
    if rows.is_empty() {
        return Ok(String::new());
    }
    let tz = user.time_zone;
    let alerts: Vec<AlertView> = rows
        .into_iter()
        .map(|(a, source)| {
            let labels: std::collections::BTreeMap<String, String> =
                serde_json::from_value(a.labels).unwrap_or_default();
            let firing = a.status == AlertStatus::Firing.as_str();
            AlertView {
                name: if a.name.is_empty() { a.fingerprint.clone() } else { a.name },
                summary: a.summary,
                firing,
                status: if firing { "Firing" } else { "Resolved" },
                source,
                starts: local_time(a.starts_at, tz),
                starts_iso: iso(a.starts_at),
                ends: a.ends_at.map(|e| (local_time(e, tz), iso(e))),
                labels: labels_summary(&labels, 300),
                link: a.generator_url.filter(|u| is_web_link(u)),
            }
        })
        .collect();
    let firing = alerts.iter().filter(|a| a.firing).count();
    RoomPanel { alerts, firing }.render().map_err(crate::web::AppError::unexpected)
}
