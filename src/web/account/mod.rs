//! `/account`: every signed-in person changes their own password and time zone.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use secrecy::SecretString;
use serde::Deserialize;

use crate::domain::TimeZoneName;
use crate::services::{FieldErrors, ServiceError, accounts};
use crate::startup::AppState;
use crate::web::csrf::CsrfForm;
use crate::web::session::{self, FlashKind};
use crate::web::{AppError, CurrentUser, Layout, render, see_other};

#[derive(Template)]
#[template(path = "account/index.html")]
pub struct AccountPage {
    pub layout: Layout,
    pub user: CurrentUser,
    pub time_zone: String,
    pub time_zones: Vec<&'static str>,
    pub errors: FieldErrors,
}

fn page(layout: Layout, user: CurrentUser, time_zone: String, errors: FieldErrors) -> AccountPage {
    AccountPage { layout: layout.at("account"), user, time_zone, time_zones: TimeZoneName::all_names(), errors }
}

pub async fn show(user: CurrentUser, layout: Layout) -> Result<HttpResponse, AppError> {
    let tz = user.time_zone.name().to_owned();
    render(StatusCode::OK, &page(layout, user, tz, FieldErrors::new()))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PasswordForm {
    pub current_password: String,
    pub new_password: String,
    pub confirm_password: String,
}

pub async fn change_password(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    session: Session,
    CsrfForm(form): CsrfForm<PasswordForm>,
) -> Result<HttpResponse, AppError> {
    let current = SecretString::from(form.current_password);
    match accounts::change_own_password(&state.pool, &user.actor(), current, &form.new_password, &form.confirm_password)
        .await
    {
        Ok(epoch) => {
            session::set_epoch(&session, epoch)?;
            session::flash(
                &session,
                FlashKind::Success,
                "Your password is changed. Your other sessions are signed out.",
            );
            Ok(see_other("/account"))
        }
        Err(ServiceError::Invalid(errors)) => {
            let tz = user.time_zone.name().to_owned();
            render(StatusCode::UNPROCESSABLE_ENTITY, &page(layout, user, tz, errors))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TimeZoneForm {
    pub time_zone: String,
}

pub async fn set_time_zone(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    session: Session,
    CsrfForm(form): CsrfForm<TimeZoneForm>,
) -> Result<HttpResponse, AppError> {
    match accounts::set_time_zone(&state.pool, &user.actor(), &form.time_zone).await {
        Ok(updated) => {
            session::flash(&session, FlashKind::Success, format!("Times are now shown in {}.", updated.time_zone));
            Ok(see_other("/account"))
        }
        Err(ServiceError::Invalid(errors)) => {
            render(StatusCode::UNPROCESSABLE_ENTITY, &page(layout, user, form.time_zone, errors))
        }
        Err(e) => Err(e.into()),
    }
}
