//! The incident room at 3 a.m. (issue 13): one screen on a laptop and a
//! phone, nothing typed is lost, everything can change later.

use std::time::Instant;

use fantoccini::key::Key;
use fantoccini::{Client, Locator};
use firebreak::domain::Role;
use reqwest::StatusCode;
use serde_json::json;

use crate::accessibility::{Cdp, audit};
use crate::browser::{Chromedriver, PAGE, TIMELINE_HAS, sign_in, wait_until};
use crate::helpers::{Browser, TestApp, html_of, input_value, location, spawn_app};
use crate::updates::{component, exec, group, post_update};

async fn declare(browser: &Browser, fields: &[(&str, &str)]) -> String {
    let response = browser.submit("/incidents/new", "/incidents", fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "declaring should open the room");
    location(&response)
}

#[tokio::test]
async fn a_live_refresh_after_one_note_sends_only_that_note_in_under_5_kb() {
    let app = spawn_app().await;
    let (browser, _) = app.signed_in(Role::Responder).await;
    let room = declare(&browser, &[("title", "Checkout errors")]).await;
    let html = browser.page(&room).await;
    let last = input_attr(&html, "data-last-entry");
    browser.submit(&room, &format!("{room}/notes"), &[("body", "Error rate is 12% on checkout")]).await;

    let response = browser.get(&format!("{room}/entries?after={last}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let fragment = response.text().await.expect("body");
    assert!(fragment.contains("Error rate is 12% on checkout"), "{fragment}");
    assert_eq!(fragment.matches("<li class=\"timeline-entry").count(), 1, "only the new entry: {fragment}");
    assert!(fragment.len() < 5 * 1024, "a refresh after one note sends {} bytes", fragment.len());

    // Someone who may not see the incident gets nothing.
    let restricted = declare(&browser, &[("title", "Leaked keys"), ("restricted", "true")]).await;
    let (other, _) = app.signed_in(Role::Responder).await;
    assert_eq!(other.get(&format!("{restricted}/entries?after=0")).await.status(), StatusCode::NOT_FOUND);
}

/// An attribute's value on the room's root element.
fn input_attr(html: &str, attr: &str) -> String {
    let marker = format!("{attr}=\"");
    let start = html.find(&marker).unwrap_or_else(|| panic!("the room has {attr}")) + marker.len();
    let end = html[start..].find('"').expect("closing quote") + start;
    html[start..end].to_owned()
}

#[tokio::test]
async fn the_room_sends_the_newest_200_entries_and_links_to_the_rest() {
    let app = spawn_app().await;
    let (browser, _) = app.signed_in(Role::Responder).await;
    let room = declare(&browser, &[("title", "Long night")]).await;
    let id = room.trim_start_matches("/incidents/");
    exec(
        &app,
        &format!(
            "INSERT INTO timeline_entries (incident_id, occurred_at, kind, body, body_html)
             SELECT {id}, now() - (300 - g) * interval '1 second', 'note', 'Old note ' || g, '<p>Old note ' || g || '</p>'
             FROM generate_series(1, 300) g"
        ),
    )
    .await;
    let html = browser.page(&room).await;
    assert_eq!(html.matches("<li class=\"timeline-entry").count(), 200);
    assert!(html.contains("Show earlier entries ("), "a link to the rest");
    assert!(!html.contains("Old note 50<"), "older entries wait for the link");
    let all = browser.page(&format!("{room}?all=1")).await;
    assert!(all.contains("Old note 50<"));
    assert!(!all.contains("Show earlier entries"));
}

#[tokio::test]
async fn the_second_editor_of_the_details_sees_both_versions_and_changes_only_their_fields() {
    let app = spawn_app().await;
    let (alice, _) = app.signed_in(Role::Responder).await;
    let (bob, _) = app.signed_in(Role::Responder).await;
    let room = declare(&alice, &[("title", "Original title")]).await;
    let action = format!("{room}/details");
    // Both open the form as it is now.
    let page = bob.page(&room).await;
    let form = |title: &str, summary: &str| -> Vec<(String, String)> {
        let mut f: Vec<(String, String)> = [
            "version",
            "original_title",
            "original_summary",
            "original_environment",
            "original_conference_url",
            "original_customer_impact",
            "original_kind",
            "original_detection_source",
            "original_components",
        ]
        .iter()
        .map(|n| ((*n).to_owned(), input_value(&page, n)))
        .collect();
        f.push(("title".into(), title.into()));
        f.push(("summary".into(), summary.into()));
        f.push(("environment".into(), input_value(&page, "original_environment")));
        f.push(("kind".into(), input_value(&page, "original_kind")));
        f.push(("detection_source".into(), input_value(&page, "original_detection_source")));
        f
    };
    let as_refs = |f: &[(String, String)]| -> Vec<(String, String)> { f.to_vec() };
    let alice_form = as_refs(&form("Alice's title", ""));
    let alice_fields: Vec<(&str, &str)> = alice_form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(alice.submit(&room, &action, &alice_fields).await.status(), StatusCode::SEE_OTHER);

    // Bob only wrote a summary, in a form that still shows the original title.
    let bob_form = as_refs(&form("Original title", "Bob's summary"));
    let bob_fields: Vec<(&str, &str)> = bob_form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let html = html_of(bob.submit(&room, &action, &bob_fields).await, StatusCode::CONFLICT).await;
    assert!(html.contains("Saved by someone else meanwhile"));
    assert!(html.contains("<dd>Alice&#39;s title</dd>"), "their version is shown");
    assert!(html.contains("id=\"details-title\" name=\"title\" type=\"text\" value=\"Alice&#39;s title\""), "{html}");
    assert!(html.contains("Bob&#39;s summary</textarea>"), "his change is kept");

    // Saving the form as shown again keeps Alice's title and adds Bob's summary.
    let mut again: Vec<(String, String)> = [
        "version",
        "original_title",
        "original_summary",
        "original_environment",
        "original_conference_url",
        "original_customer_impact",
        "original_kind",
        "original_detection_source",
        "original_components",
    ]
    .iter()
    .map(|n| ((*n).to_owned(), input_value(&html, n)))
    .collect();
    again.extend([
        ("title".to_owned(), "Alice's title".to_owned()),
        ("summary".to_owned(), "Bob's summary".to_owned()),
        ("environment".to_owned(), "production".to_owned()),
    ]);
    let again: Vec<(&str, &str)> = again.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(bob.submit(&room, &action, &again).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.count("SELECT count(*) AS n FROM incidents WHERE title = 'Alice''s title' AND summary = 'Bob''s summary'")
            .await,
        1,
        "both changes stand"
    );
}

#[tokio::test]
async fn components_kind_and_detection_change_after_declaring_each_on_the_timeline() {
    let app = spawn_app().await;
    let (browser, me) = app.signed_in(Role::Responder).await;
    let api = component(&app, "Payments API").await;
    let room = declare(&browser, &[("title", "Slow payments")]).await;
    let html = browser.page(&room).await;
    let version = input_value(&html, "version");
    let fields = [
        ("version", version.as_str()),
        ("original_title", "Slow payments"),
        ("title", "Slow payments"),
        ("original_environment", "production"),
        ("environment", "production"),
        ("original_kind", "outage"),
        ("kind", "degraded"),
        ("original_detection_source", "staff"),
        ("detection_source", "customer"),
        ("original_components", ""),
        ("components_shown", "yes"),
        ("components", api.as_str()),
        ("original_conference_url", ""),
        ("conference_url", "https://meet.example.com/payments"),
    ];
    assert_eq!(browser.submit(&room, &format!("{room}/details"), &fields).await.status(), StatusCode::SEE_OTHER);
    let html = browser.page(&room).await;
    for said in [
        format!("{} changed the kind: Outage → Degraded service.", me.name),
        format!("{} changed how it was detected: Staff → Customer report.", me.name),
        format!("{} changed the affected components: added Payments API.", me.name),
        format!("{} set the conference link to https://meet.example.com/payments.", me.name),
    ] {
        assert!(html.contains(&said), "the timeline says “{said}”");
    }
    assert_eq!(app.count("SELECT count(*) AS n FROM incident_components").await, 1);
    assert!(html.contains("Join the call"), "the header links to the call");
}

/// What must be on screen without scrolling, as (what, script returning the element).
const MUST_SEE: &[(&str, &str)] = &[
    ("the title", "return document.getElementById('room-title');"),
    ("the severity", "return document.querySelector('#room-summary .badge[class*=sev-]');"),
    ("the status", "return document.querySelector('#room-summary .badge[class*=status-]');"),
    ("how long since impact started", "return document.querySelector('.room-facts .clock');"),
    ("who leads", "return [...document.querySelectorAll('.room-role')].find(e => e.textContent.includes('Lead:'));"),
    (
        "who takes notes",
        "return [...document.querySelectorAll('.room-role')].find(e => e.textContent.includes('Notes:'));",
    ),
    (
        "a button to take the notes",
        "return [...document.querySelectorAll('.room-role button')].find(e => e.textContent.includes('Take note taker'));",
    ),
    (
        "who communicates",
        "return [...document.querySelectorAll('.room-role')].find(e => e.textContent.includes('Comms:'));",
    ),
    (
        "a change awaiting approval",
        "return [...document.querySelectorAll('.room-alert')].find(e => e.textContent.includes('awaits your approval'));",
    ),
    (
        "an over-run timebox",
        "return [...document.querySelectorAll('.room-alert')].find(e => e.textContent.includes('over its timebox'));",
    ),
    (
        "the late update",
        "return [...document.querySelectorAll('.room-alert')].find(e => e.textContent.includes('Update late'));",
    ),
    ("the note field", "return document.getElementById('note-body');"),
];

pub(crate) async fn set_viewport(browser: &Client, width: u32, height: u32, mobile: bool) {
    browser
        .issue_cmd(Cdp {
            cmd: "Emulation.setDeviceMetricsOverride",
            params: json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile }),
        })
        .await
        .expect("set the viewport");
}

/// Declares an incident with everything the header must show: a pending
/// change, an over-run timebox, a late update; returns the room's path.
async fn busy_incident(app: &TestApp, lead: &Browser, title: &str) -> String {
    let room = declare(lead, &[("title", title), ("severity", "1")]).await;
    let id = room.trim_start_matches("/incidents/").to_owned();
    lead.submit(&room, &format!("{room}/changes"), &[("description", "Fail over"), ("rollback_plan", "Fail back")])
        .await;
    lead.submit(&room, &format!("{room}/tasks"), &[("title", "Restart workers"), ("timebox_minutes", "15")]).await;
    exec(app, &format!("UPDATE tasks SET started_at = now() - interval '30 minutes' WHERE incident_id = {id}")).await;
    let group = group(app, &format!("Executives {id}"), &[("Exec", "exec@example.com")]).await;
    let fields = [
        ("groups", group.as_str()),
        ("status", "investigating"),
        ("impact_started_at", "2026-01-01T09:00"),
        ("impact", "Checkout fails for some customers."),
        ("actions", "We are failing over."),
        ("next_update", "30"),
        ("audience", "internal"),
        ("action", "send"),
    ];
    let sent = post_update(lead, &id, &fields).await;
    let status = sent.status();
    assert_eq!(status, StatusCode::SEE_OTHER, "the update is sent: {}", sent.text().await.unwrap_or_default());
    exec(
        app,
        &format!("UPDATE incident_updates SET next_update_at = now() - interval '5 minutes' WHERE incident_id = {id}"),
    )
    .await;
    room
}

const ACTIVE_ID: &str = "return document.activeElement ? document.activeElement.id : null;";

#[tokio::test]
async fn the_room_works_on_a_laptop_and_a_phone_without_losing_what_is_typed() {
    let axe_source = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/node_modules/axe-core/axe.min.js"),
    )
    .expect("axe-core is missing: run ./scripts/test, or `npm ci` in tests/tools");
    let driver = Chromedriver::start();
    let app = spawn_app().await;
    let lead_user = app.create_user(Role::Responder).await;
    let lead_http = app.browser();
    lead_http.sign_in(&lead_user.email, &lead_user.password).await;
    let (helper, _) = app.signed_in(Role::Responder).await;
    let mut failures = String::new();

    for (screen, width, height, mobile) in [("laptop", 1280, 800, false), ("phone", 390, 844, true)] {
        let room = busy_incident(&app, &lead_http, &format!("Checkout down ({screen})")).await;
        let browser = driver.new_session(screen).await;
        sign_in(&browser, &app.address, &lead_user).await;
        set_viewport(&browser, width, height, mobile).await;
        browser.goto(&format!("{}{room}", app.address)).await.expect("open the room");
        browser
            .wait()
            .at_most(PAGE)
            .for_element(Locator::Css("#room[data-live-connected='true']"))
            .await
            .expect("the room's live stream connects");

        // Everything that matters is on screen without scrolling.
        for (what, find) in MUST_SEE {
            let script = format!(
                "const el = (() => {{ {find} }})(); if (!el) return 'missing';
                 const r = el.getBoundingClientRect();
                 return r.top >= 0 && r.bottom <= window.innerHeight && r.width > 0 ? 'visible' : 'at ' + r.top + '..' + r.bottom + ' of ' + window.innerHeight;"
            );
            let seen = browser.execute(&script, vec![]).await.expect("look");
            assert_eq!(seen, json!("visible"), "{screen}: {what} must be visible without scrolling");
        }
        let height_px = browser.execute("return document.documentElement.scrollHeight;", vec![]).await.expect("h");
        eprintln!("room page height on the {screen} ({width}x{height}): {height_px} px");
        audit(&browser, &format!("the room on a {screen}"), "light", &axe_source, &mut failures).await;

        // A note added with Enter: the field keeps focus and the next keys go into it.
        let note = format!("Failover started ({screen})");
        let field = browser.find(Locator::Id("note-body")).await.expect("the note field");
        field.send_keys(&format!("{note}{}next", Key::Enter)).await.expect("type, Enter, type on");
        wait_until(&browser, Instant::now() + PAGE, "the note shows in the timeline", TIMELINE_HAS, &[json!(note)])
            .await;
        assert_eq!(browser.execute(ACTIVE_ID, vec![]).await.expect("focus"), json!("note-body"));
        let typed = browser.execute("return document.getElementById('note-body').value;", vec![]).await.expect("v");
        assert_eq!(typed, json!("next"), "{screen}: the keys after Enter went into the note field");

        // A half-typed change request survives a note someone else adds.
        browser
            .execute("document.querySelector('#new-change > summary').click(); return true;", vec![])
            .await
            .expect("open");
        let description = browser.find(Locator::Id("change-description")).await.expect("the change field");
        description.click().await.expect("focus it");
        description.send_keys("Drain the eu-west pool").await.expect("type");
        let theirs = format!("Someone else's note ({screen})");
        helper.submit(&room, &format!("{room}/notes"), &[("body", &theirs)]).await;
        wait_until(&browser, Instant::now() + PAGE, "the other note arrives live", TIMELINE_HAS, &[json!(theirs)])
            .await;
        let kept =
            browser.execute("return document.getElementById('change-description').value;", vec![]).await.expect("v");
        assert_eq!(kept, json!("Drain the eu-west pool"), "{screen}: the half-typed change is kept");
        assert_eq!(browser.execute(ACTIVE_ID, vec![]).await.expect("focus"), json!("change-description"));

        // A refused form: its message in view, focus on the wrong field, the room's URL, live updates go on.
        browser
            .execute("document.querySelector('#new-task > summary').click(); return true;", vec![])
            .await
            .expect("open");
        browser.find(Locator::Id("task-title")).await.expect("task title").send_keys("Scale up").await.expect("type");
        browser.find(Locator::Id("task-timebox")).await.expect("timebox").send_keys("soon").await.expect("type");
        browser
            .execute("document.querySelector('#new-task button[type=submit]').click(); return true;", vec![])
            .await
            .expect("submit");
        wait_until(
            &browser,
            Instant::now() + PAGE,
            "the refused task form is shown",
            "return document.activeElement && document.activeElement.id === 'task-timebox';",
            &[],
        )
        .await;
        let url = browser.current_url().await.expect("url");
        assert_eq!(url.path(), room, "{screen}: a refused form leaves the room's URL in place");
        let in_view = browser
            .execute(
                "const r = document.querySelector('#new-task .form-error').getBoundingClientRect();
                 return r.top >= 0 && r.bottom <= window.innerHeight;",
                vec![],
            )
            .await
            .expect("look");
        assert_eq!(in_view, json!(true), "{screen}: the form's message is in view");
        browser
            .wait()
            .at_most(PAGE)
            .for_element(Locator::Css("#room[data-live-connected='true']"))
            .await
            .expect("the live stream connects again");
        let later = format!("After the refusal ({screen})");
        helper.submit(&room, &format!("{room}/notes"), &[("body", &later)]).await;
        wait_until(&browser, Instant::now() + PAGE, "live updates go on", TIMELINE_HAS, &[json!(later)]).await;
        let timebox =
            browser.execute("return document.getElementById('task-timebox').value;", vec![]).await.expect("v");
        assert_eq!(timebox, json!("soon"), "{screen}: the refused value is kept");
        browser.close().await.expect("close");
    }
    assert!(failures.is_empty(), "axe found problems in the room:\n{failures}");
}

#[tokio::test]
async fn at_resolve_the_lead_reviews_the_key_times_in_one_form() {
    let app = spawn_app().await;
    let (lead, me) = app.signed_in(Role::Responder).await;
    let room = declare(&lead, &[("title", "Queue backlog"), ("impact_started_at", "2026-11-01T09:00")]).await;
    assert!(!lead.page(&room).await.contains("Review the key times"), "not before it is resolved");
    lead.submit(&room, &format!("{room}/status"), &[("status", "resolved")]).await;
    let html = lead.page(&room).await;
    assert!(html.contains("Resolved: review the key times"), "the header asks for the review");
    assert!(html.contains("value=\"2026-11-01T09:00\""), "what was recorded is filled in");
    let recorded = |key: &str| input_value(&html.replace(" type=\"datetime-local\"", ""), key);
    let impact = recorded("impact_started_at");
    let detected = recorded("detected_at");
    let acknowledged = recorded("acknowledged_at");
    let fields = [
        ("impact_started_at", impact.as_str()),
        ("detected_at", detected.as_str()),
        ("acknowledged_at", acknowledged.as_str()),
        ("mitigated_at", "2026-11-01T09:40"),
    ];
    // A refused review comes back as typed, not as recorded.
    let wrong = [fields[0], fields[1], fields[2], ("mitigated_at", "2999-11-01T08:15")];
    let response = lead.submit(&room, &format!("{room}/timestamps/review"), &wrong).await;
    let refused = crate::helpers::html_of(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(refused.contains("value=\"2999-11-01T08:15\""), "the typed mitigation time is kept");
    // Mitigated before the impact started: refused, said why, nothing written.
    let early = [fields[0], fields[1], fields[2], ("mitigated_at", "2026-11-01T08:15")];
    let response = lead.submit(&room, &format!("{room}/timestamps/review"), &early).await;
    let refused = crate::helpers::html_of(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(refused.contains("The mitigated time cannot be before the impact started"), "the message says why");
    assert!(refused.contains("value=\"2026-11-01T08:15\""), "and keeps what was typed");
    assert_eq!(app.count("SELECT count(*) AS n FROM incidents WHERE mitigated_at = '2026-11-01 08:15Z'").await, 0);
    let response = lead.submit(&room, &format!("{room}/timestamps/review"), &fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let html = lead.page(&room).await;
    assert!(html.contains(&format!("{} corrected the mitigated time from", me.name)), "one entry per correction");
    assert!(html.contains(&format!("{} reviewed the key times.", me.name)));
    assert!(!html.contains("corrected the impact start time"), "unchanged moments are left alone");
    assert_eq!(app.count("SELECT count(*) AS n FROM incidents WHERE mitigated_at = '2026-11-01 09:40Z'").await, 1);
}

#[tokio::test]
async fn the_home_page_list_of_active_incidents_updates_live() {
    let driver = Chromedriver::start();
    let app = spawn_app().await;
    let watcher = app.create_user(Role::Responder).await;
    let (declarer, _) = app.signed_in(Role::Responder).await;
    let browser = driver.new_session("home").await;
    sign_in(&browser, &app.address, &watcher).await;
    browser.goto(&format!("{}/", app.address)).await.expect("open the home page");
    browser
        .wait()
        .at_most(PAGE)
        .for_element(Locator::Css("#active-incidents[data-live-connected='true']"))
        .await
        .expect("the list's live stream connects");
    declare(&declarer, &[("title", "Search is down")]).await;
    wait_until(
        &browser,
        Instant::now() + PAGE,
        "the new incident shows in the active list without a reload",
        "return [...document.querySelectorAll('#active-incidents td a')].some(a => a.textContent === arguments[0]);",
        &[json!("Search is down")],
    )
    .await;
    browser.close().await.expect("close");
}

#[tokio::test]
async fn duplicates_false_alarms_and_related_incidents_each_leave_a_trace_in_both_rooms() {
    let app = spawn_app().await;
    let (browser, me) = app.signed_in(Role::Responder).await;
    let main = declare(&browser, &[("title", "Checkout down")]).await;
    let dup = declare(&browser, &[("title", "Customers cannot pay")]).await;
    let noise = declare(&browser, &[("title", "Disk alert on a test box")]).await;
    let main_id = main.trim_start_matches("/incidents/").to_owned();
    let browser = &browser;
    let post = |room: &str, action: &str, fields: Vec<(&'static str, String)>| {
        let (room, action) = (room.to_owned(), format!("{room}/{action}"));
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            browser.submit(&room, &action, &fields).await
        }
    };

    // A number that is not there: the message is on the field, the number kept.
    let refused = post(&dup, "duplicate", vec![("duplicate_of", "#999999".into())]).await;
    let html = html_of(refused, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(html.contains("There is no incident #999999 you can see."), "{html}");
    assert_eq!(input_value(&html, "duplicate_of"), "#999999");
    let refused = post(&dup, "duplicate", vec![("duplicate_of", dup.trim_start_matches("/incidents/").into())]).await;
    assert!(html_of(refused, StatusCode::UNPROCESSABLE_ENTITY).await.contains("That is this incident"));

    // Marked as a duplicate (by the room's link): resolved, pointing there, both timelines say so.
    let marked = post(&dup, "duplicate", vec![("duplicate_of", format!("https://fb.example.test{main}"))]).await;
    assert_eq!(location(&marked), format!("{dup}#links"));
    let html = browser.page(&dup).await;
    assert!(html.contains(&format!("Duplicate of <a href=\"{main}\">#{main_id}</a>")), "{html}");
    assert!(html.contains(&format!("{} marked this incident as a duplicate of #{main_id} “Checkout down”", me.name)));
    assert!(html.contains("changed the status: Investigating → Resolved."), "it is resolved");
    let there = browser.page(&main).await;
    assert!(there.contains("as a duplicate of this incident."), "{there}");
    assert!(there.contains("Duplicates of this incident"));
    let active = browser.page("/incidents?status=active").await;
    assert!(!active.contains("Customers cannot pay"), "it leaves the active list");
    // A duplicate of a duplicate is sent to the original.
    let refused = post(&noise, "duplicate", vec![("duplicate_of", dup.trim_start_matches("/incidents/").into())]).await;
    let html = html_of(refused, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(html.contains(&format!("mark this one as a duplicate of #{main_id}")), "{html}");

    // Related: both rooms link each other; removing the link is on both timelines too.
    assert_eq!(post(&noise, "related", vec![("related", format!("#{main_id}"))]).await.status(), StatusCode::SEE_OTHER);
    assert!(browser.page(&main).await.contains("Disk alert on a test box"));
    assert!(browser.page(&noise).await.contains(&format!("href=\"{main}\">#{main_id} “Checkout down”</a>")));
    let unlinked = post(
        &main,
        "related",
        vec![("related", noise.trim_start_matches("/incidents/").into()), ("remove", "yes".into())],
    )
    .await;
    assert_eq!(unlinked.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.count("SELECT count(*) AS n FROM related_incidents").await, 0);
    assert!(browser.page(&noise).await.contains("removed the link to #"));

    // A false alarm: resolved and left out of the reports.
    let before = browser.page("/reports").await;
    assert!(before.contains("<dt>Incidents declared</dt><dd>2</dd>"), "the duplicate is not counted: {before}");
    assert_eq!(post(&noise, "false-alarm", vec![("false_alarm", "yes".into())]).await.status(), StatusCode::SEE_OTHER);
    let html = browser.page(&noise).await;
    assert!(html.contains("marked the incident as a false alarm: it is left out of the reports."));
    assert!(html.contains("Not a false alarm"), "and it can be taken back");
    assert_eq!(app.count("SELECT count(*) AS n FROM incidents WHERE false_alarm AND status = 'resolved'").await, 1);
    let after = browser.page("/reports").await;
    assert!(after.contains("<dt>Incidents declared</dt><dd>1</dd>"), "nor the false alarm: {after}");
}

/// Two people edit the details in two browsers: the second to save sees both
/// versions, keeps what they typed, and saving again changes only their field.
#[tokio::test]
async fn two_editors_of_the_details_in_two_browsers_lose_nothing() {
    let app = spawn_app().await;
    let driver = Chromedriver::start();
    let alice = app.create_user(Role::Responder).await;
    let bob = app.create_user(Role::Responder).await;
    let http = app.browser();
    http.sign_in(&alice.email, &alice.password).await;
    let room = declare(&http, &[("title", "Original title")]).await;

    let mut sessions = Vec::new();
    for (name, user) in [("alice", &alice), ("bob", &bob)] {
        let b = driver.new_session(name).await;
        sign_in(&b, &app.address, user).await;
        b.goto(&format!("{}{room}", app.address)).await.expect("open the room");
        b.execute("document.querySelector('#details > summary').click(); return true;", vec![]).await.expect("open");
        sessions.push(b);
    }
    let (a, b) = (&sessions[0], &sessions[1]);
    let save = "document.querySelector('#details button[type=submit]').click(); return true;";

    // Alice changes the title and saves.
    let title = a.find(Locator::Id("details-title")).await.expect("the title field");
    title.clear().await.expect("clear");
    title.send_keys("Alice's title").await.expect("type");
    a.execute(save, vec![]).await.expect("save");
    wait_until(
        a,
        Instant::now() + PAGE,
        "Alice's title is saved",
        "return document.getElementById('room-title').textContent === arguments[0];",
        &[json!("Alice's title")],
    )
    .await;

    // Bob, in a form opened before, writes a summary and saves: refused, both versions shown.
    b.find(Locator::Id("details-summary")).await.expect("summary").send_keys("Bob's summary").await.expect("type");
    b.execute(save, vec![]).await.expect("save");
    wait_until(
        b,
        Instant::now() + PAGE,
        "Bob sees the conflict",
        "return !!document.getElementById('details-conflict');",
        &[],
    )
    .await;
    let shown =
        b.execute("return document.getElementById('details-conflict').textContent;", vec![]).await.expect("text");
    assert!(shown.as_str().is_some_and(|t| t.contains("Alice's title")), "their version is shown: {shown}");
    let kept = b.execute("return [document.getElementById('details-title').value, document.getElementById('details-summary').value];", vec![]).await.expect("values");
    assert_eq!(kept, json!(["Alice's title", "Bob's summary"]), "their title, his summary");

    // Saving again keeps both changes.
    b.execute(save, vec![]).await.expect("save again");
    wait_until(b, Instant::now() + PAGE, "the room shows the saved details", "return !document.getElementById('details-conflict') && document.getElementById('room-title').textContent === arguments[0];", &[json!("Alice's title")]).await;
    assert_eq!(
        app.count("SELECT count(*) AS n FROM incidents WHERE title = 'Alice''s title' AND summary = 'Bob''s summary'")
            .await,
        1,
        "both changes stand"
    );
    for s in sessions {
        s.close().await.expect("close");
    }
}
