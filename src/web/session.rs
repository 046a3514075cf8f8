//! The signed-in person. The encrypted session cookie holds a session token;
//! every request looks the token up in `user_sessions`
//! ([`crate::services::sessions`]), so a session the server ended (sign-out,
//! a password change, a disabled account, idle or too old) signs nobody in,
//! even from a copy of the cookie.

use std::future::Future;
use std::pin::Pin;

use actix_session::{Session, SessionExt};
use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload, web};
use serde::{Deserialize, Serialize};

use super::AppError;
use crate::db::{SessionId, UserId, users};
use crate::domain::Role;
use crate::services::Actor;
use crate::services::sessions::{self, Origin, SessionRules};
use crate::web::AppState;

const TOKEN: &str = "session_token";
pub const CSRF: &str = "csrf";
const FLASH: &str = "flash";

/// A signed-in, enabled user.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub id: UserId,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub time_zone: chrono_tz::Tz,
    pub client_addr: String,
    /// The server-side session this request signed in with.
    pub session_id: SessionId,
}

impl CurrentUser {
    /// Fails with 403 unless the user's role allows `required`.
    pub fn require(&self, required: Role) -> Result<(), AppError> {
        if self.role.allows(required) { Ok(()) } else { Err(AppError::Forbidden) }
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    pub fn actor(&self) -> Actor {
        Actor { id: Some(self.id), role: self.role, client_addr: Some(self.client_addr.clone()) }
    }
}

/// The user when someone is signed in; cached per request.
#[derive(Debug, Clone)]
pub struct MaybeUser(pub Option<CurrentUser>);

type LocalBoxFuture<T> = Pin<Box<dyn Future<Output = T>>>;

impl FromRequest for MaybeUser {
    type Error = AppError;
    type Future = LocalBoxFuture<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            if let Some(cached) = req.extensions().get::<MaybeUser>() {
                return Ok(cached.clone());
            }
            let loaded = MaybeUser(load(&req).await?);
            req.extensions_mut().insert(loaded.clone());
            Ok(loaded)
        })
    }
}

impl FromRequest for CurrentUser {
    type Error = AppError;
    type Future = LocalBoxFuture<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let maybe = MaybeUser::from_request(req, payload);
        let next = req.uri().path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "/".to_owned());
        let is_get = req.method() == actix_web::http::Method::GET;
        Box::pin(async move {
            match maybe.await?.0 {
                Some(user) => Ok(user),
                // Only come back to pages, never replay a POST target.
                None => Err(AppError::SignInRequired { next: if is_get { next } else { "/".to_owned() } }),
            }
        })
    }
}

async fn load(req: &HttpRequest) -> Result<Option<CurrentUser>, AppError> {
    let session = req.get_session();
    let Ok(Some(token)) = session.get::<String>(TOKEN) else {
        return Ok(None);
    };
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| AppError::unexpected(anyhow::anyhow!("app state missing")))?;
    let mut conn = state.pool.get().await?;
    match sessions::resume(&mut conn, &rules(state), &token).await? {
        Some((session_id, u)) => Ok(Some(CurrentUser {
            id: u.id,
            role: u.role(),
            time_zone: u.time_zone(),
            email: u.email,
            display_name: u.display_name,
            client_addr: super::client_addr(req),
            session_id,
        })),
        None => {
            // Signed out elsewhere, password changed, disabled, idle or too old: this session is over.
            session.purge();
            Ok(None)
        }
    }
}

/// How long sessions last, from the settings.
pub fn rules(state: &AppState) -> SessionRules {
    SessionRules::from_settings(&state.settings.sign_in)
}

/// Starts a fresh session for a user who just proved who they are (by
/// password, at first-run setup, or at the identity provider).
pub async fn sign_in(req: &HttpRequest, session: &Session, user: &users::User) -> Result<(), AppError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| AppError::unexpected(anyhow::anyhow!("app state missing")))?;
    let origin = Origin {
        client_addr: super::client_addr(req),
        user_agent: req
            .headers()
            .get(actix_web::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
    };
    let mut conn = state.pool.get().await?;
    let token = sessions::start(&mut conn, &rules(state), user, &origin).await?;
    session.renew();
    session.insert(TOKEN, token).map_err(AppError::unexpected)?;
    // A new CSRF token too: nothing learnt before sign-in is valid after it.
    session.insert(CSRF, super::csrf::new_token()).map_err(AppError::unexpected)?;
    Ok(())
}

/// Ends this browser's session on the server and empties its cookie.
pub async fn sign_out(state: &AppState, session: &Session) -> Result<(), AppError> {
    if let Ok(Some(token)) = session.get::<String>(TOKEN) {
        sessions::end_by_token(&state.pool, &token, &rules(state)).await?;
    }
    // clear + renew rather than purge: a purged session cannot carry a flash message.
    session.clear();
    session.renew();
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FlashKind {
    Success,
    Info,
    Warning,
    Error,
}

impl FlashKind {
    pub fn css(self) -> &'static str {
        match self {
            FlashKind::Success => "flash-success",
            FlashKind::Info => "flash-info",
            FlashKind::Warning => "flash-warning",
            FlashKind::Error => "flash-error",
        }
    }
}

/// A one-time message shown on the next page (after a redirect).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Flash {
    pub kind: FlashKind,
    pub message: String,
}

pub fn flash(session: &Session, kind: FlashKind, message: impl Into<String>) {
    let mut all: Vec<Flash> = session.get(FLASH).ok().flatten().unwrap_or_default();
    all.push(Flash { kind, message: message.into() });
    if let Err(e) = session.insert(FLASH, all) {
        tracing::warn!(error = %e, "could not store a flash message");
    }
}

pub fn take_flashes(session: &Session) -> Vec<Flash> {
    session.remove_as::<Vec<Flash>>(FLASH).and_then(Result::ok).unwrap_or_default()
}
