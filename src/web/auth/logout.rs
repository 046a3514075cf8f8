//! Signing out: a POST (with CSRF token), so a link elsewhere cannot sign you out.

use crate::web::AppState;
use crate::web::csrf::{CsrfForm, NoFields};
use crate::web::session::{self, FlashKind};
use crate::web::{AppError, see_other};
use actix_session::Session;
use actix_web::{HttpResponse, web};

pub async fn submit(
    state: web::Data<AppState>,
    session: Session,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    // Asked before the session ends: did it begin at the identity provider?
    let provider_logout = super::oidc::end_session_url(&state, &session).await;
    session::sign_out(&state, &session).await?;
    session::flash(&session, FlashKind::Info, "You are signed out.");
    Ok(see_other(provider_logout.as_deref().unwrap_or("/login")))
}
