//! Post-mortems: the document, its review meeting and the library.

pub mod document;
pub mod library;
pub mod meeting;

use actix_web::web::ServiceConfig;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.configure(library::configure).configure(document::configure).configure(meeting::configure);
}
