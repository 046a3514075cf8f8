//! Signing in through the OpenID Connect provider: the button posts here, we send
//! the browser to the provider, it comes back to the callback. The state, nonce
//! and PKCE verifier are kept server-side under a random id whose only copy is in
//! a short-lived cookie of this browser, and are used once.

use actix_session::Session;
use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::login::safe_next;
use crate::domain::sso::SsoRefusal;
use crate::services::oidc::{OidcError, OidcProvider};
use crate::services::sso::{self, PendingSignIn};
use crate::web::AppState;
use crate::web::csrf::CsrfForm;
use crate::web::session;
use crate::web::{AppError, Layout, client_addr, render, see_other};

/// Holds the id of this browser's sign-in in progress.
pub const COOKIE: &str = "firebreak_oidc";
const COOKIE_PATH: &str = "/login/oidc";
/// Marks a session that began at the provider (sign-out then visits it too).
pub const SESSION_MARK: &str = "sso";

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct StartForm {
    pub next: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
    /// The issuer of the response (RFC 9207), when the provider sends it.
    pub iss: Option<String>,
}

#[derive(Template)]
#[template(path = "auth/sso_error.html")]
pub struct SsoErrorPage {
    pub layout: Layout,
    pub title: &'static str,
    pub advice: &'static str,
    pub provider: String,
}

fn provider(state: &AppState) -> Result<&OidcProvider, AppError> {
    state.oidc.as_deref().ok_or(AppError::NotFound)
}

fn hash_id(id: &str) -> Vec<u8> {
    Sha256::digest(id.as_bytes()).to_vec()
}

fn cookie(state: &AppState, value: String, max_age: time::Duration) -> Cookie<'static> {
    Cookie::build(COOKIE, value)
        .path(COOKIE_PATH)
        .http_only(true)
        .secure(state.settings.is_https())
        // Lax: sent on the provider's top-level redirect back to us, not on cross-site posts.
        .same_site(SameSite::Lax)
        .max_age(max_age)
        .finish()
}

async fn refused(
    req: &HttpRequest,
    state: &AppState,
    refusal: SsoRefusal,
    who: &str,
    why: &str,
) -> Result<HttpResponse, AppError> {
    sso::record_refusal(&state.pool, refusal, who, why, &client_addr(req)).await?;
    error_page(req, state, refusal).await
}

async fn error_page(req: &HttpRequest, state: &AppState, refusal: SsoRefusal) -> Result<HttpResponse, AppError> {
    let status = match refusal {
        SsoRefusal::ProviderUnreachable => StatusCode::BAD_GATEWAY,
        SsoRefusal::UnknownState => StatusCode::BAD_REQUEST,
        _ => StatusCode::FORBIDDEN,
    };
    let page = SsoErrorPage {
        layout: Layout::extract(req).await?,
        title: refusal.title(),
        advice: refusal.advice(),
        provider: provider(state)?.name().to_owned(),
    };
    let mut response = render(status, &page)?;
    response.add_cookie(&cookie(state, String::new(), time::Duration::ZERO)).map_err(AppError::unexpected)?;
    Ok(response)
}

/// POST /login/oidc: off to the provider.
pub async fn start(
    req: HttpRequest,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<StartForm>,
) -> Result<HttpResponse, AppError> {
    let oidc = provider(&state)?;
    let begun = match oidc.begin().await {
        Ok(begun) => begun,
        Err(e) => return refused(&req, &state, SsoRefusal::ProviderUnreachable, "", &e.to_string()).await,
    };
    let id = crate::domain::tokens::url_safe(32);
    let pending = PendingSignIn {
        id_hash: hash_id(&id),
        state: begun.state,
        nonce: begun.nonce,
        pkce_verifier: begun.pkce_verifier,
        next_path: safe_next(&form.next).to_owned(),
    };
    if !sso::start_pending(&state.pool, &pending).await? {
        tracing::warn!("too many sign-ins through the identity provider in progress");
        return Err(AppError::BadRequest("too many sign-ins in progress; try again in a few minutes".into()));
    }
    let max_age = time::Duration::seconds(sso::PENDING_MAX_AGE.num_seconds());
    Ok(HttpResponse::SeeOther()
        .insert_header((actix_web::http::header::LOCATION, begun.url.as_str()))
        .cookie(cookie(&state, id, max_age))
        .finish())
}

/// GET /login/oidc/callback: the provider sends the browser back here.
pub async fn callback(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    query: web::Query<CallbackQuery>,
) -> Result<HttpResponse, AppError> {
    let oidc = provider(&state)?;
    // Whatever happens next, this sign-in in progress is used up.
    let pending = match req.cookie(COOKIE) {
        Some(c) if !c.value().is_empty() => sso::take_pending(&state.pool, &hash_id(c.value())).await?,
        _ => None,
    };
    let Some(pending) = pending.filter(|p| query.state.as_deref() == Some(p.state.as_str())) else {
        let why = "no sign-in in progress in this browser matches the callback's state";
        return refused(&req, &state, SsoRefusal::UnknownState, "", why).await;
    };
    if let Some(iss) = query.iss.as_deref().filter(|iss| *iss != oidc.issuer()) {
        // Another provider's answer, sent to us (a mix-up attack).
        let why = format!("the response came from {iss:?}, not {:?}", oidc.issuer());
        return refused(&req, &state, SsoRefusal::TokenRejected, "", &why).await;
    }
    if let Some(error) = &query.error {
        let refusal = match error.as_str() {
            "access_denied" | "consent_required" | "interaction_required" | "login_required" => {
                SsoRefusal::ConsentDenied
            }
            _ => SsoRefusal::ProviderError,
        };
        let why = format!("{error}: {}", query.error_description.as_deref().unwrap_or_default());
        return refused(&req, &state, refusal, "", why.chars().take(500).collect::<String>().as_str()).await;
    }
    let Some(code) = query.code.as_deref().filter(|c| !c.is_empty()) else {
        return refused(&req, &state, SsoRefusal::TokenRejected, "", "the callback has no code").await;
    };
    let identity = match oidc.finish(code, &pending.nonce, &pending.pkce_verifier).await {
        Ok(identity) => identity,
        Err(e @ OidcError::Unreachable(_)) => {
            return refused(&req, &state, SsoRefusal::ProviderUnreachable, "", &e.to_string()).await;
        }
        Err(e @ OidcError::Rejected(_)) => {
            return refused(&req, &state, SsoRefusal::TokenRejected, "", &e.to_string()).await;
        }
    };
    match sso::sign_in(&state.pool, &identity, oidc.roles(), &client_addr(&req)).await? {
        Ok(user) => {
            session::sign_in(&req, &session, &user).await?;
            session.insert(SESSION_MARK, true).map_err(AppError::unexpected)?;
            tracing::info!(user_id = %user.id, "signed in through the identity provider");
            let mut response = see_other(safe_next(&pending.next_path));
            response.add_cookie(&cookie(&state, String::new(), time::Duration::ZERO)).map_err(AppError::unexpected)?;
            Ok(response)
        }
        // Already in the audit log.
        Err(refusal) => error_page(&req, &state, refusal).await,
    }
}

/// Where sign-out should send the browser after ending our session: the
/// provider's end-session endpoint, for sessions that began there.
pub async fn end_session_url(state: &AppState, session: &Session) -> Option<String> {
    let oidc = state.oidc.as_deref()?;
    if !session.get::<bool>(SESSION_MARK).ok().flatten().unwrap_or(false) {
        return None;
    }
    oidc.end_session_url().await.map(String::from)
}
