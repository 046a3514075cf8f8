//! The emails Firebreak writes to people: one text + HTML template pair,
//! filled per message and queued in the outbox (in the caller's transaction).

use askama::Template;

use crate::config::Settings;
use crate::db::IncidentId;
use crate::db::outbox::{NewMessage, new_message_id};

/// What one email says; rendered as both text and HTML (an email-safe
/// layout: tables and inline styles, one column up to 600 px).
#[derive(Debug, Clone, Default)]
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
    /// A coloured line above the heading: the incident's status and severity.
    pub banner: Option<Banner>,
    /// Affected components and their status (name, status), as a table in
    /// the HTML part (the text part's body names them already).
    pub components: Vec<(String, Tone, String)>,
    /// Labelled facts under the message ("Resolved at", "Total duration"),
    /// in both parts.
    pub facts: Vec<(String, String)>,
}

/// The colour a status is shown in (as on the status page).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Tone {
    /// Something is broken: investigating, a page, a major outage.
    Bad,
    /// Partly working: identified, degraded, a partial outage.
    Warning,
    /// Work in progress that is not an outage: monitoring, maintenance.
    #[default]
    Info,
    /// Back to normal: resolved, operational.
    Good,
}

impl Tone {
    /// Background of the banner (white text on it passes WCAG AA).
    pub fn background(self) -> &'static str {
        match self {
            Tone::Bad => "#b42318",
            Tone::Warning => "#93370d",
            Tone::Info => "#1849a9",
            Tone::Good => "#067647",
        }
    }
    /// Text colour for a status word on white (AA as well).
    pub fn text(self) -> &'static str {
        self.background()
    }
}

impl Tone {
    /// An incident's status.
    pub fn of_status(s: crate::domain::incident::IncidentStatus) -> Tone {
        use crate::domain::incident::IncidentStatus as S;
        match s {
            S::Investigating => Tone::Bad,
            S::Identified => Tone::Warning,
            S::Monitoring => Tone::Info,
            S::Resolved | S::Closed => Tone::Good,
        }
    }
    /// A component's status.
    pub fn of_component(s: crate::domain::status::ComponentStatus) -> Tone {
        use crate::domain::status::ComponentStatus as C;
        match s {
            C::Operational => Tone::Good,
            C::DegradedPerformance | C::PartialOutage => Tone::Warning,
            C::MajorOutage => Tone::Bad,
            C::UnderMaintenance => Tone::Info,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Banner {
    pub label: String,
    pub tone: Tone,
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
            ..Default::default()
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
        assert!(html.contains(">Tom &#38; Jerry &#60;3</h1>"), "{html}");
        assert!(html.contains("<p>First line<br>second line</p>"));
        assert!(html.contains("<p>New &#60;b&#62;paragraph&#60;/b&#62;</p>"));
    }

    #[test]
    fn banner_components_and_facts_are_in_the_html_and_facts_in_the_text() {
        let mut e = email();
        e.banner = Some(Banner { label: "Resolved · SEV2".into(), tone: Tone::Good });
        e.components = vec![("Checkout <API>".into(), Tone::Good, "Operational".into())];
        e.facts = vec![("Total duration".into(), "1 h 5 min".into())];
        let html = HtmlBody { e: &e }.render().expect("html");
        assert!(html.contains("background:#067647;color:#ffffff;"), "the banner in the status's colour: {html}");
        assert!(html.contains(">Resolved · SEV2</td>"));
        assert!(html.contains(">Checkout &#60;API&#62;</td>"), "escaped: {html}");
        assert!(html.contains("color:#067647;white-space:nowrap;\">Operational</td>"));
        let text = TextBody { e: &e }.render().expect("text");
        assert!(text.contains("\nTotal duration: 1 h 5 min\n"), "{text}");
        assert!(!text.contains("Operational"), "the body names components already");
    }
}
