//! The one-time setup page that creates the first admin. Once any user
//! exists it answers 404, for GET and POST alike.

use std::sync::atomic::Ordering;

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use crate::db::users;
use crate::domain::TimeZoneName;
use crate::services::accounts::{self, NewUserInput};
use crate::services::{FieldErrors, ServiceError};
use crate::web::AppState;
use crate::web::csrf::CsrfForm;
use crate::web::session::{self, FlashKind};
use crate::web::{AppError, Layout, client_addr, render, see_other};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SetupForm {
    pub email: String,
    pub display_name: String,
    pub password: String,
    pub time_zone: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "auth/setup.html")]
pub struct SetupPage {
    pub layout: Layout,
    pub form: SetupForm,
    pub errors: FieldErrors,
    pub time_zones: Vec<&'static str>,
}

/// Whether the first user still has to be created.
pub async fn needs_setup(state: &AppState) -> Result<bool, AppError> {
    if state.setup_done.load(Ordering::Relaxed) {
        return Ok(false);
    }
    let mut conn = state.pool.get().await?;
    let exists = users::any_exist(&mut conn).await?;
    if exists {
        state.setup_done.store(true, Ordering::Relaxed);
    }
    Ok(!exists)
}

pub async fn show(state: web::Data<AppState>, layout: Layout) -> Result<SetupPage, AppError> {
    if !needs_setup(&state).await? {
        return Err(AppError::NotFound);
    }
    Ok(SetupPage {
        layout,
        form: SetupForm { time_zone: "UTC".into(), ..Default::default() },
        errors: FieldErrors::new(),
        time_zones: TimeZoneName::all_names(),
    })
}

pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    layout: Layout,
    CsrfForm(form): CsrfForm<SetupForm>,
) -> Result<HttpResponse, AppError> {
    if !needs_setup(&state).await? {
        return Err(AppError::NotFound);
    }
    let input = NewUserInput {
        email: form.email.clone(),
        display_name: form.display_name.clone(),
        role: String::new(),
        password: form.password.clone(),
        time_zone: form.time_zone.clone(),
    };
    match accounts::create_first_admin(&state.pool, input, Some(client_addr(&req))).await {
        Ok(user) => {
            state.setup_done.store(true, Ordering::Relaxed);
            session::sign_in(&req, &session, &user).await?;
            session::flash(
                &session,
                FlashKind::Success,
                format!("Welcome, {}. You are the first admin of this Firebreak.", user.display_name),
            );
            Ok(see_other("/"))
        }
        Err(ServiceError::Invalid(errors)) => {
            let page = SetupPage {
                layout,
                form: SetupForm { password: String::new(), ..form },
                errors,
                time_zones: TimeZoneName::all_names(),
            };
            render(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(e) => Err(e.into()),
    }
}
