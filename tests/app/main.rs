//! Black-box tests: each spawns the real application on port 0 with its own
//! database (cloned from a template migrated once per run) and drives it over
//! HTTP like a browser would.

mod helpers;

mod accessibility;
mod account;
mod admin;
mod alerts;
mod api;
mod browser;
mod cli;
mod components;
mod db_proxy;
mod demo;
mod embedded;
mod followups;
mod form_fuzz;
mod hardening;
mod health;
mod incidents;
mod instances;
mod layering;
mod mail;
mod maintenance;
mod meetings;
mod metrics;
mod migrations;
mod oncall;
mod postmortems;
mod reliability;
mod reports;
mod room;
mod runbooks;
mod security;
mod sessions;
mod setup;
mod sign_in;
mod smtp;
mod sso;
mod stakeholders;
mod status_page;
mod subscriptions;
mod updates;
mod webhooks;
