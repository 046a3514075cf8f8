//! Reports: incidents grouped per month and severity, with their metric summaries.
//!
//! The rules:
//! - an incident belongs to the month it was declared in, in the viewer's time
//!   zone (declared_at is never corrected, so an incident never changes month);
//! - it counts under its severity now (after any change during the incident);
//! - the spans come from `metrics::IncidentMetrics` (missing, reopened and
//!   inconsistent moments give no value), summarised by `metrics::Summary`;
//! - every month of the range appears, with zeros when nothing happened;
//! - follow-ups are counted under the month and severity of their incident.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::incident::{DetectionSource, Severity};
use super::metrics::{IncidentMetrics, Summary, Timestamps};

/// The longest range one report covers.
pub const MAX_MONTHS: i64 = 60;

/// The months a report shows when none are chosen.
pub const DEFAULT_MONTHS: i64 = 12;

/// A calendar month, e.g. November 2026.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    year: i32,
    month: u32,
}

const MONTH_NAMES: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

impl Month {
    pub fn new(year: i32, month: u32) -> Option<Month> {
        ((1970..=9999).contains(&year) && (1..=12).contains(&month)).then_some(Month { year, month })
    }

    /// "2026-11" (what `<input type="month">` sends); "2026-1" is accepted too.
    pub fn parse(input: &str) -> Result<Month, String> {
        let s = input.trim();
        let refuse = || format!("“{s}” is not a month: enter it as year-month, like 2026-11.");
        let (y, m) = s.split_once('-').ok_or_else(refuse)?;
        if y.len() != 4 || !(1..=2).contains(&m.len()) || !y.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
            return Err(refuse());
        }
        let (year, month) = (y.parse().map_err(|_| refuse())?, m.parse().map_err(|_| refuse())?);
        Month::new(year, month).ok_or_else(refuse)
    }

    /// The month an instant falls in, in this time zone.
    pub fn of(at: DateTime<Utc>, tz: Tz) -> Month {
        let local = at.with_timezone(&tz);
        Month { year: local.year(), month: local.month() }
    }

    pub fn year(self) -> i32 {
        self.year
    }

    /// 1..=12.
    pub fn number(self) -> u32 {
        self.month
    }

    /// Months since year 0, so that ranges can be counted and offset.
    fn index(self) -> i64 {
        i64::from(self.year) * 12 + i64::from(self.month) - 1
    }

    fn from_index(i: i64) -> Month {
        Month { year: i.div_euclid(12) as i32, month: i.rem_euclid(12) as u32 + 1 }
    }

    /// This month `n` months later (negative: earlier).
    pub fn plus(self, n: i64) -> Month {
        Month::from_index(self.index() + n)
    }

    /// The first moment of the month in this time zone. Where local midnight
    /// does not exist (a clock change at midnight), the first moment that does.
    pub fn start(self, tz: Tz) -> DateTime<Utc> {
        let first = NaiveDate::from_ymd_opt(self.year, self.month, 1).unwrap_or(NaiveDate::MIN);
        let mut local = first.and_time(NaiveTime::MIN);
        for _ in 0..16 {
            if let Some(t) = tz.from_local_datetime(&local).earliest() {
                return t.with_timezone(&Utc);
            }
            local += Duration::minutes(15);
        }
        Utc.from_utc_datetime(&first.and_time(NaiveTime::MIN))
    }

    /// "2026-11".
    pub fn iso(self) -> String {
        format!("{:04}-{:02}", self.year, self.month)
    }

    /// "Nov".
    pub fn short_name(self) -> &'static str {
        MONTH_NAMES[(self.month - 1) as usize]
    }

    /// "Nov 2026".
    pub fn label(self) -> String {
        format!("{} {}", self.short_name(), self.year)
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.short_name(), self.year)
    }
}

/// Months from `from` to `to`, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonthRange {
    pub from: Month,
    pub to: Month,
}

impl MonthRange {
    pub fn new(from: Month, to: Month) -> Result<MonthRange, String> {
        if to < from {
            return Err(format!("The last month ({to}) is before the first ({from}): swap them."));
        }
        let range = MonthRange { from, to };
        if range.len() > MAX_MONTHS as usize {
            return Err(format!("Choose at most {MAX_MONTHS} months; this range has {}.", range.len()));
        }
        Ok(range)
    }

    /// The last twelve months, this one included, in this time zone.
    pub fn default_for(now: DateTime<Utc>, tz: Tz) -> MonthRange {
        let to = Month::of(now, tz);
        MonthRange { from: to.plus(1 - DEFAULT_MONTHS), to }
    }

    pub fn len(&self) -> usize {
        (self.to.index() - self.from.index() + 1) as usize
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    pub fn months(&self) -> Vec<Month> {
        (self.from.index()..=self.to.index()).map(Month::from_index).collect()
    }

    /// Where this month is in the range, if it is in it.
    pub fn position(&self, m: Month) -> Option<usize> {
        (self.from <= m && m <= self.to).then(|| (m.index() - self.from.index()) as usize)
    }

    /// The first moment of the range, and the first moment after it.
    pub fn bounds(&self, tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
        (self.from.start(tz), self.to.plus(1).start(tz))
    }

    /// "Dec 2025 to Nov 2026" or "Nov 2026".
    pub fn label(&self) -> String {
        if self.from == self.to { self.from.label() } else { format!("{} to {}", self.from, self.to) }
    }
}

/// What the report shows: a range of months and, optionally, one severity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportFilter {
    pub range: MonthRange,
    pub severity: Option<Severity>,
}

impl ReportFilter {
    /// The severities shown, most severe first.
    pub fn severities(&self) -> Vec<Severity> {
        match self.severity {
            Some(s) => vec![s],
            None => Severity::ALL.to_vec(),
        }
    }
}

/// A message per refused field of the report form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilterErrors {
    pub from: Option<String>,
    pub to: Option<String>,
    pub severity: Option<String>,
}

/// Parses the report form. Both months empty: the last twelve months. One
/// empty: twelve months starting (or ending) at the other.
pub fn parse_filter(
    from: &str,
    to: &str,
    severity: &str,
    now: DateTime<Utc>,
    tz: Tz,
) -> Result<ReportFilter, FilterErrors> {
    let mut errors = FilterErrors::default();
    let month = |s: &str, slot: &mut Option<String>| -> Option<Option<Month>> {
        if s.trim().is_empty() {
            return Some(None);
        }
        Month::parse(s).map(Some).map_err(|e| *slot = Some(e)).ok()
    };
    let from = month(from, &mut errors.from);
    let to = month(to, &mut errors.to);
    let severity = match severity.trim() {
        "" | "all" => Some(None),
        s => Severity::parse(s).map(Some).map_err(|e| errors.severity = Some(e)).ok(),
    };
    let (Some(from), Some(to), Some(severity)) = (from, to, severity) else {
        return Err(errors);
    };
    let span = DEFAULT_MONTHS - 1;
    let range = match (from, to) {
        (None, None) => Ok(MonthRange::default_for(now, tz)),
        (Some(f), None) => MonthRange::new(f, f.plus(span)),
        (None, Some(t)) => MonthRange::new(t.plus(-span), t),
        (Some(f), Some(t)) => MonthRange::new(f, t),
    };
    match range {
        Ok(range) => Ok(ReportFilter { range, severity }),
        Err(e) => Err(FilterErrors { to: Some(e), ..errors }),
    }
}

/// One incident, as far as reports are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IncidentFacts {
    pub severity: Severity,
    pub detection_source: DetectionSource,
    pub timestamps: Timestamps,
    /// Follow-up tasks still open or in progress.
    pub open_followups: u64,
    /// Of those, the ones past their due date.
    pub overdue_followups: u64,
}

/// How incidents were detected: automatically, by customers, or by staff or otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Detection {
    pub alert: usize,
    pub customer: usize,
    pub staff_or_other: usize,
}

impl Detection {
    pub fn total(&self) -> usize {
        self.alert + self.customer + self.staff_or_other
    }
}

/// `part` of `whole` in whole percent, rounded half up; `None` of nothing.
pub fn percent(part: usize, whole: usize) -> Option<u32> {
    (whole > 0).then(|| ((part * 200 + whole) / (2 * whole)) as u32)
}

/// The numbers of one cell of the report: some incidents (a month and a
/// severity, a whole month, or the whole range).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Bucket {
    pub incidents: usize,
    pub time_to_detect: Summary,
    pub time_to_acknowledge: Summary,
    pub time_to_mitigate: Summary,
    pub time_to_resolve: Summary,
    pub detection: Detection,
    pub open_followups: u64,
    pub overdue_followups: u64,
}

impl Bucket {
    pub fn of<'a>(incidents: impl IntoIterator<Item = &'a IncidentFacts>) -> Bucket {
        let incidents: Vec<&IncidentFacts> = incidents.into_iter().collect();
        let metrics: Vec<IncidentMetrics> = incidents.iter().map(|i| IncidentMetrics::of(&i.timestamps)).collect();
        let mut detection = Detection::default();
        for i in &incidents {
            match i.detection_source {
                DetectionSource::Alert => detection.alert += 1,
                DetectionSource::Customer => detection.customer += 1,
                DetectionSource::Staff | DetectionSource::Other => detection.staff_or_other += 1,
            }
        }
        Bucket {
            incidents: incidents.len(),
            time_to_detect: Summary::of(metrics.iter().map(|m| m.time_to_detect)),
            time_to_acknowledge: Summary::of(metrics.iter().map(|m| m.time_to_acknowledge)),
            time_to_mitigate: Summary::of(metrics.iter().map(|m| m.time_to_mitigate)),
            time_to_resolve: Summary::of(metrics.iter().map(|m| m.time_to_resolve)),
            detection,
            open_followups: incidents.iter().map(|i| i.open_followups).sum(),
            overdue_followups: incidents.iter().map(|i| i.overdue_followups).sum(),
        }
    }
}

/// One row of the report: a month (or the whole range), all severities
/// together and each shown severity on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub all: Bucket,
    /// One per shown severity, in the order of `Report::severities`.
    pub by_severity: Vec<(Severity, Bucket)>,
}

impl Row {
    fn of(incidents: &[&IncidentFacts], severities: &[Severity]) -> Row {
        Row {
            all: Bucket::of(incidents.iter().copied()),
            by_severity: severities
                .iter()
                .map(|&s| (s, Bucket::of(incidents.iter().copied().filter(|i| i.severity == s))))
                .collect(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub range: MonthRange,
    pub severities: Vec<Severity>,
    /// Every month of the range, oldest first, empty ones included.
    pub months: Vec<(Month, Row)>,
    /// The whole range.
    pub total: Row,
}

impl Report {
    /// Groups incidents (each with the moment it was declared) by month in
    /// `tz` and by severity. Incidents outside the range or of a severity not
    /// shown are left out.
    pub fn build(filter: &ReportFilter, tz: Tz, incidents: &[(DateTime<Utc>, IncidentFacts)]) -> Report {
        let severities = filter.severities();
        let range = filter.range;
        let mut per_month: Vec<Vec<&IncidentFacts>> = vec![Vec::new(); range.len()];
        for (declared_at, facts) in incidents {
            if !severities.contains(&facts.severity) {
                continue;
            }
            if let Some(i) = range.position(Month::of(*declared_at, tz)) {
                per_month[i].push(facts);
            }
        }
        let everything: Vec<&IncidentFacts> = per_month.iter().flatten().copied().collect();
        let total = Row::of(&everything, &severities);
        let months =
            range.months().into_iter().zip(&per_month).map(|(m, list)| (m, Row::of(list, &severities))).collect();
        Report { range, severities, months, total }
    }

    pub fn incidents(&self) -> usize {
        self.total.all.incidents
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).single().expect("a valid time")
    }

    fn month(y: i32, m: u32) -> Month {
        Month::new(y, m).expect("valid")
    }

    /// Impact at `start`, detected +`detect` min, declared +1 min after that,
    /// acknowledged +`ack` min after detection, mitigated / resolved at
    /// +`mitigate` / +`resolve` min after impact.
    fn incident(
        start: DateTime<Utc>,
        severity: i16,
        source: DetectionSource,
        detect: i64,
        ack: Option<i64>,
        mitigate: Option<i64>,
        resolve: Option<i64>,
    ) -> (DateTime<Utc>, IncidentFacts) {
        let detected_at = start + Duration::minutes(detect);
        let declared_at = detected_at + Duration::minutes(1);
        let timestamps = Timestamps {
            impact_started_at: start,
            detected_at,
            declared_at,
            acknowledged_at: ack.map(|m| detected_at + Duration::minutes(m)),
            mitigated_at: mitigate.map(|m| start + Duration::minutes(m)),
            resolved_at: resolve.map(|m| start + Duration::minutes(m)),
            is_resolved: resolve.is_some(),
        };
        let facts = IncidentFacts {
            severity: Severity::new(severity).expect("valid"),
            detection_source: source,
            timestamps,
            open_followups: 0,
            overdue_followups: 0,
        };
        (declared_at, facts)
    }

    fn filter(from: Month, to: Month, severity: Option<i16>) -> ReportFilter {
        ReportFilter { range: MonthRange::new(from, to).expect("valid"), severity: severity.and_then(Severity::new) }
    }

    fn minutes(m: i64) -> Option<Duration> {
        Some(Duration::minutes(m))
    }

    #[test]
    fn months_parse_like_the_month_input_sends_them() {
        assert_eq!(Month::parse("2026-11"), Ok(month(2026, 11)));
        assert_eq!(Month::parse(" 2026-1 "), Ok(month(2026, 1)));
        for bad in ["2026-13", "2026-00", "26-11", "2026/11", "november", "2026-", "-11", "2026-1x", "0999-01"] {
            assert!(Month::parse(bad).is_err(), "{bad}");
        }
        assert!(Month::parse("2026-13").expect_err("refused").contains("2026-13"), "the message names the value");
        assert_eq!(month(2026, 11).iso(), "2026-11");
        assert_eq!(month(2026, 11).label(), "Nov 2026");
        assert_eq!(month(2026, 1).plus(-1), month(2025, 12));
        assert_eq!(month(2025, 12).plus(1), month(2026, 1));
        assert_eq!(month(2026, 3).plus(-15), month(2024, 12));
    }

    #[test]
    fn ranges_are_inclusive_ordered_and_bounded() {
        let r = MonthRange::new(month(2025, 11), month(2026, 2)).expect("valid");
        assert_eq!(r.len(), 4);
        assert_eq!(r.months(), vec![month(2025, 11), month(2025, 12), month(2026, 1), month(2026, 2)]);
        assert_eq!(r.position(month(2026, 1)), Some(2));
        assert_eq!(r.position(month(2026, 3)), None);
        assert_eq!(r.label(), "Nov 2025 to Feb 2026");
        assert!(MonthRange::new(month(2026, 2), month(2026, 1)).expect_err("refused").contains("before"));
        assert!(MonthRange::new(month(2020, 1), month(2025, 1)).expect_err("refused").contains("at most 60"));
        assert!(MonthRange::new(month(2020, 1), month(2024, 12)).is_ok(), "exactly 60 months is fine");
    }

    #[test]
    fn the_default_is_the_last_twelve_months_in_the_viewers_zone() {
        let now = utc(2026, 3, 1, 3, 0);
        let r = MonthRange::default_for(now, Tz::UTC);
        assert_eq!((r.from, r.to), (month(2025, 4), month(2026, 3)));
        // Still February in New York.
        let r = MonthRange::default_for(now, chrono_tz::America::New_York);
        assert_eq!((r.from, r.to), (month(2025, 3), month(2026, 2)));
    }

    #[test]
    fn the_form_is_parsed_with_a_message_per_field() {
        let now = utc(2026, 11, 21, 12, 0);
        let f = parse_filter("", "", "", now, Tz::UTC).expect("valid");
        assert_eq!(f.range, MonthRange::new(month(2025, 12), month(2026, 11)).expect("valid"));
        assert_eq!(f.severity, None);
        assert_eq!(f.severities(), Severity::ALL.to_vec());
        let f = parse_filter("2026-01", "2026-03", "2", now, Tz::UTC).expect("valid");
        assert_eq!(f.range.len(), 3);
        assert_eq!(f.severities(), vec![Severity::new(2).expect("valid")]);
        let f = parse_filter("2024-05", "", "sev1", now, Tz::UTC).expect("valid");
        assert_eq!((f.range.from, f.range.to), (month(2024, 5), month(2025, 4)));
        let f = parse_filter("", "2024-05", "all", now, Tz::UTC).expect("valid");
        assert_eq!((f.range.from, f.range.to), (month(2023, 6), month(2024, 5)));

        let e = parse_filter("2026-13", "soon", "9", now, Tz::UTC).expect_err("refused");
        assert!(e.from.is_some() && e.to.is_some() && e.severity.is_some(), "{e:?}");
        let e = parse_filter("2026-05", "2026-01", "", now, Tz::UTC).expect_err("refused");
        assert_eq!((e.from, e.severity), (None, None));
        assert!(e.to.expect("valid").contains("before"));
        let e = parse_filter("2000-01", "2026-01", "", now, Tz::UTC).expect_err("refused");
        assert!(e.to.expect("valid").contains("at most"));
    }

    #[test]
    fn month_starts_follow_the_time_zone() {
        let paris = chrono_tz::Europe::Paris;
        assert_eq!(month(2026, 3).start(paris), utc(2026, 2, 28, 23, 0));
        assert_eq!(month(2026, 7).start(paris), utc(2026, 6, 30, 22, 0), "summer time");
        assert_eq!(month(2026, 3).start(Tz::UTC), utc(2026, 3, 1, 0, 0));
        // Asunción moved its clocks forward at midnight on 2017-10-01: local
        // midnight never happened; October began at 01:00 local (04:00 UTC).
        let asuncion = chrono_tz::America::Asuncion;
        let midnight = NaiveDate::from_ymd_opt(2017, 10, 1).expect("valid").and_time(NaiveTime::MIN);
        assert!(asuncion.from_local_datetime(&midnight).earliest().is_none());
        let start = month(2017, 10).start(asuncion);
        assert_eq!(start, utc(2017, 10, 1, 4, 0));
        assert_eq!(Month::of(start, asuncion), month(2017, 10));
        assert_eq!(Month::of(start - Duration::seconds(1), asuncion), month(2017, 9));
        let (from, until) = MonthRange::new(month(2026, 1), month(2026, 2)).expect("valid").bounds(paris);
        assert_eq!((from, until), (utc(2025, 12, 31, 23, 0), utc(2026, 2, 28, 23, 0)));
    }

    #[test]
    fn incidents_fall_in_the_month_they_were_declared_in_the_viewers_zone() {
        // Declared 2026-03-01 00:30 UTC: March in London, February in New York.
        let (declared, facts) =
            incident(utc(2026, 3, 1, 0, 0), 2, DetectionSource::Alert, 29, Some(5), Some(30), Some(60));
        assert_eq!(declared, utc(2026, 3, 1, 0, 30));
        let f = filter(month(2026, 2), month(2026, 3), None);
        let counts = |r: &Report| r.months.iter().map(|(_, row)| row.all.incidents).collect::<Vec<_>>();
        let london = Report::build(&f, chrono_tz::Europe::London, &[(declared, facts)]);
        assert_eq!(counts(&london), vec![0, 1]);
        let new_york = Report::build(&f, chrono_tz::America::New_York, &[(declared, facts)]);
        assert_eq!(counts(&new_york), vec![1, 0]);
        // Declared 2026-01-31 23:30 UTC: still January in UTC, February in Paris
        // (and outside a range that ends in January).
        let late = (utc(2026, 1, 31, 23, 30), facts);
        let f = filter(month(2026, 1), month(2026, 1), None);
        assert_eq!(Report::build(&f, Tz::UTC, &[late]).incidents(), 1);
        assert_eq!(Report::build(&f, chrono_tz::Europe::Paris, &[late]).incidents(), 0);
    }

    #[test]
    fn empty_months_appear_with_zeros() {
        let f = filter(month(2026, 1), month(2026, 4), None);
        let only = incident(utc(2026, 3, 10, 9, 0), 1, DetectionSource::Alert, 5, Some(5), Some(20), Some(40));
        let r = Report::build(&f, Tz::UTC, &[only]);
        let months: Vec<Month> = r.months.iter().map(|(m, _)| *m).collect();
        assert_eq!(months, vec![month(2026, 1), month(2026, 2), month(2026, 3), month(2026, 4)]);
        let (_, january) = &r.months[0];
        assert_eq!(january.all, Bucket::default());
        assert_eq!(january.by_severity.len(), 4, "every severity has its (empty) cell");
        assert!(january.by_severity.iter().all(|(_, b)| b.incidents == 0 && b.time_to_resolve.median.is_none()));
        assert_eq!(r.months[2].1.all.incidents, 1);
        // Nothing at all: still one row per month.
        let nothing = Report::build(&f, Tz::UTC, &[]);
        assert_eq!(nothing.months.len(), 4);
        assert_eq!(nothing.incidents(), 0);
        assert_eq!(nothing.total.all.detection, Detection::default());
    }

    #[test]
    fn medians_and_means_per_month_and_severity() {
        let f = filter(month(2026, 1), month(2026, 2), None);
        let incidents = [
            incident(utc(2026, 1, 5, 10, 0), 1, DetectionSource::Alert, 10, Some(10), Some(60), Some(120)),
            incident(utc(2026, 1, 20, 8, 0), 1, DetectionSource::Customer, 30, Some(20), Some(120), Some(360)),
            incident(utc(2026, 1, 25, 0, 0), 2, DetectionSource::Alert, 5, Some(10), Some(30), Some(45)),
            incident(utc(2026, 2, 3, 9, 0), 3, DetectionSource::Staff, 20, Some(20), Some(80), Some(100)),
        ];
        let r = Report::build(&f, Tz::UTC, &incidents);
        let (jan, row) = &r.months[0];
        assert_eq!(*jan, month(2026, 1));
        assert_eq!(row.all.incidents, 3);
        assert_eq!(row.all.time_to_detect, Summary { count: 3, median: minutes(10), mean: minutes(15) });
        assert_eq!(row.all.time_to_mitigate.median, minutes(60));
        assert_eq!(row.all.time_to_mitigate.mean, minutes(70));
        assert_eq!(row.all.time_to_resolve.median, minutes(120));
        assert_eq!(row.all.time_to_resolve.mean, minutes(175));
        let (sev1, b) = row.by_severity[0];
        assert_eq!(sev1, Severity::new(1).expect("valid"));
        assert_eq!(b.incidents, 2);
        assert_eq!(b.time_to_acknowledge, Summary { count: 2, median: minutes(15), mean: minutes(15) });
        assert_eq!(b.time_to_resolve.median, minutes(240));
        assert_eq!(row.by_severity[1].1.incidents, 1);
        assert_eq!(row.by_severity[2].1.incidents, 0);
        assert_eq!(r.months[1].1.by_severity[2].1.incidents, 1);
        assert_eq!(r.total.all.incidents, 4);
        assert_eq!(r.total.all.time_to_detect.median, minutes(15), "even count: mean of the middle two");
    }

    #[test]
    fn missing_timestamps_are_left_out_not_counted_as_zero() {
        let f = filter(month(2026, 1), month(2026, 1), None);
        let incidents = [
            incident(utc(2026, 1, 5, 10, 0), 2, DetectionSource::Alert, 10, Some(10), Some(60), Some(120)),
            // Still being worked on: no acknowledgement, mitigation or resolution yet.
            incident(utc(2026, 1, 6, 10, 0), 2, DetectionSource::Alert, 20, None, None, None),
        ];
        let b = Report::build(&f, Tz::UTC, &incidents).months[0].1.all;
        assert_eq!(b.incidents, 2);
        assert_eq!(b.time_to_detect, Summary { count: 2, median: minutes(15), mean: minutes(15) });
        assert_eq!(b.time_to_acknowledge, Summary { count: 1, median: minutes(10), mean: minutes(10) });
        assert_eq!(b.time_to_mitigate, Summary { count: 1, median: minutes(60), mean: minutes(60) });
        assert_eq!(b.time_to_resolve, Summary { count: 1, median: minutes(120), mean: minutes(120) });
    }

    #[test]
    fn a_reopened_incident_has_no_resolve_time_but_keeps_its_mitigation() {
        let f = filter(month(2026, 1), month(2026, 1), None);
        let resolved = incident(utc(2026, 1, 5, 10, 0), 2, DetectionSource::Alert, 10, Some(10), Some(60), Some(120));
        let (at, mut reopened) =
            incident(utc(2026, 1, 8, 10, 0), 2, DetectionSource::Alert, 10, Some(10), Some(30), Some(90));
        reopened.timestamps.is_resolved = false;
        let b = Report::build(&f, Tz::UTC, &[resolved, (at, reopened)]).months[0].1.all;
        assert_eq!(b.time_to_resolve, Summary { count: 1, median: minutes(120), mean: minutes(120) });
        assert_eq!(b.time_to_mitigate, Summary { count: 2, median: minutes(45), mean: minutes(45) });
    }

    #[test]
    fn corrected_timestamps_are_used_and_inconsistent_ones_left_out() {
        let f = filter(month(2026, 1), month(2026, 1), None);
        let (at, mut corrected) =
            incident(utc(2026, 1, 5, 10, 0), 2, DetectionSource::Alert, 10, Some(10), Some(60), Some(120));
        // The lead moved impact start 30 min earlier: detect and resolve grow.
        corrected.timestamps.impact_started_at -= Duration::minutes(30);
        // And detection to after the acknowledgement: no acknowledge time.
        let (at2, mut inconsistent) =
            incident(utc(2026, 1, 6, 10, 0), 2, DetectionSource::Alert, 10, Some(5), Some(60), Some(120));
        inconsistent.timestamps.detected_at += Duration::minutes(10);
        let b = Report::build(&f, Tz::UTC, &[(at, corrected), (at2, inconsistent)]).months[0].1.all;
        assert_eq!(b.time_to_detect, Summary { count: 2, median: minutes(30), mean: minutes(30) });
        assert_eq!(b.time_to_acknowledge, Summary { count: 1, median: minutes(10), mean: minutes(10) });
        assert_eq!(b.time_to_resolve, Summary { count: 2, median: minutes(135), mean: minutes(135) });
    }

    #[test]
    fn detection_shares_and_follow_ups() {
        let f = filter(month(2026, 1), month(2026, 1), None);
        let mut incidents = vec![
            incident(utc(2026, 1, 1, 10, 0), 1, DetectionSource::Alert, 1, None, None, None),
            incident(utc(2026, 1, 2, 10, 0), 2, DetectionSource::Customer, 1, None, None, None),
            incident(utc(2026, 1, 3, 10, 0), 3, DetectionSource::Staff, 1, None, None, None),
        ];
        incidents[0].1.open_followups = 3;
        incidents[0].1.overdue_followups = 1;
        incidents[2].1.open_followups = 2;
        let r = Report::build(&f, Tz::UTC, &incidents);
        let b = r.months[0].1.all;
        assert_eq!(b.detection, Detection { alert: 1, customer: 1, staff_or_other: 1 });
        assert_eq!(percent(b.detection.alert, b.detection.total()), Some(33));
        assert_eq!((b.open_followups, b.overdue_followups), (5, 1));
        assert_eq!(r.months[0].1.by_severity[0].1.open_followups, 3);
        assert_eq!(percent(2, 3), Some(67));
        assert_eq!(percent(1, 2), Some(50));
        assert_eq!(percent(0, 0), None);
        let other = incident(utc(2026, 1, 4, 10, 0), 4, DetectionSource::Other, 1, None, None, None);
        let b = Report::build(&f, Tz::UTC, &[other]).months[0].1.all;
        assert_eq!(b.detection.staff_or_other, 1, "staff and other count together");
    }

    #[test]
    fn the_severity_filter_keeps_one_severity() {
        let f = filter(month(2026, 1), month(2026, 1), Some(2));
        let incidents = [
            incident(utc(2026, 1, 1, 10, 0), 1, DetectionSource::Alert, 1, None, None, None),
            incident(utc(2026, 1, 2, 10, 0), 2, DetectionSource::Customer, 1, None, None, None),
        ];
        let r = Report::build(&f, Tz::UTC, &incidents);
        assert_eq!(r.severities, vec![Severity::new(2).expect("valid")]);
        assert_eq!(r.incidents(), 1);
        assert_eq!(r.months[0].1.by_severity.len(), 1);
        assert_eq!(r.total.all.detection.customer, 1);
    }
}
