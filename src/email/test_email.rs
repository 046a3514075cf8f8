//! The test email an admin sends from the Outbox page, to check that mail
//! from this installation arrives.

use askama::Template;

use crate::config::Settings;
use crate::db::outbox::{NewMessage, new_message_id};
use crate::domain::EmailAddress;

/// The kind of the outbox row.
pub const KIND: &str = "test";

#[derive(Template)]
#[template(path = "email/test.txt")]
struct TestText<'a> {
    requested_by: &'a str,
    site: &'a str,
    outbox_url: &'a str,
}

#[derive(Template)]
#[template(path = "email/test.html")]
struct TestHtml<'a> {
    requested_by: &'a str,
    site: &'a str,
    outbox_url: &'a str,
}

/// The message to `to`, asked for by the admin named `requested_by`.
pub fn compose(settings: &Settings, to: &EmailAddress, requested_by: &str) -> Result<NewMessage, askama::Error> {
    let outbox_url = settings.base_url.join("admin/outbox").map(String::from).unwrap_or_default();
    let site = settings.base_url.as_str().trim_end_matches('/');
    let text = TestText { requested_by, site, outbox_url: &outbox_url }.render()?;
    let html = TestHtml { requested_by, site, outbox_url: &outbox_url }.render()?;
    Ok(NewMessage {
        message_id: new_message_id(&settings.mail_from),
        kind: KIND.to_owned(),
        to_address: to.as_str().to_owned(),
        to_name: String::new(),
        subject: "Firebreak test email".to_owned(),
        text_body: text,
        html_body: html,
        list_unsubscribe: None,
        calendar: None,
        calendar_method: None,
        incident_id: None,
    })
}
