//! The review meeting: schedule, reschedule, cancel; invitations through the outbox.
//!
//! Each action is one transaction: the meeting row, its invitee list, one
//! outbox email per person (with an RFC 5545 invitation: REQUEST, or CANCEL
//! for people taken off the list and when the meeting is called off), and the
//! timeline entry on the incident. The UID stays the same for the meeting's
//! whole life; SEQUENCE goes up with every change.

use chrono::{DateTime, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};

use super::incidents::{can_view, load_for_change, name_of, notify, record, require_responder};
use super::{Actor, FieldErrors, ServiceError};
use crate::config::Settings;
use crate::db::ids::PostmortemId;
use crate::db::incidents::{self, Incident};
use crate::db::meetings::{self, Invitee, Meeting, NewInvitee, NewMeeting, Reschedule};
use crate::db::outbox::{self, NewMessage};
use crate::db::stakeholders::{self, Group};
use crate::db::{DbPool, GroupId, IncidentId, UserId, users};
use crate::domain::calendar::{self, EventStatus, Invitation, Method, Person};
use crate::domain::incident::{EntryKind, IncidentStatus};
use crate::domain::meeting::{self as rules, MeetingTime, Window};
use crate::domain::stakeholders::{MemberLine, parse_members};
use crate::email::compose::{Email, link};

/// The stakeholder group whose members are invited by default, when it exists.
pub const DEFAULT_GROUP: &str = "engineering";

/// Most people one meeting invites (one email each).
pub const MAX_INVITEES: usize = 500;

/// The raw values of the meeting form.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(default)]
pub struct MeetingInput {
    /// `YYYY-MM-DD`, in the organiser's time zone.
    pub date: String,
    /// `HH:MM`, in the organiser's time zone.
    pub time: String,
    /// Minutes.
    pub duration: String,
    pub location: String,
    pub conference_url: String,
    /// One person per line: `Name <name@example.com>` or `name@example.com`.
    pub invitees: String,
    /// The SEQUENCE of the meeting the form was showing; empty for a new one.
    pub sequence: String,
}

/// What the form checks before anything is looked up.
#[derive(Debug, Clone)]
struct Checked {
    time: MeetingTime,
    location: String,
    conference_url: Option<String>,
    invitees: Vec<MemberLine>,
    /// The SEQUENCE the form was showing.
    sequence: Option<i32>,
}

fn check(input: &MeetingInput, tz: chrono_tz::Tz, now: DateTime<Utc>) -> Result<Checked, ServiceError> {
    let mut errors = FieldErrors::new();
    let date = errors.check("date", rules::parse_date(&input.date));
    let time = errors.check("time", rules::parse_time(&input.time));
    let minutes = errors.check("duration", rules::parse_duration(&input.duration));
    let when = match (date, time, minutes) {
        (Some(d), Some(t), Some(m)) => errors.check("date", MeetingTime::from_local(d, t, m, tz, now)),
        _ => None,
    };
    let location = errors.check("location", rules::parse_location(&input.location));
    let conference_url = errors.check("conference_url", rules::parse_conference_url(&input.conference_url));
    if location.as_deref().is_some_and(str::is_empty) && matches!(conference_url, Some(None)) {
        errors.add("location", "Say where the meeting is: a room, a conference link, or both.");
    }
    let invitees = errors.check("invitees", parse_members(&input.invitees));
    match &invitees {
        Some(list) if list.is_empty() => errors.add("invitees", "Invite at least one person."),
        Some(list) if list.len() > MAX_INVITEES => {
            errors.add("invitees", format!("Invite at most {MAX_INVITEES} people."));
        }
        _ => {}
    }
    let sequence = match input.sequence.trim() {
        "" => None,
        s => s.parse::<i32>().ok(),
    };
    match (when, location, conference_url, invitees) {
        (Some(time), Some(location), Some(conference_url), Some(invitees)) if errors.is_empty() => {
            Ok(Checked { time, location, conference_url, invitees, sequence })
        }
        _ => Err(ServiceError::Invalid(errors)),
    }
}

/// An incident, its post-mortem and the meeting that is on, for the pages.
#[derive(Debug, Clone)]
pub struct MeetingContext {
    pub incident: Incident,
    pub postmortem: PostmortemId,
    pub meeting: Option<Meeting>,
    pub invitees: Vec<Invitee>,
    pub organizer: Option<String>,
}

/// Loads what the meeting page shows; NotFound for a post-mortem the actor
/// may not see.
pub async fn context(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    postmortem: PostmortemId,
) -> Result<MeetingContext, ServiceError> {
    let incident_id = meetings::incident_of(conn, postmortem).await?.ok_or(ServiceError::NotFound)?;
    let incident = incidents::find(conn, incident_id).await?.ok_or(ServiceError::NotFound)?;
    if !can_view(conn, &incident, actor).await? {
        return Err(ServiceError::NotFound);
    }
    let meeting = meetings::active(conn, postmortem).await?;
    let (invitees, organizer) = match &meeting {
        Some(m) => (meetings::invitees(conn, m.id).await?, Some(name_of(conn, m.organizer_id).await?)),
        None => (Vec::new(), None),
    };
    Ok(MeetingContext { incident, postmortem, meeting, invitees, organizer })
}

/// When the incident was resolved, for the proposal window (the status
/// change time when the timestamp is missing).
pub fn resolved_at(incident: &Incident) -> DateTime<Utc> {
    incident.resolved_at.unwrap_or(incident.status_changed_at)
}

/// Whether the review can be scheduled: the incident is resolved or closed.
pub fn is_resolved(incident: &Incident) -> bool {
    matches!(incident.status(), IncidentStatus::Resolved | IncidentStatus::Closed)
}

/// The proposal window, business days counted in `tz`.
pub fn window(incident: &Incident, tz: chrono_tz::Tz) -> Window {
    Window::new(incident.severity(), resolved_at(incident), tz)
}

/// The group pre-selected on the form: "engineering" when it exists.
pub async fn default_group(conn: &mut AsyncPgConnection) -> diesel::QueryResult<Option<Group>> {
    stakeholders::find_group_by_name(conn, DEFAULT_GROUP).await
}

/// The team list: the group's members, then everyone who took part (every
/// role holder, timeline author and task assignee); each address once.
pub async fn team_list(
    conn: &mut AsyncPgConnection,
    incident: IncidentId,
    group: Option<GroupId>,
) -> diesel::QueryResult<Vec<(String, String)>> {
    let mut people: Vec<(String, String)> = Vec::new();
    let mut push = |name: &str, email: &str| {
        let email = email.trim().to_lowercase();
        if !email.is_empty() && !people.iter().any(|(_, e)| *e == email) {
            people.push((name.trim().to_owned(), email));
        }
    };
    if let Some(g) = group {
        for m in stakeholders::members_of(conn, g).await? {
            push(&m.name, &m.email);
        }
    }
    for p in meetings::participants(conn, incident).await? {
        push(&p.display_name, &p.email);
    }
    Ok(people)
}

/// The team list as the textarea shows it, one person per line.
pub fn as_lines(people: &[(String, String)]) -> String {
    people
        .iter()
        .map(|(name, email)| {
            let name: String = name.chars().filter(|c| !matches!(c, '<' | '>') && !c.is_control()).collect();
            let name = name.trim();
            if name.is_empty() { email.clone() } else { format!("{name} <{email}>") }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// What a save did.
#[derive(Debug, Clone)]
pub struct Saved {
    pub meeting: Meeting,
    pub rescheduled: bool,
    /// People sent the invitation (REQUEST).
    pub invited: usize,
    /// People taken off the list (sent a CANCEL).
    pub removed: usize,
}

fn random_token() -> String {
    crate::domain::tokens::hex(16)
}

fn require_unchanged(expected: Option<i32>, active: &Option<Meeting>) -> Result<(), ServiceError> {
    let matches = match (expected, active) {
        (None, None) => true,
        (Some(seq), Some(m)) => seq == m.sequence,
        _ => false,
    };
    if matches {
        Ok(())
    } else {
        Err(ServiceError::Invalid(FieldErrors::single(
            "meeting",
            "Someone else changed the review meeting while you were editing. The form now shows the meeting as \
             it is; check your changes and submit again.",
        )))
    }
}

async fn person(conn: &mut AsyncPgConnection, id: UserId) -> Result<Person, ServiceError> {
    let u = users::find(conn, id).await?.ok_or(ServiceError::NotFound)?;
    Ok(Person { name: u.display_name, email: u.email.to_lowercase() })
}

/// Schedules the review meeting, or reschedules the one that is on.
pub async fn save(
    pool: &DbPool,
    settings: &Settings,
    actor: &Actor,
    tz: chrono_tz::Tz,
    postmortem: PostmortemId,
    input: &MeetingInput,
) -> Result<Saved, ServiceError> {
    let me = require_responder(actor)?;
    let now = Utc::now();
    let mut conn = pool.get().await?;
    let incident_id = meetings::incident_of(&mut conn, postmortem).await?.ok_or(ServiceError::NotFound)?;
    // The actor must be able to see it before hearing what is wrong with the form.
    let incident = incidents::find(&mut conn, incident_id).await?.ok_or(ServiceError::NotFound)?;
    if !can_view(&mut conn, &incident, actor).await? {
        return Err(ServiceError::NotFound);
    }
    let c = check(input, tz, now)?;
    conn.transaction(async |conn| {
        // Locks the incident: meeting changes on one post-mortem queue up.
        let incident = load_for_change(conn, actor, incident_id).await?;
        let active = meetings::active_for_update(conn, postmortem).await?;
        require_unchanged(c.sequence, &active)?;
        let who = name_of(conn, me).await?;
        let emails: Vec<String> = c.invitees.iter().map(|m| m.email.to_string()).collect();
        let accounts = meetings::users_by_email(conn, &emails).await?;
        let people: Vec<NewInvitee> = c
            .invitees
            .iter()
            .map(|m| NewInvitee {
                email: m.email.to_string(),
                name: m.name.clone(),
                user_id: accounts.iter().find(|(_, e)| *e == m.email.as_str()).map(|(id, _)| *id),
            })
            .collect();
        let place = Place { location: &c.location, conference_url: c.conference_url.as_deref() };
        let tz_name = tz.name();
        let saved = match active {
            None => {
                if !is_resolved(&incident) {
                    return Err(ServiceError::Invalid(FieldErrors::single(
                        "meeting",
                        "Schedule the review meeting once the incident is resolved.",
                    )));
                }
                let host = settings.base_url.host_str().unwrap_or_default().to_owned();
                let uid = calendar::uid(&random_token(), &host);
                let meeting = meetings::insert(
                    conn,
                    &NewMeeting {
                        postmortem_id: postmortem,
                        uid: &uid,
                        starts_at: c.time.starts_at,
                        ends_at: c.time.ends_at,
                        time_zone: tz_name,
                        location: &c.location,
                        conference_url: c.conference_url.as_deref(),
                        organizer_id: me,
                    },
                )
                .await?;
                meetings::add_invitees(conn, meeting.id, &people).await?;
                let organizer = person(conn, me).await?;
                let messages =
                    invitations(settings, &incident, postmortem, &meeting, &organizer, &people, Change::New, now)?;
                outbox::enqueue(conn, &messages).await?;
                let body = format!(
                    "{who} scheduled the post-mortem review meeting for {} ({} minutes, {}) and invited {}.",
                    utc_text(meeting.starts_at),
                    meeting.minutes(),
                    place.text(),
                    people_count(people.len()),
                );
                record(conn, incident.id, Some(me), EntryKind::System, &body, now).await?;
                Saved { meeting, rescheduled: false, invited: people.len(), removed: 0 }
            }
            Some(old) => {
                let before = meetings::invitees(conn, old.id).await?;
                let removed: Vec<Invitee> =
                    before.iter().filter(|b| !people.iter().any(|p| p.email == b.email)).cloned().collect();
                let added = people.iter().filter(|p| !before.iter().any(|b| b.email == p.email)).count();
                let renamed = people.iter().any(|p| before.iter().any(|b| b.email == p.email && b.name != p.name));
                let unchanged = old.starts_at == c.time.starts_at
                    && old.ends_at == c.time.ends_at
                    && old.location == c.location
                    && old.conference_url == c.conference_url
                    && removed.is_empty()
                    && added == 0
                    && !renamed;
                if unchanged {
                    return Err(ServiceError::Invalid(FieldErrors::single(
                        "meeting",
                        "Nothing changed: change the time, the place or the invitees to send an update.",
                    )));
                }
                let meeting = meetings::reschedule(
                    conn,
                    old.id,
                    &Reschedule {
                        starts_at: c.time.starts_at,
                        ends_at: c.time.ends_at,
                        time_zone: tz_name,
                        location: &c.location,
                        conference_url: c.conference_url.as_deref(),
                    },
                    now,
                )
                .await?;
                let gone: Vec<String> = removed.iter().map(|r| r.email.clone()).collect();
                meetings::remove_invitees(conn, meeting.id, &gone, now).await?;
                meetings::add_invitees(conn, meeting.id, &people).await?;
                let organizer = person(conn, meeting.organizer_id).await?;
                let mut messages =
                    invitations(settings, &incident, postmortem, &meeting, &organizer, &people, Change::Moved, now)?;
                let removed_people: Vec<NewInvitee> = removed
                    .iter()
                    .map(|r| NewInvitee { email: r.email.clone(), name: r.name.clone(), user_id: r.user_id })
                    .collect();
                messages.extend(invitations(
                    settings,
                    &incident,
                    postmortem,
                    &meeting,
                    &organizer,
                    &removed_people,
                    Change::Uninvited,
                    now,
                )?);
                outbox::enqueue(conn, &messages).await?;
                let mut body = format!(
                    "{who} rescheduled the post-mortem review meeting to {} ({} minutes, {}); {} sent the update",
                    utc_text(meeting.starts_at),
                    meeting.minutes(),
                    place.text(),
                    people_count(people.len()),
                );
                if !removed.is_empty() {
                    body.push_str(&format!(", {} taken off the list", people_count(removed.len())));
                }
                body.push('.');
                record(conn, incident.id, Some(me), EntryKind::System, &body, now).await?;
                Saved { meeting, rescheduled: true, invited: people.len(), removed: removed.len() }
            }
        };
        notify(conn, incident.id).await?;
        Ok(saved)
    })
    .await
}

/// Calls the meeting off: everyone on the list gets a CANCEL.
pub async fn cancel(
    pool: &DbPool,
    settings: &Settings,
    actor: &Actor,
    postmortem: PostmortemId,
    expected_sequence: &str,
) -> Result<(Meeting, usize), ServiceError> {
    let me = require_responder(actor)?;
    let now = Utc::now();
    let mut conn = pool.get().await?;
    let incident_id = meetings::incident_of(&mut conn, postmortem).await?.ok_or(ServiceError::NotFound)?;
    conn.transaction(async |conn| {
        let incident = load_for_change(conn, actor, incident_id).await?;
        let active = meetings::active_for_update(conn, postmortem).await?;
        let Some(old) = active else {
            return Err(ServiceError::Invalid(FieldErrors::single("meeting", "There is no meeting to cancel.")));
        };
        let expected = expected_sequence.trim().parse::<i32>().ok();
        require_unchanged(expected, &Some(old.clone()))?;
        let invitees = meetings::invitees(conn, old.id).await?;
        let meeting = meetings::cancel(conn, old.id, now).await?;
        let organizer = person(conn, meeting.organizer_id).await?;
        let people: Vec<NewInvitee> = invitees
            .iter()
            .map(|i| NewInvitee { email: i.email.clone(), name: i.name.clone(), user_id: i.user_id })
            .collect();
        let messages =
            invitations(settings, &incident, postmortem, &meeting, &organizer, &people, Change::Cancelled, now)?;
        outbox::enqueue(conn, &messages).await?;
        let who = name_of(conn, me).await?;
        let body = format!(
            "{who} cancelled the post-mortem review meeting of {}; {} sent the cancellation.",
            utc_text(meeting.starts_at),
            people_count(people.len()),
        );
        record(conn, incident.id, Some(me), EntryKind::System, &body, now).await?;
        notify(conn, incident.id).await?;
        Ok((meeting, people.len()))
    })
    .await
}

/// Why an invitation is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    New,
    Moved,
    /// Taken off the list at a reschedule.
    Uninvited,
    Cancelled,
}

struct Place<'a> {
    location: &'a str,
    conference_url: Option<&'a str>,
}

impl Place<'_> {
    fn text(&self) -> String {
        rules::location_text(self.location, self.conference_url)
    }
}

fn people_count(n: usize) -> String {
    if n == 1 { "1 person".to_owned() } else { format!("{n} people") }
}

/// `2026-11-24 09:00 UTC`.
pub fn utc_text(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// "Tuesday 24 November 2026, 10:00–11:00 CET (Europe/Berlin)".
pub fn local_span(starts_at: DateTime<Utc>, ends_at: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
    let s = starts_at.with_timezone(&tz);
    let e = ends_at.with_timezone(&tz);
    let end = if s.date_naive() == e.date_naive() {
        e.format("%H:%M %Z").to_string()
    } else {
        e.format("%A %-d %B %Y, %H:%M %Z").to_string()
    };
    let zone = if tz == chrono_tz::UTC { String::new() } else { format!(" ({})", tz.name()) };
    format!("{}–{end}{zone}", s.format("%A %-d %B %Y, %H:%M"))
}

/// The subject's base: names the incident.
fn title(incident: &Incident) -> String {
    format!("Post-mortem review: {} ({}, incident #{})", incident.title, incident.severity(), incident.id)
}

/// One email per person, each carrying the same invitation.
#[allow(clippy::too_many_arguments)]
fn invitations(
    settings: &Settings,
    incident: &Incident,
    postmortem: PostmortemId,
    meeting: &Meeting,
    organizer: &Person,
    people: &[NewInvitee],
    change: Change,
    now: DateTime<Utc>,
) -> Result<Vec<NewMessage>, ServiceError> {
    if people.is_empty() {
        return Ok(Vec::new());
    }
    let doc = link(settings, &format!("/postmortems/{postmortem}"));
    let tz = meeting.time_zone();
    let summary = title(incident);
    let place = Place { location: &meeting.location, conference_url: meeting.conference_url.as_deref() };
    let mut description = format!(
        "Blameless review of the post-mortem of incident #{} \"{}\" ({}). Please read the post-mortem before \
         the meeting.\n\nPost-mortem: {doc}",
        incident.id,
        incident.title,
        incident.severity()
    );
    if let Some(url) = &meeting.conference_url {
        description.push_str(&format!("\nJoin: {url}"));
    }
    let method = match change {
        Change::New | Change::Moved => Method::Request,
        Change::Uninvited | Change::Cancelled => Method::Cancel,
    };
    let status = match change {
        Change::New | Change::Moved => Some(EventStatus::Confirmed),
        Change::Cancelled => Some(EventStatus::Cancelled),
        Change::Uninvited => None,
    };
    let invitation = Invitation {
        method,
        uid: meeting.uid.clone(),
        sequence: meeting.sequence,
        stamp: now,
        starts_at: meeting.starts_at,
        ends_at: meeting.ends_at,
        summary: summary.clone(),
        description,
        url: Some(doc.clone()),
        location: place.text(),
        organizer: organizer.clone(),
        attendees: people.iter().map(|p| Person { name: p.name.clone(), email: p.email.clone() }).collect(),
        status,
    };
    let ics = invitation.to_ics();

    let (prefix, heading, intro) = match change {
        Change::New => (
            "Invitation",
            "You are invited to a post-mortem review",
            "You are invited to the blameless review of this incident's post-mortem.",
        ),
        Change::Moved => (
            "Updated invitation",
            "The post-mortem review has changed",
            "The review meeting has changed; this invitation replaces the earlier one.",
        ),
        Change::Uninvited => (
            "Cancelled",
            "You are no longer invited to a post-mortem review",
            "You have been taken off the list for this review meeting; it has been removed from your calendar.",
        ),
        Change::Cancelled => (
            "Cancelled",
            "The post-mortem review is cancelled",
            "The review meeting is cancelled; it has been removed from your calendar.",
        ),
    };
    let mut when = format!("When: {}", local_span(meeting.starts_at, meeting.ends_at, tz));
    if tz != chrono_tz::UTC {
        when.push_str(&format!("\n      {}", local_span(meeting.starts_at, meeting.ends_at, chrono_tz::UTC)));
    }
    let mut details = vec![when];
    if !meeting.location.is_empty() {
        details.push(format!("Where: {}", meeting.location));
    }
    if let Some(url) = &meeting.conference_url {
        details.push(format!("Join: {url}"));
    }
    details.push(format!("Organiser: {} <{}>", organizer.name, organizer.email));
    let body = format!(
        // The post-mortem's address follows as the email's link.
        "{intro}\n\nIncident #{}: {} ({})\n{}",
        incident.id,
        incident.title,
        incident.severity(),
        details.join("\n"),
    );
    let email = Email {
        kind: "meeting",
        subject: format!("{prefix}: {summary}"),
        heading: heading.to_owned(),
        body,
        link_label: "Open the post-mortem".to_owned(),
        link_url: doc,
        footer: Some("Reply to the invitation from your calendar to tell the organiser whether you can come.".into()),
        unsubscribe_url: None,
        incident_id: Some(incident.id),
        ..Default::default()
    };
    let mut out = Vec::with_capacity(people.len());
    for p in people {
        let mut m = email.to(settings, &p.name, &p.email).map_err(anyhow::Error::from)?;
        m.calendar = Some(ics.clone());
        m.calendar_method = Some(method.as_str().to_owned());
        out.push(m);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn spans_are_written_in_the_zone_with_its_name() {
        let s = Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).single().expect("time");
        let e = s + chrono::Duration::minutes(90);
        assert_eq!(
            local_span(s, e, chrono_tz::Europe::Berlin),
            "Tuesday 24 November 2026, 10:00–11:30 CET (Europe/Berlin)"
        );
        assert_eq!(local_span(s, e, chrono_tz::UTC), "Tuesday 24 November 2026, 09:00–10:30 UTC");
        assert_eq!(utc_text(s), "2026-11-24 09:00 UTC");
    }

    #[test]
    fn the_form_is_checked_field_by_field() {
        let now = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).single().expect("time");
        let input = MeetingInput {
            date: "2026-11-19".into(),
            time: "10:00".into(),
            duration: "0".into(),
            location: String::new(),
            conference_url: String::new(),
            invitees: "Ada <ada@example.com>\nnot an address".into(),
            sequence: String::new(),
        };
        let Err(ServiceError::Invalid(errors)) = check(&input, chrono_tz::UTC, now) else { panic!("refused") };
        assert!(errors.get("duration").is_some_and(|m| m.contains("from 15 to 480")));
        assert!(errors.get("invitees").is_some_and(|m| m.contains("line 2")));
        assert!(errors.get("location").is_some());
        let input = MeetingInput { duration: "30".into(), invitees: "ada@example.com".into(), ..input };
        let Err(ServiceError::Invalid(errors)) = check(&input, chrono_tz::UTC, now) else { panic!("refused") };
        assert!(errors.get("date").is_some_and(|m| m.contains("in the past")), "{errors:?}");
        let input = MeetingInput { date: "2026-11-23".into(), location: "Room 4".into(), ..input };
        let c = check(&input, chrono_tz::UTC, now).expect("valid");
        assert_eq!(c.time.minutes(), 30);
        assert_eq!(c.invitees.len(), 1);
    }
}
