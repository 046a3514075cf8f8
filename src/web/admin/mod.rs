//! Admin pages: users and the audit log. Every handler requires the admin role.

pub mod audit;
pub mod components;
pub mod groups;
pub mod outbox;
pub mod users;
