//! What the shared layout (templates/base.html) needs on every page: the
//! signed-in user, the CSRF token for the sign-out form, and flash messages.

use std::future::Future;
use std::pin::Pin;

use actix_session::SessionExt;
use actix_web::{FromRequest, HttpRequest, dev::Payload};

use super::AppError;
use super::session::{CurrentUser, Flash, MaybeUser, take_flashes};

#[derive(Debug, Clone)]
pub struct Layout {
    pub user: Option<CurrentUser>,
    pub csrf_token: String,
    pub flashes: Vec<Flash>,
    /// Which navigation entry is current ("dashboard", "admin", "account", ...).
    pub section: &'static str,
}

impl Layout {
    /// For pages rendered without a request at hand (error pages).
    pub fn anonymous() -> Self {
        Layout { user: None, csrf_token: String::new(), flashes: Vec::new(), section: "" }
    }

    pub fn at(mut self, section: &'static str) -> Self {
        self.section = section;
        self
    }

    pub fn is_admin(&self) -> bool {
        self.user.as_ref().is_some_and(CurrentUser::is_admin)
    }

    /// `aria-current` for a navigation link.
    pub fn current(&self, section: &str) -> &'static str {
        if self.section == section { "page" } else { "false" }
    }
}

impl FromRequest for Layout {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let user = MaybeUser::from_request(req, payload);
        let session = req.get_session();
        Box::pin(async move {
            let user = user.await?.0;
            let csrf_token = super::csrf::token(&session)?;
            let flashes = take_flashes(&session);
            Ok(Layout { user, csrf_token, flashes, section: "" })
        })
    }
}
