//! Plain Rust rules of the incident domain: no actix, no Diesel. Parsed input
//! types live here so that the rest of the code only ever sees valid values.

pub mod incident;
pub mod markdown;
pub mod throttle;
pub mod user;

pub use user::{DisplayName, EmailAddress, NewPassword, Role, TimeZoneName};
