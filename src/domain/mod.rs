//! Plain Rust rules of the incident domain: no actix, no Diesel. Parsed input
//! types live here so that the rest of the code only ever sees valid values.

pub mod alerts;
pub mod blocks;
pub mod calendar;
pub mod charts;
pub mod component_report;
pub mod followups;
pub mod incident;
pub mod maintenance;
pub mod markdown;
pub mod meeting;
pub mod metrics;
pub mod oncall;
pub mod outgoing;
pub mod postmortem;
pub mod reports;
pub mod sso;
pub mod stakeholders;
pub mod status;
pub mod throttle;
pub mod tokens;
pub mod updates;
pub mod uptime;
pub mod user;
pub mod webhooks;

pub use user::{DisplayName, EmailAddress, NewPassword, Role, TimeZoneName};
