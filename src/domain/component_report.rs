//! The report per component: how many incidents touched it, how long they
//! took to resolve (total and median), and its uptime in each month (from
//! the status-change log, counted as the status page counts it). Also the
//! CSV form every report downloads as.

use chrono::{DateTime, Datelike, Duration, Utc};
use chrono_tz::Tz;

use super::metrics::{IncidentMetrics, Summary, Timestamps};
use super::reports::{Month, MonthRange};
use super::uptime::{self, History};

/// One component's line.
#[derive(Debug, Clone, PartialEq)]
pub struct ComponentLine {
    pub name: String,
    pub incidents: usize,
    /// Sum of the time to resolve of its resolved incidents (`None`: none resolved).
    pub total_to_resolve: Option<Duration>,
    pub to_resolve: Summary,
    /// Uptime per month of the range (UTC days), `None` where there is no data
    /// (the component did not exist yet, or the month has not started).
    pub uptime: Vec<Option<f64>>,
}

/// What the report needs of one component.
pub struct ComponentInput<'a> {
    pub id: i64,
    pub name: &'a str,
    pub history: History<'a>,
}

/// Builds one line per component, in the order given. `incidents` are
/// (component id, declared at, timestamps), one per incident and component;
/// those declared outside the range (in `tz`) are left out. Uptime is
/// counted up to `now` (or the range's end, if earlier).
pub fn build(
    range: MonthRange,
    tz: Tz,
    components: &[ComponentInput<'_>],
    incidents: &[(i64, DateTime<Utc>, Timestamps)],
    now: DateTime<Utc>,
) -> Vec<ComponentLine> {
    let months = range.months();
    let (start, until) = range.bounds(tz);
    let end = until.min(now);
    let days = if end > start { (end.date_naive() - start.date_naive()).num_days() + 1 } else { 0 };
    components
        .iter()
        .map(|c| {
            let mine: Vec<&Timestamps> = incidents
                .iter()
                .filter(|(id, declared, _)| *id == c.id && range.position(Month::of(*declared, tz)).is_some())
                .map(|(_, _, t)| t)
                .collect();
            let resolve: Vec<Option<Duration>> = mine.iter().map(|t| IncidentMetrics::of(t).time_to_resolve).collect();
            let total = resolve.iter().flatten().copied().reduce(|a, b| a + b);
            let daily = uptime::daily(&c.history, u32::try_from(days).unwrap_or(0), end);
            let uptime = months
                .iter()
                .map(|m| {
                    let in_month: Vec<uptime::Day> = daily
                        .iter()
                        .filter(|d| d.date.year() == m.year() && d.date.month() == m.number())
                        .cloned()
                        .collect();
                    uptime::percentage(&in_month)
                })
                .collect();
            ComponentLine {
                name: c.name.to_owned(),
                incidents: mine.len(),
                total_to_resolve: total,
                to_resolve: Summary::of(resolve),
                uptime,
            }
        })
        .collect()
}

/// One CSV record (RFC 4180): fields with a comma, quote or line break are
/// quoted. A field that a spreadsheet would run as a formula (starting with
/// `=`, `+`, `-`, `@`, tab or carriage return) gets a leading `'`, so a
/// component or title typed as `=HYPERLINK(...)` stays text.
pub fn csv_record(fields: &[String]) -> String {
    let mut line = fields
        .iter()
        .map(|f| {
            let f = if f.starts_with(['=', '+', '-', '@', '\t', '\r']) && f.parse::<f64>().is_err() {
                format!("'{f}")
            } else {
                f.clone()
            };
            if f.contains([',', '"', '\n', '\r']) { format!("\"{}\"", f.replace('"', "\"\"")) } else { f }
        })
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::domain::status::ComponentStatus;
    use crate::domain::uptime::Change;

    fn utc(y: i32, mo: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, 0, 0).single().expect("a valid time")
    }

    fn resolved(start: DateTime<Utc>, minutes: i64) -> Timestamps {
        Timestamps {
            impact_started_at: start,
            detected_at: start,
            declared_at: start,
            acknowledged_at: None,
            mitigated_at: None,
            resolved_at: Some(start + Duration::minutes(minutes)),
            is_resolved: true,
        }
    }

    #[test]
    fn each_component_counts_its_incidents_times_and_uptime_per_month() {
        let range =
            MonthRange::new(Month::new(2026, 1).expect("month"), Month::new(2026, 2).expect("month")).expect("range");
        // API: a 24 h major outage on Jan 10; created long before.
        let changes = [
            Change { at: utc(2026, 1, 10, 0), old: ComponentStatus::Operational, new: ComponentStatus::MajorOutage },
            Change { at: utc(2026, 1, 11, 0), old: ComponentStatus::MajorOutage, new: ComponentStatus::Operational },
        ];
        let api = ComponentInput {
            id: 1,
            name: "API",
            history: History {
                created_at: utc(2025, 1, 1, 0),
                state_before: None,
                changes: &changes,
                current: ComponentStatus::Operational,
            },
        };
        // Search: created on Feb 1, never down.
        let search = ComponentInput {
            id: 2,
            name: "Search",
            history: History {
                created_at: utc(2026, 2, 1, 0),
                state_before: None,
                changes: &[],
                current: ComponentStatus::Operational,
            },
        };
        let incidents = [
            (1, utc(2026, 1, 10, 0), resolved(utc(2026, 1, 10, 0), 60)),
            (1, utc(2026, 2, 3, 0), resolved(utc(2026, 2, 3, 0), 30)),
            (1, utc(2025, 12, 3, 0), resolved(utc(2025, 12, 3, 0), 600)),
            (2, utc(2026, 2, 5, 0), resolved(utc(2026, 2, 5, 0), 10)),
        ];
        let lines = build(range, chrono_tz::UTC, &[api, search], &incidents, utc(2026, 3, 1, 0));
        assert_eq!(lines[0].incidents, 2, "December's is outside the range");
        assert_eq!(lines[0].total_to_resolve, Some(Duration::minutes(90)));
        assert_eq!(lines[0].to_resolve.median, Some(Duration::minutes(45)));
        let jan = lines[0].uptime[0].expect("January has data");
        assert!((jan - 100.0 * 30.0 / 31.0).abs() < 1e-9, "one day down of 31: {jan}");
        assert_eq!(lines[0].uptime[1], Some(100.0));
        assert_eq!(lines[1].uptime[0], None, "Search did not exist in January: no data, not downtime");
        assert_eq!(lines[1].uptime[1], Some(100.0));
        assert_eq!(lines[1].incidents, 1);
    }

    #[test]
    fn csv_quotes_what_needs_it_and_defuses_formulas() {
        let f = |v: &[&str]| csv_record(&v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
        assert_eq!(f(&["API", "3", "99.5"]), "API,3,99.5\r\n");
        assert_eq!(f(&["Search, EU", "say \"hi\""]), "\"Search, EU\",\"say \"\"hi\"\"\"\r\n");
        assert_eq!(f(&["=HYPERLINK(\"x\")"]), "\"'=HYPERLINK(\"\"x\"\")\"\r\n");
        assert_eq!(f(&["@SUM(A1)", "-3"]), "'@SUM(A1),-3\r\n", "numbers stay numbers");
        assert_eq!(f(&["two\nlines"]), "\"two\nlines\"\r\n");
    }
}
