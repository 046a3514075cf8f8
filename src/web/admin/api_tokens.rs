//! Admin: API tokens for scripts (`/admin/api-tokens`). A new token is shown
//! once, in the response to the form; only its hash is kept.

use actix_session::Session;
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::{self, ServiceConfig};
use askama::Template;

use crate::db::api_tokens::{self, ApiToken};
use crate::db::ids::ApiTokenId;
use crate::domain::Role;
use crate::services::api_tokens::{self as svc, TokenInput};
use crate::services::{FieldErrors, ServiceError};
use crate::web::AppState;
use crate::web::csrf::{CsrfForm, NoFields};
use crate::web::incidents::{iso, local_time};
use crate::web::session::{self, FlashKind};
use crate::web::{AppError, CurrentUser, Layout, render, see_other};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.route("/admin/api-tokens", web::get().to(list))
        .route("/admin/api-tokens", web::post().to(create))
        .route("/admin/api-tokens/{id}/revoke", web::get().to(confirm_revoke))
        .route("/admin/api-tokens/{id}/revoke", web::post().to(revoke));
}

/// A token as the list shows it.
pub struct Row {
    pub id: ApiTokenId,
    pub name: String,
    pub role: Role,
    pub prefix: String,
    pub created: String,
    pub created_iso: String,
    pub last_used: Option<(String, String)>,
    pub revoked: Option<(String, String)>,
}

fn row(t: &ApiToken, tz: chrono_tz::Tz) -> Row {
    let when = |at: chrono::DateTime<chrono::Utc>| (local_time(at, tz), iso(at));
    Row {
        id: t.id,
        name: t.name.clone(),
        role: t.role(),
        prefix: t.prefix.clone(),
        created: local_time(t.created_at, tz),
        created_iso: iso(t.created_at),
        last_used: t.last_used_at.map(when),
        revoked: t.revoked_at.map(when),
    }
}

#[derive(Template)]
#[template(path = "admin/api_tokens.html")]
pub struct TokensPage {
    pub layout: Layout,
    pub rows: Vec<Row>,
    pub form: TokenInput,
    pub errors: FieldErrors,
    pub roles: [Role; 3],
    pub base_url: String,
}

async fn tokens_page(
    state: &AppState,
    user: &CurrentUser,
    layout: Layout,
    form: TokenInput,
    errors: FieldErrors,
) -> Result<TokensPage, AppError> {
    let mut conn = state.pool.get().await?;
    let rows = api_tokens::list(&mut conn).await?.iter().map(|t| row(t, user.time_zone)).collect();
    Ok(TokensPage { layout: layout.at("admin"), rows, form, errors, roles: Role::ALL, base_url: base_url(state) })
}

fn base_url(state: &AppState) -> String {
    state.settings.base_url.as_str().trim_end_matches('/').to_owned()
}

pub async fn list(state: web::Data<AppState>, user: CurrentUser, layout: Layout) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let form = TokenInput { role: Role::Responder.as_str().to_owned(), ..Default::default() };
    render(StatusCode::OK, &tokens_page(&state, &user, layout, form, FieldErrors::new()).await?)
}

#[derive(Template)]
#[template(path = "admin/api_tokens_created.html")]
pub struct CreatedPage {
    pub layout: Layout,
    pub name: String,
    pub role: Role,
    pub secret: String,
    pub base_url: String,
}

/// Creates a token and shows it, once, in this response (no redirect: the
/// secret is never stored, not even in the session).
pub async fn create(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    CsrfForm(form): CsrfForm<TokenInput>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    match svc::create(&state.pool, &user.actor(), &form).await {
        Ok(created) => {
            let page = CreatedPage {
                layout: layout.at("admin"),
                name: created.token.name.clone(),
                role: created.token.role(),
                secret: created.secret,
                base_url: base_url(&state),
            };
            render(StatusCode::CREATED, &page)
        }
        Err(ServiceError::Invalid(errors)) => {
            render(StatusCode::UNPROCESSABLE_ENTITY, &tokens_page(&state, &user, layout, form, errors).await?)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "admin/api_tokens_revoke.html")]
pub struct RevokePage {
    pub layout: Layout,
    pub token: Row,
}

pub async fn confirm_revoke(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    id: web::Path<ApiTokenId>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let mut conn = state.pool.get().await?;
    let token = api_tokens::find(&mut conn, *id).await?.ok_or(AppError::NotFound)?;
    if token.is_revoked() {
        return Ok(see_other("/admin/api-tokens"));
    }
    render(StatusCode::OK, &RevokePage { layout: layout.at("admin"), token: row(&token, user.time_zone) })
}

pub async fn revoke(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    id: web::Path<ApiTokenId>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let token = svc::revoke(&state.pool, &user.actor(), *id).await?;
    session::flash(&session, FlashKind::Success, format!("Revoked the token {}. It no longer works.", token.name));
    Ok(see_other("/admin/api-tokens"))
}
