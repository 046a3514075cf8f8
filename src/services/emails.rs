//! The emails Firebreak writes to people: one text + HTML template pair,
//! filled per message and queued in the outbox (in the caller's transaction).

use askama::Template;

use crate::config::Settings;
use crate::db::IncidentId;
use crate::db::outbox::{NewMessage, new_message_id};

/// What one email says; rendered as both text and HTML.
#[derive(Debug, Clone)]
pub struct Email {
    pub kind: &'static str,
    pub subject: String,
    pub heading: String,
    /// Plain text; blank lines separate paragraphs.
    pub body: String,
    pub link_label: String,
    pub link_url: String,
    pub footer: Option<String>,
    pub unsubscribe_url: Option<String>,
    pub incident_id: Option<IncidentId>,
}

#[derive(Template)]
#[template(path = "email/message.txt")]
struct TextBody<'a> {
    heading: &'a str,
    body: &'a str,
    link_label: &'a str,
    link_url: &'a str,
    footer: &'a Option<String>,
    unsubscribe_url: &'a Option<String>,
}

#[derive(Template)]
#[template(path = "email/message.html")]
struct HtmlBody<'a> {
    heading: &'a str,
    body: &'a str,
    link_label: &'a str,
    link_url: &'a str,
    footer: &'a Option<String>,
    unsubscribe_url: &'a Option<String>,
}

impl HtmlBody<'_> {
    fn paragraphs(&self) -> Vec<Vec<&str>> {
        self.body.split("\n\n").map(str::trim).filter(|p| !p.is_empty()).map(|p| p.lines().collect()).collect()
    }
}

impl Email {
    /// The outbox row for one recipient.
    pub fn to(&self, settings: &Settings, name: &str, address: &str) -> Result<NewMessage, askama::Error> {
        let text = TextBody {
            heading: &self.heading,
            body: &self.body,
            link_label: &self.link_label,
            link_url: &self.link_url,
            footer: &self.footer,
            unsubscribe_url: &self.unsubscribe_url,
        }
        .render()?;
        let html = HtmlBody {
            heading: &self.heading,
            body: &self.body,
            link_label: &self.link_label,
            link_url: &self.link_url,
            footer: &self.footer,
            unsubscribe_url: &self.unsubscribe_url,
        }
        .render()?;
        Ok(NewMessage {
            message_id: new_message_id(&settings.mail_from),
            kind: self.kind.to_owned(),
            to_address: address.to_owned(),
            to_name: name.to_owned(),
            subject: self.subject.clone(),
            text_body: text,
            html_body: html,
            list_unsubscribe: self.unsubscribe_url.clone(),
            calendar: None,
            calendar_method: None,
            incident_id: self.incident_id,
        })
    }
}

/// An absolute link to a path of this Firebreak.
pub fn link(settings: &Settings, path: &str) -> String {
    settings.base_url.join(path).map(|u| u.to_string()).unwrap_or_else(|_| path.to_owned())
}
