//! The post-mortem: the sections people write and their (blameless) prompts,
//! the review flow and who may move it, the merge of two people's concurrent
//! edits, and the drafted facts as Markdown (what publication freezes).
//!
//! The review flow, in one place:
//! - draft → in review ("Send for review"): any responder;
//! - in review → draft ("Back to draft"): any responder;
//! - in review → reviewed ("Mark reviewed"): a responder other than the
//!   owner (a second pair of eyes), or an admin;
//! - reviewed → published ("Publish"): the owner, the incident's lead or an
//!   admin, and only once the incident is resolved or closed;
//! - sending for review, marking reviewed and publishing all need the
//!   detection section when the incident was not detected by an alert;
//! - a published post-mortem is final: nobody edits or moves it again;
//! - viewers only read.

use chrono::{DateTime, Duration, Utc};

use super::incident::text_enum;
use super::metrics::{IncidentMetrics, format_duration};

text_enum!(
    /// Where a post-mortem is in its review.
    PostmortemStatus, "Choose draft, in review, reviewed or published." {
        Draft = "draft" / "Draft",
        InReview = "in_review" / "In review",
        Reviewed = "reviewed" / "Reviewed",
        Published = "published" / "Published",
    }
);

impl PostmortemStatus {
    /// Whether people may still change the written sections.
    pub fn is_editable(self) -> bool {
        self != PostmortemStatus::Published
    }
}

text_enum!(
    /// The sections people write, in the order the document shows them. The
    /// text is also the column and the form field's name.
    Section, "Unknown post-mortem section." {
        Summary = "summary" / "Summary",
        CustomerImpact = "customer_impact" / "Customer impact",
        Detection = "detection" / "Detection",
        RootCause = "root_cause" / "Root cause and contributing factors",
        Trigger = "trigger" / "Trigger",
        Resolution = "resolution" / "Resolution",
        WentWell = "went_well" / "What went well",
        WentBadly = "went_badly" / "What went badly",
        GotLucky = "got_lucky" / "Where we got lucky",
        Lessons = "lessons" / "Lessons",
    }
);

/// The longest a section may be (characters).
pub const MAX_SECTION_CHARS: usize = 50_000;

impl Section {
    /// One line that asks the right question, about systems rather than people.
    pub fn prompt(self) -> &'static str {
        match self {
            Section::Summary => "What happened, in two or three sentences anyone in the company can follow?",
            Section::CustomerImpact => "Who was affected, how many users, and for how long?",
            Section::Detection => "Was it detected automatically? If not, why not, and what would have caught it?",
            Section::RootCause => {
                "Why did it happen? Ask “why?” five times: which conditions in our systems and processes allowed it?"
            }
            Section::Trigger => "What set it off: a deploy, a configuration change, a traffic spike, an expiry?",
            Section::Resolution => "What restored service, and what made that take as long as it did?",
            Section::WentWell => "Which tools, practices and knowledge helped, and are worth keeping?",
            Section::WentBadly => {
                "Which gaps in our systems and processes got in the way (not who made which mistake)?"
            }
            Section::GotLucky => "What could easily have made this worse, and did not?",
            Section::Lessons => "What will we change so this cannot happen the same way again?",
        }
    }
}

/// Whether the detection section must be written before the review: when
/// the incident was not detected by an alert, "why not?" needs an answer.
pub fn detection_missing(detected_by_alert: bool, detection_text: &str) -> bool {
    !detected_by_alert && detection_text.trim().is_empty()
}

/// A step of the review flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transition {
    SubmitForReview,
    ReturnToDraft,
    MarkReviewed,
    Publish,
}

impl Transition {
    pub const ALL: [Transition; 4] =
        [Transition::SubmitForReview, Transition::ReturnToDraft, Transition::MarkReviewed, Transition::Publish];

    pub fn as_str(self) -> &'static str {
        match self {
            Transition::SubmitForReview => "submit_for_review",
            Transition::ReturnToDraft => "return_to_draft",
            Transition::MarkReviewed => "mark_reviewed",
            Transition::Publish => "publish",
        }
    }

    pub fn parse(s: &str) -> Result<Transition, String> {
        Transition::ALL
            .into_iter()
            .find(|t| t.as_str() == s.trim())
            .ok_or_else(|| "Choose a step from the page.".into())
    }

    /// What its button says.
    pub fn label(self) -> &'static str {
        match self {
            Transition::SubmitForReview => "Send for review",
            Transition::ReturnToDraft => "Back to draft",
            Transition::MarkReviewed => "Mark reviewed",
            Transition::Publish => "Publish post-mortem",
        }
    }

    /// Who may take it, for the page.
    pub fn rule(self) -> &'static str {
        match self {
            Transition::SubmitForReview => "Any responder can send the draft for review.",
            Transition::ReturnToDraft => "Any responder can take it back to draft for more writing.",
            Transition::MarkReviewed => "Someone other than the owner marks it reviewed (or an admin).",
            Transition::Publish => {
                "The owner, the incident lead or an admin publishes it, once the incident is resolved."
            }
        }
    }

    /// For the timeline: "Ann {past} ."
    pub fn past(self) -> &'static str {
        match self {
            Transition::SubmitForReview => "sent the post-mortem for review",
            Transition::ReturnToDraft => "took the post-mortem back to draft",
            Transition::MarkReviewed => "marked the post-mortem reviewed",
            Transition::Publish => "published the post-mortem",
        }
    }

    pub fn from(self) -> PostmortemStatus {
        match self {
            Transition::SubmitForReview => PostmortemStatus::Draft,
            Transition::ReturnToDraft | Transition::MarkReviewed => PostmortemStatus::InReview,
            Transition::Publish => PostmortemStatus::Reviewed,
        }
    }

    pub fn to(self) -> PostmortemStatus {
        match self {
            Transition::SubmitForReview => PostmortemStatus::InReview,
            Transition::ReturnToDraft => PostmortemStatus::Draft,
            Transition::MarkReviewed => PostmortemStatus::Reviewed,
            Transition::Publish => PostmortemStatus::Published,
        }
    }

    fn needs_detection(self) -> bool {
        self != Transition::ReturnToDraft
    }
}

/// The person asking, as the rules see them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Who {
    pub is_responder: bool,
    pub is_admin: bool,
    /// Owns this post-mortem.
    pub is_owner: bool,
    /// Holds the incident's lead role now.
    pub is_lead: bool,
}

/// The post-mortem and its incident, as the rules see them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Situation {
    pub status: PostmortemStatus,
    pub has_owner: bool,
    /// Resolved or closed.
    pub incident_resolved: bool,
    /// See [`detection_missing`].
    pub detection_missing: bool,
}

/// Why a step was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The post-mortem is not where this step starts.
    WrongStatus(String),
    /// This person may not take it.
    NotAllowed(&'static str),
    /// Publishing waits for the incident's resolution.
    IncidentActive,
    /// The detection section is required first.
    DetectionMissing,
}

impl Refusal {
    pub fn message(&self) -> String {
        match self {
            Refusal::WrongStatus(m) => m.clone(),
            Refusal::NotAllowed(m) => (*m).to_owned(),
            Refusal::IncidentActive => "Publish once the incident is resolved: its facts are not final yet.".to_owned(),
            Refusal::DetectionMissing => "This incident was not detected by an alert. Answer the detection question \
                 (why not, and what would have caught it?) before the review."
                .to_owned(),
        }
    }
}

/// Checks one step against the rules above; returns the new status.
pub fn check(t: Transition, who: &Who, s: &Situation) -> Result<PostmortemStatus, Refusal> {
    if !who.is_responder && !who.is_admin {
        return Err(Refusal::NotAllowed("Viewers read post-mortems; responders write and review them."));
    }
    if s.status != t.from() {
        return Err(Refusal::WrongStatus(format!(
            "The post-mortem is {}; “{}” starts from {}.",
            s.status.label().to_lowercase(),
            t.label(),
            t.from().label().to_lowercase()
        )));
    }
    match t {
        Transition::MarkReviewed if who.is_owner && !who.is_admin && s.has_owner => {
            return Err(Refusal::NotAllowed(
                "The owner cannot review their own post-mortem: ask someone else to mark it reviewed.",
            ));
        }
        Transition::Publish if !(who.is_owner || who.is_lead || who.is_admin) => {
            return Err(Refusal::NotAllowed(
                "Only the owner, the incident lead or an admin publishes the post-mortem.",
            ));
        }
        Transition::Publish if !s.incident_resolved => return Err(Refusal::IncidentActive),
        _ => {}
    }
    if t.needs_detection() && s.detection_missing {
        return Err(Refusal::DetectionMissing);
    }
    Ok(t.to())
}

/// The steps to offer this person now (those whose only obstacle would be
/// something they can fix, like a missing section, are offered too).
pub fn offered(who: &Who, s: &Situation) -> Vec<Transition> {
    Transition::ALL
        .into_iter()
        .filter(|t| matches!(check(*t, who, s), Ok(_) | Err(Refusal::DetectionMissing) | Err(Refusal::IncidentActive)))
        .collect()
}

/// Text as stored: line endings as `\n` (browsers send `\r\n`), no trailing blanks.
pub fn normalize(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n").trim_end().to_owned()
}

/// A short fingerprint of a section's saved text, sent with the edit form so
/// a later save can tell which sections the editor actually changed.
pub fn fingerprint(text: &str) -> String {
    // FNV-1a: a collision costs at most a needless side-by-side view.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in normalize(text).bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// One section after someone else saved while you edited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merged {
    /// You both have the same text.
    Same,
    /// Only you changed it: your text stands.
    Mine,
    /// Only they changed it: theirs replaces the stale text in your form.
    Theirs,
    /// You both changed it: shown side by side, your text stays in the form.
    Conflict,
}

/// Compares your text and the saved one with the fingerprint of what you
/// started from (`None` when unknown: then any difference is a conflict).
pub fn merge(base: Option<&str>, mine: &str, theirs: &str) -> Merged {
    let (mine, theirs) = (normalize(mine), normalize(theirs));
    if mine == theirs {
        return Merged::Same;
    }
    match base {
        Some(b) if fingerprint(&theirs) == b => Merged::Mine,
        Some(b) if fingerprint(&mine) == b => Merged::Theirs,
        _ => Merged::Conflict,
    }
}

/// A moment for people, in their time zone.
pub fn format_time(at: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
    at.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S %Z").to_string()
}

/// A timeline entry the post-mortem keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactEntry {
    /// The timeline entry's id.
    pub id: i64,
    pub at: DateTime<Utc>,
    pub author: String,
    /// The kind's label ("Status", "Note"...).
    pub kind: String,
    /// Markdown for notes, plain text otherwise.
    pub body: String,
    pub highlighted: bool,
    /// Left out of the published version by the post-mortem's author.
    pub hidden: bool,
}

/// A stakeholder update as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactUpdate {
    pub at: DateTime<Utc>,
    pub by: String,
    pub audience: String,
    pub subject: String,
    pub body: String,
}

/// A change request and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactChange {
    pub requested_at: DateTime<Utc>,
    pub requested_by: String,
    pub description: String,
    pub rollback_plan: String,
    /// The status's label ("Approved"...).
    pub status: String,
    pub decided: Option<(String, DateTime<Utc>)>,
    pub applied: Option<(String, DateTime<Utc>)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactTask {
    pub title: String,
    pub kind: String,
    pub status: String,
    pub assignee: Option<String>,
    pub due_at: Option<DateTime<Utc>>,
    pub ticket_url: Option<String>,
}

/// Everything Firebreak drafts from the record of an incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub title: String,
    pub severity: String,
    pub kind: String,
    pub components: Vec<String>,
    pub environment: String,
    pub detection_source: String,
    /// Everyone who held the role, in the order they took it.
    pub leads: Vec<String>,
    pub note_takers: Vec<String>,
    pub comms_leads: Vec<String>,
    /// Every role holder, timeline author and task assignee, by name.
    pub participants: Vec<String>,
    /// (label, moment) in the incident's order; `None` when not recorded.
    pub times: Vec<(&'static str, Option<DateTime<Utc>>)>,
    pub metrics: IncidentMetrics,
    pub timeline: Vec<FactEntry>,
    /// Oldest first.
    pub updates: Vec<FactUpdate>,
    pub changes: Vec<FactChange>,
    pub tasks: Vec<FactTask>,
}

/// What the document says where a value is missing.
pub const NOT_RECORDED: &str = "not recorded";

impl Facts {
    /// The metrics with their names, in the order the document lists them.
    pub fn metric_rows(&self) -> [(&'static str, Option<Duration>); 6] {
        let m = &self.metrics;
        [
            ("Time to detect", m.time_to_detect),
            ("Time to declare", m.time_to_declare),
            ("Time to acknowledge", m.time_to_acknowledge),
            ("Time to mitigate", m.time_to_mitigate),
            ("Time to resolve", m.time_to_resolve),
            ("Total duration", m.total_duration),
        ]
    }

    /// The facts as Markdown (level-2 headings), times in `tz`.
    pub fn to_markdown(&self, tz: chrono_tz::Tz) -> String {
        let t = |at: DateTime<Utc>| format_time(at, tz);
        let names = |v: &[String]| if v.is_empty() { "nobody".to_owned() } else { one_line(&v.join(", ")) };
        let mut md = String::new();
        md.push_str("## Incident\n\n");
        for (label, value) in [
            ("Title", one_line(&self.title)),
            ("Severity", self.severity.clone()),
            ("Kind", self.kind.clone()),
            (
                "Components",
                if self.components.is_empty() { "none".to_owned() } else { one_line(&self.components.join(", ")) },
            ),
            ("Environment", one_line(&self.environment)),
            ("Detected by", self.detection_source.clone()),
            ("Incident lead", names(&self.leads)),
            ("Note taker", names(&self.note_takers)),
            ("Communications lead", names(&self.comms_leads)),
            ("Participants", names(&self.participants)),
        ] {
            md.push_str(&format!("- **{label}:** {value}\n"));
        }
        md.push_str("\n## Key times\n\n");
        for (label, at) in &self.times {
            md.push_str(&format!("- **{label}:** {}\n", at.map(t).unwrap_or_else(|| NOT_RECORDED.to_owned())));
        }
        md.push_str("\n## Metrics\n\n");
        for (label, d) in self.metric_rows() {
            md.push_str(&format!("- **{label}:** {}\n", d.map(format_duration).unwrap_or_else(|| NOT_RECORDED.into())));
        }
        md.push_str("\n## Timeline\n\n");
        let shown: Vec<&FactEntry> = self.timeline.iter().filter(|e| !e.hidden).collect();
        if shown.is_empty() {
            md.push_str("Nothing was recorded.\n");
        }
        for e in shown {
            let star = if e.highlighted { " (key moment)" } else { "" };
            md.push_str(&format!(
                "- {} · {} · {}{star}: {}\n",
                t(e.at),
                one_line(&e.author),
                e.kind,
                indented(&e.body)
            ));
        }
        md.push_str("\n## Updates sent\n\n");
        if self.updates.is_empty() {
            md.push_str("No stakeholder update was sent.\n");
        }
        for u in &self.updates {
            md.push_str(&format!(
                "- {} · {} · {}: **{}**  \n  {}\n",
                t(u.at),
                one_line(&u.by),
                u.audience,
                one_line(&u.subject),
                indented(&u.body)
            ));
        }
        md.push_str("\n## Change requests\n\n");
        if self.changes.is_empty() {
            md.push_str("No change to production was requested.\n");
        }
        for c in &self.changes {
            md.push_str(&format!(
                "- {} · {} asked: {} (rollback: {}) · **{}**",
                t(c.requested_at),
                one_line(&c.requested_by),
                one_line(&c.description),
                one_line(&c.rollback_plan),
                c.status
            ));
            if let Some((by, at)) = &c.decided {
                md.push_str(&format!(" · decided by {} at {}", one_line(by), t(*at)));
            }
            if let Some((by, at)) = &c.applied {
                md.push_str(&format!(" · applied by {} at {}", one_line(by), t(*at)));
            }
            md.push('\n');
        }
        md.push_str("\n## Tasks\n\n");
        if self.tasks.is_empty() {
            md.push_str("No tasks.\n");
        }
        for task in &self.tasks {
            md.push_str(&format!("- {} ({}, {})", one_line(&task.title), task.kind, task.status));
            match &task.assignee {
                Some(a) => md.push_str(&format!(" · {}", one_line(a))),
                None => md.push_str(" · unassigned"),
            }
            if let Some(due) = task.due_at {
                md.push_str(&format!(" · due {}", t(due)));
            }
            if let Some(url) = &task.ticket_url {
                md.push_str(&format!(" · <{url}>"));
            }
            md.push('\n');
        }
        md
    }
}

/// A user-typed value on one line (a newline would break the list).
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Multi-line text inside a list item: continuation lines indented.
fn indented(s: &str) -> String {
    normalize(s).lines().collect::<Vec<_>>().join("\n  ")
}

/// The whole document as Markdown: title, status line, the facts (drafted or
/// frozen) and the written sections.
pub fn document_markdown(
    title: &str,
    status_line: &str,
    facts_markdown: &str,
    sections: &[(Section, String)],
) -> String {
    let mut md = format!("# Post-mortem: {}\n\n{}\n\n", one_line(title), status_line.trim());
    md.push_str(facts_markdown.trim_end());
    md.push_str("\n\n");
    for (section, text) in sections {
        md.push_str(&format!("## {}\n\n", section.label()));
        let text = normalize(text);
        if text.is_empty() {
            md.push_str("_Not written._\n\n");
        } else {
            md.push_str(&text);
            md.push_str("\n\n");
        }
    }
    md.truncate(md.trim_end().len());
    md.push('\n');
    md
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn who() -> Who {
        Who { is_responder: true, ..Default::default() }
    }

    fn at(status: PostmortemStatus) -> Situation {
        Situation { status, has_owner: true, incident_resolved: true, detection_missing: false }
    }

    #[test]
    fn the_flow_goes_draft_review_reviewed_published_and_back_to_draft() {
        let w = who();
        assert_eq!(
            check(Transition::SubmitForReview, &w, &at(PostmortemStatus::Draft)),
            Ok(PostmortemStatus::InReview)
        );
        assert_eq!(check(Transition::ReturnToDraft, &w, &at(PostmortemStatus::InReview)), Ok(PostmortemStatus::Draft));
        assert_eq!(
            check(Transition::MarkReviewed, &w, &at(PostmortemStatus::InReview)),
            Ok(PostmortemStatus::Reviewed)
        );
        let lead = Who { is_lead: true, ..w };
        assert_eq!(check(Transition::Publish, &lead, &at(PostmortemStatus::Reviewed)), Ok(PostmortemStatus::Published));
    }

    #[test]
    fn steps_only_start_where_they_belong() {
        let w = Who { is_admin: true, ..who() };
        assert!(matches!(check(Transition::Publish, &w, &at(PostmortemStatus::Draft)), Err(Refusal::WrongStatus(_))));
        assert!(matches!(
            check(Transition::ReturnToDraft, &w, &at(PostmortemStatus::Reviewed)),
            Err(Refusal::WrongStatus(_))
        ));
        for t in Transition::ALL {
            assert!(
                matches!(check(t, &w, &at(PostmortemStatus::Published)), Err(Refusal::WrongStatus(_))),
                "a published post-mortem is final ({t:?})"
            );
        }
    }

    #[test]
    fn viewers_only_read() {
        let viewer = Who::default();
        for t in Transition::ALL {
            assert!(matches!(check(t, &viewer, &at(t.from())), Err(Refusal::NotAllowed(_))));
        }
        assert!(offered(&viewer, &at(PostmortemStatus::Draft)).is_empty());
    }

    #[test]
    fn the_owner_does_not_review_their_own_post_mortem() {
        let owner = Who { is_owner: true, ..who() };
        let s = at(PostmortemStatus::InReview);
        assert!(matches!(check(Transition::MarkReviewed, &owner, &s), Err(Refusal::NotAllowed(_))));
        assert_eq!(check(Transition::MarkReviewed, &who(), &s), Ok(PostmortemStatus::Reviewed));
        let owner_admin = Who { is_admin: true, ..owner };
        assert_eq!(check(Transition::MarkReviewed, &owner_admin, &s), Ok(PostmortemStatus::Reviewed));
        assert!(offered(&owner, &s).contains(&Transition::ReturnToDraft));
        assert!(!offered(&owner, &s).contains(&Transition::MarkReviewed));
    }

    #[test]
    fn publishing_is_for_the_owner_lead_or_admin_after_resolution() {
        let s = at(PostmortemStatus::Reviewed);
        assert!(matches!(check(Transition::Publish, &who(), &s), Err(Refusal::NotAllowed(_))));
        for w in [Who { is_owner: true, ..who() }, Who { is_lead: true, ..who() }, Who { is_admin: true, ..who() }] {
            assert_eq!(check(Transition::Publish, &w, &s), Ok(PostmortemStatus::Published));
        }
        let active = Situation { incident_resolved: false, ..s };
        let owner = Who { is_owner: true, ..who() };
        assert_eq!(check(Transition::Publish, &owner, &active), Err(Refusal::IncidentActive));
        assert_eq!(offered(&owner, &active), vec![Transition::Publish], "offered, and refused with a reason");
    }

    #[test]
    fn detection_is_required_when_no_alert_caught_it() {
        assert!(detection_missing(false, "  \n"));
        assert!(!detection_missing(false, "A customer told support; no alert covers checkout."));
        assert!(!detection_missing(true, ""), "an alert answers the question already");
        let s = Situation { detection_missing: true, ..at(PostmortemStatus::Draft) };
        assert_eq!(check(Transition::SubmitForReview, &who(), &s), Err(Refusal::DetectionMissing));
        let back = Situation { detection_missing: true, ..at(PostmortemStatus::InReview) };
        assert_eq!(check(Transition::ReturnToDraft, &who(), &back), Ok(PostmortemStatus::Draft));
        assert!(offered(&who(), &s).contains(&Transition::SubmitForReview), "offered, then explained");
    }

    #[test]
    fn every_section_asks_a_question_and_detection_asks_the_product_one() {
        for s in Section::ALL {
            assert!(s.prompt().ends_with('?'), "{s:?}");
        }
        assert_eq!(
            Section::Detection.prompt(),
            "Was it detected automatically? If not, why not, and what would have caught it?"
        );
        assert_eq!(Section::ALL.len(), 10);
    }

    #[test]
    fn concurrent_edits_merge_per_section() {
        let base = fingerprint("old");
        assert_eq!(merge(Some(&base), "old", "old"), Merged::Same);
        assert_eq!(merge(Some(&base), "mine", "old"), Merged::Mine);
        assert_eq!(merge(Some(&base), "old", "theirs"), Merged::Theirs);
        assert_eq!(merge(Some(&base), "mine", "theirs"), Merged::Conflict);
        assert_eq!(merge(Some(&base), "same", "same"), Merged::Same);
        assert_eq!(merge(None, "mine", "theirs"), Merged::Conflict, "no base: never guess");
        assert_eq!(merge(Some(&base), "old\r\n", "old"), Merged::Same, "browsers send CRLF");
    }

    #[test]
    fn fingerprints_ignore_line_endings_only() {
        assert_eq!(fingerprint("a\r\nb\r\n"), fingerprint("a\nb"));
        assert_ne!(fingerprint("a b"), fingerprint("a  b"));
        assert_eq!(fingerprint("").len(), 16);
    }

    fn t(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, h, m, 0).single().expect("a valid time")
    }

    fn facts() -> Facts {
        Facts {
            title: "Checkout\nerrors".into(),
            severity: "SEV2".into(),
            kind: "Outage".into(),
            components: vec!["API".into(), "Checkout".into()],
            environment: "production".into(),
            detection_source: "Customer report".into(),
            leads: vec!["Ann".into()],
            note_takers: vec![],
            comms_leads: vec!["Cy".into()],
            participants: vec!["Ann".into(), "Bob".into(), "Cy".into()],
            times: vec![("Impact started", Some(t(10, 0))), ("Acknowledged", None)],
            metrics: IncidentMetrics {
                time_to_detect: Some(Duration::minutes(5)),
                time_to_resolve: Some(Duration::minutes(90)),
                ..Default::default()
            },
            timeline: vec![
                FactEntry {
                    id: 1,
                    at: t(10, 30),
                    author: "Bob".into(),
                    kind: "Note".into(),
                    body: "Rolled back\n\nand it worked".into(),
                    highlighted: true,
                    hidden: false,
                },
                FactEntry {
                    id: 2,
                    at: t(10, 35),
                    author: "Bob".into(),
                    kind: "Note".into(),
                    body: "Acme Corp's account manager called".into(),
                    highlighted: false,
                    hidden: true,
                },
            ],
            updates: vec![],
            changes: vec![FactChange {
                requested_at: t(10, 20),
                requested_by: "Bob".into(),
                description: "Roll back 4242".into(),
                rollback_plan: "Redeploy".into(),
                status: "Approved".into(),
                decided: Some(("Ann".into(), t(10, 21))),
                applied: None,
            }],
            tasks: vec![FactTask {
                title: "Add an alert".into(),
                kind: "Follow-up".into(),
                status: "Open".into(),
                assignee: None,
                due_at: None,
                ticket_url: None,
            }],
        }
    }

    #[test]
    fn facts_read_as_markdown_in_the_chosen_time_zone() {
        let md = facts().to_markdown(chrono_tz::Europe::Berlin);
        assert!(md.contains("- **Title:** Checkout errors\n"), "titles stay on one line: {md}");
        assert!(md.contains("- **Note taker:** nobody\n"));
        assert!(md.contains("- **Impact started:** 2026-11-01 11:00:00 CET\n"), "{md}");
        assert!(md.contains("- **Acknowledged:** not recorded\n"));
        assert!(md.contains("- **Time to detect:** 5 min\n"));
        assert!(md.contains("- **Time to resolve:** 1 h 30 min\n"));
        assert!(md.contains("- **Time to mitigate:** not recorded\n"));
        assert!(md.contains("Bob · Note (key moment): Rolled back\n  \n  and it worked\n"), "{md}");
        assert!(!md.contains("Acme Corp"), "an entry the author hid is left out: {md}");
        assert!(md.contains("No stakeholder update was sent."));
        assert!(md.contains("**Approved** · decided by Ann at 2026-11-01 11:21:00 CET"));
        assert!(md.contains("- Add an alert (Follow-up, Open) · unassigned\n"));
    }

    #[test]
    fn the_document_has_facts_then_every_section() {
        let sections: Vec<(Section, String)> = Section::ALL
            .iter()
            .map(|s| (*s, if *s == Section::RootCause { "A *cert* expired.\r\n".into() } else { String::new() }))
            .collect();
        let md = document_markdown("Checkout errors", "Status: Draft", "## Incident\n\n- x\n", &sections);
        assert!(md.starts_with("# Post-mortem: Checkout errors\n\nStatus: Draft\n\n## Incident\n"), "{md}");
        assert!(
            md.contains("## Root cause and contributing factors\n\nA *cert* expired.\n\n## Trigger\n\n_Not written._")
        );
        assert!(md.ends_with("## Lessons\n\n_Not written._\n"), "{md}");
    }
}
