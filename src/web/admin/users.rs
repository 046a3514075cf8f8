//! `/admin/users`: list, add, change role, disable or enable, reset password.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::db::{UserId, users};
use crate::domain::{Role, TimeZoneName};
use crate::services::accounts::{self, NewUserInput};
use crate::services::{FieldErrors, ServiceError};
use crate::web::AppState;
use crate::web::csrf::{CsrfForm, NoFields};
use crate::web::session::{self, FlashKind};
use crate::web::{AppError, CurrentUser, Layout, render, see_other};

#[derive(Template)]
#[template(path = "admin/users.html")]
pub struct UsersPage {
    pub layout: Layout,
    pub users: Vec<users::User>,
}

pub async fn list(state: web::Data<AppState>, user: CurrentUser, layout: Layout) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let mut conn = state.pool.get().await?;
    let users = users::list(&mut conn).await?;
    render(StatusCode::OK, &UsersPage { layout: layout.at("admin"), users })
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NewUserForm {
    pub email: String,
    pub display_name: String,
    pub role: String,
    pub password: String,
    pub time_zone: String,
}

#[derive(Template)]
#[template(path = "admin/user_new.html")]
pub struct NewUserPage {
    pub layout: Layout,
    pub form: NewUserForm,
    pub errors: FieldErrors,
    pub roles: [Role; 3],
    pub time_zones: Vec<&'static str>,
}

fn new_user_page(layout: Layout, form: NewUserForm, errors: FieldErrors) -> NewUserPage {
    NewUserPage { layout: layout.at("admin"), form, errors, roles: Role::ALL, time_zones: TimeZoneName::all_names() }
}

pub async fn new_form(user: CurrentUser, layout: Layout) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let form = NewUserForm { role: Role::Responder.as_str().into(), time_zone: "UTC".into(), ..Default::default() };
    render(StatusCode::OK, &new_user_page(layout, form, FieldErrors::new()))
}

pub async fn create(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    session: Session,
    CsrfForm(form): CsrfForm<NewUserForm>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let input = NewUserInput {
        email: form.email.clone(),
        display_name: form.display_name.clone(),
        role: form.role.clone(),
        password: form.password.clone(),
        time_zone: form.time_zone.clone(),
    };
    match accounts::add_user(&state.pool, &user.actor(), input).await {
        Ok(added) => {
            session::flash(&session, FlashKind::Success, format!("Added {} as {}.", added.display_name, added.role));
            Ok(see_other("/admin/users"))
        }
        Err(ServiceError::Invalid(errors)) => {
            let form = NewUserForm { password: String::new(), ..form };
            render(StatusCode::UNPROCESSABLE_ENTITY, &new_user_page(layout, form, errors))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "admin/user_edit.html")]
pub struct EditUserPage {
    pub layout: Layout,
    pub target: users::User,
    pub is_self: bool,
    pub role: String,
    pub roles: [Role; 3],
    pub errors: FieldErrors,
}

async fn edit_page(
    state: &AppState,
    user: &CurrentUser,
    layout: Layout,
    id: UserId,
    errors: FieldErrors,
    role: Option<String>,
) -> Result<EditUserPage, AppError> {
    let mut conn = state.pool.get().await?;
    let target = users::find(&mut conn, id).await?.ok_or(AppError::NotFound)?;
    Ok(EditUserPage {
        layout: layout.at("admin"),
        is_self: target.id == user.id,
        role: role.unwrap_or_else(|| target.role.clone()),
        target,
        roles: Role::ALL,
        errors,
    })
}

pub async fn show(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    id: web::Path<UserId>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    render(StatusCode::OK, &edit_page(&state, &user, layout, *id, FieldErrors::new(), None).await?)
}

/// Everything the edit page needs to answer a change made on it.
struct EditRequest<'a> {
    state: &'a AppState,
    user: &'a CurrentUser,
    layout: Layout,
    session: &'a Session,
    id: UserId,
}

impl EditRequest<'_> {
    /// The common ending of every change on the edit page: a flash and back to
    /// the page, or the page again with the message beside the field.
    async fn finish(
        self,
        result: Result<users::User, ServiceError>,
        done: impl FnOnce(&users::User) -> String,
        role_input: Option<String>,
    ) -> Result<HttpResponse, AppError> {
        match result {
            Ok(target) => {
                session::flash(self.session, FlashKind::Success, done(&target));
                Ok(see_other(&format!("/admin/users/{}", self.id)))
            }
            Err(ServiceError::Invalid(errors)) => {
                let page = edit_page(self.state, self.user, self.layout, self.id, errors, role_input).await?;
                render(StatusCode::UNPROCESSABLE_ENTITY, &page)
            }
            Err(e) => Err(e.into()),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RoleForm {
    pub role: String,
}

pub async fn change_role(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    session: Session,
    id: web::Path<UserId>,
    CsrfForm(form): CsrfForm<RoleForm>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let result = accounts::change_role(&state.pool, &user.actor(), *id, &form.role).await;
    EditRequest { state: &state, user: &user, layout, session: &session, id: *id }
        .finish(result, |t| format!("{} is now {}.", t.display_name, t.role), Some(form.role))
        .await
}

pub async fn disable(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    session: Session,
    id: web::Path<UserId>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let result = accounts::set_disabled(&state.pool, &user.actor(), *id, true).await;
    EditRequest { state: &state, user: &user, layout, session: &session, id: *id }
        .finish(result, |t| format!("{} is disabled and signed out everywhere.", t.display_name), None)
        .await
}

pub async fn enable(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    session: Session,
    id: web::Path<UserId>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let result = accounts::set_disabled(&state.pool, &user.actor(), *id, false).await;
    EditRequest { state: &state, user: &user, layout, session: &session, id: *id }
        .finish(result, |t| format!("{} can sign in again.", t.display_name), None)
        .await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ResetPasswordForm {
    pub password: String,
}

pub async fn reset_password(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    session: Session,
    id: web::Path<UserId>,
    CsrfForm(form): CsrfForm<ResetPasswordForm>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let result = accounts::reset_password(&state.pool, &user.actor(), *id, &form.password).await;
    EditRequest { state: &state, user: &user, layout, session: &session, id: *id }
        .finish(
            result,
            |t| {
                format!(
                    "{} has a new password and was signed out everywhere; tell them the new password.",
                    t.display_name
                )
            },
            None,
        )
        .await
}
