//! The signed-in person, read from the encrypted session cookie and checked
//! against the database on every request (so disabling an account or
//! resetting its password ends its sessions at once).

use std::future::Future;
use std::pin::Pin;

use actix_session::{Session, SessionExt};
use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload, web};
use serde::{Deserialize, Serialize};

use super::AppError;
use crate::db::{UserId, users};
use crate::domain::Role;
use crate::services::Actor;
use crate::startup::AppState;

const USER_ID: &str = "user_id";
const EPOCH: &str = "epoch";
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
    let Ok(Some(id)) = session.get::<i64>(USER_ID) else {
        return Ok(None);
    };
    let epoch = session.get::<i32>(EPOCH).ok().flatten().unwrap_or(-1);
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| AppError::unexpected(anyhow::anyhow!("app state missing")))?;
    let mut conn = state.pool.get().await?;
    let user = users::find(&mut conn, UserId(id)).await?;
    match user {
        Some(u) if !u.disabled && u.session_epoch == epoch => Ok(Some(CurrentUser {
            id: u.id,
            role: u.role(),
            time_zone: u.time_zone(),
            email: u.email,
            display_name: u.display_name,
            client_addr: super::client_addr(req),
        })),
        _ => {
            // Disabled, password reset, or deleted: this session is over.
            session.purge();
            Ok(None)
        }
    }
}

/// Starts a fresh session for a user who just proved who they are.
pub fn sign_in(session: &Session, user: &users::User) -> Result<(), AppError> {
    session.renew();
    session.insert(USER_ID, user.id.0).map_err(AppError::unexpected)?;
    session.insert(EPOCH, user.session_epoch).map_err(AppError::unexpected)?;
    // A new CSRF token too: nothing learnt before sign-in is valid after it.
    session.insert(CSRF, super::csrf::new_token()).map_err(AppError::unexpected)?;
    Ok(())
}

/// Keeps the current session valid after the user's epoch moved on (their own password change).
pub fn set_epoch(session: &Session, epoch: i32) -> Result<(), AppError> {
    session.insert(EPOCH, epoch).map_err(AppError::unexpected)
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
