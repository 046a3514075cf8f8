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
    e: &'a Email,
}

#[derive(Template)]
#[template(path = "email/message.html")]
struct HtmlBody<'a> {
    e: &'a Email,
}

impl Email {
    /// The outbox row for one recipient.
    pub fn to(&self, settings: &Settings, name: &str, address: &str) -> Result<NewMessage, askama::Error> {
        let text = TextBody { e: self }.render()?;
        let html = HtmlBody { e: self }.render()?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn email() -> Email {
        Email {
            kind: "test",
            subject: "s".into(),
            heading: "Tom & Jerry <3".into(),
            body: "First line\nsecond line\n\nNew <b>paragraph</b>".into(),
            link_label: "Open".into(),
            link_url: "https://example.com/?a=1&b=2".into(),
            footer: None,
            unsubscribe_url: Some("https://example.com/u".into()),
            incident_id: None,
        }
    }

    #[test]
    fn the_text_part_is_verbatim_and_the_html_part_escaped() {
        let e = email();
        let text = TextBody { e: &e }.render().expect("text");
        assert!(text.starts_with("Tom & Jerry <3\n\nFirst line\nsecond line"), "{text}");
        assert!(text.contains("Open: https://example.com/?a=1&b=2"));
        assert!(text.contains("Unsubscribe: https://example.com/u"));
        let html = HtmlBody { e: &e }.render().expect("html");
        assert!(html.contains("<h1>Tom &#38; Jerry &#60;3</h1>"), "{html}");
        assert!(html.contains("<p>First line<br>second line</p>"));
        assert!(html.contains("<p>New &#60;b&#62;paragraph&#60;/b&#62;</p>"));
    }
}
