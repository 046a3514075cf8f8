//! `/admin/audit`: the latest admin and security-relevant actions.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use crate::db::{audit_log, users};
use crate::domain::Role;
use crate::web::AppState;
use crate::web::{AppError, CurrentUser, Layout, render};

pub struct AuditRow {
    pub when: String,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub detail: String,
    pub client_addr: String,
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
pub struct AuditPage {
    pub layout: Layout,
    pub rows: Vec<AuditRow>,
}

pub async fn list(state: web::Data<AppState>, user: CurrentUser, layout: Layout) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let mut conn = state.pool.get().await?;
    let entries = audit_log::recent(&mut conn, 200).await?;
    let names: HashMap<_, _> = users::display_names(&mut conn).await?;
    let rows = entries
        .into_iter()
        .map(|e| AuditRow {
            when: e.created_at.with_timezone(&user.time_zone).format("%Y-%m-%d %H:%M:%S %Z").to_string(),
            actor: match e.actor_id {
                Some(id) => names.get(&id).cloned().unwrap_or_else(|| format!("user {id}")),
                None => "command line".to_owned(),
            },
            action: e.action,
            subject: e.subject,
            detail: e.detail,
            client_addr: e.client_addr.unwrap_or_default(),
        })
        .collect();
    render(StatusCode::OK, &AuditPage { layout: layout.at("admin"), rows })
}
