//! Incident metrics: how long it took to detect, declare, acknowledge, mitigate
//! and resolve an incident, and summaries of those over many incidents.
//!
//! The rules, in one place:
//! - time to detect = detected − impact started
//! - time to declare = declared − detected
//! - time to acknowledge = acknowledged − detected (someone took the lead)
//! - time to mitigate = mitigated − impact started
//! - time to resolve = resolved − impact started; total duration is the same
//!   span, shown under its own name in the post-mortem
//! - a missing timestamp gives no value (never zero);
//! - a reopened incident (status back before resolved) is not resolved: its
//!   old resolution time is ignored until it is resolved again;
//! - a span that comes out negative (a corrected timestamp now sits before the
//!   one it is measured from) gives no value rather than a wrong one.

use chrono::{DateTime, Duration, Utc};

/// The moments of one incident, as stored (after any corrections).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamps {
    pub impact_started_at: DateTime<Utc>,
    pub detected_at: DateTime<Utc>,
    pub declared_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub mitigated_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// Whether the incident is resolved or closed now (false after a reopen).
    pub is_resolved: bool,
}

/// The computed spans; `None` where the rule above gives no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IncidentMetrics {
    pub time_to_detect: Option<Duration>,
    pub time_to_declare: Option<Duration>,
    pub time_to_acknowledge: Option<Duration>,
    pub time_to_mitigate: Option<Duration>,
    pub time_to_resolve: Option<Duration>,
    pub total_duration: Option<Duration>,
}

fn span(from: DateTime<Utc>, to: Option<DateTime<Utc>>) -> Option<Duration> {
    let d = to? - from;
    (d >= Duration::zero()).then_some(d)
}

impl IncidentMetrics {
    pub fn of(t: &Timestamps) -> Self {
        let resolved = if t.is_resolved { t.resolved_at } else { None };
        let time_to_resolve = span(t.impact_started_at, resolved);
        IncidentMetrics {
            time_to_detect: span(t.impact_started_at, Some(t.detected_at)),
            time_to_declare: span(t.detected_at, Some(t.declared_at)),
            time_to_acknowledge: span(t.detected_at, t.acknowledged_at),
            time_to_mitigate: span(t.impact_started_at, t.mitigated_at),
            time_to_resolve,
            total_duration: time_to_resolve,
        }
    }
}

/// Median and mean of some spans (`None` for none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    pub count: usize,
    pub median: Option<Duration>,
    pub mean: Option<Duration>,
}

impl Summary {
    /// Ignores missing values; the median of an even count is the mean of the
    /// two middle values.
    pub fn of(values: impl IntoIterator<Item = Option<Duration>>) -> Self {
        let mut secs: Vec<i64> = values.into_iter().flatten().map(|d| d.num_seconds()).collect();
        if secs.is_empty() {
            return Summary::default();
        }
        secs.sort_unstable();
        let n = secs.len();
        let median = if n % 2 == 1 { secs[n / 2] } else { (secs[n / 2 - 1] + secs[n / 2]) / 2 };
        let mean = secs.iter().sum::<i64>() / n as i64;
        Summary { count: n, median: Some(Duration::seconds(median)), mean: Some(Duration::seconds(mean)) }
    }
}

/// "45 s", "12 min", "3 h 5 min", "2 d 4 h": the one way Firebreak writes a
/// duration (the room's clocks, reports, post-mortems, the status page).
pub fn format_duration(d: Duration) -> String {
    let s = d.num_seconds().max(0);
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86400 => match (s % 3600) / 60 {
            0 => format!("{} h", s / 3600),
            m => format!("{} h {m} min", s / 3600),
        },
        _ => match (s % 86400) / 3600 {
            0 => format!("{} d", s / 86400),
            h => format!("{} d {h} h", s / 86400),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, h, m, 0).unwrap()
    }

    fn scripted() -> Timestamps {
        Timestamps {
            impact_started_at: at(10, 0),
            detected_at: at(10, 5),
            declared_at: at(10, 8),
            acknowledged_at: Some(at(10, 10)),
            mitigated_at: Some(at(10, 40)),
            resolved_at: Some(at(11, 30)),
            is_resolved: true,
        }
    }

    #[test]
    fn every_span_from_a_complete_incident() {
        let m = IncidentMetrics::of(&scripted());
        assert_eq!(m.time_to_detect, Some(Duration::minutes(5)));
        assert_eq!(m.time_to_declare, Some(Duration::minutes(3)));
        assert_eq!(m.time_to_acknowledge, Some(Duration::minutes(5)));
        assert_eq!(m.time_to_mitigate, Some(Duration::minutes(40)));
        assert_eq!(m.time_to_resolve, Some(Duration::minutes(90)));
        assert_eq!(m.total_duration, Some(Duration::minutes(90)));
    }

    #[test]
    fn missing_timestamps_give_no_value_not_zero() {
        let t = Timestamps {
            acknowledged_at: None,
            mitigated_at: None,
            resolved_at: None,
            is_resolved: false,
            ..scripted()
        };
        let m = IncidentMetrics::of(&t);
        assert_eq!(m.time_to_detect, Some(Duration::minutes(5)));
        assert_eq!(m.time_to_acknowledge, None);
        assert_eq!(m.time_to_mitigate, None);
        assert_eq!(m.time_to_resolve, None);
        assert_eq!(m.total_duration, None);
    }

    #[test]
    fn a_reopened_incident_is_not_resolved() {
        let t = Timestamps { is_resolved: false, ..scripted() };
        let m = IncidentMetrics::of(&t);
        assert_eq!(m.time_to_resolve, None);
        assert_eq!(m.time_to_mitigate, Some(Duration::minutes(40)), "the first mitigation still counts");
    }

    #[test]
    fn corrected_timestamps_are_used_and_inconsistent_ones_ignored() {
        // The lead corrected impact start to earlier: every span from it grows.
        let t = Timestamps { impact_started_at: at(9, 30), ..scripted() };
        let m = IncidentMetrics::of(&t);
        assert_eq!(m.time_to_detect, Some(Duration::minutes(35)));
        assert_eq!(m.time_to_resolve, Some(Duration::minutes(120)));
        // Detected corrected to after the acknowledgement: no negative span.
        let t = Timestamps { detected_at: at(10, 20), ..scripted() };
        let m = IncidentMetrics::of(&t);
        assert_eq!(m.time_to_acknowledge, None);
        assert_eq!(m.time_to_declare, None);
        assert_eq!(m.time_to_detect, Some(Duration::minutes(20)));
    }

    #[test]
    fn summary_median_and_mean_ignore_missing() {
        let s =
            Summary::of([Some(Duration::minutes(10)), None, Some(Duration::minutes(30)), Some(Duration::minutes(2))]);
        assert_eq!(s.count, 3);
        assert_eq!(s.median, Some(Duration::minutes(10)));
        assert_eq!(s.mean, Some(Duration::minutes(14)));
        let even = Summary::of([Some(Duration::minutes(10)), Some(Duration::minutes(20))]);
        assert_eq!(even.median, Some(Duration::minutes(15)));
        assert_eq!(Summary::of([None]), Summary::default());
    }

    #[test]
    fn durations_read_like_a_person_wrote_them() {
        assert_eq!(format_duration(Duration::seconds(45)), "45 s");
        assert_eq!(format_duration(Duration::minutes(12)), "12 min");
        assert_eq!(format_duration(Duration::minutes(185)), "3 h 5 min");
        assert_eq!(format_duration(Duration::hours(2)), "2 h");
        assert_eq!(format_duration(Duration::hours(52)), "2 d 4 h");
    }
}
