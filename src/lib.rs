//! Firebreak: self-hosted incident response.
//!
//! Dependencies point one way: `web -> services -> db -> domain`.

pub mod config;
pub mod db;
pub mod domain;
pub mod email;
pub mod queue;
pub mod services;
pub mod startup;
pub mod status;
pub mod telemetry;
pub mod web;

/// The version shown in the footer.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
