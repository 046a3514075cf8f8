//! CSRF protection with a synchroniser token: each session holds a random
//! token, every form carries it in a hidden `csrf_token` field, and
//! `CsrfForm<T>` refuses (403) a POST whose token does not match.

use std::future::Future;
use std::pin::Pin;

use actix_session::{Session, SessionExt};
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use serde::de::DeserializeOwned;

use super::AppError;
use super::session::CSRF;

/// Largest form body accepted.
pub const MAX_FORM_BYTES: usize = 256 * 1024;

pub fn new_token() -> String {
    crate::domain::tokens::url_safe(32)
}

/// The session's token, created on first use.
pub fn token(session: &Session) -> Result<String, AppError> {
    if let Ok(Some(t)) = session.get::<String>(CSRF) {
        return Ok(t);
    }
    let t = new_token();
    session.insert(CSRF, &t).map_err(AppError::unexpected)?;
    Ok(t)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The form of a button that sends nothing but its CSRF token.
#[derive(Debug, Default, serde::Deserialize)]
pub struct NoFields {}

/// A urlencoded form whose `csrf_token` matched the session's.
pub struct CsrfForm<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for CsrfForm<T> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let session = req.get_session();
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            let body = body.await.map_err(|e| AppError::BadRequest(e.to_string()))?;
            let sent = url::form_urlencoded::parse(&body).find(|(k, _)| k == "csrf_token").map(|(_, v)| v.into_owned());
            let expected = session.get::<String>(CSRF).ok().flatten();
            match (sent, expected) {
                (Some(s), Some(e)) if constant_time_eq(s.as_bytes(), e.as_bytes()) => {}
                _ => return Err(AppError::Csrf),
            }
            // PostgreSQL cannot store NUL in text: refuse it here, for every form.
            if url::form_urlencoded::parse(&body).any(|(_, v)| v.contains('\0')) {
                return Err(AppError::BadRequest("Text may not contain NUL characters.".to_owned()));
            }
            serde_html_form::from_bytes::<T>(&body).map(CsrfForm).map_err(|e| AppError::BadRequest(e.to_string()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_and_unique() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
    }

    #[test]
    fn comparison_needs_equal_bytes() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
