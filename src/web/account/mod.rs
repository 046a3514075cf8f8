//! `/account`: every signed-in person changes their own password and time
//! zone, sees where they are signed in, and ends those sessions.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use secrecy::SecretString;
use serde::Deserialize;

use crate::db::SessionId;
use crate::domain::TimeZoneName;
use crate::domain::metrics::format_duration;
use crate::services::{FieldErrors, ServiceError, accounts, sessions};
use crate::web::AppState;
use crate::web::csrf::{CsrfForm, NoFields};
use crate::web::incidents::local_time;
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
    pub sessions: Vec<SessionRow>,
    pub session_idle: String,
    pub session_max_age: String,
}

/// One place this person is signed in.
pub struct SessionRow {
    pub id: SessionId,
    pub this_one: bool,
    pub started: String,
    pub last_used: String,
    pub client_addr: String,
    pub user_agent: String,
}

/// "12 h", "14 d": a session limit, written like every other duration.
fn span(d: std::time::Duration) -> String {
    format_duration(chrono::TimeDelta::from_std(d).unwrap_or(chrono::TimeDelta::MAX))
}

async fn page(
    state: &AppState,
    layout: Layout,
    user: CurrentUser,
    time_zone: String,
    errors: FieldErrors,
) -> Result<AccountPage, AppError> {
    let sessions = sessions::list(&state.pool, user.id)
        .await?
        .into_iter()
        .map(|s| SessionRow {
            id: s.id,
            this_one: s.id == user.session_id,
            started: local_time(s.created_at, user.time_zone),
            last_used: local_time(s.last_seen_at, user.time_zone),
            client_addr: s.client_addr,
            user_agent: if s.user_agent.is_empty() { "an unknown browser".to_owned() } else { s.user_agent },
        })
        .collect();
    Ok(AccountPage {
        layout: layout.at("account"),
        user,
        time_zone,
        time_zones: TimeZoneName::all_names(),
        errors,
        sessions,
        session_idle: span(state.settings.sign_in.session_idle),
        session_max_age: span(state.settings.sign_in.session_max_age),
    })
}

pub async fn show(state: web::Data<AppState>, user: CurrentUser, layout: Layout) -> Result<HttpResponse, AppError> {
    let tz = user.time_zone.name().to_owned();
    render(StatusCode::OK, &page(&state, layout, user, tz, FieldErrors::new()).await?)
}

/// `POST /account/sessions/{id}/end`: signs one of your other browsers out.
pub async fn end_session(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    id: web::Path<SessionId>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    if id == user.session_id {
        session::sign_out(&state, &session).await?;
        session::flash(&session, FlashKind::Info, "You are signed out.");
        return Ok(see_other("/login"));
    }
    sessions::end_one(&state.pool, user.id, id).await?;
    session::flash(&session, FlashKind::Success, "That session is signed out.");
    Ok(see_other("/account"))
}

/// `POST /account/sessions/end-all`: signs every browser of yours out, this one too.
pub async fn end_all_sessions(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    accounts::sign_out_everywhere(&state.pool, &user.actor()).await?;
    session::sign_out(&state, &session).await?;
    session::flash(&session, FlashKind::Info, "You are signed out everywhere.");
    Ok(see_other("/login"))
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
    let actor = user.actor();
    match accounts::change_own_password(
        &state.pool,
        &actor,
        user.session_id,
        current,
        &form.new_password,
        &form.confirm_password,
    )
    .await
    {
        Ok(()) => {
            session::flash(
                &session,
                FlashKind::Success,
                "Your password is changed. Your other sessions are signed out.",
            );
            Ok(see_other("/account"))
        }
        Err(ServiceError::Invalid(errors)) => {
            let tz = user.time_zone.name().to_owned();
            render(StatusCode::UNPROCESSABLE_ENTITY, &page(&state, layout, user, tz, errors).await?)
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
            render(StatusCode::UNPROCESSABLE_ENTITY, &page(&state, layout, user, form.time_zone, errors).await?)
        }
        Err(e) => Err(e.into()),
    }
}
