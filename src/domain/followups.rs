//! Follow-ups: priority, default due date, overdue, the overdue digest's
//! content, and when an incident counts as fully closed.

use chrono::{DateTime, Utc};

use super::incident::{IncidentStatus, TaskStatus, text_enum};

text_enum!(
    /// How urgent a follow-up is.
    Priority, "Choose high, medium or low." {
        High = "high" / "High",
        Medium = "medium" / "Medium",
        Low = "low" / "Low",
    }
);

impl Priority {
    /// The form's value: empty means the default, medium.
    pub fn parse_or_default(input: &str) -> Result<Priority, String> {
        if input.trim().is_empty() { Ok(Priority::Medium) } else { Priority::parse(input) }
    }

    /// For sorting: high first.
    pub fn rank(self) -> u8 {
        match self {
            Priority::High => 0,
            Priority::Medium => 1,
            Priority::Low => 2,
        }
    }
}

/// A follow-up without a due date is due this long after it was created.
pub const DEFAULT_DUE_DAYS: i64 = 7;

/// Slack for a due time typed in the current minute (a `datetime-local`
/// field has no seconds).
const PAST_GRACE: chrono::Duration = chrono::Duration::minutes(1);

/// The due date a follow-up gets when none is given.
pub fn default_due(created_at: DateTime<Utc>) -> DateTime<Utc> {
    created_at + chrono::Duration::days(DEFAULT_DUE_DAYS)
}

/// A new (or moved) due date may not lie in the past.
pub fn check_due(due: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), String> {
    if due < now - PAST_GRACE {
        return Err("That date has passed; choose a due date from now on.".into());
    }
    Ok(())
}

/// Open (or in progress) and past its due date.
pub fn is_overdue(due: Option<DateTime<Utc>>, status: TaskStatus, now: DateTime<Utc>) -> bool {
    !status.is_finished() && due.is_some_and(|d| d < now)
}

/// Post-mortem statuses as stored in `postmortems.status`.
pub const POSTMORTEM_PUBLISHED: &str = "published";

/// A post-mortem status for people.
pub fn postmortem_status_label(status: &str) -> &'static str {
    match status {
        "draft" => "draft",
        "in_review" => "in review",
        "reviewed" => "reviewed",
        POSTMORTEM_PUBLISHED => "published",
        _ => "not started",
    }
}

/// Where a finished incident stands on the way to being fully closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closure {
    /// Still being worked on: not resolved or closed yet.
    Active,
    /// Resolved or closed, but the post-mortem is not published or follow-ups are open.
    Waiting {
        /// The post-mortem's status when it is not published yet.
        postmortem: Option<String>,
        open_followups: i64,
    },
    /// Post-mortem published and every follow-up done or won't do.
    FullyClosed,
}

/// An incident is fully closed only when it is resolved or closed, its
/// post-mortem is published, and none of its follow-ups is still open.
pub fn closure(status: IncidentStatus, postmortem_status: &str, open_followups: i64) -> Closure {
    if status.is_active() {
        return Closure::Active;
    }
    let published = postmortem_status == POSTMORTEM_PUBLISHED;
    if published && open_followups == 0 {
        return Closure::FullyClosed;
    }
    Closure::Waiting { postmortem: (!published).then(|| postmortem_status.to_owned()), open_followups }
}

impl Closure {
    /// What the incident is waiting on, for people ("post-mortem in review; 2 open follow-ups").
    pub fn waiting_on(&self) -> String {
        match self {
            Closure::Active => "still active".to_owned(),
            Closure::FullyClosed => "nothing".to_owned(),
            Closure::Waiting { postmortem, open_followups } => {
                let mut parts = Vec::new();
                if let Some(s) = postmortem {
                    parts.push(format!("post-mortem {} (not published)", postmortem_status_label(s)));
                }
                if *open_followups > 0 {
                    parts.push(plural(*open_followups, "open follow-up", "open follow-ups"));
                }
                parts.join("; ")
            }
        }
    }
}

/// "1 open follow-up", "3 open follow-ups".
pub fn plural(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// One overdue follow-up as the digest lists it.
#[derive(Debug, Clone)]
pub struct DigestItem {
    pub title: String,
    pub incident: String,
    pub priority: Priority,
    /// The due time, already in the owner's time zone.
    pub due: String,
    /// How long ago it was due ("3 d 2 h").
    pub overdue_by: String,
}

/// The digest's subject and plain-text body (blank lines separate paragraphs).
pub fn digest_text(items: &[DigestItem]) -> (String, String) {
    let subject = format!("{} overdue", plural(items.len() as i64, "follow-up is", "follow-ups are"));
    let mut sorted: Vec<&DigestItem> = items.iter().collect();
    sorted.sort_by_key(|i| i.priority.rank());
    let lines: Vec<String> = sorted
        .iter()
        .map(|i| {
            format!(
                "- {} ({} priority) in “{}”: due {}, {} ago",
                i.title,
                i.priority.label().to_lowercase(),
                i.incident,
                i.due,
                i.overdue_by
            )
        })
        .collect();
    let body = format!(
        "These follow-ups assigned to you are past their due date:\n\n{}\n\nMark them done, move their due date or hand them to someone else.",
        lines.join("\n")
    );
    (subject, body)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, d, h, 0, 0).single().expect("valid time")
    }

    #[test]
    fn priorities_parse_and_default_to_medium() {
        assert_eq!(Priority::parse_or_default(""), Ok(Priority::Medium));
        assert_eq!(Priority::parse_or_default(" high "), Ok(Priority::High));
        assert_eq!(Priority::parse_or_default("low"), Ok(Priority::Low));
        assert_eq!(Priority::parse_or_default("urgent"), Err("Choose high, medium or low.".to_owned()));
        assert!(Priority::High.rank() < Priority::Low.rank());
    }

    #[test]
    fn follow_ups_are_due_a_week_after_creation() {
        assert_eq!(default_due(at(1, 9)), at(8, 9));
    }

    #[test]
    fn due_dates_in_the_past_are_refused() {
        let now = at(10, 12);
        assert!(check_due(at(11, 12), now).is_ok());
        assert!(check_due(now - chrono::Duration::seconds(30), now).is_ok(), "the current minute");
        assert!(check_due(at(10, 11), now).is_err());
    }

    #[test]
    fn only_unfinished_follow_ups_past_their_date_are_overdue() {
        let now = at(10, 12);
        assert!(is_overdue(Some(at(9, 12)), TaskStatus::Open, now));
        assert!(is_overdue(Some(at(9, 12)), TaskStatus::InProgress, now));
        assert!(!is_overdue(Some(at(9, 12)), TaskStatus::Done, now));
        assert!(!is_overdue(Some(at(9, 12)), TaskStatus::WontDo, now));
        assert!(!is_overdue(Some(at(11, 12)), TaskStatus::Open, now));
        assert!(!is_overdue(None, TaskStatus::Open, now));
    }

    #[test]
    fn fully_closed_needs_a_published_post_mortem_and_no_open_follow_ups() {
        use IncidentStatus::*;
        assert_eq!(closure(Monitoring, "published", 0), Closure::Active);
        assert_eq!(closure(Resolved, "published", 0), Closure::FullyClosed);
        assert_eq!(closure(Closed, "published", 0), Closure::FullyClosed);
        let waiting = closure(Closed, "in_review", 2);
        assert_eq!(waiting, Closure::Waiting { postmortem: Some("in_review".into()), open_followups: 2 });
        assert_eq!(waiting.waiting_on(), "post-mortem in review (not published); 2 open follow-ups");
        assert_eq!(closure(Resolved, "published", 1).waiting_on(), "1 open follow-up");
        assert_eq!(closure(Resolved, "draft", 0).waiting_on(), "post-mortem draft (not published)");
    }

    #[test]
    fn the_digest_lists_each_item_high_priority_first() {
        let item = |title: &str, priority| DigestItem {
            title: title.into(),
            incident: "Checkout down".into(),
            priority,
            due: "2026-11-20 09:00:00 UTC".into(),
            overdue_by: "1 d 3 h".into(),
        };
        let (subject, body) = digest_text(&[item("Add an alert", Priority::Low), item("Fix retries", Priority::High)]);
        assert_eq!(subject, "2 follow-ups are overdue");
        let high =
            body.find("- Fix retries (high priority) in “Checkout down”: due 2026-11-20 09:00:00 UTC, 1 d 3 h ago");
        let low = body.find("- Add an alert (low priority)");
        assert!(high.is_some() && low.is_some() && high < low, "{body}");
        assert_eq!(digest_text(&[item("x", Priority::Medium)]).0, "1 follow-up is overdue");
    }
}
