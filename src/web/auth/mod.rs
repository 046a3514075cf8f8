//! Getting in and out: the one-time setup page, sign-in and sign-out.

pub mod login;
pub mod logout;
pub mod oidc;
pub mod setup;
