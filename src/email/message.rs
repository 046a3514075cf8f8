//! Turning an outbox row into an RFC 5322 message: pure, no I/O.
//!
//! Shape: `multipart/alternative` (text, HTML). With a calendar invitation:
//! `multipart/mixed` holding that alternative (with a third, `text/calendar;
//! method=...` part, which calendar clients act on) and `invite.ics` as an
//! attachment (for clients that only offer attachments).

use std::time::SystemTime;

use lettre::Message;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};

use crate::db::outbox::OutboxMessage;

/// Builds the message for `row`, from `from`. The Date is when the row was
/// queued and the Message-ID the row's own, so a retry sends the same message.
/// Errors are permanent: retrying the same row cannot fix them.
pub fn build_message(row: &OutboxMessage, from: &Mailbox) -> Result<Message, String> {
    let address = row
        .to_address
        .trim()
        .parse()
        .map_err(|e| format!("the recipient address {:?} is not valid: {e}", row.to_address))?;
    let name = one_line(&row.to_name);
    let to = Mailbox::new((!name.is_empty()).then_some(name), address);
    let message_id = row.message_id.trim();
    if !(message_id.starts_with('<') && message_id.ends_with('>') && message_id.contains('@'))
        || message_id.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(format!("the Message-ID {message_id:?} is not of the form <id@domain>"));
    }
    let mut builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(one_line(&row.subject))
        .date(SystemTime::from(row.created_at))
        .message_id(Some(message_id.to_owned()))
        // RFC 3834: no vacation auto-replies to notifications.
        .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("Auto-Submitted"), "auto-generated".to_owned()));
    if let Some(url) = &row.list_unsubscribe {
        if url.is_empty() || url.chars().any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>') {
            return Err("the unsubscribe link is not a usable URL".to_owned());
        }
        // RFC 2369 and RFC 8058 (one-click unsubscribe with a POST).
        builder = builder
            .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("List-Unsubscribe"), format!("<{url}>")))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                "List-Unsubscribe=One-Click".to_owned(),
            ));
    }
    let alternative = MultiPart::alternative()
        .singlepart(SinglePart::plain(row.text_body.clone()))
        .singlepart(SinglePart::html(row.html_body.clone()));
    let body = match &row.calendar {
        None => alternative,
        Some(ics) => {
            let method = calendar_method(row.calendar_method.as_deref())?;
            let calendar_type = ContentType::parse(&format!("text/calendar; charset=utf-8; method={method}"))
                .map_err(|e| format!("bad calendar content type: {e}"))?;
            let ics_type =
                ContentType::parse("application/ics").map_err(|e| format!("bad attachment content type: {e}"))?;
            MultiPart::mixed()
                .multipart(alternative.singlepart(SinglePart::builder().header(calendar_type).body(ics.clone())))
                .singlepart(Attachment::new("invite.ics".to_owned()).body(ics.clone(), ics_type))
        }
    };
    builder.multipart(body).map_err(|e| format!("cannot build the message: {e}"))
}

/// The iCalendar METHOD (RFC 5546), REQUEST unless the row says otherwise.
fn calendar_method(method: Option<&str>) -> Result<String, String> {
    let method = method.map(str::trim).filter(|m| !m.is_empty()).unwrap_or("REQUEST");
    if method.chars().all(|c| c.is_ascii_alphabetic() || c == '-') {
        Ok(method.to_ascii_uppercase())
    } else {
        Err(format!("the calendar method {method:?} is not valid"))
    }
}

/// Header text on one line: line breaks and other control characters become spaces.
fn one_line(s: &str) -> String {
    let replaced: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    replaced.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use mail_parser::{MessageParser, MimeHeaders};

    use super::*;
    use crate::db::OutboxId;

    fn row() -> OutboxMessage {
        let at = Utc.with_ymd_and_hms(2026, 11, 21, 9, 30, 0).single().expect("valid time");
        OutboxMessage {
            id: OutboxId(7),
            message_id: "<abc123@example.com>".to_owned(),
            kind: "test".to_owned(),
            to_address: "ada@example.com".to_owned(),
            to_name: "Ada Lovelace".to_owned(),
            subject: "Checkout is degraded".to_owned(),
            text_body: "Plain words.\n".to_owned(),
            html_body: "<p>Rich words.</p>".to_owned(),
            list_unsubscribe: None,
            calendar: None,
            calendar_method: None,
            incident_id: None,
            status: "pending".to_owned(),
            attempts: 1,
            next_attempt_at: at,
            locked_until: None,
            last_error: None,
            created_at: at,
            sent_at: None,
        }
    }

    fn from() -> Mailbox {
        "Firebreak <alerts@example.com>".parse().expect("mailbox")
    }

    fn formatted(row: &OutboxMessage) -> Vec<u8> {
        build_message(row, &from()).expect("builds").formatted()
    }

    #[test]
    fn a_message_is_text_and_html_with_its_identity_headers() {
        let raw = formatted(&row());
        let m = MessageParser::default().parse(&raw).expect("parses");
        assert_eq!(m.subject(), Some("Checkout is degraded"));
        assert_eq!(m.message_id(), Some("abc123@example.com"));
        let from = m.from().and_then(|a| a.first()).expect("from");
        assert_eq!((from.name(), from.address()), (Some("Firebreak"), Some("alerts@example.com")));
        let to = m.to().and_then(|a| a.first()).expect("to");
        assert_eq!((to.name(), to.address()), (Some("Ada Lovelace"), Some("ada@example.com")));
        assert_eq!(m.date().map(|d| d.to_timestamp()), Some(row().created_at.timestamp()));
        let ct = m.content_type().expect("content type");
        assert_eq!((ct.ctype(), ct.subtype()), ("multipart", Some("alternative")));
        assert_eq!(m.body_text(0).as_deref().map(str::trim_end), Some("Plain words."));
        assert_eq!(m.body_html(0).as_deref(), Some("<p>Rich words.</p>"));
        assert!(m.header("List-Unsubscribe").is_none());
        assert_eq!(m.attachment_count(), 0);
    }

    #[test]
    fn subscriber_mail_offers_one_click_unsubscribe() {
        let mut r = row();
        r.list_unsubscribe = Some("https://status.example.com/unsubscribe/tok3n".to_owned());
        let raw = String::from_utf8(formatted(&r)).expect("ascii");
        assert!(raw.contains("List-Unsubscribe: <https://status.example.com/unsubscribe/tok3n>\r\n"), "{raw}");
        assert!(raw.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"), "{raw}");
    }

    #[test]
    fn invitations_carry_the_calendar_inline_and_attached() {
        let mut r = row();
        let ics = "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n";
        r.calendar = Some(ics.to_owned());
        r.calendar_method = Some("request".to_owned());
        let raw = formatted(&r);
        let m = MessageParser::default().parse(&raw).expect("parses");
        let ct = m.content_type().expect("content type");
        assert_eq!((ct.ctype(), ct.subtype()), ("multipart", Some("mixed")));
        let calendar = m
            .parts
            .iter()
            .find(|p| {
                p.content_type().is_some_and(|c| c.ctype() == "text" && c.subtype() == Some("calendar"))
                    && p.attachment_name().is_none()
            })
            .expect("a text/calendar alternative");
        let ct = calendar.content_type().expect("calendar type");
        assert_eq!(ct.attribute("method"), Some("REQUEST"));
        assert_eq!(ct.attribute("charset"), Some("utf-8"));
        // mail-parser counts the inline calendar as an attachment too; one is a real attachment.
        let attached: Vec<_> =
            m.attachments().filter(|a| a.content_disposition().is_some_and(|d| d.ctype() == "attachment")).collect();
        assert_eq!(attached.len(), 1);
        let attachment = attached[0];
        assert_eq!(attachment.attachment_name(), Some("invite.ics"));
        let at = attachment.content_type().expect("attachment type");
        assert_eq!((at.ctype(), at.subtype()), ("application", Some("ics")));
        assert!(String::from_utf8_lossy(attachment.contents()).contains("METHOD:REQUEST"));
        assert_eq!(m.body_html(0).as_deref(), Some("<p>Rich words.</p>"));
    }

    #[test]
    fn the_calendar_part_names_its_method_and_charset() {
        for (given, method) in [(None, "REQUEST"), (Some("cancel"), "CANCEL")] {
            let mut r = row();
            r.calendar = Some(format!("BEGIN:VCALENDAR\r\nMETHOD:{method}\r\nEND:VCALENDAR\r\n"));
            r.calendar_method = given.map(str::to_owned);
            let raw = String::from_utf8(formatted(&r)).expect("ascii");
            let header = format!("Content-Type: text/calendar; charset=utf-8; method={method}\r\n");
            assert!(raw.contains(&header), "{raw}");
            assert!(raw.contains("Content-Disposition: attachment; filename=\"invite.ics\""), "{raw}");
        }
    }

    #[test]
    fn header_injection_is_impossible() {
        let mut r = row();
        r.subject = "Hello\r\nBcc: victim@example.com".to_owned();
        r.to_name = "Eve\nX-Evil: 1".to_owned();
        let raw = String::from_utf8(formatted(&r)).expect("ascii");
        assert!(!raw.contains("\r\nBcc:") && !raw.contains("\nX-Evil"), "{raw}");
        let mut r = row();
        r.list_unsubscribe = Some("https://x.example/u>\r\nBcc: a@b.c".to_owned());
        assert!(build_message(&r, &from()).is_err());
    }

    #[test]
    fn unusable_rows_are_refused() {
        let mut r = row();
        r.to_address = "not an address".to_owned();
        assert!(build_message(&r, &from()).expect_err("bad address").contains("recipient address"));
        let mut r = row();
        r.message_id = "no-brackets".to_owned();
        assert!(build_message(&r, &from()).is_err());
        let mut r = row();
        r.calendar = Some("BEGIN:VCALENDAR".to_owned());
        r.calendar_method = Some("REQUEST\r\nX: y".to_owned());
        assert!(build_message(&r, &from()).is_err());
    }

    #[test]
    fn a_recipient_without_a_name_is_just_the_address() {
        let mut r = row();
        r.to_name = "  ".to_owned();
        let raw = String::from_utf8(formatted(&r)).expect("ascii");
        assert!(raw.contains("To: ada@example.com\r\n"), "{raw}");
    }
}
