//! Admin pages: users and the audit log. Every handler requires the admin role.

pub mod alert_sources;
pub mod api_tokens;
pub mod audit;
pub mod components;
pub mod groups;
pub mod outbox;
pub mod users;
pub mod webhooks;

use actix_web::Responder;
use askama::Template;
use askama_web::WebTemplate;

use crate::domain::Role;
use crate::web::{AppError, CurrentUser, Layout};

#[derive(Template, WebTemplate)]
#[template(path = "admin/index.html")]
pub struct AdminIndex {
    pub layout: Layout,
}

/// `/admin`: the list of admin areas (the navigation has one "Admin" entry).
pub async fn index(user: CurrentUser, layout: Layout) -> Result<impl Responder, AppError> {
    user.require(Role::Admin)?;
    Ok(AdminIndex { layout: layout.at("admin") })
}
