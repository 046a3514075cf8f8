//! Stakeholder updates: the message composed from the update template's
//! fields, and when the next one is due.

use chrono::{DateTime, Utc};

use super::incident::{IncidentStatus, Severity};
use super::status::ComponentStatus;

/// The choices offered for "next update in".
pub const NEXT_UPDATE_CHOICES: [i64; 6] = [15, 30, 60, 120, 240, 480];

/// The template's fields, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub title: String,
    pub status: IncidentStatus,
    pub impact_started_at: DateTime<Utc>,
    /// Affected components with the status they will have after this update.
    pub components: Vec<(String, ComponentStatus)>,
    pub impact: String,
    pub actions: String,
    pub next_update_at: Option<DateTime<Utc>>,
    /// The final note after the post-mortem: why it happened and what we are
    /// doing about it. It has its own subject, not a second "Resolved".
    pub final_note: bool,
}

/// What goes out: the subject and the plain-text body, exactly as sent and published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Composed {
    pub subject: String,
    pub body: String,
}

fn utc(t: DateTime<Utc>) -> String {
    t.format("%-d %b %Y, %H:%M UTC").to_string()
}

/// Writes the message from the fields: what is happening, what we are doing,
/// what is affected since when, and when we will say more.
pub fn compose(d: &Draft) -> Composed {
    let subject = if d.final_note {
        format!("What happened and what we are changing: {}", d.title)
    } else {
        format!("{}: {}", d.status.label(), d.title)
    };
    let mut body = String::new();
    if !d.impact.trim().is_empty() {
        body.push_str(d.impact.trim());
        body.push_str("\n\n");
    }
    if !d.actions.trim().is_empty() {
        body.push_str(d.actions.trim());
        body.push_str("\n\n");
    }
    if !d.components.is_empty() {
        let list: Vec<String> =
            d.components.iter().map(|(name, s)| format!("{name} ({})", s.label().to_lowercase())).collect();
        body.push_str(&format!("Affected components: {}.\n", list.join(", ")));
    }
    if d.status == IncidentStatus::Resolved {
        body.push_str(&format!("Impact began at {}. This incident is resolved.", utc(d.impact_started_at)));
    } else {
        body.push_str(&format!("Impact began at {}.", utc(d.impact_started_at)));
        if let Some(next) = d.next_update_at {
            body.push_str(&format!("\nNext update by {}.", utc(next)));
        }
    }
    Composed { subject, body }
}

/// The first text offered for "likely impact" and "what we are doing".
pub fn suggested_text(status: IncidentStatus) -> (&'static str, &'static str) {
    match status {
        IncidentStatus::Investigating => (
            "Some customers may see errors or slow responses.",
            "We are investigating the cause and will post more as soon as we know it.",
        ),
        IncidentStatus::Identified => {
            ("Some customers may see errors or slow responses.", "We have found the cause and are working on a fix.")
        }
        IncidentStatus::Monitoring => (
            "Service should be back to normal for all customers.",
            "A fix is in place and we are watching to make sure the problem does not return.",
        ),
        IncidentStatus::Resolved | IncidentStatus::Closed => (
            "Service is back to normal for all customers.",
            "The problem is fixed. We will publish what happened and what we are doing to prevent it.",
        ),
    }
}

/// Minutes until the next update, by default: sooner for severe incidents.
pub fn default_next_update_minutes(severity: Severity, status: IncidentStatus) -> Option<i64> {
    if !status.is_active() {
        return None;
    }
    Some(if severity.level() <= 1 { 30 } else { 60 })
}

/// Parses the "next update in" choice (minutes; empty means no promise).
pub fn parse_next_update(input: &str, status: IncidentStatus) -> Result<Option<i64>, String> {
    let t = input.trim();
    if t.is_empty() || !status.is_active() {
        return Ok(None);
    }
    match t.parse::<i64>() {
        Ok(n) if NEXT_UPDATE_CHOICES.contains(&n) => Ok(Some(n)),
        _ => Err("Choose when the next update will come from the list.".into()),
    }
}

/// Whether the promised next update is late.
pub fn is_overdue(next_update_at: Option<DateTime<Utc>>, status: IncidentStatus, now: DateTime<Utc>) -> bool {
    status.is_active() && next_update_at.is_some_and(|t| t < now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn draft(status: IncidentStatus) -> Draft {
        Draft {
            title: "Checkout errors".into(),
            status,
            impact_started_at: Utc.with_ymd_and_hms(2026, 11, 21, 9, 5, 0).single().expect("time"),
            components: vec![("API".into(), ComponentStatus::PartialOutage)],
            impact: "Card payments fail for about 20% of customers.".into(),
            actions: "We rolled back the 09:00 deploy.".into(),
            next_update_at: Some(Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 0).single().expect("time")),
            final_note: false,
        }
    }

    #[test]
    fn the_final_note_has_its_own_subject() {
        let c = compose(&Draft { final_note: true, ..draft(IncidentStatus::Resolved) });
        assert_eq!(c.subject, "What happened and what we are changing: Checkout errors");
    }

    #[test]
    fn the_message_carries_every_field() {
        let c = compose(&draft(IncidentStatus::Identified));
        assert_eq!(c.subject, "Identified: Checkout errors");
        assert_eq!(
            c.body,
            "Card payments fail for about 20% of customers.\n\nWe rolled back the 09:00 deploy.\n\n\
             Affected components: API (partial outage).\nImpact began at 21 Nov 2026, 09:05 UTC.\n\
             Next update by 21 Nov 2026, 10:00 UTC."
        );
    }

    #[test]
    fn a_resolved_update_promises_nothing_more() {
        let c = compose(&draft(IncidentStatus::Resolved));
        assert!(c.body.ends_with("This incident is resolved."), "{}", c.body);
        assert!(!c.body.contains("Next update"));
    }

    #[test]
    fn next_update_choices_are_checked() {
        assert_eq!(parse_next_update("30", IncidentStatus::Investigating), Ok(Some(30)));
        assert_eq!(parse_next_update("", IncidentStatus::Investigating), Ok(None));
        assert_eq!(parse_next_update("30", IncidentStatus::Resolved), Ok(None));
        assert!(parse_next_update("7", IncidentStatus::Identified).is_err());
        let sev1 = Severity::new(1).expect("sev");
        let sev3 = Severity::new(3).expect("sev");
        assert_eq!(default_next_update_minutes(sev1, IncidentStatus::Investigating), Some(30));
        assert_eq!(default_next_update_minutes(sev3, IncidentStatus::Identified), Some(60));
        assert_eq!(default_next_update_minutes(sev1, IncidentStatus::Resolved), None);
    }

    #[test]
    fn late_updates_are_overdue_only_while_active() {
        let now = Utc.with_ymd_and_hms(2026, 11, 21, 10, 1, 0).single().expect("time");
        let due = Some(now - chrono::Duration::minutes(2));
        assert!(is_overdue(due, IncidentStatus::Identified, now));
        assert!(!is_overdue(due, IncidentStatus::Resolved, now));
        assert!(!is_overdue(None, IncidentStatus::Identified, now));
        assert!(!is_overdue(Some(now + chrono::Duration::minutes(5)), IncidentStatus::Identified, now));
    }
}
