//! On call: schedules and policies built through the pages, a real
//! Alertmanager paging the on-call person by email, the acknowledge link,
//! escalation to the next step, and two instances sharing the work.

use std::time::{Duration, Instant};

use firebreak::domain::Role;
use reqwest::StatusCode;

use crate::helpers::{Browser, TestApp, TestUser, csrf_token, html_of, location};
use crate::smtp::{MailSink, ReceivedMail, spawn_app_with_sink};
use crate::updates::scalar;

/// Creates a schedule with one daily layer through the admin pages; returns its id.
pub(crate) async fn schedule_with(admin: &Browser, name: &str, people: &[&TestUser]) -> String {
    let r = admin.submit("/oncall", "/oncall/schedules", &[("name", name), ("time_zone", "UTC")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "creating the schedule should succeed");
    let page = location(&r);
    let id = page.trim_start_matches("/oncall/schedules/").to_owned();
    let yesterday = (chrono::Utc::now() - chrono::Duration::days(1)).format("%Y-%m-%d").to_string();
    let emails: Vec<&str> = people.iter().map(|u| u.email.as_str()).collect();
    let participants = emails.join("\n");
    let r = admin
        .submit(
            &page,
            &format!("{page}/layers"),
            &[
                ("participants", participants.as_str()),
                ("start_date", yesterday.as_str()),
                ("handoff_time", "00:00"),
                ("shift_length", "7"),
                ("shift_unit", "days"),
                ("restrict", ""),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "adding the layer should succeed");
    id
}

/// Creates a policy: step 1 pages the schedule, step 2 the backup; waits in (test) minutes.
pub(crate) async fn policy_with(admin: &Browser, name: &str, schedule: &str, backup: &TestUser, wait: &str) -> String {
    let r = admin.submit("/oncall/policies", "/oncall/policies", &[("name", name), ("repeat_count", "0")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "creating the policy should succeed");
    let page = location(&r);
    let r = admin
        .submit(&page, &format!("{page}/steps"), &[("schedules", schedule), ("users", ""), ("wait_minutes", wait)])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "step 1");
    let r = admin
        .submit(&page, &format!("{page}/steps"), &[("users", backup.email.as_str()), ("wait_minutes", wait)])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "step 2");
    page.trim_start_matches("/oncall/policies/").to_owned()
}

pub(crate) async fn wait_for(app: &TestApp, sql: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while app.count(sql).await == 0 {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The page messages sent to `address` so far.
pub(crate) fn pages_to(sink: &MailSink, address: &str) -> Vec<ReceivedMail> {
    sink.messages()
        .into_iter()
        .filter(|m| m.to.iter().any(|t| t == address) && m.subject().starts_with("Page"))
        .collect()
}

pub(crate) async fn wait_for_page_mail(sink: &MailSink, address: &str) -> ReceivedMail {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(m) = pages_to(sink, address).into_iter().next() {
            return m;
        }
        assert!(Instant::now() < deadline, "no page reached {address}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The path of the acknowledge link in a page email.
fn ack_path(mail: &ReceivedMail) -> String {
    let text = mail.text();
    let start = text.find("/ack/").expect("the email carries an acknowledge link");
    text[start..].split_whitespace().next().expect("link").to_owned()
}

/// Kills the process when the test ends, however it ends.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn a_real_alertmanager_pages_the_on_call_person_who_acknowledges_with_the_button() {
    let binary = std::path::Path::new("/usr/bin/prometheus-alertmanager");
    if !binary.exists() {
        eprintln!("SKIPPED: /usr/bin/prometheus-alertmanager is not installed");
        return;
    }
    let sink = MailSink::start().await;
    let app = spawn_app_with_sink(&sink).await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let pat = app.create_user(Role::Responder).await;
    let backup = app.create_user(Role::Responder).await;
    let schedule = schedule_with(&admin, "Payments", &[&pat]).await;
    // Long waits (60 test minutes = 30 s): nothing escalates while the test looks at the link.
    let policy = policy_with(&admin, "Payments", &schedule, &backup, "60").await;
    let source = crate::alerts::create_source(
        &app,
        &admin,
        &[("name", "Production Alertmanager"), ("kind", "alertmanager"), ("default_severity", "2")],
    )
    .await;
    let r = admin
        .submit("/oncall/routing", &format!("/oncall/routing/sources/{}", source.id), &[("policy", policy.as_str())])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    let dir = std::env::temp_dir().join(format!("firebreak-am-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(dir.join("data")).expect("temp dir");
    let config = format!(
        "route:\n  receiver: firebreak\n  group_wait: 0s\n  group_interval: 1s\n  repeat_interval: 1h\n\
         receivers:\n  - name: firebreak\n    webhook_configs:\n      - url: '{}/hooks/alerts/{}'\n        send_resolved: true\n\
         \x20       http_config:\n          authorization:\n            type: Bearer\n            credentials: '{}'\n",
        app.address, source.public_id, source.token
    );
    std::fs::write(dir.join("alertmanager.yml"), config).expect("config");
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let child = std::process::Command::new(binary)
        .arg(format!("--config.file={}", dir.join("alertmanager.yml").display()))
        .arg(format!("--storage.path={}", dir.join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start alertmanager");
    let _running = Running(child);
    let api = format!("http://127.0.0.1:{port}/api/v2/alerts");
    let alert = serde_json::json!([{
        "labels": {"alertname": "PaymentsDown", "service": "payments"},
        "annotations": {"summary": "card payments fail"},
    }]);
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match client.post(&api).json(&alert).send().await {
            Ok(r) if r.status().is_success() => break,
            _ if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(100)).await,
            other => panic!("alertmanager did not accept the alert: {other:?}"),
        }
    }

    let mail = wait_for_page_mail(&sink, &pat.email).await;
    assert!(mail.subject().contains("PaymentsDown"), "{}", mail.subject());
    // The page names the alert by its labels, not only the incident's title.
    assert!(mail.text().contains("Alert: alertname=PaymentsDown, service=payments"), "{}", mail.text());
    let incident = scalar(&app, "SELECT id::text AS v FROM incidents").await;

    // A mail scanner (or the person) opening the link changes nothing.
    let path = ack_path(&mail);
    let anonymous = app.browser();
    let html = anonymous.page(&path).await;
    assert!(html.contains("PaymentsDown"), "the link shows the incident");
    assert!(html.contains(">Acknowledge</button>"), "and an Acknowledge button");
    assert_eq!(scalar(&app, "SELECT status AS v FROM pages").await, "active");
    assert_eq!(app.count("SELECT count(*) AS n FROM incidents WHERE acknowledged_at IS NOT NULL").await, 0);

    // The button acknowledges, without a session.
    let token = csrf_token(&html);
    let r = anonymous.post_raw(&path, &[("csrf_token", token.as_str())]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(scalar(&app, "SELECT status AS v FROM pages").await, "acknowledged");
    assert_eq!(app.count("SELECT count(*) AS n FROM incidents WHERE acknowledged_at IS NOT NULL").await, 1);
    let html = anonymous.page(&path).await;
    assert!(html.contains(&format!("Acknowledged by {}", pat.name)), "the link now says who acknowledged");

    // The room's timeline says so, and shows the step and the delivery.
    let (viewer, _) = app.signed_in(Role::Responder).await;
    let room = viewer.page(&format!("/incidents/{incident}")).await;
    assert!(room.contains(&format!("{} acknowledged the page.", pat.name)), "timeline entry");
    assert!(room.contains("Escalation step 1 of 2: paging"), "the step is on the timeline");
    assert!(room.contains(&format!("Paged {} by email", pat.name)), "the delivery is on the timeline");
    let paging = viewer.page(&format!("/incidents/{incident}/paging")).await;
    assert!(paging.contains("acknowledged"), "the paging page shows the page's state");
    // Nobody else is paged after the acknowledgement.
    assert!(pages_to(&sink, &backup.email).is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn escalation_reaches_step_two_when_nobody_acknowledges() {
    let sink = MailSink::start().await;
    let app = spawn_app_with_sink(&sink).await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let pat = app.create_user(Role::Responder).await;
    let backup = app.create_user(Role::Responder).await;
    let schedule = schedule_with(&admin, "Checkout", &[&pat]).await;
    // One test minute is half a second.
    let policy = policy_with(&admin, "Checkout", &schedule, &backup, "1").await;
    let r = admin
        .submit(
            "/incidents/new",
            "/incidents",
            &[("title", "Checkout is slow"), ("severity", "2"), ("environment", "production")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let room = location(&r);
    let r = admin.submit(&format!("{room}/paging"), &format!("{room}/paging"), &[("policy", policy.as_str())]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "Page someone");

    wait_for_page_mail(&sink, &pat.email).await;
    wait_for_page_mail(&sink, &backup.email).await;
    wait_for(&app, "SELECT count(*) AS n FROM pages WHERE status = 'exhausted'", "the policy to run out").await;
    let html = admin.page(&room).await;
    assert!(html.contains("Escalation step 2 of 2: paging"), "step 2 is on the timeline");
    assert!(html.contains("Nobody acknowledged the page after every step"), "and the end");
    assert_eq!(pages_to(&sink, &pat.email).len(), 1, "step 1 paged once");
    assert_eq!(pages_to(&sink, &backup.email).len(), 1, "step 2 paged once");
    let report = admin.page("/oncall/reports").await;
    assert!(report.contains(&format!("<td>{}</td>", backup.name)), "the report counts the backup's page");
}

#[tokio::test]
async fn two_instances_notify_each_step_exactly_once() {
    let sink = MailSink::start().await;
    let app = spawn_app_with_sink(&sink).await;
    let other = app.another_instance().await;
    let (admin, admin_user) = app.signed_in(Role::Admin).await;
    let pat = app.create_user(Role::Responder).await;
    let backup = app.create_user(Role::Responder).await;
    let schedule = schedule_with(&admin, "Search", &[&pat]).await;
    let policy = policy_with(&admin, "Search", &schedule, &backup, "1").await;
    let mut rooms = Vec::new();
    for i in 0..5 {
        let title = format!("Search outage {i}");
        let r = admin
            .submit(
                "/incidents/new",
                "/incidents",
                &[("title", title.as_str()), ("severity", "2"), ("environment", "production")],
            )
            .await;
        rooms.push(location(&r));
    }
    // Half the pages started through each instance.
    let other_admin = other.browser();
    other_admin.sign_in(&admin_user.email, &admin_user.password).await;
    for (i, room) in rooms.iter().enumerate() {
        let b = if i % 2 == 0 { &admin } else { &other_admin };
        let r = b.submit(&format!("{room}/paging"), &format!("{room}/paging"), &[("policy", policy.as_str())]).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
    }
    wait_for(
        &app,
        "SELECT (count(*) = 5)::int::int8 AS n FROM pages WHERE status = 'exhausted'",
        "every policy to run out",
    )
    .await;
    // One message row per page, step and person, and one email per message.
    assert_eq!(app.count("SELECT count(*) AS n FROM page_notifications").await, 10);
    assert_eq!(
        app.count("SELECT count(*) AS n FROM (SELECT page_id, step FROM page_notifications GROUP BY 1, 2 HAVING count(*) > 1) d")
            .await,
        0
    );
    assert_eq!(
        app.count("SELECT count(*) AS n FROM outbox WHERE kind = 'page'").await,
        app.count("SELECT count(DISTINCT (channel, sent_at)) AS n FROM page_notifications WHERE status = 'sent'").await
    );
    // Every step is on its incident's timeline exactly once.
    assert_eq!(
        app.count("SELECT count(*) AS n FROM timeline_entries WHERE body LIKE 'Escalation step 1 of 2:%'").await,
        5
    );
    assert_eq!(
        app.count("SELECT count(*) AS n FROM timeline_entries WHERE body LIKE 'Escalation step 2 of 2:%'").await,
        5
    );
}

#[tokio::test]
async fn a_bad_layer_is_refused_with_a_message_per_field_and_the_values_kept() {
    let app = crate::helpers::spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let r = admin.submit("/oncall", "/oncall/schedules", &[("name", "Infra"), ("time_zone", "Europe/Berlin")]).await;
    let page = location(&r);
    let r = admin
        .submit(
            &page,
            &format!("{page}/layers"),
            &[
                ("participants", "nobody@example.test"),
                ("start_date", ""),
                ("handoff_time", "09:00"),
                ("shift_length", "0"),
                ("shift_unit", "days"),
            ],
        )
        .await;
    let html = html_of(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(html.contains("Nobody here has the email address nobody@example.test."));
    assert!(html.contains("Enter the first day as a date"));
    assert!(html.contains("Enter a whole number from 1 to 1000."));
    assert!(html.contains(">nobody@example.test</textarea>"), "the values are kept");
    assert_eq!(app.count("SELECT count(*) AS n FROM oncall_layers").await, 0);
}

#[tokio::test]
async fn viewers_cannot_build_schedules_and_everyone_sees_who_is_on_call() {
    let app = crate::helpers::spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let pat = app.create_user(Role::Responder).await;
    let schedule = schedule_with(&admin, "Payments", &[&pat]).await;
    let (viewer, _) = app.signed_in(Role::Viewer).await;
    let html = viewer.page("/oncall").await;
    assert!(html.contains(&format!("<td>{}</td>", pat.name)), "the viewer sees who is on call now");
    assert!(!html.contains("Create schedule"));
    let html = viewer.page(&format!("/oncall/schedules/{schedule}")).await;
    let token = csrf_token(&html);
    let r = viewer
        .post_raw("/oncall/schedules", &[("csrf_token", token.as_str()), ("name", "Mine"), ("time_zone", "UTC")])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.count("SELECT count(*) AS n FROM oncall_schedules").await, 1);
}

/// The form control whose visible `<label>` says `label`.
fn labelled(label: &str) -> String {
    format!("//*[@id=//label[normalize-space()='{label}']/@for]")
}

async fn click_button(browser: &fantoccini::Client, text: &str) {
    use fantoccini::Locator;
    browser
        .find(Locator::XPath(&format!("//button[normalize-space()='{text}']")))
        .await
        .unwrap_or_else(|e| panic!("a button “{text}”: {e}"))
        .click()
        .await
        .expect("click");
}

async fn type_into(browser: &fantoccini::Client, label: &str, text: &str) {
    use fantoccini::Locator;
    let field = browser
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::XPath(&labelled(label)))
        .await
        .unwrap_or_else(|e| panic!("a field labelled “{label}”: {e}"));
    field.clear().await.expect("clear");
    field.send_keys(text).await.expect("type");
}

async fn wait_for_text(browser: &fantoccini::Client, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let body = browser.source().await.expect("page source");
        if body.contains(text) {
            return;
        }
        assert!(Instant::now() < deadline, "the page never showed “{text}”");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_admin_builds_a_schedule_and_a_policy_in_a_browser_by_labels() {
    use fantoccini::Locator;
    let driver = crate::browser::Chromedriver::start();
    let app = crate::helpers::spawn_app().await;
    let admin = app.create_user(Role::Admin).await;
    let pat = app.create_user(Role::Responder).await;
    let browser = driver.new_session("oncall-admin").await;
    crate::browser::sign_in(&browser, &app.address, &admin).await;

    browser.find(Locator::LinkText("On call")).await.expect("the nav links to On call").click().await.expect("click");
    type_into(&browser, "Schedule name", "Payments").await;
    click_button(&browser, "Create schedule").await;
    // The layer form starts with today, 09:00, 1 week.
    type_into(&browser, "Participants (email addresses, in rotation order)", &pat.email).await;
    type_into(&browser, "Shift length", "1").await;
    click_button(&browser, "Add layer").await;
    wait_for_text(&browser, "Layer added.").await;
    wait_for_text(&browser, &format!("<td>{}</td>", pat.name)).await;

    browser.find(Locator::LinkText("All schedules")).await.expect("link").click().await.expect("click");
    browser.find(Locator::LinkText("Escalation policies")).await.expect("link").click().await.expect("click");
    type_into(&browser, "Policy name", "Payments").await;
    click_button(&browser, "Create policy").await;
    browser
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::XPath(&labelled("Payments")))
        .await
        .expect("a checkbox labelled with the schedule's name")
        .click()
        .await
        .expect("tick it");
    type_into(&browser, "Wait (minutes) before the next step", "10").await;
    click_button(&browser, "Add step").await;
    wait_for_text(&browser, "Step 1: notify on call for Payments; wait 10 minutes.").await;
    let _ = browser.close().await;
}

/// Parses a calendar with Python's `icalendar` and returns its events as JSON.
fn parse_ics(ics: &str) -> serde_json::Value {
    use std::io::Write;
    let script = r#"
import icalendar, json, sys
c = icalendar.Calendar.from_ical(sys.stdin.buffer.read())
out = []
for e in c.walk('VEVENT'):
    s, t = e.decoded('DTSTART'), e.decoded('DTEND')
    out.append({'uid': str(e['UID']), 'summary': str(e['SUMMARY']), 'utc': s.utcoffset().total_seconds() == 0, 'hours': (t - s).total_seconds() / 3600})
print(json.dumps(out))
"#;
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 with icalendar (./scripts/test installs it)");
    child.stdin.take().expect("stdin").write_all(ics.as_bytes()).expect("write");
    let out = child.wait_with_output().expect("python finishes");
    assert!(out.status.success(), "icalendar could not parse the feed:\n{ics}");
    serde_json::from_slice(&out.stdout).expect("json")
}

fn feed_path(html: &str) -> String {
    let start = html.find("/oncall/feeds/").expect("the new link is shown once");
    let end = start + html[start..].find(".ics").expect("link ends") + 4;
    html[start..end].to_owned()
}

#[tokio::test]
async fn a_person_subscribes_to_their_shifts_through_a_secret_link_they_can_reset() {
    let app = crate::helpers::spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let pat = app.create_user(Role::Responder).await;
    let bob = app.create_user(Role::Responder).await;
    schedule_with(&admin, "Payments", &[&pat, &bob]).await;
    let browser = app.browser();
    browser.sign_in(&pat.email, &pat.password).await;
    let r = browser.submit("/oncall/me", "/oncall/feed/reset", &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let path = feed_path(&browser.page("/oncall/me").await);

    let anonymous = app.browser();
    let r = anonymous.get(&path).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"].to_str().expect("type").starts_with("text/calendar"));
    let ics = r.text().await.expect("body");
    assert!(ics.ends_with("END:VCALENDAR\r\n") && !ics.replace("\r\n", "").contains('\n'), "CRLF lines");
    assert!(!ics.contains(&pat.email), "names and times only");
    let events = parse_ics(&ics);
    let events = events.as_array().expect("events");
    let both = crate::meetings::ics_check_feed(ics.as_bytes());
    assert_eq!(both["libical"]["parsed"], true, "libical parses the feed: {both:#}");
    assert_eq!(both["libical"]["errors"], 0, "libical finds no errors: {both:#}");
    assert!(both["longest_line_octets"].as_u64().expect("octets") <= 75, "lines folded at 75 octets: {both:#}");
    assert!(!events.is_empty(), "pat's shifts are in the feed");
    for e in events {
        assert_eq!(e["utc"], true);
        assert_eq!(e["summary"], format!("On call: Payments ({})", pat.name));
        assert!(e["hours"].as_f64().expect("hours") <= 7.0 * 24.0);
    }
    // Stable UIDs: the same shifts, the same UIDs.
    let again = parse_ics(&anonymous.get(&path).await.text().await.expect("body"));
    assert_eq!(
        events.iter().map(|e| e["uid"].clone()).collect::<Vec<_>>(),
        again.as_array().expect("events").iter().map(|e| e["uid"].clone()).collect::<Vec<_>>()
    );

    // A new link stops the old one.
    browser.submit("/oncall/me", "/oncall/feed/reset", &[]).await;
    assert_eq!(anonymous.get(&path).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_signed_webhook_contact_method_gets_its_own_secret_shown_once_and_pages_are_signed_with_it() {
    use crate::webhooks::{Receiver, expected_signature};
    let app = crate::helpers::spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let pat = app.create_user(Role::Responder).await;
    let phone = app.browser();
    phone.sign_in(&pat.email, &pat.password).await;
    let receiver = Receiver::start().await;
    let url = receiver.url("/pager");

    let r = phone
        .submit("/oncall/me", "/oncall/me/methods", &[("kind", "webhook"), ("label", "Pager bot"), ("address", &url)])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let html = phone.page("/oncall/me").await;
    let secret = html
        .split("Signing secret: ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the secret is shown once after adding")
        .to_owned();
    assert!(secret.starts_with("whsec_") && secret.len() > 40, "{secret}");
    assert!(!phone.page("/oncall/me").await.contains(&secret), "and never again");

    // The code arrives signed with that secret; a key made from the person's id does not verify.
    let verify = receiver.wait_for(1, Duration::from_secs(10)).await.remove(0);
    let ts = verify.header("x-firebreak-timestamp").to_owned();
    assert_eq!(verify.header("x-firebreak-signature"), expected_signature(&secret, &ts, &verify.body));
    let guessable = format!("firebreak-page-{}", pat.id);
    assert_ne!(verify.header("x-firebreak-signature"), expected_signature(&guessable, &ts, &verify.body));
    let text = verify.json()["text"].as_str().expect("text").to_owned();
    let code: String = text.chars().filter(char::is_ascii_digit).collect();
    let method = scalar(&app, "SELECT id::text AS v FROM contact_methods").await;
    let r = phone
        .submit("/oncall/me", &format!("/oncall/me/methods/{method}/verify"), &[("code", &code[code.len() - 6..])])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = phone.submit("/oncall/me", "/oncall/me/rules", &[("method", &method), ("delay_minutes", "0")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    let schedule = schedule_with(&admin, "Pager", &[&pat]).await;
    let policy = policy_with(&admin, "Pager", &schedule, &pat, "60").await;
    let r = admin
        .submit("/incidents/new", "/incidents", &[("title", "Queue stuck"), ("severity", "2"), ("environment", "prod")])
        .await;
    let room = location(&r);
    let r = admin.submit(&format!("{room}/paging"), &format!("{room}/paging"), &[("policy", policy.as_str())]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "Page someone");

    let page = receiver.wait_for(2, Duration::from_secs(20)).await.remove(1);
    assert_eq!(page.json()["event"], "page");
    assert_eq!(page.json()["pages"][0]["title"], "Queue stuck");
    let ts = page.header("x-firebreak-timestamp").to_owned();
    assert_eq!(page.header("x-firebreak-signature"), expected_signature(&secret, &ts, &page.body));
}

#[tokio::test]
async fn declaring_can_page_the_severity_default_and_take_the_lead_stops_the_paging() {
    let sink = MailSink::start().await;
    let app = spawn_app_with_sink(&sink).await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let pat = app.create_user(Role::Responder).await;
    let responder = app.browser();
    let declarer = app.create_user(Role::Responder).await;
    responder.sign_in(&declarer.email, &declarer.password).await;
    let schedule = schedule_with(&admin, "Core", &[&pat]).await;
    let policy = policy_with(&admin, "Core", &schedule, &pat, "60").await;
    let fields = |title: &'static str| {
        vec![("title", title), ("severity", "1"), ("environment", "production"), ("page_oncall", "true")]
    };

    // No default policy for SEV1 yet: refused, with the form kept and nothing written.
    let r = responder.submit("/incidents/new", "/incidents", &fields("Database down")).await;
    let html = html_of(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(html.contains("has no default escalation policy"), "the checkbox says why");
    assert!(html.contains("value=\"Database down\""), "the title is kept");
    assert_eq!(app.count("SELECT count(*) AS n FROM incidents").await, 0);

    let r = admin.submit("/oncall/routing", "/oncall/routing/severities/1", &[("policy", policy.as_str())]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = responder.submit("/incidents/new", "/incidents", &fields("Database down")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "declared");
    let room = location(&r);
    wait_for_page_mail(&sink, &pat.email).await;
    assert_eq!(scalar(&app, "SELECT status AS v FROM pages").await, "active");

    // The on-call person opens the room and takes the lead: the paging stops.
    let phone = app.browser();
    phone.sign_in(&pat.email, &pat.password).await;
    let html = phone.page(&room).await;
    assert!(html.contains(">Take the lead</button>") && html.contains(">Escalate now</button>"));
    let r = phone.submit(&room, &format!("{room}/paging/take-lead"), &[]).await;
    assert_eq!(location(&r), room);
    assert_eq!(scalar(&app, "SELECT status AS v FROM pages").await, "acknowledged");
    let html = phone.page(&room).await;
    assert!(html.contains("You are the incident lead; paging stopped."));
    assert!(html.contains(&format!("{} acknowledged the page.", pat.name)));
    let lead =
        scalar(&app, "SELECT user_id::text AS v FROM incident_roles WHERE role = 'lead' AND relieved_at IS NULL").await;
    assert_eq!(lead, pat.id.to_string(), "the person who took the lead leads");
    assert!(!phone.page(&room).await.contains(">Take the lead</button>"), "nothing is paging any more");
}

/// Adds a contact method through the person's page, verifies it with the code
/// it received, and makes it their only rule (at once). Returns its id.
async fn verified_method(
    app: &TestApp,
    phone: &Browser,
    receiver: &crate::webhooks::Receiver,
    kind: &str,
    url: &str,
) -> String {
    let before = receiver.received().len();
    let r =
        phone.submit("/oncall/me", "/oncall/me/methods", &[("kind", kind), ("label", "Phone"), ("address", url)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "adding the {kind} method");
    let code_message = receiver.wait_for(before + 1, Duration::from_secs(10)).await.remove(before);
    let digits: String = code_message.body.chars().filter(char::is_ascii_digit).collect();
    assert!(digits.len() >= 6, "the verification code arrives: {:?}", code_message.body);
    let method = scalar(app, &format!("SELECT max(id)::text AS v FROM contact_methods WHERE kind = '{kind}'")).await;
    let r = phone
        .submit("/oncall/me", &format!("/oncall/me/methods/{method}/verify"), &[("code", &digits[digits.len() - 6..])])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "verifying");
    let r = phone.submit("/oncall/me", "/oncall/me/rules", &[("method", &method), ("delay_minutes", "0")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "the rule");
    method
}

#[tokio::test]
async fn an_ntfy_push_carries_an_acknowledge_action_that_works_without_a_session() {
    use crate::webhooks::Receiver;
    let app = crate::helpers::spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let pat = app.create_user(Role::Responder).await;
    let phone = app.browser();
    phone.sign_in(&pat.email, &pat.password).await;
    let ntfy = Receiver::start().await;
    let topic = ntfy.url("/firebreak-pat");
    verified_method(&app, &phone, &ntfy, "ntfy", &topic).await;

    let schedule = schedule_with(&admin, "Storage", &[&pat]).await;
    let policy = policy_with(&admin, "Storage", &schedule, &pat, "60").await;
    let r = admin
        .submit(
            "/incidents/new",
            "/incidents",
            &[("title", "Disk full on db-2"), ("severity", "1"), ("environment", "prod")],
        )
        .await;
    let room = location(&r);
    // The first push fails: it is tried again, and the timeline says so.
    ntfy.answer(&[503]);
    let r = admin.submit(&format!("{room}/paging"), &format!("{room}/paging"), &[("policy", policy.as_str())]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "Page someone");

    let push = ntfy.wait_for(3, Duration::from_secs(20)).await.remove(2);
    assert_eq!(push.method, "POST");
    assert_eq!(push.path, "/firebreak-pat");
    assert!(push.body.contains("SEV1 Disk full on db-2"), "{:?}", push.body);
    assert!(push.header("title").contains("Disk full on db-2"), "{:?}", push.headers);
    assert_eq!(push.header("priority"), "urgent");
    assert!(push.header("click").ends_with(&room), "a tap opens the room: {:?}", push.headers);
    // ntfy's action syntax: "http, <label>, <url>, method=POST, clear=true".
    let action: Vec<&str> = push.header("actions").split(", ").collect();
    assert_eq!((action[0], action[1]), ("http", "Acknowledge"), "{:?}", push.headers);
    assert!(action.contains(&"method=POST"));
    let ack = action[2].to_owned();
    assert!(ack.contains("/api/v1/pages/acknowledge/"), "{ack}");
    wait_for(
        &app,
        "SELECT count(*) AS n FROM timeline_entries WHERE body LIKE 'Paged % by ntfy.'",
        "the push on the timeline",
    )
    .await;
    let html = admin.page(&room).await;
    assert!(html.contains("(trying again)"), "the failed attempt is on the timeline too");

    // The phone's action button: a bare POST, no session, no CSRF token.
    let path = ack.trim_start_matches("http://127.0.0.1");
    let r = reqwest::Client::new().post(format!("{}{path}", app.address)).send().await.expect("post");
    assert!(r.status().is_success(), "the action acknowledges: {}", r.status());
    assert_eq!(scalar(&app, "SELECT status AS v FROM pages").await, "acknowledged");
    assert!(admin.page(&room).await.contains(&format!("{} acknowledged the page.", pat.name)));
    // The link is single-purpose and dies with the page.
    let again = reqwest::Client::new().post(format!("{}{path}", app.address)).send().await.expect("post");
    assert!(!again.status().is_server_error(), "a second press is not an error: {}", again.status());

    // The reports page counts the page and pat's acknowledgement.
    let report = admin.page("/reports").await;
    assert!(report.contains(">Paging in the last 12 weeks</h2>"), "the paging section is on /reports");
    assert!(report.contains("<td>Storage</td><td>1</td>"), "the policy's page is counted");
    assert!(report.contains(&format!("<td>{}</td><td>1</td>", pat.name)), "pat acknowledged it");
}

#[tokio::test]
async fn a_shift_that_starts_sends_its_person_a_notice_once() {
    let sink = MailSink::start().await;
    let app = spawn_app_with_sink(&sink).await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let pat = app.create_user(Role::Responder).await;
    let r = admin.submit("/oncall", "/oncall/schedules", &[("name", "Checkout"), ("time_zone", "UTC")]).await;
    let page = location(&r);
    // A daily rotation whose first shift began two minutes ago.
    let start = chrono::Utc::now() - chrono::Duration::minutes(2);
    let (date, time) = (start.format("%Y-%m-%d").to_string(), start.format("%H:%M").to_string());
    let r = admin
        .submit(
            &page,
            &format!("{page}/layers"),
            &[
                ("participants", pat.email.as_str()),
                ("start_date", date.as_str()),
                ("handoff_time", time.as_str()),
                ("shift_length", "1"),
                ("shift_unit", "days"),
                ("restrict", ""),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "adding the layer");

    let deadline = Instant::now() + Duration::from_secs(20);
    let notice = loop {
        let found = sink.messages().into_iter().find(|m| m.to.contains(&pat.email) && m.subject().contains("on call"));
        if let Some(m) = found {
            break m;
        }
        assert!(Instant::now() < deadline, "no shift notice reached {}", pat.email);
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(notice.subject().starts_with("You are on call for Checkout from "), "{}", notice.subject());
    assert!(notice.text().contains("You are on call for Checkout from"), "{}", notice.text());
    // The job looks every quarter second here; after several more looks, still one notice.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let notices =
        sink.messages().into_iter().filter(|m| m.to.contains(&pat.email) && m.subject().contains("on call")).count();
    assert_eq!(notices, 1);
}
