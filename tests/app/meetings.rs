//! The post-mortem review meeting: scheduling sends every invitee an email
//! with an RFC 5545 invitation, received by a real SMTP server and checked by
//! two real iCalendar implementations (Python `icalendar`, and libical's iTIP
//! restriction check through tests/tools/ics_check.py); rescheduling keeps
//! the UID and raises SEQUENCE; cancelling sends METHOD:CANCEL; bad input is
//! refused with messages and nothing is written or sent.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use chrono::{DateTime, Duration as Days, NaiveDate, TimeZone, Utc};
use mail_parser::MimeHeaders;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Browser, TestApp, TestUser, html_of, input_value, location, textarea};
use crate::smtp::{MailSink, ReceivedMail};
use crate::updates::{app_with_mail, declare, exec, group, scalar};
use firebreak::domain::Role;

const WAIT: Duration = Duration::from_secs(20);

/// Runs tests/tools/ics_check.py on an invitation and returns its report.
fn ics_check(ics: &[u8]) -> Value {
    ics_check_with(ics, &[])
}

/// The same for a subscribed calendar (a feed has no METHOD, so no iTIP
/// restriction check): both parsers, and libical's parse errors.
pub(crate) fn ics_check_feed(ics: &[u8]) -> Value {
    ics_check_with(ics, &["--feed"])
}

fn ics_check_with(ics: &[u8], flags: &[&str]) -> Value {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/ics_check.py");
    let mut child = Command::new("python3")
        .arg(&script)
        .args(flags)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs (./scripts/test installs icalendar and libical's bindings)");
    child.stdin.take().expect("stdin").write_all(ics).expect("write the invitation");
    let out = child.wait_with_output().expect("the checker finishes");
    assert!(
        out.status.success(),
        "ics_check.py failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(ics)
    );
    serde_json::from_slice(&out.stdout).expect("the checker prints JSON")
}

/// The invite.ics attachment of an email.
fn attached_ics(mail: &ReceivedMail) -> Vec<u8> {
    let attachments = mail.attachments();
    let ics =
        attachments.iter().find(|a| a.name == "invite.ics").unwrap_or_else(|| panic!("no invite.ics in {}", mail.data));
    assert_eq!(ics.content_type, "application/ics");
    ics.body.clone()
}

/// The METHOD parameter of the inline text/calendar alternative.
fn inline_calendar_method(mail: &ReceivedMail) -> String {
    let parsed = mail.parsed();
    let part = parsed
        .parts
        .iter()
        .find(|p| {
            p.content_type().is_some_and(|c| c.ctype() == "text" && c.subtype() == Some("calendar"))
                && p.attachment_name().is_none()
        })
        .unwrap_or_else(|| panic!("no inline text/calendar part in {}", mail.data));
    let ct = part.content_type().expect("content type");
    assert_eq!(ct.attribute("charset"), Some("utf-8"));
    ct.attribute("method").expect("a method parameter").to_owned()
}

/// Checks what every invitation must satisfy, and returns the report.
fn check_invitation(mail: &ReceivedMail, method: &str) -> Value {
    let ics = attached_ics(mail);
    let report = ics_check(&ics);
    let ical = &report["icalendar"];
    assert_eq!(ical["method"], method, "{report:#}");
    assert_eq!(inline_calendar_method(mail), method);
    assert_eq!(ical["version"], "2.0");
    assert_eq!(ical["calscale"], "GREGORIAN");
    assert!(ical["prodid"].as_str().is_some_and(|p| p.contains("Firebreak")));
    assert_eq!(ical["events"], 1);
    assert_eq!(report["crlf_only"], true, "CRLF line ends");
    assert!(report["longest_line_octets"].as_u64().is_some_and(|n| n <= 75), "folded at 75 octets: {report:#}");
    for when in ["dtstart", "dtend", "dtstamp"] {
        assert_eq!(ical[when]["utc"], true, "{when} in UTC: {report:#}");
        assert!(ical[when]["raw"].as_str().is_some_and(|r| r.ends_with('Z')), "{when}: {report:#}");
    }
    let lib = &report["libical"];
    assert_eq!(lib["parsed"], true, "{report:#}");
    assert_eq!(lib["errors"], 0, "libical's iTIP restriction check: {report:#}\n{}", String::from_utf8_lossy(&ics));
    assert_eq!(lib["restrictions_ok"], true, "{report:#}");
    report
}

fn attendees(report: &Value) -> Vec<String> {
    let mut all: Vec<String> = report["icalendar"]["attendees"]
        .as_array()
        .expect("attendees")
        .iter()
        .map(|a| a["value"].as_str().unwrap_or_default().trim_start_matches("mailto:").to_lowercase())
        .collect();
    all.sort();
    all
}

fn recipients(mails: &[ReceivedMail]) -> Vec<String> {
    let mut all: Vec<String> = mails.iter().flat_map(|m| m.to.iter().map(|t| t.to_lowercase())).collect();
    all.sort();
    all
}

struct Scene {
    app: TestApp,
    sink: MailSink,
    browser: Browser,
    me: TestUser,
    incident: String,
    postmortem: String,
}

/// A resolved SEV2 incident with a team: the declaring responder (lead), a
/// responder assigned a task, a viewer who wrote a note, and the
/// "engineering" group (one member is also the task assignee).
async fn scene(severity: &str) -> Scene {
    let (app, sink) = app_with_mail().await;
    let (browser, me) = app.signed_in(Role::Responder).await;
    let helper = app.create_user(Role::Responder).await;
    let writer = app.create_user(Role::Viewer).await;
    let shouted = helper.email.to_uppercase();
    group(&app, "engineering", &[("Eve Engineer", "eve@example.test"), ("Helper Again", shouted.as_str())]).await;
    group(&app, "executives", &[("Xena Exec", "xena@example.test")]).await;
    let incident = declare(&browser, &[("title", "Checkout errors"), ("severity", severity)]).await;
    exec(
        &app,
        &format!(
            "INSERT INTO tasks (incident_id, title, kind, assignee_id, created_by) \
             VALUES ({incident}, 'Roll back', 'mitigation', {}, {})",
            helper.id, me.id
        ),
    )
    .await;
    exec(
        &app,
        &format!(
            "INSERT INTO timeline_entries (incident_id, occurred_at, author_id, kind, body) \
             VALUES ({incident}, now(), {}, 'note', 'Customers report failures')",
            writer.id
        ),
    )
    .await;
    let room = format!("/incidents/{incident}");
    let resolved = browser.submit(&room, &format!("{room}/status"), &[("status", "resolved")]).await;
    assert_eq!(resolved.status(), StatusCode::SEE_OTHER);
    let postmortem =
        scalar(&app, &format!("SELECT id::text AS v FROM postmortems WHERE incident_id = {incident}")).await;
    Scene { app, sink, browser, me, incident, postmortem }
}

/// A day `days` from today in `tz`, as the date field wants it.
fn day_ahead(tz: chrono_tz::Tz, days: i64) -> NaiveDate {
    Utc::now().with_timezone(&tz).date_naive() + Days::days(days)
}

fn utc_of(tz: chrono_tz::Tz, day: NaiveDate, h: u32, m: u32) -> DateTime<Utc> {
    tz.from_local_datetime(&day.and_hms_opt(h, m, 0).expect("time")).earliest().expect("exists").with_timezone(&Utc)
}

impl Scene {
    fn meeting_path(&self) -> String {
        format!("/postmortems/{}/meeting", self.postmortem)
    }

    async fn submit(&self, fields: &[(&str, &str)]) -> reqwest::Response {
        let path = self.meeting_path();
        self.browser.submit(&path, &path, fields).await
    }

    async fn outbox(&self) -> i64 {
        self.app.count("SELECT count(*) AS n FROM outbox").await
    }
}

#[tokio::test]
async fn scheduling_invites_the_team_and_everyone_who_took_part_with_a_valid_invitation() {
    let s = scene("2").await;
    let berlin = chrono_tz::Europe::Berlin;
    exec(&s.app, &format!("UPDATE users SET time_zone = 'Europe/Berlin' WHERE id = {}", s.me.id)).await;

    // The room offers to schedule the meeting once the incident is resolved.
    let room = s.browser.page(&format!("/incidents/{}", s.incident)).await;
    assert!(room.contains("id=\"review-meeting\""), "the room has the meeting card");
    assert!(room.contains("Schedule review meeting") && room.contains(&s.meeting_path()));

    // The form states the deadline, suggests a slot and lists the team.
    let form = s.browser.page(&s.meeting_path()).await;
    assert!(form.contains("SEV2 reviews are held within 5 business days of resolution"), "{form}");
    assert!(form.contains("Europe/Berlin"), "times are in the organiser's zone");
    let suggested = input_value(&form, "date");
    assert!(NaiveDate::parse_from_str(&suggested, "%Y-%m-%d").is_ok(), "a suggested date: {suggested}");
    assert!(["10:00", "14:00"].contains(&input_value(&form, "time").as_str()));
    assert_eq!(input_value(&form, "duration"), "60");
    let team = textarea(&form, "invitees");
    let expected: Vec<String> = {
        let mut v: Vec<String> = scalar(
            &s.app,
            &format!(
                "SELECT string_agg(lower(email), ',' ORDER BY lower(email)) AS v FROM users \
                 WHERE id IN (SELECT user_id FROM incident_roles WHERE incident_id = {i} \
                 UNION SELECT author_id FROM timeline_entries WHERE incident_id = {i} \
                 UNION SELECT assignee_id FROM tasks WHERE incident_id = {i})",
                i = s.incident
            ),
        )
        .await
        .split(',')
        .map(str::to_owned)
        .collect();
        v.push("eve@example.test".to_owned());
        v.sort();
        v
    };
    assert_eq!(expected.len(), 4, "the lead, the assignee, the note writer and Eve: {expected:?}");
    let mut prefilled: Vec<String> = team
        .lines()
        .map(|l| l.rsplit_once('<').map_or(l, |(_, e)| e.trim_end_matches('>')).trim().to_lowercase())
        .collect();
    prefilled.sort();
    assert_eq!(prefilled, expected, "each person once: {team}");
    assert!(team.contains(&format!("{} <{}>", s.me.name, s.me.email.to_lowercase())), "{team}");
    assert!(!team.contains("xena@"), "only the default group");

    // Another team list can be chosen.
    let execs = scalar(&s.app, "SELECT id::text AS v FROM stakeholder_groups WHERE name = 'executives'").await;
    let other = s.browser.page(&format!("{}?group={execs}", s.meeting_path())).await;
    assert!(textarea(&other, "invitees").contains("Xena Exec <xena@example.test>"));

    let day = day_ahead(berlin, 2);
    let date = day.format("%Y-%m-%d").to_string();
    let invitees = format!("{team}\nKülli Ünal-Østergaard <kulli@example.test>");
    let response = s
        .submit(&[
            ("date", &date),
            ("time", "10:30"),
            ("duration", "45"),
            ("location", "Room 4, 2nd floor; east wing"),
            ("conference_url", "https://meet.example.test/pm-review"),
            ("invitees", &invitees),
            ("sequence", ""),
        ])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{}", response.text().await.unwrap_or_default());
    assert_eq!(location(&response), format!("/postmortems/{}", s.postmortem));

    let mails = s.sink.wait_for(5, WAIT).await;
    let mut everyone = expected.clone();
    everyone.push("kulli@example.test".to_owned());
    everyone.sort();
    assert_eq!(recipients(&mails), everyone, "one email per invitee");

    let start = utc_of(berlin, day, 10, 30);
    let uid = scalar(&s.app, "SELECT uid AS v FROM review_meetings").await;
    let first_ics = attached_ics(&mails[0]);
    for mail in &mails {
        assert!(mail.subject().contains("Checkout errors"), "the subject names the incident: {}", mail.subject());
        assert!(mail.subject().starts_with("Invitation: "));
        let text = mail.text();
        assert!(text.contains(&start.format("%H:%M").to_string()) && text.contains("UTC"), "UTC time: {text}");
        assert!(text.contains("10:30") && text.contains("Europe/Berlin"), "organiser's time: {text}");
        assert!(text.contains(&format!("/postmortems/{}", s.postmortem)), "links the post-mortem: {text}");
        assert!(mail.html().contains(&format!("/postmortems/{}", s.postmortem)));
        assert_eq!(attached_ics(mail), first_ics, "everyone gets the same invitation");
    }
    let report = check_invitation(&mails[0], "REQUEST");
    let ical = &report["icalendar"];
    assert_eq!(ical["uid"], uid.as_str());
    assert!(uid.ends_with("@127.0.0.1"), "the UID names the host: {uid}");
    assert_eq!(ical["sequence"], 0);
    assert_eq!(ical["status"], "CONFIRMED");
    assert_eq!(ical["dtstart"]["raw"], start.format("%Y%m%dT%H%M%SZ").to_string());
    assert_eq!(ical["dtend"]["raw"], (start + Days::minutes(45)).format("%Y%m%dT%H%M%SZ").to_string());
    assert!(ical["summary"].as_str().is_some_and(|t| t.contains("Checkout errors")), "{report:#}");
    assert!(ical["url"].as_str().is_some_and(|u| u.ends_with(&format!("/postmortems/{}", s.postmortem))));
    assert!(ical["description"].as_str().is_some_and(|d| d.contains(&format!("/postmortems/{}", s.postmortem))));
    assert!(
        ical["location"].as_str().is_some_and(
            |l| l.contains("Room 4, 2nd floor; east wing") && l.contains("https://meet.example.test/pm-review")
        ),
        "escaped and read back: {report:#}"
    );
    let organizer = &ical["organizer"];
    assert_eq!(organizer["value"], format!("mailto:{}", s.me.email.to_lowercase()));
    assert_eq!(organizer["params"]["CN"], s.me.name.as_str());
    assert_eq!(attendees(&report), everyone, "one ATTENDEE per invitee");
    for a in report["icalendar"]["attendees"].as_array().expect("attendees") {
        assert_eq!(a["params"]["RSVP"], "TRUE");
        assert_eq!(a["params"]["ROLE"], "REQ-PARTICIPANT");
        assert_eq!(a["params"]["PARTSTAT"], "NEEDS-ACTION");
    }
    assert!(
        report["icalendar"]["attendees"]
            .as_array()
            .expect("attendees")
            .iter()
            .any(|a| a["params"]["CN"] == "Külli Ünal-Østergaard"),
        "non-ASCII names survive folding: {report:#}"
    );

    // The post-mortem page (where the form sent us) shows the meeting card.
    let doc = s.browser.page(&format!("/postmortems/{}", s.postmortem)).await;
    assert!(doc.contains("Scheduled the review meeting"), "the flash message");
    assert!(doc.contains("id=\"postmortem-meeting\"") && doc.contains("5 people"), "{doc}");

    // The meeting is on the room (card and timeline) and the form now reschedules.
    let room = s.browser.page(&format!("/incidents/{}", s.incident)).await;
    assert!(room.contains("scheduled the post-mortem review meeting"), "on the timeline");
    assert!(room.contains("5 people") && room.contains("Room 4, 2nd floor; east wing"), "the card shows it");
    assert!(room.contains("Reschedule or cancel the review meeting"));
    let form = s.browser.page(&s.meeting_path()).await;
    assert!(form.contains("Reschedule meeting") && form.contains("Cancel meeting"));
    assert_eq!(input_value(&form, "time"), "10:30");
    assert_eq!(input_value(&form, "sequence"), "0");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(s.sink.messages().len(), 5, "nobody gets a second copy");
}

#[tokio::test]
async fn rescheduling_keeps_the_uid_and_cancelling_sends_cancel() {
    let s = scene("1").await;
    let day = day_ahead(chrono_tz::UTC, 1);
    let date = day.format("%Y-%m-%d").to_string();
    let form = s.browser.page(&s.meeting_path()).await;
    assert!(form.contains("SEV1 reviews are held within 3 days of resolution"));
    let first = "Ann <ann@example.test>\nBob <bob@example.test>\nCy <cy@example.test>";
    let response = s
        .submit(&[
            ("date", &date),
            ("time", "15:00"),
            ("duration", "60"),
            ("location", "Room 1"),
            ("invitees", first),
            ("sequence", ""),
        ])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let mails = s.sink.wait_for(3, WAIT).await;
    let uid = check_invitation(&mails[0], "REQUEST")["icalendar"]["uid"].as_str().expect("uid").to_owned();

    // A second, stale form (still saying there is no meeting) is refused.
    let stale = s
        .submit(&[("date", &date), ("time", "16:00"), ("duration", "30"), ("location", "Room 2"), ("invitees", first)])
        .await;
    let body = html_of(stale, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(body.contains("Someone else changed the review meeting"), "{body}");

    // Reschedule: a new time, Cy taken off and Di added.
    let later = (day + Days::days(1)).format("%Y-%m-%d").to_string();
    let second = "Ann <ann@example.test>\nBob <bob@example.test>\nDi <di@example.test>";
    let response = s
        .submit(&[
            ("date", &later),
            ("time", "09:15"),
            ("duration", "90"),
            ("location", "Room 1"),
            ("invitees", second),
            ("sequence", "0"),
        ])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{}", response.text().await.unwrap_or_default());
    let all = s.sink.wait_for(7, WAIT).await;
    let update = &all[3..];
    assert_eq!(recipients(update), ["ann@example.test", "bob@example.test", "cy@example.test", "di@example.test"]);
    for mail in update {
        if mail.to == ["cy@example.test"] {
            let report = check_invitation(mail, "CANCEL");
            assert_eq!(report["icalendar"]["uid"], uid.as_str());
            assert_eq!(report["icalendar"]["sequence"], 1);
            assert_eq!(attendees(&report), ["cy@example.test"], "the CANCEL names who is taken off");
            assert!(mail.subject().starts_with("Cancelled: "));
        } else {
            let report = check_invitation(mail, "REQUEST");
            let ical = &report["icalendar"];
            assert_eq!(ical["uid"], uid.as_str(), "same UID");
            assert_eq!(ical["sequence"], 1, "higher SEQUENCE");
            let start = utc_of(chrono_tz::UTC, day + Days::days(1), 9, 15);
            assert_eq!(ical["dtstart"]["raw"], start.format("%Y%m%dT%H%M%SZ").to_string());
            assert_eq!(attendees(&report), ["ann@example.test", "bob@example.test", "di@example.test"]);
            assert!(mail.subject().starts_with("Updated invitation: "));
        }
    }
    assert_eq!(s.app.count("SELECT count(*) AS n FROM review_meeting_invitees WHERE removed_at IS NOT NULL").await, 1);

    // Nothing changed: refused, nothing sent.
    let same = s
        .submit(&[
            ("date", &later),
            ("time", "09:15"),
            ("duration", "90"),
            ("location", "Room 1"),
            ("invitees", second),
            ("sequence", "1"),
        ])
        .await;
    let body = html_of(same, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(body.contains("Nothing changed"), "{body}");
    assert_eq!(s.outbox().await, 7);

    // Cancel, after a confirmation page.
    let cancel_path = format!("{}/cancel", s.meeting_path());
    let confirm = s.browser.page(&cancel_path).await;
    assert!(confirm.contains("Cancel meeting") && confirm.contains("3 people"));
    let response = s.browser.submit(&cancel_path, &cancel_path, &[("sequence", "1")]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let all = s.sink.wait_for(10, WAIT).await;
    let cancelled = &all[7..];
    assert_eq!(recipients(cancelled), ["ann@example.test", "bob@example.test", "di@example.test"]);
    for mail in cancelled {
        let report = check_invitation(mail, "CANCEL");
        let ical = &report["icalendar"];
        assert_eq!(ical["uid"], uid.as_str());
        assert_eq!(ical["sequence"], 2);
        assert_eq!(ical["status"], "CANCELLED");
        assert!(mail.subject().starts_with("Cancelled: ") && mail.subject().contains("Checkout errors"));
    }

    let room = s.browser.page(&format!("/incidents/{}", s.incident)).await;
    assert!(room.contains("rescheduled the post-mortem review meeting"));
    assert!(room.contains("cancelled the post-mortem review meeting"));
    assert!(room.contains("No review meeting is scheduled"), "the card offers a new one");
    assert_eq!(s.app.count("SELECT count(*) AS n FROM review_meetings WHERE cancelled_at IS NULL").await, 0);
    // A new meeting gets a new UID.
    let response = s
        .submit(&[
            ("date", &date),
            ("time", "11:00"),
            ("duration", "30"),
            ("location", "Room 9"),
            ("invitees", "ann@example.test"),
        ])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let all = s.sink.wait_for(11, WAIT).await;
    let report = check_invitation(&all[10], "REQUEST");
    assert_ne!(report["icalendar"]["uid"], uid.as_str());
    assert_eq!(report["icalendar"]["sequence"], 0);
}

#[tokio::test]
async fn bad_input_is_refused_with_messages_and_nothing_is_written_or_sent() {
    let s = scene("3").await;
    let form = s.browser.page(&s.meeting_path()).await;
    assert!(form.contains("SEV3 incidents have no deadline"), "{form}");
    let yesterday = day_ahead(chrono_tz::UTC, -1).format("%Y-%m-%d").to_string();
    let tomorrow = day_ahead(chrono_tz::UTC, 1).format("%Y-%m-%d").to_string();

    let past = s
        .submit(&[
            ("date", &yesterday),
            ("time", "10:00"),
            ("duration", "60"),
            ("location", "The big room"),
            ("invitees", "Ann <ann@example.test>"),
        ])
        .await;
    let body = html_of(past, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(body.contains("That time is in the past"), "{body}");
    assert!(body.contains("aria-describedby=\"date-error\""));
    assert!(body.contains("value=\"The big room\"") && body.contains(&format!("value=\"{yesterday}\"")), "values kept");

    let bad_email = s
        .submit(&[
            ("date", &tomorrow),
            ("time", "10:00"),
            ("duration", "60"),
            ("location", "The big room"),
            ("invitees", "Ann <ann@example.test>\nbob at example\nCy <cy@example.test>\nDi <di@>"),
        ])
        .await;
    let body = html_of(bad_email, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(body.contains("Check lines 2 and 4"), "line-numbered message: {body}");
    assert!(body.contains("bob at example"), "the list is kept as typed");

    let no_duration = s
        .submit(&[
            ("date", &tomorrow),
            ("time", "10:00"),
            ("duration", "0"),
            ("location", ""),
            ("conference_url", "not a link"),
            ("invitees", ""),
        ])
        .await;
    let body = html_of(no_duration, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(body.contains("from 15 to 480"), "{body}");
    assert!(body.contains("Enter a link starting with https://"));
    assert!(body.contains("Invite at least one person"));
    assert!(body.contains("value=\"0\""), "the duration is kept");

    assert_eq!(s.app.count("SELECT count(*) AS n FROM review_meetings").await, 0, "nothing written");
    assert_eq!(s.app.count("SELECT count(*) AS n FROM review_meeting_invitees").await, 0);
    assert_eq!(s.outbox().await, 0, "nothing queued");
    let entries = s
        .app
        .count(&format!(
            "SELECT count(*) AS n FROM timeline_entries WHERE incident_id = {} AND body LIKE '%review meeting%'",
            s.incident
        ))
        .await;
    assert_eq!(entries, 0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(s.sink.messages().is_empty(), "no email");
}

#[tokio::test]
async fn only_responders_schedule_and_only_for_resolved_incidents() {
    let (app, _sink) = app_with_mail().await;
    let (browser, _) = app.signed_in(Role::Responder).await;
    let incident = declare(&browser, &[("title", "Still burning"), ("severity", "2")]).await;
    let postmortem =
        scalar(&app, &format!("SELECT id::text AS v FROM postmortems WHERE incident_id = {incident}")).await;
    let path = format!("/postmortems/{postmortem}/meeting");

    // Not resolved: no card in the room, and the form says why.
    let room = browser.page(&format!("/incidents/{incident}")).await;
    assert!(!room.contains("id=\"review-meeting\""));
    let page = browser.page(&path).await;
    assert!(page.contains("not resolved yet"));
    let token = crate::helpers::csrf_token(&page);
    let tomorrow = day_ahead(chrono_tz::UTC, 1).format("%Y-%m-%d").to_string();
    let fields = [
        ("csrf_token", token.as_str()),
        ("date", tomorrow.as_str()),
        ("time", "10:00"),
        ("duration", "30"),
        ("location", "Room"),
        ("invitees", "ann@example.test"),
    ];
    let refused = browser.post_raw(&path, &fields).await;
    let body = html_of(refused, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(body.contains("once the incident is resolved"), "{body}");

    // Viewers read the room but cannot open or post the form.
    let (viewer, _) = app.signed_in(Role::Viewer).await;
    assert_eq!(viewer.get(&path).await.status(), StatusCode::FORBIDDEN);
    let page = viewer.page(&format!("/incidents/{incident}")).await;
    let token = crate::helpers::csrf_token(&page);
    let mut fields = fields;
    fields[0] = ("csrf_token", token.as_str());
    assert_eq!(viewer.post_raw(&path, &fields).await.status(), StatusCode::FORBIDDEN);
    // An unknown post-mortem is not found.
    assert_eq!(browser.get("/postmortems/999999/meeting").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.count("SELECT count(*) AS n FROM review_meetings").await, 0);
}

/// axe-core (WCAG 2.1 A/AA) on the meeting pages in headless Chromium, light
/// and dark: the new form, the form answered with messages, the room and the
/// reschedule form with a meeting on, and the cancellation page.
#[tokio::test]
async fn the_meeting_pages_pass_axe() {
    use fantoccini::Locator;
    use fantoccini::wd::WebDriverCompatibleCommand;

    #[derive(Debug)]
    struct Cdp(Value);
    impl WebDriverCompatibleCommand for Cdp {
        fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
            base.join(&format!("session/{}/goog/cdp/execute", session.unwrap_or_default()))
        }
        fn method_and_body(&self, _: &url::Url) -> (reqwest::Method, Option<String>) {
            (reqwest::Method::POST, Some(self.0.to_string()))
        }
    }
    const RUN_AXE: &str = "const done = arguments[arguments.length - 1];
        axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
            resultTypes: ['violations'] }).then(
            r => done(r.violations.map(v => v.id + ': ' + v.help + ' ' + JSON.stringify(v.nodes.map(n => n.target)))),
            e => done(['axe failed: ' + e]));";
    let axe = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/node_modules/axe-core/axe.min.js"),
    )
    .expect("axe-core is missing: run ./scripts/test, or `npm ci` in tests/tools");

    let s = scene("2").await;
    let driver = crate::browser::Chromedriver::start();
    let browser = driver.new_session("meetings-axe").await;
    crate::browser::sign_in(&browser, &s.app.address, &s.me).await;
    let mut failures = Vec::new();
    let audit = async |what: &str, failures: &mut Vec<String>| {
        browser.execute(&format!("{axe}\n;return true;"), vec![]).await.expect("inject axe-core");
        let found = browser.execute_async(RUN_AXE, vec![]).await.expect("run axe");
        for v in found.as_array().expect("a list") {
            failures.push(format!("{what}: {}", v.as_str().unwrap_or_default()));
        }
    };
    let form = s.meeting_path();
    for scheme in ["light", "dark"] {
        let emulate = serde_json::json!({ "cmd": "Emulation.setEmulatedMedia",
            "params": { "features": [{ "name": "prefers-color-scheme", "value": scheme }] } });
        browser.issue_cmd(Cdp(emulate)).await.expect("emulate the colour scheme");
        browser.goto(&format!("{}{form}", s.app.address)).await.expect("open the form");
        audit(&format!("{form} ({scheme})"), &mut failures).await;
        // Refused: no invitees.
        browser.execute("document.getElementById('invitees').value = '';", vec![]).await.expect("clear");
        browser
            .find(Locator::XPath("//main//button[normalize-space()='Schedule review meeting']"))
            .await
            .expect("the schedule button")
            .click()
            .await
            .expect("click");
        browser.wait().for_element(Locator::Css(".field-error")).await.expect("a message per field");
        audit(&format!("{form} refused ({scheme})"), &mut failures).await;
    }
    let tomorrow = day_ahead(chrono_tz::UTC, 1).format("%Y-%m-%d").to_string();
    let response = s
        .submit(&[
            ("date", &tomorrow),
            ("time", "10:00"),
            ("duration", "30"),
            ("location", "Room 4"),
            ("invitees", "ann@example.test"),
        ])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    for scheme in ["light", "dark"] {
        let emulate = serde_json::json!({ "cmd": "Emulation.setEmulatedMedia",
            "params": { "features": [{ "name": "prefers-color-scheme", "value": scheme }] } });
        browser.issue_cmd(Cdp(emulate)).await.expect("emulate the colour scheme");
        for path in [form.clone(), format!("{form}/cancel"), format!("/incidents/{}", s.incident)] {
            browser.goto(&format!("{}{path}", s.app.address)).await.expect("open");
            audit(&format!("{path} ({scheme})"), &mut failures).await;
        }
    }
    browser.close().await.expect("close the browser");
    assert!(failures.is_empty(), "axe-core found WCAG 2.1 A/AA violations:\n{}", failures.join("\n"));
}
