//! When the review meeting should be: the proposal window per severity and a
//! suggested slot; and the meeting form's values, parsed.
//!
//! The window: SEV1 reviews are held within 3 days (72 hours) of resolution,
//! SEV2 reviews within 5 business days (Monday to Friday, counted in the
//! organiser's time zone, the deadline being the end of the fifth). SEV3 and
//! SEV4 have no deadline. The deadline guides; it does not refuse a later slot.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};

use super::incident::{Severity, parse_optional_url};

/// Shortest and longest meeting, in minutes.
pub const MIN_MINUTES: i64 = 15;
pub const MAX_MINUTES: i64 = 480;
/// What the form suggests.
pub const DEFAULT_MINUTES: i64 = 60;
/// Suggested start times, local, in order of preference.
pub const SLOT_HOURS: [u32; 2] = [10, 14];
/// A suggested slot leaves at least this much notice.
pub const MIN_NOTICE_HOURS: i64 = 2;
/// How far ahead a meeting may be scheduled.
pub const MAX_DAYS_AHEAD: i64 = 366;
/// Longest location text.
pub const MAX_LOCATION_CHARS: usize = 200;

/// Monday to Friday.
pub fn is_business_day(date: NaiveDate) -> bool {
    !matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

/// The `n`th business day after `date` (not counting `date` itself).
pub fn add_business_days(date: NaiveDate, n: u32) -> NaiveDate {
    let mut d = date;
    let mut left = n;
    while left > 0 {
        d = d.succ_opt().unwrap_or(d);
        if is_business_day(d) {
            left -= 1;
        }
    }
    d
}

/// A local date and time as a UTC instant (the earlier one when a clock
/// change makes it ambiguous; `None` when a clock change skips it).
fn local(tz: chrono_tz::Tz, date: NaiveDate, time: NaiveTime) -> Option<DateTime<Utc>> {
    tz.from_local_datetime(&date.and_time(time)).earliest().map(|t| t.with_timezone(&Utc))
}

/// The rule for a severity, and the deadline it gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub severity: Severity,
    /// The meeting should start no later than this; `None`: no deadline.
    pub deadline: Option<DateTime<Utc>>,
}

impl Window {
    /// The window for an incident of `severity` resolved at `resolved_at`,
    /// business days counted in `tz`.
    pub fn new(severity: Severity, resolved_at: DateTime<Utc>, tz: chrono_tz::Tz) -> Self {
        let deadline = match severity.level() {
            1 => Some(resolved_at + Duration::days(3)),
            2 => {
                let day = add_business_days(resolved_at.with_timezone(&tz).date_naive(), 5);
                // The end of that day: the last minute that exists locally.
                let end = NaiveTime::from_hms_opt(23, 59, 0).unwrap_or_default();
                local(tz, day, end).or_else(|| local(tz, day.succ_opt()?, NaiveTime::MIN))
            }
            _ => None,
        };
        Window { severity, deadline }
    }

    /// The rule in words, e.g. "within 3 days of resolution".
    pub fn rule(&self) -> &'static str {
        match self.severity.level() {
            1 => "within 3 days of resolution",
            2 => "within 5 business days of resolution",
            _ => "no deadline",
        }
    }

    /// Whether a meeting starting at `start` keeps to the deadline.
    pub fn allows(&self, start: DateTime<Utc>) -> bool {
        self.deadline.is_none_or(|d| start <= d)
    }

    /// One sentence for the form, with the deadline in `tz`.
    pub fn describe(&self, tz: chrono_tz::Tz, now: DateTime<Utc>) -> String {
        let sev = self.severity.label();
        let Some(deadline) = self.deadline else {
            return format!(
                "{sev} incidents have no deadline for the review meeting: hold it when it suits the team, \
                 while memories are fresh."
            );
        };
        let local = deadline.with_timezone(&tz);
        let when = if self.severity.level() == 2 {
            format!("by the end of {}", local.format("%A %-d %B %Y"))
        } else {
            format!("by {}", local.format("%A %-d %B %Y, %H:%M %Z"))
        };
        let passed = if now > deadline { " That deadline has passed: schedule it as soon as you can." } else { "" };
        format!("{sev} reviews are held {}: {when}.{passed}", self.rule())
    }

    /// A slot to suggest: a business day after today at 10:00 or 14:00 local
    /// within the window; else a business-day slot later today; else any
    /// slot within the window (a SEV1 resolved before a weekend); else (the
    /// deadline is past) the next business day at 10:00. Always at least
    /// two hours from now.
    pub fn suggest(&self, resolved_at: DateTime<Utc>, now: DateTime<Utc>, tz: chrono_tz::Tz) -> DateTime<Utc> {
        let from = now.max(resolved_at);
        let earliest = from + Duration::hours(MIN_NOTICE_HOURS);
        let today = from.with_timezone(&tz).date_naive();
        struct Slot {
            later_day: bool,
            business: bool,
            at: DateTime<Utc>,
        }
        let mut slots = Vec::new();
        for offset in 0..21 {
            let Some(day) = today.checked_add_signed(Duration::days(offset)) else { break };
            for hour in SLOT_HOURS {
                let time = NaiveTime::from_hms_opt(hour, 0, 0).unwrap_or_default();
                if let Some(at) = local(tz, day, time).filter(|at| *at >= earliest) {
                    slots.push(Slot { later_day: offset >= 1, business: is_business_day(day), at });
                }
            }
        }
        let pick = |f: &dyn Fn(&Slot) -> bool| slots.iter().find(|s| f(s)).map(|s| s.at);
        pick(&|s| s.later_day && s.business && self.allows(s.at))
            .or_else(|| pick(&|s| !s.later_day && s.business && self.allows(s.at)))
            .or_else(|| pick(&|s| self.allows(s.at)))
            .or_else(|| pick(&|s| s.later_day && s.business))
            .unwrap_or(earliest)
    }
}

/// A date from `<input type="date">`.
pub fn parse_date(input: &str) -> Result<NaiveDate, String> {
    let t = input.trim();
    if t.is_empty() {
        return Err("Enter the date of the meeting.".into());
    }
    NaiveDate::parse_from_str(t, "%Y-%m-%d").map_err(|_| "Enter a date like 2026-11-24.".into())
}

/// A time of day from `<input type="time">`.
pub fn parse_time(input: &str) -> Result<NaiveTime, String> {
    let t = input.trim();
    if t.is_empty() {
        return Err("Enter the time the meeting starts.".into());
    }
    NaiveTime::parse_from_str(t, "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(t, "%H:%M:%S"))
        .map_err(|_| "Enter a time like 10:00 (24-hour clock).".into())
}

/// The duration in whole minutes, 15 to 480.
pub fn parse_duration(input: &str) -> Result<i64, String> {
    let t = input.trim();
    if t.is_empty() {
        return Err("Enter how long the meeting lasts, in minutes.".into());
    }
    match t.parse::<i64>() {
        Ok(n) if (MIN_MINUTES..=MAX_MINUTES).contains(&n) => Ok(n),
        _ => Err(format!("Enter the duration in whole minutes, from {MIN_MINUTES} to {MAX_MINUTES}.")),
    }
}

/// A room or place: one line of bounded length.
pub fn parse_location(input: &str) -> Result<String, String> {
    let t = input.trim();
    if t.chars().any(char::is_control) {
        return Err("Write the place on one line.".into());
    }
    if t.chars().count() > MAX_LOCATION_CHARS {
        return Err(format!("Keep the place under {MAX_LOCATION_CHARS} characters."));
    }
    Ok(t.to_owned())
}

/// An optional conference link (http or https).
pub fn parse_conference_url(input: &str) -> Result<Option<String>, String> {
    let url = parse_optional_url(input)?;
    match url {
        Some(u) if u.len() > 2000 => Err("That link is too long.".into()),
        other => Ok(other),
    }
}

/// When the meeting is, checked: it starts in the future and ends after it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeetingTime {
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

impl MeetingTime {
    /// Refuses a start in the past (a minute of grace for clock skew), a
    /// start more than a year ahead, and an end that is not after the start.
    pub fn new(starts_at: DateTime<Utc>, ends_at: DateTime<Utc>, now: DateTime<Utc>) -> Result<Self, String> {
        if starts_at < now - Duration::minutes(1) {
            return Err("That time is in the past: choose a time from now on.".into());
        }
        if starts_at > now + Duration::days(MAX_DAYS_AHEAD) {
            return Err("Choose a date within the next year.".into());
        }
        if ends_at <= starts_at {
            return Err("The meeting must end after it starts.".into());
        }
        Ok(MeetingTime { starts_at, ends_at })
    }

    /// A date and time typed in the organiser's time zone, and a duration.
    pub fn from_local(
        date: NaiveDate,
        time: NaiveTime,
        minutes: i64,
        tz: chrono_tz::Tz,
        now: DateTime<Utc>,
    ) -> Result<Self, String> {
        let start = local(tz, date, time).ok_or_else(|| {
            format!(
                "{} does not exist on that day in {tz} (the clocks change); pick another time.",
                time.format("%H:%M")
            )
        })?;
        MeetingTime::new(start, start + Duration::minutes(minutes), now)
    }

    pub fn minutes(&self) -> i64 {
        (self.ends_at - self.starts_at).num_minutes()
    }
}

/// Where the meeting is, for the invitation's LOCATION: the place, the
/// conference link, or both.
pub fn location_text(location: &str, conference_url: Option<&str>) -> String {
    match (location.trim(), conference_url.map(str::trim).filter(|u| !u.is_empty())) {
        ("", Some(url)) => url.to_owned(),
        (place, Some(url)) => format!("{place} ({url})"),
        (place, None) => place.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use chrono_tz::Tz;

    use super::*;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).single().expect("valid time")
    }

    fn sev(n: i16) -> Severity {
        Severity::new(n).expect("severity")
    }

    const BERLIN: Tz = chrono_tz::Europe::Berlin;

    #[test]
    fn business_days_skip_weekends() {
        let fri = NaiveDate::from_ymd_opt(2026, 11, 20).expect("date");
        assert!(is_business_day(fri));
        assert_eq!(add_business_days(fri, 1), NaiveDate::from_ymd_opt(2026, 11, 23).expect("monday"));
        assert_eq!(add_business_days(fri, 5), NaiveDate::from_ymd_opt(2026, 11, 27).expect("friday"));
        let sat = NaiveDate::from_ymd_opt(2026, 11, 21).expect("date");
        assert!(!is_business_day(sat));
        assert_eq!(add_business_days(sat, 1), NaiveDate::from_ymd_opt(2026, 11, 23).expect("monday"));
    }

    #[test]
    fn sev1_reviews_are_due_within_three_days() {
        let resolved = utc(2026, 11, 20, 15, 0);
        let w = Window::new(sev(1), resolved, BERLIN);
        assert_eq!(w.deadline, Some(utc(2026, 11, 23, 15, 0)));
        let text = w.describe(BERLIN, resolved);
        assert!(text.contains("within 3 days of resolution"), "{text}");
        assert!(text.contains("Monday 23 November 2026, 16:00 CET"), "{text}");
    }

    #[test]
    fn sev2_reviews_are_due_by_the_end_of_the_fifth_business_day_locally() {
        // Friday 23:30 UTC is already Saturday in Berlin: count from Saturday.
        let resolved = utc(2026, 11, 20, 23, 30);
        let w = Window::new(sev(2), resolved, BERLIN);
        // Mon 23 .. Fri 27 November; 23:59 CET is 22:59 UTC.
        assert_eq!(w.deadline, Some(utc(2026, 11, 27, 22, 59)));
        assert!(w.describe(BERLIN, resolved).contains("by the end of Friday 27 November 2026"));
        // In UTC it was still Friday: Mon 23 .. Fri 27 too (Friday itself does not count).
        assert_eq!(Window::new(sev(2), resolved, Tz::UTC).deadline, Some(utc(2026, 11, 27, 23, 59)));
    }

    #[test]
    fn sev3_and_sev4_have_no_deadline_and_say_so() {
        for n in [3, 4] {
            let w = Window::new(sev(n), utc(2026, 11, 20, 9, 0), BERLIN);
            assert_eq!(w.deadline, None);
            assert!(w.allows(utc(2027, 6, 1, 9, 0)));
            assert!(w.describe(BERLIN, utc(2026, 11, 20, 9, 0)).contains("no deadline"));
        }
    }

    #[test]
    fn a_passed_deadline_is_pointed_out() {
        let w = Window::new(sev(1), utc(2026, 11, 2, 9, 0), Tz::UTC);
        assert!(w.describe(Tz::UTC, utc(2026, 11, 20, 9, 0)).contains("has passed"));
    }

    #[test]
    fn the_suggestion_is_the_next_business_day_at_ten_local() {
        // Resolved Tuesday 14:00 UTC, now a little later.
        let resolved = utc(2026, 11, 17, 14, 0);
        let now = utc(2026, 11, 17, 14, 30);
        let w = Window::new(sev(2), resolved, BERLIN);
        // Wednesday 10:00 in Berlin is 09:00 UTC.
        assert_eq!(w.suggest(resolved, now, BERLIN), utc(2026, 11, 18, 9, 0));
        // Resolved on a Friday: Monday.
        let resolved = utc(2026, 11, 20, 12, 0);
        assert_eq!(
            Window::new(sev(3), resolved, Tz::UTC).suggest(resolved, resolved, Tz::UTC),
            utc(2026, 11, 23, 10, 0)
        );
    }

    #[test]
    fn a_tight_sev1_window_suggests_a_slot_inside_it() {
        // Resolved Friday 08:30: Monday 10:00 is past the 72 hours, Friday 10:00 too soon; 14:00 fits.
        let resolved = utc(2026, 11, 20, 8, 30);
        let w = Window::new(sev(1), resolved, Tz::UTC);
        let s = w.suggest(resolved, resolved, Tz::UTC);
        assert_eq!(s, utc(2026, 11, 20, 14, 0));
        assert!(w.allows(s));
        // Resolved Friday 23:00: no business-day slot fits before Monday 23:00... Monday 10:00 does.
        let resolved = utc(2026, 11, 20, 23, 0);
        let w = Window::new(sev(1), resolved, Tz::UTC);
        assert_eq!(w.suggest(resolved, resolved, Tz::UTC), utc(2026, 11, 23, 10, 0));
        // Resolved Saturday 00:30: Monday 10:00 is within the 72 hours.
        let resolved = utc(2026, 11, 21, 0, 30);
        let w = Window::new(sev(1), resolved, Tz::UTC);
        assert_eq!(w.suggest(resolved, resolved, Tz::UTC), utc(2026, 11, 23, 10, 0));
    }

    #[test]
    fn after_the_deadline_the_suggestion_is_still_in_the_future() {
        let resolved = utc(2026, 11, 2, 9, 0);
        let now = utc(2026, 11, 18, 11, 0);
        let w = Window::new(sev(1), resolved, Tz::UTC);
        let s = w.suggest(resolved, now, Tz::UTC);
        assert_eq!(s, utc(2026, 11, 19, 10, 0));
        assert!(s > now);
    }

    #[test]
    fn dates_times_and_durations_are_parsed_with_messages() {
        assert_eq!(parse_date("2026-11-24"), Ok(NaiveDate::from_ymd_opt(2026, 11, 24).expect("date")));
        assert!(parse_date("24/11/2026").expect_err("format").contains("2026-11-24"));
        assert!(parse_date(" ").expect_err("empty").contains("Enter the date"));
        assert_eq!(parse_time("09:30"), Ok(NaiveTime::from_hms_opt(9, 30, 0).expect("time")));
        assert!(parse_time("9.30am").is_err());
        assert_eq!(parse_duration("60"), Ok(60));
        for bad in ["0", "14", "481", "-30", "1.5", "an hour"] {
            assert!(parse_duration(bad).expect_err(bad).contains("from 15 to 480"), "{bad}");
        }
        assert!(parse_duration("").expect_err("empty").contains("how long"));
    }

    #[test]
    fn places_and_links_are_checked() {
        assert_eq!(parse_location("  Room 4 "), Ok("Room 4".to_owned()));
        assert!(parse_location("Room\n4").is_err());
        assert!(parse_location(&"x".repeat(201)).is_err());
        assert_eq!(parse_conference_url(""), Ok(None));
        assert_eq!(
            parse_conference_url("https://meet.example.com/abc"),
            Ok(Some("https://meet.example.com/abc".into()))
        );
        assert!(parse_conference_url("meet.example.com/abc").is_err());
        assert!(parse_conference_url("javascript:alert(1)").is_err());
        assert_eq!(location_text("Room 4", Some("https://m.example/x")), "Room 4 (https://m.example/x)");
        assert_eq!(location_text("", Some("https://m.example/x")), "https://m.example/x");
        assert_eq!(location_text("Room 4", None), "Room 4");
    }

    #[test]
    fn a_start_in_the_past_or_an_end_before_the_start_is_refused() {
        let now = utc(2026, 11, 20, 12, 0);
        let err = MeetingTime::new(utc(2026, 11, 20, 11, 0), utc(2026, 11, 20, 12, 0), now).expect_err("past");
        assert!(err.contains("in the past"), "{err}");
        let err = MeetingTime::new(utc(2026, 11, 21, 11, 0), utc(2026, 11, 21, 10, 0), now).expect_err("order");
        assert!(err.contains("end after it starts"), "{err}");
        let err = MeetingTime::new(utc(2026, 11, 21, 11, 0), utc(2026, 11, 21, 11, 0), now).expect_err("empty");
        assert!(err.contains("end after it starts"), "{err}");
        assert!(MeetingTime::new(utc(2028, 1, 1, 9, 0), utc(2028, 1, 1, 10, 0), now).is_err(), "too far ahead");
        let ok = MeetingTime::new(utc(2026, 11, 21, 9, 0), utc(2026, 11, 21, 10, 30), now).expect("valid");
        assert_eq!(ok.minutes(), 90);
    }

    #[test]
    fn local_times_are_read_in_the_organisers_zone() {
        let now = utc(2026, 11, 20, 12, 0);
        let day = NaiveDate::from_ymd_opt(2026, 11, 24).expect("date");
        let ten = NaiveTime::from_hms_opt(10, 0, 0).expect("time");
        let t = MeetingTime::from_local(day, ten, 45, BERLIN, now).expect("valid");
        assert_eq!(t.starts_at, utc(2026, 11, 24, 9, 0));
        assert_eq!(t.ends_at, utc(2026, 11, 24, 9, 45));
        // 02:30 on the last Sunday of March does not exist in Berlin.
        let gap = NaiveDate::from_ymd_opt(2027, 3, 28).expect("date");
        let err = MeetingTime::from_local(gap, NaiveTime::from_hms_opt(2, 30, 0).expect("time"), 30, BERLIN, now)
            .expect_err("gap");
        assert!(err.contains("does not exist"), "{err}");
        let past = NaiveDate::from_ymd_opt(2026, 11, 19).expect("date");
        assert!(MeetingTime::from_local(past, ten, 30, BERLIN, now).expect_err("past").contains("in the past"));
    }
}
