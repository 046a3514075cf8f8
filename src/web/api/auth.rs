//! `ApiActor`: the caller of the JSON API, from `Authorization: Bearer <token>`.
//!
//! No session and no CSRF token here: a bearer token is never sent by a
//! browser on its own (unlike a cookie), so a cross-site request cannot carry
//! it, and CSRF does not apply. The session cookie, in turn, is never accepted
//! by the API.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};

use super::error::ApiError;
use crate::db::api_tokens::ApiToken;
use crate::services::Actor;
use crate::services::api_tokens;
use crate::web::AppState;

/// A caller with a working token: acts as the token's service user, with the
/// token's role.
#[derive(Debug, Clone)]
pub struct ApiActor {
    pub actor: Actor,
    pub token: ApiToken,
}

/// The token of an `Authorization: Bearer <token>` header (the scheme is
/// case-insensitive), `None` without one.
fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_owned())
}

impl FromRequest for ApiActor {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token_sent = req.headers().contains_key(AUTHORIZATION);
        let secret = bearer(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let client_addr = crate::web::client_addr(req);
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::Unexpected(anyhow::anyhow!("app state missing")))?;
            let Some(secret) = secret else {
                return Err(ApiError::Unauthorized { token_sent });
            };
            match api_tokens::authenticate(&state.pool, &secret, Some(client_addr)).await? {
                Some((token, actor)) => Ok(ApiActor { actor, token }),
                None => Err(ApiError::Unauthorized { token_sent: true }),
            }
        })
    }
}
