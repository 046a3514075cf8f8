//! Uptime from the component status-change log, the way Statuspage counts it:
//! a major outage is full downtime, a partial outage 30% downtime, degraded
//! performance and maintenance count as up. A component's state before its
//! first logged change is that change's old status, from the moment the
//! component was created; days before it existed have no data.

use chrono::{DateTime, Days, NaiveDate, NaiveTime, Utc};

use super::metrics::format_duration;
use super::status::ComponentStatus;

/// The share of a partial outage that counts as downtime.
pub const PARTIAL_OUTAGE_WEIGHT: f64 = 0.3;

/// One logged change of a component's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    pub at: DateTime<Utc>,
    pub old: ComponentStatus,
    pub new: ComponentStatus,
}

/// What a component's log says, as far as the caller loaded it.
#[derive(Debug, Clone, Copy)]
pub struct History<'a> {
    pub created_at: DateTime<Utc>,
    /// The component's state before the first change in `changes`, when an
    /// earlier change (not loaded) says so: that change's new status.
    pub state_before: Option<ComponentStatus>,
    /// Changes, oldest first.
    pub changes: &'a [Change],
    /// The status now (used when the log is empty).
    pub current: ComponentStatus,
}

/// One UTC day of one component.
#[derive(Debug, Clone, PartialEq)]
pub struct Day {
    pub date: NaiveDate,
    /// Seconds of this day the component existed (up to now): 0 means no data.
    pub observed: i64,
    pub major: i64,
    pub partial: i64,
    pub degraded: i64,
    pub maintenance: i64,
    /// The worst state held at any moment of the day; `None` for no data.
    pub worst: Option<ComponentStatus>,
}

impl Day {
    /// Weighted seconds of downtime.
    pub fn downtime(&self) -> f64 {
        self.major as f64 + PARTIAL_OUTAGE_WEIGHT * self.partial as f64
    }

    /// Percentage up, or `None` for a day without data.
    pub fn uptime(&self) -> Option<f64> {
        (self.observed > 0).then(|| 100.0 * (1.0 - self.downtime() / self.observed as f64))
    }

    /// A CSS class for the bar: the worst state's, or "none" without data.
    pub fn css(&self) -> &'static str {
        self.worst.map_or("none", ComponentStatus::css)
    }

    /// What the bar says to people who cannot see its colour, e.g.
    /// "Nov 3: 99.2% uptime, partial outage 2 h".
    pub fn describe(&self) -> String {
        let date = self.date.format("%b %-d");
        let Some(uptime) = self.uptime() else { return format!("{date}: no data") };
        let mut text = format!("{date}: {} uptime", format_percent(uptime, 2));
        for (secs, what) in [
            (self.major, "major outage"),
            (self.partial, "partial outage"),
            (self.degraded, "degraded performance"),
            (self.maintenance, "maintenance"),
        ] {
            if secs > 0 {
                text.push_str(&format!(", {what} {}", format_duration(chrono::Duration::seconds(secs))));
            }
        }
        text
    }
}

/// The last `days` UTC days ending with `now`'s day, oldest first.
pub fn daily(history: &History<'_>, days: u32, now: DateTime<Utc>) -> Vec<Day> {
    let today = now.date_naive();
    let first = today.checked_sub_days(Days::new(u64::from(days.saturating_sub(1)))).unwrap_or(today);
    let mut out: Vec<Day> = (0..days)
        .filter_map(|i| first.checked_add_days(Days::new(u64::from(i))))
        .map(|date| Day { date, observed: 0, major: 0, partial: 0, degraded: 0, maintenance: 0, worst: None })
        .collect();
    let window_start = day_start(first);
    for (from, until, state) in segments(history, now) {
        let from = from.max(window_start);
        if until <= from {
            continue;
        }
        // Spread the segment over the days it touches.
        let mut at = from;
        while at < until {
            let date = at.date_naive();
            let next_day = date.checked_add_days(Days::new(1)).map_or(until, day_start);
            let end = until.min(next_day);
            let secs = (end - at).num_seconds();
            let index: Option<usize> = date.signed_duration_since(first).num_days().try_into().ok();
            if let Some(day) = index.and_then(|i| out.get_mut(i)).filter(|_| secs > 0) {
                day.observed += secs;
                match state {
                    ComponentStatus::MajorOutage => day.major += secs,
                    ComponentStatus::PartialOutage => day.partial += secs,
                    ComponentStatus::DegradedPerformance => day.degraded += secs,
                    ComponentStatus::UnderMaintenance => day.maintenance += secs,
                    ComponentStatus::Operational => {}
                }
                if day.worst.is_none_or(|w| state.rank() > w.rank()) {
                    day.worst = Some(state);
                }
            }
            at = end;
        }
    }
    out
}

/// Uptime over several days, weighted by how long each was observed.
pub fn percentage(days: &[Day]) -> Option<f64> {
    let observed: i64 = days.iter().map(|d| d.observed).sum();
    let down: f64 = days.iter().map(Day::downtime).sum();
    (observed > 0).then(|| 100.0 * (1.0 - down / observed as f64))
}

/// "99.98%", rounded down so any downtime never shows as 100%; trailing
/// zeros dropped ("100%", "99.2%").
pub fn format_percent(value: f64, decimals: u32) -> String {
    let scale = 10f64.powi(decimals as i32);
    // The epsilon keeps 99.2 from flooring to 99.19 through binary rounding.
    let floored = (value * scale + 1e-9).floor() / scale;
    let text = format!("{floored:.prec$}", prec = decimals as usize);
    let text = if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_owned() } else { text };
    format!("{text}%")
}

fn day_start(date: NaiveDate) -> DateTime<Utc> {
    date.and_time(NaiveTime::MIN).and_utc()
}

/// The component's states as (from, until, state), from its creation to `now`.
fn segments(history: &History<'_>, now: DateTime<Utc>) -> Vec<(DateTime<Utc>, DateTime<Utc>, ComponentStatus)> {
    let mut state = history.state_before.or(history.changes.first().map(|c| c.old)).unwrap_or(history.current);
    let mut from = history.created_at;
    let mut out = Vec::with_capacity(history.changes.len() + 1);
    for change in history.changes {
        let at = change.at.min(now);
        if at > from {
            out.push((from, at, state));
        }
        from = from.max(at);
        state = change.new;
    }
    if now > from {
        out.push((from, now, state));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ComponentStatus::*;
    use chrono::TimeZone;

    fn t(d: u32, h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, d, h, m, 0).single().expect("valid time")
    }

    fn change(at: DateTime<Utc>, old: ComponentStatus, new: ComponentStatus) -> Change {
        Change { at, old, new }
    }

    #[test]
    fn a_quiet_component_is_fully_up_and_days_before_it_existed_have_no_data() {
        let h = History { created_at: t(2, 12, 0), state_before: None, changes: &[], current: Operational };
        let days = daily(&h, 4, t(4, 6, 0));
        assert_eq!(days.len(), 4);
        assert_eq!(days[0].date, t(1, 0, 0).date_naive());
        assert_eq!(days[0].uptime(), None);
        assert_eq!(days[0].css(), "none");
        assert_eq!(days[0].describe(), "Nov 1: no data");
        assert_eq!(days[1].observed, 12 * 3600, "from creation at noon");
        assert_eq!(days[3].observed, 6 * 3600, "today until now");
        assert_eq!(days[2].uptime(), Some(100.0));
        assert_eq!(days[2].css(), "operational");
        assert_eq!(days[2].describe(), "Nov 3: 100% uptime");
        assert_eq!(percentage(&days), Some(100.0));
    }

    #[test]
    fn the_state_before_the_first_change_is_its_old_status() {
        // Created in a major outage (the log says so), fixed at 06:00 on the 3rd.
        let changes = [change(t(3, 6, 0), MajorOutage, Operational)];
        let h = History { created_at: t(3, 0, 0), state_before: None, changes: &changes, current: Operational };
        let days = daily(&h, 1, t(3, 12, 0));
        assert_eq!(days[0].major, 6 * 3600);
        assert_eq!(days[0].uptime(), Some(50.0));
        assert_eq!(days[0].css(), "major");
        assert_eq!(days[0].describe(), "Nov 3: 50% uptime, major outage 6 h");
    }

    #[test]
    fn partial_outages_count_thirty_percent_and_degraded_or_maintenance_count_as_up() {
        let changes = [
            change(t(3, 2, 0), Operational, PartialOutage),
            change(t(3, 4, 0), PartialOutage, DegradedPerformance),
            change(t(3, 5, 0), DegradedPerformance, UnderMaintenance),
            change(t(3, 5, 30), UnderMaintenance, Operational),
        ];
        let h = History { created_at: t(1, 0, 0), state_before: None, changes: &changes, current: Operational };
        let days = daily(&h, 2, t(4, 0, 0) + chrono::Duration::seconds(1));
        let day = &days[0];
        assert_eq!(day.partial, 2 * 3600);
        assert_eq!(day.degraded, 3600);
        assert_eq!(day.maintenance, 1800);
        let expected = 100.0 * (1.0 - 0.3 * 7200.0 / 86400.0);
        assert!((day.uptime().expect("data") - expected).abs() < 1e-9);
        assert_eq!(day.css(), "partial", "the worst state of the day");
        assert_eq!(
            day.describe(),
            "Nov 3: 97.5% uptime, partial outage 2 h, degraded performance 1 h, maintenance 30 min"
        );
    }

    #[test]
    fn an_outage_over_midnight_is_split_between_the_days() {
        let changes = [change(t(2, 23, 0), Operational, MajorOutage), change(t(3, 1, 0), MajorOutage, Operational)];
        let h = History { created_at: t(1, 0, 0), state_before: None, changes: &changes, current: Operational };
        let days = daily(&h, 3, t(3, 23, 59));
        assert_eq!(days[0].major, 0);
        assert_eq!(days[1].major, 3600);
        assert_eq!(days[2].major, 3600);
        assert_eq!(days[2].date, t(3, 0, 0).date_naive());
    }

    #[test]
    fn an_earlier_change_outside_the_window_sets_the_starting_state() {
        // The component went down before the window and is still down.
        let h = History { created_at: t(1, 0, 0), state_before: Some(MajorOutage), changes: &[], current: MajorOutage };
        let days = daily(&h, 2, t(5, 12, 0));
        assert_eq!(days[0].date, t(4, 0, 0).date_naive());
        assert_eq!(days[0].uptime(), Some(0.0));
        assert_eq!(percentage(&days), Some(0.0));
    }

    #[test]
    fn an_ongoing_outage_counts_until_now() {
        let changes = [change(t(3, 10, 0), Operational, PartialOutage)];
        let h = History { created_at: t(1, 0, 0), state_before: None, changes: &changes, current: PartialOutage };
        let days = daily(&h, 1, t(3, 12, 0));
        assert_eq!(days[0].partial, 7200);
        assert_eq!(days[0].observed, 12 * 3600);
    }

    #[test]
    fn percentages_round_down_so_downtime_never_shows_as_a_hundred() {
        assert_eq!(format_percent(100.0, 2), "100%");
        assert_eq!(format_percent(99.99999, 2), "99.99%");
        assert_eq!(format_percent(99.2, 2), "99.2%");
        assert_eq!(format_percent(0.0, 2), "0%");
        assert_eq!(format_duration(chrono::Duration::seconds(40)), "40 s");
        assert_eq!(format_duration(chrono::Duration::seconds(3900)), "1 h 5 min");
    }

    #[test]
    fn no_observed_time_means_no_percentage() {
        assert_eq!(percentage(&[]), None);
    }
}
