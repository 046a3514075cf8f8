//! `/`: where everyone lands after signing in.

use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use askama::Template;

use super::auth::setup::needs_setup;
use super::session::MaybeUser;
use super::{AppError, Layout, render, see_other};
use crate::startup::AppState;

#[derive(Template)]
#[template(path = "dashboard.html")]
pub struct DashboardPage {
    pub layout: Layout,
}

pub async fn show(req: HttpRequest, state: web::Data<AppState>, user: MaybeUser) -> Result<HttpResponse, AppError> {
    if user.0.is_none() {
        let to = if needs_setup(&state).await? { "/setup" } else { "/login" };
        return Ok(see_other(to));
    }
    // Built only now: building it takes the flash messages, which a redirect must leave for the next page.
    let layout = Layout::extract(&req).await?;
    let page = DashboardPage { layout: layout.at("dashboard") };
    render(actix_web::http::StatusCode::OK, &page)
}
