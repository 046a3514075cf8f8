//! Scheduled maintenance windows: the times people type and the rules a
//! window must follow.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};

/// How far into the past a new window's start may be: the form only has
/// minutes, so "now" typed as the current minute is already a little late.
pub const START_GRACE: chrono::Duration = chrono::Duration::minutes(1);

/// A date and time typed in the user's time zone (a `datetime-local` value),
/// past or future. Empty input is `None`.
pub fn parse_local_time(input: &str, tz: chrono_tz::Tz) -> Result<Option<DateTime<Utc>>, String> {
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
    Ok(Some(local.with_timezone(&Utc)))
}

/// A required date and time in the user's time zone.
pub fn parse_required_time(input: &str, tz: chrono_tz::Tz, what: &str) -> Result<DateTime<Utc>, String> {
    parse_local_time(input, tz)?.ok_or_else(|| format!("Enter when the maintenance {what}."))
}

/// A new (or moved) window may not start in the past.
pub fn check_start(start: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), String> {
    if start < now - START_GRACE {
        return Err("That time has passed; a maintenance window starts now or later.".into());
    }
    Ok(())
}

/// A window ends after it starts.
pub fn check_end(start: DateTime<Utc>, end: DateTime<Utc>) -> Result<(), String> {
    if end <= start {
        return Err("The end must be after the start.".into());
    }
    Ok(())
}

/// The `value` of a `datetime-local` input showing `at` in the user's time zone.
pub fn local_input_value(at: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
    at.with_timezone(&tz).format("%Y-%m-%dT%H:%M").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 21, h, m, 0).single().expect("valid time")
    }

    #[test]
    fn local_times_are_read_in_the_users_zone_past_or_future() {
        let berlin = chrono_tz::Europe::Berlin;
        assert_eq!(parse_local_time("2026-11-21T12:30", berlin), Ok(Some(at(11, 30))));
        assert_eq!(parse_local_time("2999-01-01T00:00", chrono_tz::UTC).map(|t| t.is_some()), Ok(true));
        assert_eq!(parse_local_time("2020-01-01 08:00", chrono_tz::UTC).map(|t| t.is_some()), Ok(true));
        assert_eq!(parse_local_time("  ", berlin), Ok(None));
        assert!(parse_local_time("tomorrow", berlin).is_err());
        assert!(parse_required_time("", berlin, "starts").expect_err("required").contains("starts"));
    }

    #[test]
    fn a_time_lost_to_a_clock_change_is_refused() {
        // 02:30 on the last Sunday of March does not exist in Berlin.
        assert!(parse_local_time("2026-03-29T02:30", chrono_tz::Europe::Berlin).is_err());
    }

    #[test]
    fn windows_start_now_or_later_and_end_after_they_start() {
        let now = at(12, 0);
        assert!(check_start(at(12, 0), now).is_ok());
        assert!(check_start(now - chrono::Duration::seconds(30), now).is_ok(), "the current minute counts as now");
        assert!(check_start(at(11, 0), now).is_err());
        assert!(check_start(at(13, 0), now).is_ok());
        assert!(check_end(at(13, 0), at(14, 0)).is_ok());
        assert!(check_end(at(13, 0), at(13, 0)).is_err());
        assert!(check_end(at(13, 0), at(12, 0)).is_err());
    }

    #[test]
    fn input_values_round_trip() {
        let tz = chrono_tz::America::New_York;
        let value = local_input_value(at(15, 45), tz);
        assert_eq!(value, "2026-11-21T10:45");
        assert_eq!(parse_local_time(&value, tz), Ok(Some(at(15, 45))));
    }
}
