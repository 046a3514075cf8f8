use std::time::Duration;

use futures_util::StreamExt;
use reqwest::StatusCode;

use crate::helpers::{Browser, TestApp, html_of, location, spawn_app};
use firebreak::domain::Role;

/// Declares through the form like a person would and returns the room's path.
async fn declare(browser: &Browser, fields: &[(&str, &str)]) -> String {
    let response = browser.submit("/incidents/new", "/incidents", fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "declaring should open the room");
    location(&response)
}

async fn exec(app: &TestApp, sql: &str) {
    let mut conn = app.pool.get().await.expect("conn");
    diesel_async::RunQueryDsl::execute(diesel::sql_query(sql), &mut conn).await.expect("sql");
}

fn id_of(room: &str) -> &str {
    room.trim_start_matches("/incidents/")
}

#[tokio::test]
async fn a_responder_declares_with_only_a_title_and_lands_in_the_room() {
    let app = spawn_app().await;
    let (browser, me) = app.signed_in(Role::Responder).await;
    assert!(browser.page("/").await.contains("Declare incident"), "one click from every page");
    let room = declare(&browser, &[("title", "Checkout returns 500")]).await;
    let html = browser.page(&room).await;
    assert!(html.contains("Checkout returns 500"));
    // Severity and status are options of the room's controls, so the page
    // always names them: check what was recorded.
    let id = id_of(&room);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM incidents WHERE id = {id} AND severity = 3 AND status = 'investigating'"
        ))
        .await,
        1,
        "severity defaults to SEV3 and the status to investigating"
    );
    assert!(html.contains(&format!("{} declared a SEV3 outage incident in production", me.name)));
    assert!(html.contains(&format!("{} is the incident lead.", me.name)));
    assert!(
        html.contains("Since impact started") && html.contains("Since declared") && html.contains("In this status")
    );
    let dashboard = browser.page("/").await;
    assert!(dashboard.contains("Checkout returns 500"), "listed as active on the dashboard");
    assert_eq!(app.count("SELECT count(*) AS n FROM incidents WHERE acknowledged_at IS NOT NULL").await, 1);
}

#[tokio::test]
async fn declaring_with_bad_input_keeps_the_values_and_writes_nothing() {
    let app = spawn_app().await;
    let (browser, _) = app.signed_in(Role::Responder).await;
    let response = browser
        .submit(
            "/incidents/new",
            "/incidents",
            &[
                ("title", ""),
                ("severity", "7"),
                ("environment", "staging"),
                ("impact_started_at", "2999-01-01T00:00"),
                ("conference_url", "javascript:alert(1)"),
            ],
        )
        .await;
    let html = html_of(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(html.contains("Give the incident a title"));
    assert!(html.contains("Choose a severity from SEV1 to SEV4."));
    assert!(html.contains("That time is in the future"));
    assert!(html.contains("Enter a link starting with https://"));
    assert!(html.contains("value=\"staging\""), "values are kept");
    assert!(html.contains("value=\"javascript:alert(1)\""), "even the bad ones, escaped");
    assert_eq!(app.count("SELECT count(*) AS n FROM incidents").await, 0);
}

#[tokio::test]
async fn a_declaration_records_components_kind_and_a_chosen_lead() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    admin.submit("/admin/components", "/admin/components", &[("name", "API")]).await;
    admin.submit("/admin/components", "/admin/components", &[("name", "Checkout"), ("group_name", "Shop")]).await;
    let other = app.create_user(Role::Responder).await;
    let room = declare(
        &admin,
        &[
            ("title", "Slow API"),
            ("severity", "2"),
            ("components", "1"),
            ("components", "2"),
            ("kind", "degraded"),
            ("detection_source", "customer"),
            ("conference_url", "https://meet.example.com/war-room"),
            ("lead", &other.id.to_string()),
        ],
    )
    .await;
    let html = admin.page(&room).await;
    assert!(html.contains("SEV2") && html.contains("Degraded service"));
    assert!(html.contains(">API<") && html.contains(">Checkout<"));
    assert!(html.contains("href=\"https://meet.example.com/war-room\""));
    assert!(
        html.contains(&format!("made {} incident lead.", other.name))
            || html.contains(&format!("{} is the incident lead.", other.name))
    );
}

#[tokio::test]
async fn viewers_read_rooms_but_change_nothing() {
    let app = spawn_app().await;
    let (responder, _) = app.signed_in(Role::Responder).await;
    let room = declare(&responder, &[("title", "Queue backlog")]).await;
    let (viewer, _) = app.signed_in(Role::Viewer).await;
    let html = viewer.page(&room).await;
    assert!(html.contains("Queue backlog"));
    assert!(!html.contains("Add note"), "no forms for viewers");
    html_of(viewer.get("/incidents/new").await, StatusCode::FORBIDDEN).await;
    for (action, fields) in [
        ("/incidents", vec![("title", "x")]),
        (&*format!("{room}/notes"), vec![("body", "hello")]),
        (&*format!("{room}/status"), vec![("status", "identified")]),
        (&*format!("{room}/roles"), vec![("role", "supporting")]),
        (&*format!("{room}/tasks"), vec![("title", "do it")]),
        (&*format!("{room}/changes"), vec![("description", "restart"), ("rollback_plan", "none")]),
    ] {
        let response = viewer.submit(&room, action, &fields).await;
        let html = html_of(response, StatusCode::FORBIDDEN).await;
        assert!(html.contains("Ask an admin"), "{action}: {html}");
    }
    // The page says which rule refused it.
    let response = viewer.submit(&room, &format!("{room}/notes"), &[("body", "hello")]).await;
    assert!(html_of(response, StatusCode::FORBIDDEN).await.contains("Only responders change incidents."));
    assert_eq!(app.count("SELECT count(*) AS n FROM timeline_entries").await, 2, "only the declaration's entries");
}

#[tokio::test]
async fn every_action_in_the_room_lands_on_the_timeline() {
    let app = spawn_app().await;
    let (lead, lead_user) = app.signed_in(Role::Responder).await;
    let (helper, helper_user) = app.signed_in(Role::Responder).await;
    let room = declare(&lead, &[("title", "Database failover")]).await;
    let helper_id = helper_user.id.to_string();

    lead.submit(&room, &format!("{room}/status"), &[("status", "identified")]).await;
    lead.submit(&room, &format!("{room}/severity"), &[("severity", "1")]).await;
    lead.submit(&room, &format!("{room}/roles"), &[("role", "note_taker"), ("user", &helper_id)]).await;
    helper.submit(&room, &format!("{room}/roles"), &[("role", "comms_lead")]).await;
    helper.submit(&room, &format!("{room}/roles"), &[("role", "supporting")]).await;
    lead.submit(
        &room,
        &format!("{room}/tasks"),
        &[("title", "Promote the replica"), ("kind", "mitigation"), ("assignee", &helper_id)],
    )
    .await;
    helper.submit(&room, &format!("{room}/notes"), &[("body", "Replica lag is **2 s**")]).await;
    helper
        .submit(
            &room,
            &format!("{room}/changes"),
            &[("description", "Fail over to db-2"), ("rollback_plan", "Fail back to db-1")],
        )
        .await;
    let html = lead.page(&room).await;
    let change_id = html.split("/changes/").nth(1).and_then(|s| s.split('/').next()).expect("a change form").to_owned();
    lead.submit(&room, &format!("{room}/changes/{change_id}/decision"), &[("decision", "approve")]).await;
    helper.submit(&room, &format!("{room}/changes/{change_id}/applied"), &[]).await;
    let task_id = lead
        .page(&room)
        .await
        .split("/tasks/")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .expect("a task form")
        .to_owned();
    helper.submit(&room, &format!("{room}/tasks/{task_id}/status"), &[("status", "done")]).await;
    lead.submit(&room, &format!("{room}/status"), &[("status", "monitoring")]).await;

    let html = lead.page(&format!("{room}?order=oldest")).await;
    let expected = [
        format!("{} changed the status: Investigating → Identified.", lead_user.name),
        format!("{} changed the severity: SEV3 → SEV1.", lead_user.name),
        format!("{} made {} note taker.", lead_user.name, helper_user.name),
        format!("{} took the role of communications lead.", helper_user.name),
        format!("{} joined the supporting cast.", helper_user.name),
        format!(
            "{} added the mitigation task “Promote the replica”, assigned to {}.",
            lead_user.name, helper_user.name
        ),
        "Replica lag is <strong>2 s</strong>".to_owned(),
        format!("{} asks to change production: Fail over to db-2 (rollback: Fail back to db-1)", helper_user.name),
        format!("{} (lead) approved the change: Fail over to db-2", lead_user.name),
        format!("{} applied the change: Fail over to db-2", helper_user.name),
        format!("{} marked the task “Promote the replica” done.", helper_user.name),
        format!("{} changed the status: Identified → Monitoring.", lead_user.name),
    ];
    let mut last = 0;
    for text in &expected {
        let at = html[last..].find(text.as_str()).unwrap_or_else(|| panic!("timeline misses (in order): {text}"));
        last += at;
    }
    assert_eq!(app.count("SELECT count(*) AS n FROM incidents WHERE mitigated_at IS NOT NULL").await, 1);
    assert!(helper.page("/").await.contains("Nothing assigned to you."), "the done task left my tasks");
}

#[tokio::test]
async fn a_hand_over_keeps_the_history() {
    let app = spawn_app().await;
    let (first, first_user) = app.signed_in(Role::Responder).await;
    let (second, second_user) = app.signed_in(Role::Responder).await;
    let room = declare(&first, &[("title", "Hand over")]).await;
    second.submit(&room, &format!("{room}/roles"), &[("role", "lead")]).await;
    let html = second.page(&room).await;
    assert!(html.contains(&format!("handed incident lead over from {} to {}.", first_user.name, second_user.name)));
    assert_eq!(app.count("SELECT count(*) AS n FROM incident_roles WHERE role = 'lead'").await, 2);
    assert_eq!(
        app.count("SELECT count(*) AS n FROM incident_roles WHERE role = 'lead' AND relieved_at IS NULL").await,
        1
    );
    let response = second.submit(&room, &format!("{room}/roles/relieve"), &[("role", "lead")]).await;
    assert!(
        html_of(response, StatusCode::UNPROCESSABLE_ENTITY).await.contains("Hand the lead over to someone instead.")
    );
}

#[tokio::test]
async fn only_the_current_lead_decides_change_requests() {
    let app = spawn_app().await;
    let (lead, _) = app.signed_in(Role::Responder).await;
    let (engineer, engineer_user) = app.signed_in(Role::Responder).await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let room = declare(&lead, &[("title", "Cache stampede")]).await;
    engineer
        .submit(&room, &format!("{room}/changes"), &[("description", "Raise TTL"), ("rollback_plan", "Lower TTL")])
        .await;
    let change = app.count("SELECT max(id) AS n FROM change_requests").await;

    for who in [&engineer, &admin] {
        let response =
            who.submit(&room, &format!("{room}/changes/{change}/decision"), &[("decision", "approve")]).await;
        let html = html_of(response, StatusCode::FORBIDDEN).await;
        assert!(html.contains("Only the current incident lead may do this."), "says why: {html}");
    }
    assert!(!engineer.page(&room).await.contains("Approve change"), "no decision buttons for others");

    // The lead hands over: the former lead no longer decides.
    lead.submit(&room, &format!("{room}/roles"), &[("role", "lead"), ("user", &engineer_user.id.to_string())]).await;
    let response = lead.submit(&room, &format!("{room}/changes/{change}/decision"), &[("decision", "reject")]).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response =
        engineer.submit(&room, &format!("{room}/changes/{change}/decision"), &[("decision", "reject")]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.count("SELECT count(*) AS n FROM change_requests WHERE status = 'rejected'").await, 1);
    let response = engineer.submit(&room, &format!("{room}/changes/{change}/applied"), &[]).await;
    assert!(
        html_of(response, StatusCode::UNPROCESSABLE_ENTITY)
            .await
            .contains("Only an approved change can be marked applied.")
    );
}

#[tokio::test]
async fn restricted_incidents_are_invisible_to_non_participants() {
    let app = spawn_app().await;
    let (owner, _) = app.signed_in(Role::Responder).await;
    let (outsider, outsider_user) = app.signed_in(Role::Responder).await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let room = declare(&owner, &[("title", "Leaked credentials"), ("kind", "security")]).await;

    html_of(outsider.get(&room).await, StatusCode::NOT_FOUND).await;
    assert_eq!(outsider.get(&format!("{room}/events")).await.status(), StatusCode::NOT_FOUND);
    let response = outsider.submit("/", &format!("{room}/notes"), &[("body", "peek")]).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(!outsider.page("/incidents").await.contains("Leaked credentials"));
    assert!(!outsider.page("/").await.contains("Leaked credentials"));
    assert!(outsider.page("/incidents").await.contains("0 incidents"), "not even counted");

    assert!(admin.page(&room).await.contains("Restricted to participants"));
    owner
        .submit(&room, &format!("{room}/roles"), &[("role", "supporting"), ("user", &outsider_user.id.to_string())])
        .await;
    assert!(outsider.page(&room).await.contains("Leaked credentials"), "a participant now");
}

#[tokio::test]
async fn notes_are_markdown_with_anything_dangerous_made_inert() {
    let app = spawn_app().await;
    let (browser, _) = app.signed_in(Role::Responder).await;
    let room = declare(&browser, &[("title", "XSS attempt <b>bold</b>")]).await;
    browser
        .submit(
            &room,
            &format!("{room}/notes"),
            &[("body", "<script>alert('x')</script> [click](javascript:alert(1)) <img src=x onerror=alert(2)>")],
        )
        .await;
    browser.submit(&room, &format!("{room}/notes"), &[("body", "See [the runbook](javascript:alert(1)) now")]).await;
    let html = browser.page(&room).await;
    assert!(!html.contains("<script>alert"), "no script from a note");
    assert!(!html.contains("href=\"javascript:"), "no javascript: link (the text may stay, inert)");
    assert!(!html.contains("onerror"), "no event handler");
    assert!(html.contains("XSS attempt") && !html.contains("<b>bold</b>"), "titles are escaped");
}

#[tokio::test]
async fn a_note_can_be_back_dated_highlighted_and_corrected() {
    let app = spawn_app().await;
    let (browser, _) = app.signed_in(Role::Responder).await;
    let room = declare(&browser, &[("title", "Disk full")]).await;
    browser
        .submit(&room, &format!("{room}/notes"), &[("body", "Disk at 100%"), ("happened_at", "2020-01-01T10:00")])
        .await;
    let entry = app.count("SELECT max(id) AS n FROM timeline_entries").await;
    let html = browser.page(&format!("{room}?order=oldest")).await;
    assert!(html.contains("2020-01-01 10:00:00 UTC"));
    assert!(html.contains("back-dated"));
    assert!(html.find("Disk at 100%") < html.find("declared a SEV3"), "sorted by when it happened");

    browser.submit(&room, &format!("{room}/highlights"), &[("mark", &entry.to_string())]).await;
    assert!(browser.page(&room).await.contains("Key moment"));
    assert_eq!(app.count("SELECT count(*) AS n FROM timeline_entries WHERE highlighted").await, 1);
    browser
        .submit(&room, &format!("{room}/notes"), &[("body", "Disk at 95%, not 100%"), ("corrects", &entry.to_string())])
        .await;
    let html = browser.page(&room).await;
    assert!(html.contains(&format!("corrects <a href=\"#entry-{entry}\">#{entry}</a>")));
    assert!(html.contains("Disk at 100%"), "the original stays");

    let response = browser.submit(&room, &format!("{room}/notes"), &[("body", "  ")]).await;
    assert!(html_of(response, StatusCode::UNPROCESSABLE_ENTITY).await.contains("Write the note first."));
}

#[tokio::test]
async fn concurrent_edits_of_the_details_conflict_instead_of_overwriting() {
    let app = spawn_app().await;
    let (alice, _) = app.signed_in(Role::Responder).await;
    let (bob, _) = app.signed_in(Role::Responder).await;
    let room = declare(&alice, &[("title", "Original title")]).await;
    // Both have the room open at version N.
    let version = app.count("SELECT version::bigint AS n FROM incidents").await.to_string();
    let action = format!("{room}/details");
    let alice_fields = [("version", version.as_str()), ("title", "Alice's title"), ("environment", "production")];
    assert_eq!(alice.submit(&room, &action, &alice_fields).await.status(), StatusCode::SEE_OTHER);

    let bob_fields = [
        ("version", version.as_str()),
        ("title", "Bob's title"),
        ("environment", "production"),
        ("summary", "Bob's summary"),
    ];
    let response = bob.submit(&room, &action, &bob_fields).await;
    let html = html_of(response, StatusCode::CONFLICT).await;
    assert!(html.contains("Someone else saved these details"));
    assert!(html.contains("Alice&#39;s title"), "their version is shown");
    assert!(html.contains("value=\"Bob&#39;s title\""), "your input is kept");
    assert_eq!(
        app.count("SELECT count(*) AS n FROM incidents WHERE title = 'Alice''s title'").await,
        1,
        "nothing overwritten"
    );
}

#[tokio::test]
async fn an_overrun_timebox_is_flagged() {
    let app = spawn_app().await;
    let (browser, _) = app.signed_in(Role::Responder).await;
    let room = declare(&browser, &[("title", "Memory leak")]).await;
    browser.submit(&room, &format!("{room}/tasks"), &[("title", "Restart workers"), ("timebox_minutes", "15")]).await;
    assert!(!browser.page(&room).await.contains("over its 15 min timebox"));
    exec(&app, "UPDATE tasks SET started_at = now() - interval '27 minutes'").await;
    let html = browser.page(&room).await;
    assert!(html.contains("Running 12 min over its 15 min timebox — is a different approach warranted?"), "{html}");
    let response =
        browser.submit(&room, &format!("{room}/tasks"), &[("title", "x"), ("timebox_minutes", "soon")]).await;
    let html = html_of(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(html.contains("Enter a number of minutes"));
    assert!(html.contains("value=\"soon\""));
}

#[tokio::test]
async fn the_room_prompts_for_a_communications_lead_and_warns_when_the_lead_holds_it() {
    let app = spawn_app().await;
    let (browser, _) = app.signed_in(Role::Responder).await;
    let room = declare(&browser, &[("title", "Nobody talks")]).await;
    assert!(!browser.page(&room).await.contains("Who will communicate with users about this?"));
    exec(&app, "UPDATE incidents SET declared_at = now() - interval '11 minutes'").await;
    assert!(browser.page(&room).await.contains("Who will communicate with users about this?"));
    browser.submit(&room, &format!("{room}/roles"), &[("role", "comms_lead")]).await;
    let html = browser.page(&room).await;
    assert!(!html.contains("Who will communicate with users about this?"));
    assert!(html.contains("The lead is also the communications lead."));
}

#[tokio::test]
async fn status_moves_record_their_first_arrival_and_reopening() {
    let app = spawn_app().await;
    let (browser, me) = app.signed_in(Role::Responder).await;
    let room = declare(&browser, &[("title", "Flaky DNS")]).await;
    let response = browser.submit(&room, &format!("{room}/status"), &[("status", "closed")]).await;
    assert!(html_of(response, StatusCode::UNPROCESSABLE_ENTITY).await.contains("cannot move to closed"));
    for s in ["resolved", "closed"] {
        assert_eq!(
            browser.submit(&room, &format!("{room}/status"), &[("status", s)]).await.status(),
            StatusCode::SEE_OTHER
        );
    }
    // Going back asks to confirm.
    let response = browser.submit(&room, &format!("{room}/status"), &[("status", "investigating")]).await;
    assert!(html_of(response, StatusCode::UNPROCESSABLE_ENTITY).await.contains("tick “Yes, go back” to confirm"));
    assert_eq!(
        browser
            .submit(&room, &format!("{room}/status"), &[("status", "investigating"), ("confirm_back", "yes")])
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    let html = browser.page(&room).await;
    assert!(html.contains(&format!("{} reopened the incident: Closed → Investigating.", me.name)));
    assert_eq!(
        app.count("SELECT count(*) AS n FROM incidents WHERE mitigated_at IS NOT NULL AND resolved_at IS NOT NULL AND closed_at IS NOT NULL").await,
        1
    );
}

#[tokio::test]
async fn the_lead_corrects_a_timestamp_on_the_record() {
    let app = spawn_app().await;
    let (lead, lead_user) = app.signed_in(Role::Responder).await;
    let (other, _) = app.signed_in(Role::Responder).await;
    let room = declare(&lead, &[("title", "Late detection")]).await;
    // Refused (in the future): the form keeps the choice and the typed time.
    let future = [("which", "detected_at"), ("value", "2999-01-02T03:04")];
    let response = lead.submit(&room, &format!("{room}/timestamps"), &future).await;
    let refused = html_of(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(refused.contains("value=\"2999-01-02T03:04\""), "the typed time is kept");
    assert!(refused.contains("<option value=\"detected_at\" selected>"), "and the chosen moment");
    let fields = [("which", "impact_started_at"), ("value", "2026-01-02T03:04")];
    assert_eq!(other.submit(&room, &format!("{room}/timestamps"), &fields).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(lead.submit(&room, &format!("{room}/timestamps"), &fields).await.status(), StatusCode::SEE_OTHER);
    let html = lead.page(&room).await;
    assert!(html.contains(&format!("{} corrected the impact start time from", lead_user.name)));
    assert!(html.contains("to 2026-01-02 03:04 UTC."));
}

#[tokio::test]
async fn a_second_viewer_is_told_of_a_new_entry_within_two_seconds() {
    let app = spawn_app().await;
    let (writer, _) = app.signed_in(Role::Responder).await;
    let (watcher, _) = app.signed_in(Role::Viewer).await;
    let room = declare(&writer, &[("title", "Live one")]).await;

    let response = watcher.get(&format!("{room}/events")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut stream = response.bytes_stream();
    let first = stream.next().await.expect("a first chunk").expect("bytes");
    assert!(String::from_utf8_lossy(&first).contains("retry:"));

    writer.submit(&room, &format!("{room}/notes"), &[("body", "Seen live")]).await;
    let event = tokio::time::timeout(Duration::from_secs(2), async {
        while let Some(chunk) = stream.next().await {
            let text = String::from_utf8_lossy(&chunk.expect("bytes")).into_owned();
            if text.contains("event: change") {
                return text;
            }
        }
        String::new()
    })
    .await
    .expect("a change event within 2 seconds");
    assert!(event.contains("event: change"));
    assert!(watcher.page(&room).await.contains("Seen live"));
}

#[tokio::test]
async fn live_updates_cross_app_instances() {
    let first = spawn_app().await;
    let second = first.another_instance().await;
    let (writer, _) = first.signed_in(Role::Responder).await;
    let watcher_user = first.create_user(Role::Viewer).await;
    let watcher = second.browser();
    watcher.sign_in(&watcher_user.email, &watcher_user.password).await;
    let room = declare(&writer, &[("title", "Two instances")]).await;

    let mut stream = watcher.get(&format!("{room}/events")).await.bytes_stream();
    stream.next().await.expect("a first chunk").expect("bytes");
    writer.submit(&room, &format!("{room}/notes"), &[("body", "Written on the first instance")]).await;
    let seen = tokio::time::timeout(Duration::from_secs(2), async {
        while let Some(chunk) = stream.next().await {
            if String::from_utf8_lossy(&chunk.expect("bytes")).contains("event: change") {
                return true;
            }
        }
        false
    })
    .await
    .expect("the second instance hears of the change within 2 seconds");
    assert!(seen);
    assert!(watcher.page(&room).await.contains("Written on the first instance"));
}

#[tokio::test]
async fn the_incident_list_filters_and_pages() {
    let app = spawn_app().await;
    let (browser, _) = app.signed_in(Role::Responder).await;
    declare(&browser, &[("title", "Sev one thing"), ("severity", "1")]).await;
    let second = declare(&browser, &[("title", "Sev four thing"), ("severity", "4")]).await;
    browser.submit(&second, &format!("{second}/status"), &[("status", "resolved")]).await;

    let html = browser.page("/incidents?severity=1").await;
    assert!(html.contains("Sev one thing") && !html.contains("Sev four thing"));
    let html = browser.page("/incidents?status=resolved").await;
    assert!(!html.contains("Sev one thing") && html.contains("Sev four thing"));
    let html = browser.page("/incidents?status=active&kind=outage").await;
    assert!(html.contains("Sev one thing"));
    let response = browser.get("/incidents?from=yesterday").await;
    assert!(html_of(response, StatusCode::UNPROCESSABLE_ENTITY).await.contains("Enter dates like"));

    exec(&app, "INSERT INTO incidents (title, kind, severity, detection_source, visibility, impact_started_at, detected_at, declared_by) SELECT 'Bulk ' || g, 'outage', 3, 'staff', 'internal', now(), now(), 1 FROM generate_series(1, 30) g").await;
    let html = browser.page("/incidents").await;
    assert!(html.contains("32 incidents, page 1 of 2"));
    assert!(html.contains("Next page"));
    assert!(browser.page("/incidents?page=2").await.contains("Previous page"));
}

#[tokio::test]
async fn unknown_or_malformed_incident_ids_are_not_found() {
    let app = spawn_app().await;
    let (browser, _) = app.signed_in(Role::Responder).await;
    html_of(browser.get("/incidents/424242").await, StatusCode::NOT_FOUND).await;
    html_of(browser.get("/incidents/not-a-number").await, StatusCode::NOT_FOUND).await;
    let response = browser.submit("/", "/incidents/424242/notes", &[("body", "hello")]).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let room = declare(&browser, &[("title", "Real")]).await;
    let response =
        browser.submit(&room, &format!("/incidents/{}/tasks/999/status", id_of(&room)), &[("status", "done")]).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}
