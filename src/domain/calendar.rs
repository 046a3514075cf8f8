//! RFC 5545 invitations (REQUEST and CANCEL), built as text.
//!
//! One VCALENDAR holding one VEVENT, as iTIP (RFC 5546) wants it for a
//! meeting request or cancellation: CRLF line ends, lines folded at 75 octets
//! (never inside a UTF-8 character), TEXT values escaped, times in UTC.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

/// Who made the calendar data (RFC 5545 3.7.3).
pub const PRODID: &str = "-//Firebreak//Incident review meeting//EN";

/// The longest line, in octets, without its CRLF (RFC 5545 3.1).
pub const MAX_LINE_OCTETS: usize = 75;

/// The iTIP method of the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// A new meeting, or an update of one (higher SEQUENCE).
    Request,
    /// The meeting is off (for everyone, or for the attendees listed).
    Cancel,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Request => "REQUEST",
            Method::Cancel => "CANCEL",
        }
    }
}

/// The VEVENT's STATUS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventStatus {
    Confirmed,
    Cancelled,
}

impl EventStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EventStatus::Confirmed => "CONFIRMED",
            EventStatus::Cancelled => "CANCELLED",
        }
    }
}

/// A person: the organiser or an attendee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub name: String,
    pub email: String,
}

/// Everything one invitation says.
#[derive(Debug, Clone)]
pub struct Invitation {
    pub method: Method,
    /// Stable for the meeting's whole life: updates and cancellations reuse it.
    pub uid: String,
    /// 0 at first; every reschedule or cancellation raises it.
    pub sequence: i32,
    /// When this message was made.
    pub stamp: DateTime<Utc>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub summary: String,
    pub description: String,
    /// A link to the post-mortem document.
    pub url: Option<String>,
    /// Where: a room, a conference URL, or both.
    pub location: String,
    pub organizer: Person,
    pub attendees: Vec<Person>,
    /// `None` when a CANCEL only takes some attendees off the list (RFC 5546
    /// 3.2.5: STATUS is then left out).
    pub status: Option<EventStatus>,
}

/// A stable, globally unique UID: `<token>@<host>` (RFC 5545 3.8.4.7
/// recommends the domain on the right-hand side).
pub fn uid(token: &str, host: &str) -> String {
    let host = host.trim().trim_matches(|c: char| c == '[' || c == ']');
    let host = if host.is_empty() { "firebreak.invalid" } else { host };
    format!("{token}@{host}")
}

/// A UTC DATE-TIME value (form #2, RFC 5545 3.3.5): `20261124T090000Z`.
pub fn utc_stamp(at: DateTime<Utc>) -> String {
    at.format("%Y%m%dT%H%M%SZ").to_string()
}

/// Escapes a TEXT value (RFC 5545 3.3.11): backslash, semicolon, comma and
/// line breaks. Other control characters have no escape and are dropped.
pub fn escape_text(s: &str) -> String {
    let s = s.replace("\r\n", "\n").replace('\r', "\n");
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A parameter value (RFC 5545 3.2), always quoted. A quoted value cannot hold
/// DQUOTE or control characters: those become `'` and spaces.
pub fn param_value(s: &str) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| {
            if c == '"' {
                '\''
            } else if c.is_control() {
                ' '
            } else {
                c
            }
        })
        .collect();
    format!("\"{}\"", cleaned.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// A `mailto:` URI for an address (RFC 6068): anything outside a safe set is
/// percent-encoded, so `;`, `,` or `"` in a local part cannot break the line.
pub fn mailto(email: &str) -> String {
    let mut out = String::from("mailto:");
    for b in email.trim().bytes() {
        if b.is_ascii_alphanumeric() || b"@.-_+~!$&'*=".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// A URI value: control characters and spaces cannot appear in one.
fn uri_value(s: &str) -> String {
    s.chars().filter(|c| !c.is_control() && !c.is_whitespace()).collect()
}

/// Folds one content line (without its CRLF) into lines of at most 75
/// octets, each continuation starting with a space, never splitting a
/// UTF-8 character. Returns the lines joined with CRLF, ending with CRLF.
pub fn fold(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + line.len() / 70 * 3 + 2);
    let mut used = 0;
    for c in line.chars() {
        let n = c.len_utf8();
        if used + n > MAX_LINE_OCTETS {
            out.push_str("\r\n ");
            used = 1;
        }
        out.push(c);
        used += n;
    }
    out.push_str("\r\n");
    out
}

impl Invitation {
    /// The iCalendar object, ready to attach (`text/calendar; method=...`).
    pub fn to_ics(&self) -> String {
        let mut lines: Vec<String> = vec![
            "BEGIN:VCALENDAR".into(),
            format!("PRODID:{PRODID}"),
            "VERSION:2.0".into(),
            "CALSCALE:GREGORIAN".into(),
            format!("METHOD:{}", self.method.as_str()),
            "BEGIN:VEVENT".into(),
            format!("UID:{}", escape_text(&self.uid)),
            format!("SEQUENCE:{}", self.sequence.max(0)),
            format!("DTSTAMP:{}", utc_stamp(self.stamp)),
            format!("DTSTART:{}", utc_stamp(self.starts_at)),
            format!("DTEND:{}", utc_stamp(self.ends_at)),
            format!("SUMMARY:{}", escape_text(&self.summary)),
        ];
        if !self.description.trim().is_empty() {
            lines.push(format!("DESCRIPTION:{}", escape_text(&self.description)));
        }
        if let Some(url) = self.url.as_deref().map(uri_value).filter(|u| !u.is_empty()) {
            lines.push(format!("URL:{url}"));
        }
        if !self.location.trim().is_empty() {
            lines.push(format!("LOCATION:{}", escape_text(self.location.trim())));
        }
        lines.push(format!("ORGANIZER{}:{}", cn(&self.organizer.name), mailto(&self.organizer.email)));
        for a in &self.attendees {
            lines.push(format!(
                "ATTENDEE{};CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:{}",
                cn(&a.name),
                mailto(&a.email)
            ));
        }
        if let Some(status) = self.status {
            lines.push(format!("STATUS:{}", status.as_str()));
        }
        lines.push("TRANSP:OPAQUE".into());
        lines.push("END:VEVENT".into());
        lines.push("END:VCALENDAR".into());
        lines.iter().map(|l| fold(l)).collect()
    }
}

/// `;CN="Name"`, or nothing for a person without a name.
fn cn(name: &str) -> String {
    if name.trim().is_empty() { String::new() } else { format!(";CN={}", param_value(name)) }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(d: u32, h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, d, h, m, 0).single().expect("valid time")
    }

    fn invitation() -> Invitation {
        Invitation {
            method: Method::Request,
            uid: uid("3f2a9c", "firebreak.example.com"),
            sequence: 0,
            stamp: at(21, 9, 30),
            starts_at: at(24, 9, 0),
            ends_at: at(24, 10, 0),
            summary: "Post-mortem review: Checkout errors, payments; EU".into(),
            description: "Review the post-mortem.\nDocument: https://f.example/postmortems/4".into(),
            url: Some("https://f.example/postmortems/4".into()),
            location: "Room 4".into(),
            organizer: Person { name: "Ada Lovelace".into(), email: "ada@example.com".into() },
            attendees: vec![
                Person { name: "Bob".into(), email: "bob@example.com".into() },
                Person { name: String::new(), email: "cy@example.com".into() },
            ],
            status: Some(EventStatus::Confirmed),
        }
    }

    /// Unfolds and splits into content lines.
    fn content_lines(ics: &str) -> Vec<String> {
        ics.replace("\r\n ", "").split("\r\n").filter(|l| !l.is_empty()).map(str::to_owned).collect()
    }

    #[test]
    fn a_request_has_the_calendar_and_event_properties_in_order() {
        let ics = invitation().to_ics();
        let lines = content_lines(&ics);
        assert_eq!(
            &lines[..5],
            [
                "BEGIN:VCALENDAR",
                "PRODID:-//Firebreak//Incident review meeting//EN",
                "VERSION:2.0",
                "CALSCALE:GREGORIAN",
                "METHOD:REQUEST"
            ]
        );
        for expected in [
            "UID:3f2a9c@firebreak.example.com",
            "SEQUENCE:0",
            "DTSTAMP:20261121T093000Z",
            "DTSTART:20261124T090000Z",
            "DTEND:20261124T100000Z",
            "SUMMARY:Post-mortem review: Checkout errors\\, payments\\; EU",
            "DESCRIPTION:Review the post-mortem.\\nDocument: https://f.example/postmortems/4",
            "URL:https://f.example/postmortems/4",
            "LOCATION:Room 4",
            "ORGANIZER;CN=\"Ada Lovelace\":mailto:ada@example.com",
            "ATTENDEE;CN=\"Bob\";CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob@example.com",
            "ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:cy@example.com",
            "STATUS:CONFIRMED",
        ] {
            assert!(lines.iter().any(|l| l == expected), "missing {expected:?} in\n{ics}");
        }
        assert_eq!(lines.iter().filter(|l| l.starts_with("BEGIN:VEVENT")).count(), 1);
        assert_eq!(lines.last().map(String::as_str), Some("END:VCALENDAR"));
        assert!(ics.ends_with("END:VCALENDAR\r\n"));
    }

    #[test]
    fn every_line_ends_with_crlf_and_none_is_longer_than_75_octets() {
        let mut inv = invitation();
        inv.description = "Ünïcödé ✓ ".repeat(40) + "\n" + &"x".repeat(300);
        inv.summary = "日本語のタイトル".repeat(10);
        let ics = inv.to_ics();
        assert!(!ics.replace("\r\n", "").contains('\n') && !ics.replace("\r\n", "").contains('\r'));
        for line in ics.split("\r\n") {
            assert!(line.len() <= MAX_LINE_OCTETS, "{} octets: {line:?}", line.len());
        }
        // Unfolding gives back the escaped text, character for character.
        let lines = content_lines(&ics);
        assert!(lines.contains(&format!("SUMMARY:{}", "日本語のタイトル".repeat(10))));
        assert!(lines.contains(&format!("DESCRIPTION:{}\\n{}", "Ünïcödé ✓ ".repeat(40), "x".repeat(300))));
    }

    #[test]
    fn folding_never_splits_a_character_and_continues_with_one_space() {
        let line = format!("SUMMARY:{}", "é".repeat(100));
        let folded = fold(&line);
        let parts: Vec<&str> = folded.trim_end_matches("\r\n").split("\r\n").collect();
        assert!(parts.len() > 2);
        for (i, p) in parts.iter().enumerate() {
            assert!(p.len() <= 75);
            if i > 0 {
                assert!(p.starts_with(' ') && !p.starts_with("  "));
            }
        }
        assert_eq!(folded.replace("\r\n ", "").trim_end(), line);
        // Exactly 75 octets: not folded.
        let exact = "A".repeat(75);
        assert_eq!(fold(&exact), format!("{exact}\r\n"));
        assert_eq!(fold(&"A".repeat(76)), format!("{}\r\n A\r\n", "A".repeat(75)));
    }

    #[test]
    fn text_is_escaped_per_rfc_5545() {
        assert_eq!(escape_text(r"a\b;c,d"), r"a\\b\;c\,d");
        assert_eq!(escape_text("one\r\ntwo\nthree\rfour"), r"one\ntwo\nthree\nfour");
        assert_eq!(escape_text("tab\there\u{7}"), "tab here");
        assert_eq!(escape_text("colon: fine"), "colon: fine");
    }

    #[test]
    fn names_and_addresses_cannot_break_out_of_their_place() {
        assert_eq!(param_value("Ann \"The Boss\"; Smith:"), "\"Ann 'The Boss'; Smith:\"");
        assert_eq!(param_value("Line\r\nBreak"), "\"Line Break\"");
        assert_eq!(mailto("o'brien+x@example.com"), "mailto:o'brien+x@example.com");
        assert_eq!(mailto("a;b,c\"d@example.com"), "mailto:a%3Bb%2Cc%22d@example.com");
        let mut inv = invitation();
        inv.attendees = vec![Person { name: "Eve\r\nATTENDEE:mailto:x@y.z".into(), email: "eve@example.com".into() }];
        let ics = inv.to_ics();
        assert_eq!(content_lines(&ics).iter().filter(|l| l.starts_with("ATTENDEE")).count(), 1, "{ics}");
    }

    #[test]
    fn a_cancellation_says_cancel_and_cancelled() {
        let mut inv = invitation();
        inv.method = Method::Cancel;
        inv.sequence = 2;
        inv.status = Some(EventStatus::Cancelled);
        let lines = content_lines(&inv.to_ics());
        assert!(lines.contains(&"METHOD:CANCEL".to_owned()));
        assert!(lines.contains(&"SEQUENCE:2".to_owned()));
        assert!(lines.contains(&"STATUS:CANCELLED".to_owned()));
        // Taking one person off the list: no STATUS (RFC 5546 3.2.5).
        inv.status = None;
        let lines = content_lines(&inv.to_ics());
        assert!(!lines.iter().any(|l| l.starts_with("STATUS")));
    }

    #[test]
    fn uids_carry_the_host() {
        assert_eq!(uid("abc", "firebreak.example.com"), "abc@firebreak.example.com");
        assert_eq!(uid("abc", ""), "abc@firebreak.invalid");
        assert_eq!(uid("abc", "[::1]"), "abc@::1");
    }

    #[test]
    fn empty_optional_properties_are_left_out() {
        let mut inv = invitation();
        inv.url = None;
        inv.location = "  ".into();
        inv.description = String::new();
        let ics = inv.to_ics();
        for absent in ["URL:", "LOCATION:", "DESCRIPTION:"] {
            assert!(!ics.contains(absent), "{absent} in {ics}");
        }
    }
}
