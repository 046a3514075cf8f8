//! Who is on call: rotations as pure functions of a schedule.
//!
//! A schedule has a time zone, layers and overrides. A layer is a rotation:
//! participants in order, a first hand-off (a date and a wall-clock time in the
//! schedule's zone), a shift length in hours, days or weeks, and an optional
//! restriction (a daily window on chosen weekdays). Hand-offs happen at
//! wall-clock times: a 24-hour shift across the spring-forward night lasts 23
//! real hours, and the next hand-off is again at 09:00. A wall-clock time that
//! does not exist (inside the spring-forward gap) moves forward by the gap; one
//! that happens twice (the fall-back hour) is the first of the two.
//!
//! Where several layers cover an instant the later layer wins; an override
//! covering the instant wins over every layer (the later override over the
//! earlier). Nothing here knows a database: participants are any `Clone + Eq`.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

/// The longest span `shifts` computes, so a request can never ask for unbounded work.
pub const MAX_SPAN: Duration = Duration::days(400);

/// The unit of a layer's shift length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShiftUnit {
    Hours,
    Days,
    Weeks,
}

impl ShiftUnit {
    pub fn as_str(self) -> &'static str {
        match self {
            ShiftUnit::Hours => "hours",
            ShiftUnit::Days => "days",
            ShiftUnit::Weeks => "weeks",
        }
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim() {
            "hours" => Ok(ShiftUnit::Hours),
            "days" => Ok(ShiftUnit::Days),
            "weeks" => Ok(ShiftUnit::Weeks),
            other => Err(format!("{other:?} is not a shift unit: choose hours, days or weeks")),
        }
    }

    fn length(self, n: u32) -> Duration {
        match self {
            ShiftUnit::Hours => Duration::hours(i64::from(n)),
            ShiftUnit::Days => Duration::days(i64::from(n)),
            ShiftUnit::Weeks => Duration::weeks(i64::from(n)),
        }
    }
}

/// A daily window in the schedule's zone, on some weekdays: "weekdays
/// 09:00–17:00", or "every night 22:00–07:00" (an end at or before the start
/// runs into the next day). A window belongs to the weekday it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restriction {
    /// Monday first.
    pub weekdays: [bool; 7],
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl Restriction {
    pub fn weekdays_only(start: NaiveTime, end: NaiveTime) -> Self {
        Restriction { weekdays: [true, true, true, true, true, false, false], start, end }
    }

    pub fn every_day(start: NaiveTime, end: NaiveTime) -> Self {
        Restriction { weekdays: [true; 7], start, end }
    }

    fn applies_on(&self, day: Weekday) -> bool {
        self.weekdays[day.num_days_from_monday() as usize]
    }

    /// The window that starts on `day`, if the restriction applies that day.
    fn window(&self, tz: Tz, day: NaiveDate) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        if !self.applies_on(day.weekday()) {
            return None;
        }
        let end_day = if self.end <= self.start { day.succ_opt()? } else { day };
        Some((localize(tz, day.and_time(self.start)), localize(tz, end_day.and_time(self.end))))
    }

    fn covers(&self, tz: Tz, at: DateTime<Utc>) -> bool {
        let today = at.with_timezone(&tz).date_naive();
        [today.pred_opt(), Some(today)]
            .into_iter()
            .flatten()
            .filter_map(|d| self.window(tz, d))
            .any(|(s, e)| s <= at && at < e)
    }
}

/// One rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer<U> {
    /// In rotation order; the first takes the first shift.
    pub participants: Vec<U>,
    pub start_date: NaiveDate,
    /// The wall-clock time of every hand-off.
    pub handoff: NaiveTime,
    /// At least 1.
    pub shift_length: u32,
    pub unit: ShiftUnit,
    pub restriction: Option<Restriction>,
}

impl<U: Clone + PartialEq> Layer<U> {
    fn first_handoff_local(&self) -> NaiveDateTime {
        self.start_date.and_time(self.handoff)
    }

    fn step(&self) -> Duration {
        self.unit.length(self.shift_length.max(1))
    }

    /// The instant of the `k`-th hand-off (k = 0 is the layer's start).
    fn boundary(&self, tz: Tz, k: i64) -> DateTime<Utc> {
        let local = self.first_handoff_local() + self.step() * i32::try_from(k).unwrap_or(i32::MAX);
        localize(tz, local)
    }

    /// The index of the shift holding `at`, or `None` before the layer starts.
    fn shift_index(&self, tz: Tz, at: DateTime<Utc>) -> Option<i64> {
        if at < self.boundary(tz, 0) {
            return None;
        }
        let elapsed = at.with_timezone(&tz).naive_local() - self.first_handoff_local();
        let step = self.step().num_seconds().max(1);
        let mut k = elapsed.num_seconds().div_euclid(step).max(0);
        // The wall-clock estimate is off by at most one around DST changes.
        while k > 0 && self.boundary(tz, k) > at {
            k -= 1;
        }
        while self.boundary(tz, k + 1) <= at {
            k += 1;
        }
        Some(k)
    }

    /// Who this layer puts on call at `at`, if anyone.
    pub fn on_call_at(&self, tz: Tz, at: DateTime<Utc>) -> Option<&U> {
        if self.participants.is_empty() {
            return None;
        }
        let k = self.shift_index(tz, at)?;
        if let Some(r) = &self.restriction
            && !r.covers(tz, at)
        {
            return None;
        }
        let n = i64::try_from(self.participants.len()).ok()?;
        self.participants.get(usize::try_from(k.rem_euclid(n)).ok()?)
    }

    /// Every instant in `[from, to)` at which this layer's answer may change.
    fn change_points(&self, tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>, out: &mut Vec<DateTime<Utc>>) {
        if self.participants.is_empty() {
            return;
        }
        let mut k = self.shift_index(tz, from).unwrap_or(0);
        loop {
            let b = self.boundary(tz, k);
            if b >= to {
                break;
            }
            if b >= from {
                out.push(b);
            }
            k += 1;
        }
        if let Some(r) = &self.restriction {
            let mut day = from.with_timezone(&tz).date_naive().pred_opt().unwrap_or(NaiveDate::MIN);
            let last = to.with_timezone(&tz).date_naive();
            while day <= last {
                if let Some((s, e)) = r.window(tz, day) {
                    out.extend([s, e].into_iter().filter(|t| *t >= from && *t < to));
                }
                match day.succ_opt() {
                    Some(d) => day = d,
                    None => break,
                }
            }
        }
    }
}

/// Someone covers `[start, end)` instead of whoever the layers name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override<U> {
    pub user: U,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// A schedule: its zone, its layers (later wins) and overrides (later wins).
#[derive(Debug, Clone)]
pub struct Rotation<U> {
    pub tz: Tz,
    pub layers: Vec<Layer<U>>,
    pub overrides: Vec<Override<U>>,
}

/// A stretch of time one person is on call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shift<U> {
    pub user: U,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl<U: Clone + PartialEq> Rotation<U> {
    /// Who is on call at `at`.
    pub fn on_call_at(&self, at: DateTime<Utc>) -> Option<U> {
        if let Some(o) = self.overrides.iter().rev().find(|o| o.start <= at && at < o.end) {
            return Some(o.user.clone());
        }
        self.layers.iter().rev().find_map(|l| l.on_call_at(self.tz, at)).cloned()
    }

    /// The shifts in `[from, to)`, cut at `from` and `to`; adjacent stretches
    /// of one person are one shift. Spans beyond `MAX_SPAN` are cut short.
    pub fn shifts(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Shift<U>> {
        let to = to.min(from + MAX_SPAN);
        if to <= from {
            return Vec::new();
        }
        let mut points = vec![from];
        for layer in &self.layers {
            layer.change_points(self.tz, from, to, &mut points);
        }
        for o in &self.overrides {
            points.extend([o.start, o.end].into_iter().filter(|t| *t >= from && *t < to));
        }
        points.sort();
        points.dedup();
        let mut shifts: Vec<Shift<U>> = Vec::new();
        for (i, &p) in points.iter().enumerate() {
            let end = points.get(i + 1).copied().unwrap_or(to);
            let Some(user) = self.on_call_at(p) else { continue };
            match shifts.last_mut() {
                Some(last) if last.end == p && last.user == user => last.end = end,
                _ => shifts.push(Shift { user, start: p, end }),
            }
        }
        shifts
    }

    /// The shift holding `at` and the next one after it (looking `horizon` ahead).
    pub fn now_and_next(&self, at: DateTime<Utc>, horizon: Duration) -> (Option<Shift<U>>, Option<Shift<U>>) {
        let shifts = self.shifts(at, at + horizon);
        let mut it = shifts.into_iter();
        match it.next() {
            Some(first) if first.start == at => (Some(first), it.next()),
            Some(first) => (None, Some(first)),
            None => (None, None),
        }
    }
}

/// The instant a wall-clock time in `tz` names: the earlier of two in the
/// fall-back hour; moved forward by the gap inside the spring-forward gap.
pub fn localize(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    use chrono::offset::LocalResult;
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(a, b) => a.min(b).with_timezone(&Utc),
        LocalResult::None => {
            // Read the time with the offset in force before the gap.
            let before = tz.offset_from_utc_datetime(&(local - Duration::days(1)));
            let offset = chrono::Offset::fix(&before);
            (local - Duration::seconds(i64::from(offset.local_minus_utc()))).and_utc()
        }
    }
}

/// Where an escalation stands: which step, and how many times the policy ran through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EscalationPosition {
    pub step: u32,
    pub repeat: u32,
}

/// The position after `at` once its wait is over: the next step, or the first
/// step again while repeats remain; `None` when the policy is exhausted.
/// `repeats` is how many more times the whole policy runs after the first pass.
pub fn next_step(at: EscalationPosition, steps: u32, repeats: u32) -> Option<EscalationPosition> {
    if steps == 0 {
        return None;
    }
    if at.step + 1 < steps {
        Some(EscalationPosition { step: at.step + 1, repeat: at.repeat })
    } else if at.repeat < repeats {
        Some(EscalationPosition { step: 0, repeat: at.repeat + 1 })
    } else {
        None
    }
}

/// When a message to a contact method may go out: at most one a minute per
/// method. Messages due inside the minute after the last one wait and are sent
/// together ("3 incidents need you").
pub fn next_send_time(last_sent: Option<DateTime<Utc>>, due: DateTime<Utc>, gap: Duration) -> DateTime<Utc> {
    match last_sent {
        Some(last) if last + gap > due => last + gap,
        _ => due,
    }
}

/// The subject of a message that folds pages for several incidents together.
pub fn folded_subject(titles: &[String]) -> String {
    match titles {
        [] => "Nothing needs you".to_owned(),
        [one] => format!("Page: {one}"),
        many => format!("{} incidents need you", many.len()),
    }
}

/// Is `at` during the night (22:00–07:00) in `tz`? For the "pages at night" report.
pub fn is_night(tz: Tz, at: DateTime<Utc>) -> bool {
    use chrono::Timelike;
    let h = at.with_timezone(&tz).hour();
    !(7..22).contains(&h)
}

/// The nearest-rank percentile `p` (0–100) of some values, `None` when there are none.
pub fn percentile(values: &[i64], p: u32) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let rank = (u64::from(p.min(100)) * sorted.len() as u64).div_ceil(100).max(1);
    sorted.get(usize::try_from(rank - 1).ok()?).copied()
}

/// One shift in a calendar feed.
#[derive(Debug, Clone)]
pub struct FeedShift {
    /// Stable for this shift: the same schedule, person and start give the same UID.
    pub uid: String,
    pub summary: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// An RFC 5545 calendar of shifts (a subscription feed: no METHOD), times in
/// UTC, CRLF line ends, folded lines. It says nothing beyond names and times.
pub fn shifts_ics(name: &str, shifts: &[FeedShift], stamp: DateTime<Utc>) -> String {
    use super::calendar::{escape_text, fold, utc_stamp};
    let mut out = String::new();
    for line in [
        "BEGIN:VCALENDAR".to_owned(),
        "VERSION:2.0".to_owned(),
        "PRODID:-//Firebreak//On-call shifts//EN".to_owned(),
        "CALSCALE:GREGORIAN".to_owned(),
        format!("X-WR-CALNAME:{}", escape_text(name)),
    ] {
        out.push_str(&fold(&line));
    }
    for s in shifts {
        for line in [
            "BEGIN:VEVENT".to_owned(),
            format!("UID:{}", s.uid),
            format!("DTSTAMP:{}", utc_stamp(stamp)),
            format!("DTSTART:{}", utc_stamp(s.start)),
            format!("DTEND:{}", utc_stamp(s.end)),
            format!("SUMMARY:{}", escape_text(&s.summary)),
            "TRANSP:TRANSPARENT".to_owned(),
            "END:VEVENT".to_owned(),
        ] {
            out.push_str(&fold(&line));
        }
    }
    out.push_str(&fold("END:VCALENDAR"));
    out
}

#[cfg(test)]
mod tests {
    use chrono_tz::Europe::Berlin;

    use super::*;

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).single().expect("valid time")
    }

    fn time(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).expect("valid time")
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    fn daily(people: &[&'static str], start: NaiveDate, handoff: NaiveTime) -> Layer<&'static str> {
        Layer {
            participants: people.to_vec(),
            start_date: start,
            handoff,
            shift_length: 1,
            unit: ShiftUnit::Days,
            restriction: None,
        }
    }

    fn rotation(layers: Vec<Layer<&'static str>>) -> Rotation<&'static str> {
        Rotation { tz: Berlin, layers, overrides: Vec::new() }
    }

    #[test]
    fn a_daily_rotation_hands_off_at_the_wall_clock_time() {
        let r = rotation(vec![daily(&["ann", "bob", "cy"], date(2026, 1, 5), time(9, 0))]);
        // 09:00 in Berlin in winter is 08:00 UTC.
        assert_eq!(r.on_call_at(utc(2026, 1, 5, 8, 0)), Some("ann"));
        assert_eq!(r.on_call_at(utc(2026, 1, 6, 7, 59)), Some("ann"));
        assert_eq!(r.on_call_at(utc(2026, 1, 6, 8, 0)), Some("bob"));
        assert_eq!(r.on_call_at(utc(2026, 1, 7, 8, 0)), Some("cy"));
        assert_eq!(r.on_call_at(utc(2026, 1, 8, 8, 0)), Some("ann"));
    }

    #[test]
    fn a_24_hour_shift_over_the_spring_forward_night_lasts_23_hours() {
        // Berlin springs forward on 29 March 2026 at 02:00 -> 03:00.
        let r = rotation(vec![daily(&["ann", "bob"], date(2026, 3, 28), time(9, 0))]);
        let shifts = r.shifts(utc(2026, 3, 28, 8, 0), utc(2026, 3, 30, 12, 0));
        assert_eq!(shifts[0].user, "ann");
        assert_eq!(shifts[0].start, utc(2026, 3, 28, 8, 0));
        // Hand-off still at 09:00 local, now 07:00 UTC: 23 real hours.
        assert_eq!(shifts[0].end, utc(2026, 3, 29, 7, 0));
        assert_eq!(shifts[0].end - shifts[0].start, Duration::hours(23));
        assert_eq!(shifts[1].user, "bob");
        assert_eq!(shifts[1].end - shifts[1].start, Duration::hours(24));
    }

    #[test]
    fn a_24_hour_shift_over_the_fall_back_night_lasts_25_hours() {
        // Berlin falls back on 25 October 2026 at 03:00 -> 02:00.
        let r = rotation(vec![daily(&["ann", "bob"], date(2026, 10, 24), time(9, 0))]);
        let shifts = r.shifts(utc(2026, 10, 24, 7, 0), utc(2026, 10, 26, 12, 0));
        assert_eq!(shifts[0].user, "ann");
        assert_eq!(shifts[0].end, utc(2026, 10, 25, 8, 0));
        assert_eq!(shifts[0].end - shifts[0].start, Duration::hours(25));
        assert_eq!(r.on_call_at(utc(2026, 10, 25, 7, 59)), Some("ann"));
        assert_eq!(r.on_call_at(utc(2026, 10, 25, 8, 0)), Some("bob"));
    }

    #[test]
    fn a_hand_off_inside_the_spring_forward_gap_moves_forward_by_the_gap() {
        let r = rotation(vec![daily(&["ann", "bob"], date(2026, 3, 28), time(2, 30))]);
        // 02:30 does not exist on 29 March; the hand-off is at 03:30 CEST = 01:30 UTC.
        assert_eq!(r.on_call_at(utc(2026, 3, 29, 1, 29)), Some("ann"));
        assert_eq!(r.on_call_at(utc(2026, 3, 29, 1, 30)), Some("bob"));
        // And back at 02:30 local the day after (00:30 UTC).
        assert_eq!(r.on_call_at(utc(2026, 3, 30, 0, 30)), Some("ann"));
    }

    #[test]
    fn a_hand_off_in_the_repeated_fall_back_hour_is_the_first_of_the_two() {
        let r = rotation(vec![daily(&["ann", "bob"], date(2026, 10, 24), time(2, 30))]);
        // 02:30 happens twice on 25 October: first at 00:30 UTC (CEST).
        assert_eq!(r.on_call_at(utc(2026, 10, 25, 0, 29)), Some("ann"));
        assert_eq!(r.on_call_at(utc(2026, 10, 25, 0, 30)), Some("bob"));
        assert_eq!(r.on_call_at(utc(2026, 10, 25, 1, 30)), Some("bob"));
    }

    #[test]
    fn hourly_shifts_follow_the_wall_clock_too() {
        let mut layer = daily(&["ann", "bob"], date(2026, 3, 29), time(0, 0));
        layer.shift_length = 12;
        layer.unit = ShiftUnit::Hours;
        let r = rotation(vec![layer]);
        let shifts = r.shifts(utc(2026, 3, 28, 23, 0), utc(2026, 3, 29, 22, 0));
        // 00:00 -> 12:00 local spans the gap: 11 real hours.
        assert_eq!(shifts[0].user, "ann");
        assert_eq!(shifts[0].end - shifts[0].start, Duration::hours(11));
        assert_eq!(shifts[1].user, "bob");
        assert_eq!(shifts[1].start, utc(2026, 3, 29, 10, 0));
    }

    #[test]
    fn weekly_shifts_rotate_every_seven_days() {
        let mut layer = daily(&["ann", "bob"], date(2026, 1, 5), time(9, 0));
        layer.unit = ShiftUnit::Weeks;
        let r = rotation(vec![layer]);
        assert_eq!(r.on_call_at(utc(2026, 1, 11, 12, 0)), Some("ann"));
        assert_eq!(r.on_call_at(utc(2026, 1, 12, 8, 0)), Some("bob"));
        assert_eq!(r.on_call_at(utc(2026, 1, 19, 8, 0)), Some("ann"));
    }

    #[test]
    fn a_layer_starting_in_the_future_puts_nobody_on_call_before_it_starts() {
        let r = rotation(vec![daily(&["ann"], date(2026, 6, 1), time(9, 0))]);
        assert_eq!(r.on_call_at(utc(2026, 5, 31, 12, 0)), None);
        assert_eq!(r.on_call_at(utc(2026, 6, 1, 7, 0)), Some("ann"));
        let shifts = r.shifts(utc(2026, 5, 30, 0, 0), utc(2026, 6, 2, 0, 0));
        assert_eq!(shifts, vec![Shift { user: "ann", start: utc(2026, 6, 1, 7, 0), end: utc(2026, 6, 2, 0, 0) }]);
    }

    #[test]
    fn an_empty_layer_puts_nobody_on_call_and_lets_earlier_layers_show() {
        let base = daily(&["ann"], date(2026, 1, 1), time(9, 0));
        let empty = daily(&[], date(2026, 1, 1), time(9, 0));
        let r = rotation(vec![base, empty.clone()]);
        assert_eq!(r.on_call_at(utc(2026, 1, 10, 12, 0)), Some("ann"));
        assert_eq!(rotation(vec![empty]).on_call_at(utc(2026, 1, 10, 12, 0)), None);
        assert!(rotation(vec![]).shifts(utc(2026, 1, 1, 0, 0), utc(2026, 1, 2, 0, 0)).is_empty());
    }

    #[test]
    fn a_later_layer_wins_only_where_its_restriction_covers_time() {
        let base = daily(&["night-owl"], date(2026, 1, 1), time(0, 0));
        let mut office = daily(&["ann", "bob"], date(2026, 1, 5), time(9, 0));
        office.restriction = Some(Restriction::weekdays_only(time(9, 0), time(17, 0)));
        let r = rotation(vec![base, office]);
        // Monday 5 January, 12:00 Berlin = 11:00 UTC.
        assert_eq!(r.on_call_at(utc(2026, 1, 5, 11, 0)), Some("ann"));
        assert_eq!(r.on_call_at(utc(2026, 1, 5, 16, 0)), Some("night-owl"));
        assert_eq!(r.on_call_at(utc(2026, 1, 6, 11, 0)), Some("bob"));
        // Saturday: the restriction does not apply.
        assert_eq!(r.on_call_at(utc(2026, 1, 10, 11, 0)), Some("night-owl"));
        let monday = r.shifts(utc(2026, 1, 5, 0, 0), utc(2026, 1, 6, 0, 0));
        let users: Vec<_> = monday.iter().map(|s| s.user).collect();
        assert_eq!(users, vec!["night-owl", "ann", "night-owl"]);
        assert_eq!(monday[1].start, utc(2026, 1, 5, 8, 0));
        assert_eq!(monday[1].end, utc(2026, 1, 5, 16, 0));
    }

    #[test]
    fn a_night_restriction_runs_past_midnight() {
        let mut nights = daily(&["ann"], date(2026, 1, 1), time(0, 0));
        nights.restriction = Some(Restriction::every_day(time(22, 0), time(7, 0)));
        let r = rotation(vec![nights]);
        assert_eq!(r.on_call_at(utc(2026, 1, 5, 22, 0)), Some("ann")); // 23:00 Berlin
        assert_eq!(r.on_call_at(utc(2026, 1, 6, 5, 0)), Some("ann")); // 06:00 Berlin
        assert_eq!(r.on_call_at(utc(2026, 1, 6, 6, 0)), None); // 07:00 Berlin
    }

    #[test]
    fn an_override_inside_a_shift_splits_it() {
        let mut r = rotation(vec![daily(&["ann", "bob"], date(2026, 1, 5), time(9, 0))]);
        r.overrides.push(Override { user: "cy", start: utc(2026, 1, 5, 12, 0), end: utc(2026, 1, 5, 14, 0) });
        let shifts = r.shifts(utc(2026, 1, 5, 8, 0), utc(2026, 1, 6, 8, 0));
        let got: Vec<_> = shifts.iter().map(|s| (s.user, s.start, s.end)).collect();
        assert_eq!(
            got,
            vec![
                ("ann", utc(2026, 1, 5, 8, 0), utc(2026, 1, 5, 12, 0)),
                ("cy", utc(2026, 1, 5, 12, 0), utc(2026, 1, 5, 14, 0)),
                ("ann", utc(2026, 1, 5, 14, 0), utc(2026, 1, 6, 8, 0)),
            ]
        );
    }

    #[test]
    fn an_override_across_a_hand_off_covers_both_shifts() {
        let mut r = rotation(vec![daily(&["ann", "bob"], date(2026, 1, 5), time(9, 0))]);
        r.overrides.push(Override { user: "cy", start: utc(2026, 1, 5, 20, 0), end: utc(2026, 1, 6, 12, 0) });
        let shifts = r.shifts(utc(2026, 1, 5, 8, 0), utc(2026, 1, 7, 8, 0));
        let got: Vec<_> = shifts.iter().map(|s| (s.user, s.start, s.end)).collect();
        assert_eq!(
            got,
            vec![
                ("ann", utc(2026, 1, 5, 8, 0), utc(2026, 1, 5, 20, 0)),
                ("cy", utc(2026, 1, 5, 20, 0), utc(2026, 1, 6, 12, 0)),
                ("bob", utc(2026, 1, 6, 12, 0), utc(2026, 1, 7, 8, 0)),
            ]
        );
    }

    #[test]
    fn an_override_by_the_person_already_on_call_joins_their_shift() {
        let mut r = rotation(vec![daily(&["ann", "bob"], date(2026, 1, 5), time(9, 0))]);
        r.overrides.push(Override { user: "bob", start: utc(2026, 1, 6, 6, 0), end: utc(2026, 1, 6, 9, 0) });
        let shifts = r.shifts(utc(2026, 1, 5, 8, 0), utc(2026, 1, 7, 8, 0));
        assert_eq!(shifts.len(), 2);
        assert_eq!((shifts[1].user, shifts[1].start), ("bob", utc(2026, 1, 6, 6, 0)));
    }

    #[test]
    fn now_and_next_name_the_current_and_the_following_shift() {
        let r = rotation(vec![daily(&["ann", "bob"], date(2026, 1, 5), time(9, 0))]);
        let (now, next) = r.now_and_next(utc(2026, 1, 5, 12, 0), Duration::days(14));
        assert_eq!(now.map(|s| s.user), Some("ann"));
        let next = next.expect("a next shift");
        assert_eq!((next.user, next.start), ("bob", utc(2026, 1, 6, 8, 0)));
    }

    #[test]
    fn escalation_walks_the_steps_then_repeats_then_stops() {
        let p = |step, repeat| EscalationPosition { step, repeat };
        assert_eq!(next_step(p(0, 0), 2, 1), Some(p(1, 0)));
        assert_eq!(next_step(p(1, 0), 2, 1), Some(p(0, 1)));
        assert_eq!(next_step(p(1, 1), 2, 1), None);
        assert_eq!(next_step(p(0, 0), 0, 3), None);
    }

    #[test]
    fn a_contact_method_gets_at_most_one_message_a_minute() {
        let gap = Duration::minutes(1);
        let t = utc(2026, 1, 5, 12, 0);
        assert_eq!(next_send_time(None, t, gap), t);
        assert_eq!(next_send_time(Some(t - Duration::seconds(20)), t, gap), t + Duration::seconds(40));
        assert_eq!(next_send_time(Some(t - Duration::minutes(5)), t, gap), t);
        assert_eq!(folded_subject(&["a".into(), "b".into(), "c".into()]), "3 incidents need you");
        assert_eq!(folded_subject(&["Checkout down".into()]), "Page: Checkout down");
    }

    #[test]
    fn nights_are_22_to_7_in_the_persons_zone() {
        assert!(is_night(Berlin, utc(2026, 1, 5, 21, 30)));
        assert!(is_night(Berlin, utc(2026, 1, 6, 5, 59)));
        assert!(!is_night(Berlin, utc(2026, 1, 6, 6, 0)));
    }

    #[test]
    fn a_feed_is_crlf_utc_and_names_only_people_and_times() {
        let shift = FeedShift {
            uid: "shift-1-2-1767600000@example.test".into(),
            summary: "On call: Payments, primary (Ann)".into(),
            start: utc(2026, 1, 5, 8, 0),
            end: utc(2026, 1, 6, 8, 0),
        };
        let ics = shifts_ics("Payments", &[shift], utc(2026, 1, 1, 0, 0));
        assert!(ics.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"));
        assert!(ics.contains("DTSTART:20260105T080000Z\r\nDTEND:20260106T080000Z\r\n"));
        assert!(ics.contains("SUMMARY:On call: Payments\\, primary (Ann)\r\n"));
        assert!(ics.ends_with("END:VCALENDAR\r\n"));
        assert!(!ics.replace("\r\n", "").contains('\n'));
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        assert_eq!(percentile(&[], 50), None);
        assert_eq!(percentile(&[30, 10, 20], 50), Some(20));
        let v: Vec<i64> = (1..=10).collect();
        assert_eq!(percentile(&v, 90), Some(9));
        assert_eq!(percentile(&v, 50), Some(5));
        assert_eq!(percentile(&[7], 90), Some(7));
    }

    #[test]
    fn spans_are_bounded() {
        let r = rotation(vec![daily(&["ann", "bob"], date(2026, 1, 1), time(9, 0))]);
        let shifts = r.shifts(utc(2026, 1, 1, 8, 0), utc(2036, 1, 1, 0, 0));
        assert!(shifts.last().is_some_and(|s| s.end <= utc(2026, 1, 1, 8, 0) + MAX_SPAN));
    }
}

/// Whether an outgoing URL (ntfy topic, webhook) may be called: only http(s),
/// and never a loopback, private, link-local or otherwise internal address
/// unless its host is in `allowed_hosts` (set by an admin). `resolved` are the
/// addresses the host name resolved to, checked too (a public name can point
/// inside).
pub fn outgoing_url_allowed(
    url: &url::Url,
    resolved: &[std::net::IpAddr],
    allowed_hosts: &[String],
) -> Result<(), String> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err("Use an https:// (or http://) URL.".into());
    }
    let host = url.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']').to_lowercase();
    if host.is_empty() {
        return Err("The URL needs a host name.".into());
    }
    if super::outgoing::host_allowed(allowed_hosts, &host) {
        return Ok(());
    }
    if host == "localhost" || host.ends_with(".localhost") {
        return Err("Firebreak does not call internal addresses (localhost) unless an admin allows the host.".into());
    }
    let literal = host.parse::<std::net::IpAddr>().ok();
    for ip in literal.iter().chain(resolved) {
        if super::outgoing::is_internal(*ip) {
            return Err(format!("Firebreak does not call internal addresses ({ip}) unless an admin allows the host."));
        }
    }
    Ok(())
}

#[cfg(test)]
mod url_tests {
    use super::*;

    fn check(u: &str, resolved: &[&str], allowed: &[&str]) -> Result<(), String> {
        let url = url::Url::parse(u).expect("url");
        let resolved: Vec<std::net::IpAddr> = resolved.iter().map(|r| r.parse().expect("ip")).collect();
        let allowed: Vec<String> = allowed.iter().map(|s| (*s).to_owned()).collect();
        outgoing_url_allowed(&url, &resolved, &allowed)
    }

    #[test]
    fn internal_addresses_are_refused_unless_an_admin_allows_the_host() {
        assert!(check("https://ntfy.sh/firebreak", &["159.203.148.75"], &[]).is_ok());
        assert!(check("http://127.0.0.1:8080/x", &[], &[]).is_err());
        assert!(check("http://localhost/x", &[], &[]).is_err());
        assert!(check("http://[::1]/x", &[], &[]).is_err());
        assert!(check("http://169.254.169.254/latest", &[], &[]).is_err());
        assert!(check("http://10.1.2.3/", &[], &[]).is_err());
        assert!(check("https://inside.example.com/", &["192.168.1.4"], &[]).is_err());
        assert!(check("http://[fd00::1]/", &[], &[]).is_err());
        assert!(check("http://[::ffff:127.0.0.1]/", &[], &[]).is_err());
        assert!(check("ftp://ntfy.sh/x", &[], &[]).is_err());
        assert!(check("http://127.0.0.1:8080/x", &[], &["127.0.0.1"]).is_ok());
        assert!(check("http://ntfy.internal/x", &["10.0.0.5"], &["ntfy.internal"]).is_ok());
    }
}
