//! The acknowledge link of a page message: `GET /ack/{token}` shows the page
//! and an Acknowledge button and changes nothing (mail scanners open links);
//! the button's POST acknowledges without a session. `POST
//! /api/v1/pages/acknowledge/{token}` does the same for push actions (ntfy)
//! and scripts: the token is the only credential, good for nothing else.

use actix_session::Session;
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::{self, ServiceConfig};
use askama::Template;

use crate::services::paging::{self, AckView};
use crate::web::AppState;
use crate::web::csrf::{CsrfForm, NoFields};
use crate::web::session::{self, FlashKind};
use crate::web::{AppError, Layout, render, see_other};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.route("/ack/{token}", web::get().to(show)).route("/ack/{token}", web::post().to(acknowledge)).service(
        crate::web::api::resource("/api/v1/pages/acknowledge/{token}", "POST").route(web::post().to(acknowledge_api)),
    );
}

/// Tokens are 43 characters of URL-safe base64; anything else is not worth a query.
fn plausible(token: &str) -> bool {
    token.len() == 43 && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[derive(Template)]
#[template(path = "oncall/ack.html")]
pub struct AckPage {
    pub layout: Layout,
    pub view: AckView,
    pub token: String,
    pub active: bool,
}

pub async fn show(
    state: web::Data<AppState>,
    layout: Layout,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let token = path.into_inner();
    if !plausible(&token) {
        return Err(AppError::NotFound);
    }
    let view = paging::ack_view(&state.pool, &token).await?;
    let active = view.page.status == crate::db::pages::ACTIVE;
    render(StatusCode::OK, &AckPage { layout, view, token, active })
}

pub async fn acknowledge(
    state: web::Data<AppState>,
    session: Session,
    path: web::Path<String>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let token = path.into_inner();
    if !plausible(&token) {
        return Err(AppError::NotFound);
    }
    if paging::acknowledge_with_token(&state.pool, &token).await? {
        session::flash(&session, FlashKind::Success, "Acknowledged. Escalation stopped; the incident room is yours.");
    } else {
        session::flash(&session, FlashKind::Info, "This page had already stopped; nothing changed.");
    }
    Ok(see_other(&format!("/ack/{token}")))
}

pub async fn acknowledge_api(state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let token = path.into_inner();
    if !plausible(&token) {
        return Ok(HttpResponse::NotFound().json(serde_json::json!({"error": "no such page"})));
    }
    match paging::acknowledge_with_token(&state.pool, &token).await {
        Ok(acknowledged) => Ok(HttpResponse::Ok().json(serde_json::json!({ "acknowledged": acknowledged }))),
        Err(crate::services::ServiceError::NotFound) => {
            Ok(HttpResponse::NotFound().json(serde_json::json!({"error": "no such page"})))
        }
        Err(e) => Err(e.into()),
    }
}
