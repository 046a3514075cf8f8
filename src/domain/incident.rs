//! Incidents: severity, status and its transitions, kinds, roles in the room,
//! tasks and change requests, and the parsed values of the declare form.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};

/// What a restricted incident is called where its title may not be shown
/// (a follow-up's owner who did not take part in it, for instance).
pub const RESTRICTED_TITLE: &str = "a restricted incident";

/// Declares a closed set of values stored as text, with its label for people.
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident, $error:literal { $($variant:ident = $text:literal / $label:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }

            pub fn parse(s: &str) -> Result<Self, String> {
                match s.trim() {
                    $($text => Ok($name::$variant),)+
                    _ => Err($error.to_owned()),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.label())
            }
        }
    };
}
pub(crate) use text_enum;

text_enum!(
    /// Where an incident is in its life.
    IncidentStatus, "Choose investigating, identified, monitoring, resolved or closed." {
        Investigating = "investigating" / "Investigating",
        Identified = "identified" / "Identified",
        Monitoring = "monitoring" / "Monitoring",
        Resolved = "resolved" / "Resolved",
        Closed = "closed" / "Closed",
    }
);

text_enum!(
    IncidentKind, "Choose outage, degraded service or security." {
        Outage = "outage" / "Outage",
        Degraded = "degraded" / "Degraded service",
        Security = "security" / "Security",
    }
);

text_enum!(
    DetectionSource, "Choose alert, customer report, staff or other." {
        Alert = "alert" / "Alert",
        Customer = "customer" / "Customer report",
        Staff = "staff" / "Staff",
        Other = "other" / "Other",
    }
);

text_enum!(
    /// Who may see an incident: restricted ones only their participants and admins.
    Visibility, "Choose public, internal or restricted." {
        Public = "public" / "Public",
        Internal = "internal" / "Internal",
        Restricted = "restricted" / "Restricted to participants",
    }
);

text_enum!(
    /// The roles people hold in an incident's room.
    IncidentRole, "Choose lead, note taker, communications lead or supporting." {
        Lead = "lead" / "Incident lead",
        NoteTaker = "note_taker" / "Note taker",
        CommsLead = "comms_lead" / "Communications lead",
        Supporting = "supporting" / "Supporting",
    }
);

text_enum!(
    TaskKind, "Choose mitigation, cleanup or follow-up." {
        Mitigation = "mitigation" / "Mitigation",
        Cleanup = "cleanup" / "Cleanup",
        FollowUp = "follow_up" / "Follow-up",
    }
);

text_enum!(
    TaskStatus, "Choose open, in progress, done or won't do." {
        Open = "open" / "Open",
        InProgress = "in_progress" / "In progress",
        Done = "done" / "Done",
        WontDo = "wont_do" / "Won't do",
    }
);

text_enum!(
    ChangeStatus, "Unknown change request status." {
        Pending = "pending" / "Waiting for the lead",
        Approved = "approved" / "Approved",
        Rejected = "rejected" / "Rejected",
        Applied = "applied" / "Applied",
    }
);

text_enum!(
    /// The kinds of timeline entry; every action in the room writes one.
    EntryKind, "Unknown timeline entry kind." {
        Note = "note" / "Note",
        Status = "status" / "Status",
        Severity = "severity" / "Severity",
        Role = "role" / "Role",
        Task = "task" / "Task",
        Change = "change" / "Change",
        Update = "update" / "Update",
        Alert = "alert" / "Alert",
        System = "system" / "System",
        Component = "component" / "Component",
    }
);

impl IncidentRole {
    /// Roles held by one person at a time (supporting cast has many).
    pub fn is_single(self) -> bool {
        self != IncidentRole::Supporting
    }
}

impl TaskStatus {
    pub fn is_finished(self) -> bool {
        matches!(self, TaskStatus::Done | TaskStatus::WontDo)
    }
}

impl IncidentStatus {
    /// Still being worked on: not resolved or closed.
    pub fn is_active(self) -> bool {
        !matches!(self, IncidentStatus::Resolved | IncidentStatus::Closed)
    }

    /// The statuses one can move to from here. Any step forward or back is
    /// allowed while the incident is open (a wrong guess at "identified" gets
    /// corrected); a closed incident can only be reopened to investigating.
    pub fn can_move_to(self, next: IncidentStatus) -> bool {
        if self == next {
            return false;
        }
        match self {
            IncidentStatus::Closed => next == IncidentStatus::Investigating,
            IncidentStatus::Resolved => true,
            _ => next != IncidentStatus::Closed,
        }
    }

    /// Moving back from resolved or closed to an active status.
    pub fn is_reopening(self, next: IncidentStatus) -> bool {
        !self.is_active() && next.is_active()
    }

    fn position(self) -> usize {
        IncidentStatus::ALL.iter().position(|s| *s == self).unwrap_or(0)
    }

    /// Any move to an earlier status (Monitoring → Identified, Resolved →
    /// Investigating, ...): the room asks to confirm these.
    pub fn is_step_back(self, next: IncidentStatus) -> bool {
        next.position() < self.position()
    }

    /// The usual next step, which the room's status control offers first.
    pub fn next_forward(self) -> Option<IncidentStatus> {
        IncidentStatus::ALL.iter().copied().find(|s| !self.is_step_back(*s) && self.can_move_to(*s))
    }
}

/// SEV1 (most severe) .. SEV4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Severity(u8);

impl Severity {
    pub const ALL: [Severity; 4] = [Severity(1), Severity(2), Severity(3), Severity(4)];

    pub fn new(level: i16) -> Option<Severity> {
        (1..=4).contains(&level).then_some(Severity(level as u8))
    }

    pub fn parse(s: &str) -> Result<Severity, String> {
        let t = s.trim().to_ascii_lowercase();
        let digits = t.strip_prefix("sev").unwrap_or(&t);
        digits.parse::<i16>().ok().and_then(Severity::new).ok_or_else(|| "Choose a severity from SEV1 to SEV4.".into())
    }

    pub fn level(self) -> i16 {
        i16::from(self.0)
    }

    pub fn label(self) -> String {
        format!("SEV{}", self.0)
    }

    /// One line to help choose.
    pub fn description(self) -> &'static str {
        match self.0 {
            1 => "Critical: the service is down or data is at risk for many customers.",
            2 => "Major: a core feature is broken or badly degraded for many customers.",
            3 => "Minor: a feature is degraded or broken for some customers; a workaround exists.",
            _ => "Low: little or no customer impact; cosmetic or internal.",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SEV{}", self.0)
    }
}

/// A short, non-empty one-line title.
pub fn parse_title(input: &str) -> Result<String, String> {
    let t = input.trim();
    if t.is_empty() {
        return Err("Give the incident a title, e.g. \"Checkout fails with 500 errors\".".into());
    }
    if t.chars().count() > 200 {
        return Err("Keep the title under 200 characters; details go in the timeline.".into());
    }
    if t.chars().any(char::is_control) {
        return Err("The title must be one line.".into());
    }
    Ok(t.to_owned())
}

/// Another incident, as people name it: "12", "#12", or its room's link
/// ("https://firebreak.example.com/incidents/12"). Returns its number.
pub fn parse_incident_ref(input: &str) -> Result<i64, String> {
    let t = input.trim();
    if t.is_empty() {
        return Err("Give the other incident's number, e.g. 42 or #42.".into());
    }
    let number = match t.rsplit_once("/incidents/") {
        Some((_, rest)) => rest.split(['/', '?', '#']).next().unwrap_or_default(),
        None => t.strip_prefix('#').unwrap_or(t),
    };
    match number.trim().parse::<i64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("“{t}” is not an incident number: give one like 42 or #42, or the room's link.")),
    }
}

/// An optional http(s) link (conference call, ticket).
pub fn parse_optional_url(input: &str) -> Result<Option<String>, String> {
    let t = input.trim();
    if t.is_empty() {
        return Ok(None);
    }
    match url::Url::parse(t) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Ok(Some(u.to_string())),
        _ => Err("Enter a link starting with https:// or http://".into()),
    }
}

/// Free text of bounded length (environment names and the like).
pub fn parse_short_text(input: &str, what: &str, max: usize) -> Result<String, String> {
    let t = input.trim();
    if t.chars().count() > max {
        return Err(format!("Keep the {what} under {max} characters."));
    }
    Ok(t.to_owned())
}

/// A time typed into a `datetime-local` field, read in the person's time zone.
/// Empty means "not given". A time in the future (beyond a minute of clock
/// skew) is refused: things that happened cannot be later than now.
pub fn parse_past_time(input: &str, tz: chrono_tz::Tz, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, String> {
    let t = input.trim();
    if t.is_empty() {
        return Ok(None);
    }
    let naive = NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S"))
        .or_else(|_| NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M"))
        .map_err(|_| "Enter a date and time like 2026-11-21 14:05.".to_owned())?;
    let local = tz
        .from_local_datetime(&naive)
        .earliest()
        .ok_or_else(|| "That time does not exist in your time zone (a clock change); pick another.".to_owned())?;
    let utc = local.with_timezone(&Utc);
    if utc > now + chrono::Duration::minutes(1) {
        return Err("That time is in the future; enter when it happened.".into());
    }
    Ok(Some(utc))
}

/// A positive whole number of minutes, optional.
pub fn parse_optional_minutes(input: &str) -> Result<Option<i32>, String> {
    let t = input.trim();
    if t.is_empty() {
        return Ok(None);
    }
    match t.parse::<i32>() {
        Ok(n) if (1..=24 * 60).contains(&n) => Ok(Some(n)),
        _ => Err("Enter a number of minutes from 1 to 1440.".into()),
    }
}

/// How far a timeboxed mitigation attempt has run past its box, if it has.
pub fn timebox_overrun(
    started_at: DateTime<Utc>,
    timebox_minutes: i32,
    now: DateTime<Utc>,
) -> Option<chrono::Duration> {
    let over = now - (started_at + chrono::Duration::minutes(i64::from(timebox_minutes)));
    (over > chrono::Duration::zero()).then_some(over)
}

/// A key time (detected, acknowledged, mitigated) cannot come before the
/// impact started: the metrics would go negative. `what` names it ("the
/// mitigated time").
pub fn not_before_impact(
    impact_started_at: DateTime<Utc>,
    at: DateTime<Utc>,
    what: &str,
    shown: &str,
) -> Result<DateTime<Utc>, String> {
    if at < impact_started_at {
        return Err(format!("{what} cannot be before the impact started ({shown})."));
    }
    Ok(at)
}

/// Durations read the same everywhere (one formatter, in `metrics`).
pub use super::metrics::format_duration;

#[cfg(test)]
mod tests {

    #[test]
    fn other_incidents_are_named_by_number_hash_or_link() {
        assert_eq!(parse_incident_ref("42"), Ok(42));
        assert_eq!(parse_incident_ref(" #42 "), Ok(42));
        assert_eq!(parse_incident_ref("https://fb.example.com/incidents/42"), Ok(42));
        assert_eq!(parse_incident_ref("/incidents/42#timeline"), Ok(42));
        assert_eq!(parse_incident_ref("http://x/incidents/7/paging?x=1"), Ok(7));
        assert!(parse_incident_ref("").is_err());
        assert!(parse_incident_ref("#0").is_err());
        assert!(parse_incident_ref("forty-two").expect_err("words are refused").contains("not an incident number"));
        assert!(parse_incident_ref("-3").is_err());
    }

    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 21, h, m, 0).single().expect("valid time")
    }

    #[test]
    fn severities_parse_from_numbers_and_labels() {
        assert_eq!(Severity::parse("1").map(Severity::level), Ok(1));
        assert_eq!(Severity::parse("SEV3").map(Severity::level), Ok(3));
        assert!(Severity::parse("5").is_err());
        assert!(Severity::parse("").is_err());
        assert!(Severity(1) < Severity(2), "SEV1 sorts first");
    }

    #[test]
    fn an_open_incident_moves_freely_but_closes_only_once_resolved() {
        use IncidentStatus::*;
        assert!(Investigating.can_move_to(Identified));
        assert!(Monitoring.can_move_to(Investigating), "a fix that did not hold");
        assert!(Investigating.can_move_to(Resolved));
        assert!(!Investigating.can_move_to(Closed));
        assert!(Resolved.can_move_to(Closed));
        assert!(!Identified.can_move_to(Identified));
    }

    #[test]
    fn a_closed_incident_can_only_be_reopened() {
        use IncidentStatus::*;
        assert!(Closed.can_move_to(Investigating));
        assert!(!Closed.can_move_to(Monitoring));
        assert!(Closed.is_reopening(Investigating));
        assert!(Resolved.is_reopening(Monitoring));
        assert!(!Investigating.is_reopening(Identified));
    }

    #[test]
    fn the_status_moves_forward_by_default_and_knows_a_step_back() {
        use IncidentStatus::*;
        assert_eq!(Investigating.next_forward(), Some(Identified));
        assert_eq!(Monitoring.next_forward(), Some(Resolved));
        assert_eq!(Resolved.next_forward(), Some(Closed));
        assert_eq!(Closed.next_forward(), None);
        assert!(Monitoring.is_step_back(Identified));
        assert!(Closed.is_step_back(Investigating));
        assert!(!Identified.is_step_back(Resolved));
        assert!(!Identified.is_step_back(Identified));
    }

    #[test]
    fn times_are_read_in_the_viewers_zone_and_never_in_the_future() {
        let now = at(12, 0);
        let berlin: chrono_tz::Tz = "Europe/Berlin".parse().expect("tz");
        assert_eq!(parse_past_time("2026-11-21T12:30", berlin, now), Ok(Some(at(11, 30))));
        assert_eq!(parse_past_time("", berlin, now), Ok(None));
        assert!(parse_past_time("2026-11-21T14:30", berlin, now).is_err(), "13:30 UTC is after now");
        assert!(parse_past_time("yesterday", berlin, now).is_err());
    }

    #[test]
    fn links_must_be_http() {
        assert_eq!(parse_optional_url(" "), Ok(None));
        assert!(parse_optional_url("javascript:alert(1)").is_err());
        assert!(parse_optional_url("ftp://example.com").is_err());
        assert_eq!(parse_optional_url("https://meet.example.com/abc"), Ok(Some("https://meet.example.com/abc".into())));
    }

    #[test]
    fn titles_are_one_short_line() {
        assert!(parse_title("  ").is_err());
        assert!(parse_title("a\nb").is_err());
        assert_eq!(parse_title(" Checkout down "), Ok("Checkout down".into()));
    }

    #[test]
    fn a_timebox_is_overrun_only_after_it_ends() {
        assert_eq!(timebox_overrun(at(10, 0), 15, at(10, 10)), None);
        assert_eq!(timebox_overrun(at(10, 0), 15, at(10, 27)), Some(chrono::Duration::minutes(12)));
    }

    #[test]
    fn durations_read_like_a_clock() {
        assert_eq!(format_duration(chrono::Duration::seconds(40)), "40 s");
        assert_eq!(format_duration(chrono::Duration::minutes(12)), "12 min");
        assert_eq!(format_duration(chrono::Duration::minutes(185)), "3 h 5 min");
        assert_eq!(format_duration(chrono::Duration::hours(50)), "2 d 2 h");
    }

    #[test]
    fn key_times_cannot_come_before_the_impact_started() {
        let start = at(10, 0);
        assert_eq!(not_before_impact(start, at(10, 0), "x", "10:00"), Ok(at(10, 0)));
        assert_eq!(not_before_impact(start, at(11, 30), "x", "10:00"), Ok(at(11, 30)));
        assert_eq!(
            not_before_impact(start, at(9, 59), "The mitigated time", "10:00"),
            Err("The mitigated time cannot be before the impact started (10:00).".to_owned())
        );
    }

    #[test]
    fn text_enums_round_trip() {
        for s in IncidentStatus::ALL {
            assert_eq!(IncidentStatus::parse(s.as_str()), Ok(*s));
        }
        for r in IncidentRole::ALL {
            assert_eq!(IncidentRole::parse(r.as_str()), Ok(*r));
        }
        assert!(TaskKind::parse("chore").is_err());
    }
}
