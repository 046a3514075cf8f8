//! Signing in. Wrong email and wrong password get the same message; repeated
//! failures are slowed down, then refused for a while (see `domain::throttle`).

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderValue, RETRY_AFTER};
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use askama::Template;
use secrecy::SecretString;
use serde::Deserialize;

use super::setup::needs_setup;
use crate::services::auth::{self, SignInError};
use crate::web::AppState;
use crate::web::csrf::CsrfForm;
use crate::web::session::{self, MaybeUser};
use crate::web::{AppError, Layout, client_addr, render, see_other};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LoginForm {
    pub email: String,
    pub password: String,
    pub next: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LoginQuery {
    pub next: String,
}

#[derive(Template)]
#[template(path = "auth/login.html")]
pub struct LoginPage {
    pub layout: Layout,
    pub email: String,
    pub next: String,
    pub error: Option<&'static str>,
    /// The password form is shown (PASSWORD_LOGIN).
    pub password_login: bool,
    /// "Sign in with <name>", when an identity provider is configured.
    pub provider_name: Option<String>,
}

pub const WRONG_CREDENTIALS: &str = "Email or password is incorrect.";
pub const PASSWORDS_OFF: &str = "Password sign-in is turned off here: sign in with your identity provider.";
pub const BUSY: &str = "Many people are signing in right now. Please try again in a few seconds.";
pub const TOO_MANY_ATTEMPTS: &str =
    "Too many failed sign-in attempts. Sign-in is paused for 15 minutes; an admin can reset your password meanwhile.";

/// Only paths on this site, as a browser would read them: browsers drop tabs and
/// newlines anywhere in a URL and read `\\` as `/`, so `/\t/evil.example` and
/// `/\\evil.example` both mean `//evil.example`. Anything with a control character
/// or a backslash, anything not starting with one `/`, and anything that resolves
/// to another host goes to `/`.
pub fn safe_next(next: &str) -> &str {
    let plain = !next.chars().any(|c| c.is_control() || c == '\\');
    let path_only = next.starts_with('/') && !next.starts_with("//");
    let same_site = || {
        url::Url::parse("http://firebreak.invalid/")
            .and_then(|base| base.join(next))
            .is_ok_and(|u| u.scheme() == "http" && u.host_str() == Some("firebreak.invalid") && u.port().is_none())
    };
    if plain && path_only && same_site() { next } else { "/" }
}

pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: MaybeUser,
    query: web::Query<LoginQuery>,
) -> Result<HttpResponse, AppError> {
    // With an identity provider the first people may come through it (an admin
    // added with `firebreak user add` is linked by email), so no detour to /setup.
    if state.oidc.is_none() && needs_setup(&state).await? {
        return Ok(see_other("/setup"));
    }
    if user.0.is_some() {
        return Ok(see_other(safe_next(&query.next)));
    }
    let layout = Layout::extract(&req).await?;
    let page = LoginPage {
        layout,
        email: String::new(),
        next: safe_next(&query.next).to_owned(),
        error: None,
        password_login: state.settings.sign_in.password_login,
        provider_name: state.oidc.as_ref().map(|p| p.name().to_owned()),
    };
    render(StatusCode::OK, &page)
}

pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    layout: Layout,
    CsrfForm(form): CsrfForm<LoginForm>,
) -> Result<HttpResponse, AppError> {
    let password_login = state.settings.sign_in.password_login;
    let provider_name = state.oidc.as_ref().map(|p| p.name().to_owned());
    if !password_login {
        let page = LoginPage {
            layout,
            email: String::new(),
            next: safe_next(&form.next).to_owned(),
            error: Some(PASSWORDS_OFF),
            password_login,
            provider_name,
        };
        return render(StatusCode::FORBIDDEN, &page);
    }
    let password = SecretString::from(form.password);
    match auth::sign_in(&state.pool, &form.email, password, &client_addr(&req)).await {
        Ok(user) => {
            session::sign_in(&req, &session, &user).await?;
            tracing::info!(user_id = %user.id, "signed in");
            Ok(see_other(safe_next(&form.next)))
        }
        Err(e @ (SignInError::WrongCredentials | SignInError::TooManyAttempts | SignInError::Busy)) => {
            let (status, error) = match e {
                SignInError::TooManyAttempts => (StatusCode::TOO_MANY_REQUESTS, TOO_MANY_ATTEMPTS),
                SignInError::Busy => (StatusCode::SERVICE_UNAVAILABLE, BUSY),
                _ => (StatusCode::UNAUTHORIZED, WRONG_CREDENTIALS),
            };
            let page = LoginPage {
                layout,
                email: form.email.trim().to_owned(),
                next: safe_next(&form.next).to_owned(),
                error: Some(error),
                password_login,
                provider_name,
            };
            let mut response = render(status, &page)?;
            if status == StatusCode::SERVICE_UNAVAILABLE {
                response.headers_mut().insert(RETRY_AFTER, HeaderValue::from_static("2"));
            }
            Ok(response)
        }
        Err(SignInError::Unexpected(e)) => Err(AppError::Unexpected(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next("/admin/users"), "/admin/users");
        assert_eq!(safe_next("//evil.example"), "/");
        assert_eq!(safe_next("https://evil.example"), "/");
        assert_eq!(safe_next("/\\evil.example"), "/");
        assert_eq!(safe_next(""), "/");
    }

    #[test]
    fn next_is_read_the_way_a_browser_reads_it() {
        for evil in
            ["/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example", "\\\\evil.example", "/\\/evil.example"]
        {
            assert_eq!(safe_next(evil), "/", "{evil:?}");
        }
        for odd in ["/\0", "/a\u{7f}b", "/a\u{85}b", " /x", "javascript:alert(1)"] {
            assert_eq!(safe_next(odd), "/", "{odd:?}");
        }
        assert_eq!(safe_next("/search?q=%0A"), "/search?q=%0A", "encoded characters are fine");
        assert_eq!(safe_next("/incidents/4?tab=timeline#now"), "/incidents/4?tab=timeline#now");
    }
}
