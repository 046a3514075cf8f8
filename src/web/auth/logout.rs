//! Signing out: a POST (with CSRF token), so a link elsewhere cannot sign you out.

use crate::web::csrf::{CsrfForm, NoFields};
use crate::web::session::{self, FlashKind};
use crate::web::{AppError, see_other};
use actix_session::Session;
use actix_web::HttpResponse;

pub async fn submit(session: Session, _form: CsrfForm<NoFields>) -> Result<HttpResponse, AppError> {
    // clear + renew rather than purge: a purged session cannot carry the flash below.
    session.clear();
    session.renew();
    session::flash(&session, FlashKind::Info, "You are signed out.");
    Ok(see_other("/login"))
}
