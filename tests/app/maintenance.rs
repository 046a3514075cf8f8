use chrono::{Duration, Utc};
use reqwest::StatusCode;

use crate::helpers::{Browser, TestApp, html_of, location, spawn_app, test_settings};
use firebreak::db;
use firebreak::domain::Role;
use firebreak::services::maintenance::run_due;

async fn exec(app: &TestApp, sql: &str) {
    let mut conn = app.pool.get().await.expect("conn");
    diesel_async::RunQueryDsl::execute(diesel::sql_query(sql), &mut conn).await.expect("sql");
}

/// A `datetime-local` value `minutes` from now (test users are in UTC).
fn in_minutes(minutes: i64) -> String {
    (Utc::now() + Duration::minutes(minutes)).format("%Y-%m-%dT%H:%M").to_string()
}

/// Components added by an admin; returns their ids.
async fn components(app: &TestApp, names: &[&str]) -> Vec<String> {
    let (admin, _) = app.signed_in(Role::Admin).await;
    let mut ids = Vec::new();
    for name in names {
        let response = admin.submit("/admin/components", "/admin/components", &[("name", name)]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        ids.push(app.count(&format!("SELECT id AS n FROM components WHERE name = '{name}'")).await.to_string());
    }
    ids
}

async fn schedule(browser: &Browser, title: &str, start: i64, end: i64, components: &[&str]) -> reqwest::Response {
    let (starts, ends) = (in_minutes(start), in_minutes(end));
    let mut fields = vec![
        ("title", title),
        ("message", "We upgrade the database.\nExpect a short read-only period."),
        ("starts_at", starts.as_str()),
        ("ends_at", ends.as_str()),
    ];
    fields.extend(components.iter().map(|c| ("components", *c)));
    browser.submit("/maintenances/new", "/maintenances", &fields).await
}

async fn count_status(app: &TestApp, status: &str) -> i64 {
    app.count(&format!("SELECT count(*) AS n FROM components WHERE status = '{status}'")).await
}

#[tokio::test]
async fn a_responder_schedules_maintenance_and_viewers_see_it() {
    let app = spawn_app().await;
    let ids = components(&app, &["Database", "API"]).await;
    let (responder, _) = app.signed_in(Role::Responder).await;
    let response = schedule(&responder, "Database upgrade", 60, 120, &[&ids[0], &ids[1]]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let page = location(&response);
    let html = responder.page(&page).await;
    assert!(html.contains("Scheduled the maintenance Database upgrade."));
    assert!(html.contains("Database, API") || html.contains("API, Database"));
    assert!(html.contains("Cancel maintenance") && html.contains("Save maintenance"));
    assert!(
        html.contains(&format!("value=\"{}\"", in_minutes(60)))
            || html.contains(&format!("value=\"{}\"", in_minutes(59)))
    );

    // Edit while scheduled: a new title, one component fewer.
    let (starts, ends) = (in_minutes(90), in_minutes(150));
    let response = responder
        .submit(
            &page,
            &page,
            &[("title", "Postgres 16"), ("starts_at", &starts), ("ends_at", &ends), ("components", &ids[0])],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.count("SELECT count(*) AS n FROM maintenance_components").await, 1);

    let (viewer, _) = app.signed_in(Role::Viewer).await;
    let list = viewer.page("/maintenances").await;
    assert!(list.contains("Postgres 16") && list.contains("No maintenance in progress."));
    assert!(!list.contains("Schedule maintenance"), "viewers cannot plan");
    let html = viewer.page(&page).await;
    assert!(!html.contains("Cancel maintenance") && !html.contains("Save maintenance"));
    html_of(viewer.get("/maintenances/new").await, StatusCode::FORBIDDEN).await;
    for action in [page.clone(), format!("{page}/cancel"), "/maintenances".to_owned()] {
        let response = viewer.submit(&page, &action, &[("title", "mine")]).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{action}");
    }
    assert_eq!(app.count("SELECT count(*) AS n FROM maintenances WHERE status = 'scheduled'").await, 1);
}

#[tokio::test]
async fn bad_windows_are_refused_and_the_values_kept() {
    let app = spawn_app().await;
    let ids = components(&app, &["API"]).await;
    let (responder, _) = app.signed_in(Role::Responder).await;

    let response = schedule(&responder, "Backwards", 120, 60, &[&ids[0]]).await;
    let html = html_of(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(html.contains("The end must be after the start."));
    assert!(html.contains("value=\"Backwards\""));
    assert!(
        html.contains(&format!("value=\"{}\"", in_minutes(120)))
            || html.contains(&format!("value=\"{}\"", in_minutes(119))),
        "the times are kept"
    );
    assert!(html.contains("Expect a short read-only period.</textarea>"));
    assert!(html.contains(&format!("value=\"{}\" checked", ids[0])), "chosen components stay chosen");

    let response = schedule(&responder, "Too late", -120, 60, &[&ids[0]]).await;
    let html = html_of(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(html.contains("That time has passed"));

    let response = schedule(&responder, "", 60, 120, &[]).await;
    let html = html_of(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(html.contains("Give the maintenance a title"));
    assert!(html.contains("Choose at least one component"));

    let response =
        responder.submit("/maintenances/new", "/maintenances", &[("title", "No times"), ("components", &ids[0])]).await;
    let html = html_of(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(html.contains("Enter when the maintenance starts.") && html.contains("Enter when the maintenance ends."));
    assert_eq!(app.count("SELECT count(*) AS n FROM maintenances").await, 0);
}

#[tokio::test]
async fn the_scheduler_puts_components_under_maintenance_and_back() {
    let app = spawn_app().await;
    let ids = components(&app, &["Database", "API", "Website"]).await;
    let (responder, _) = app.signed_in(Role::Responder).await;
    let page = location(&schedule(&responder, "Upgrade", 60, 120, &[&ids[0], &ids[1]]).await);

    exec(&app, "UPDATE maintenances SET starts_at = now() - interval '1 second'").await;
    run_due(&app.pool, &test_settings(&app.db_url)).await.expect("tick");
    assert_eq!(
        app.count("SELECT count(*) AS n FROM maintenances WHERE status = 'in_progress' AND started_at IS NOT NULL")
            .await,
        1
    );
    assert_eq!(count_status(&app, "under_maintenance").await, 2);
    assert_eq!(
        app.count(
            "SELECT count(*) AS n FROM component_status_changes WHERE new_status = 'under_maintenance' \
             AND maintenance_id IS NOT NULL AND changed_by IS NULL"
        )
        .await,
        2
    );
    let html = responder.page(&page).await;
    assert!(html.contains("Complete now") && !html.contains("Cancel maintenance"));
    assert!(responder.page("/maintenances").await.contains("No maintenance scheduled."), "no longer upcoming");

    // An outage during the window is left alone when the window ends.
    let (admin, _) = app.signed_in(Role::Admin).await;
    let api = format!("/admin/components/{}", ids[1]);
    admin.submit(&api, &format!("{api}/status"), &[("status", "major_outage")]).await;

    exec(&app, "UPDATE maintenances SET ends_at = now() - interval '1 second', starts_at = now() - interval '1 hour'")
        .await;
    run_due(&app.pool, &test_settings(&app.db_url)).await.expect("tick");
    assert_eq!(
        app.count("SELECT count(*) AS n FROM maintenances WHERE status = 'completed' AND completed_at IS NOT NULL")
            .await,
        1
    );
    assert_eq!(count_status(&app, "operational").await, 2);
    assert_eq!(count_status(&app, "major_outage").await, 1);
    assert_eq!(
        app.count(
            "SELECT count(*) AS n FROM component_status_changes WHERE old_status = 'under_maintenance' \
             AND new_status = 'operational' AND maintenance_id IS NOT NULL"
        )
        .await,
        1
    );
    let history = admin.page(&format!("/admin/components/{}", ids[0])).await;
    assert!(history.contains("Maintenance: Upgrade") && history.contains("the maintenance schedule"));
    assert_eq!(run_due(&app.pool, &test_settings(&app.db_url)).await.expect("tick"), 0, "nothing left to do");
}

#[tokio::test]
async fn several_instances_move_each_window_once() {
    let app = spawn_app().await;
    let names = ["A", "B", "C", "D", "E", "F", "G", "H"];
    let ids = components(&app, &names).await;
    let (responder, _) = app.signed_in(Role::Responder).await;
    for pair in ids.chunks(2) {
        let response = schedule(&responder, "Window", 60, 120, &[&pair[0], &pair[1]]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
    }
    let pools: Vec<_> = (0..4).map(|_| db::build_pool(&app.db_url, 2).expect("pool")).collect();
    let settings = test_settings(&app.db_url);

    exec(&app, "UPDATE maintenances SET starts_at = now() - interval '1 second'").await;
    let moved = futures_util::future::join_all(pools.iter().map(|p| run_due(p, &settings))).await;
    let moved: usize = moved.into_iter().map(|r| r.expect("tick")).sum();
    assert!(moved <= 4, "each window starts once, whoever starts it");
    assert_eq!(app.count("SELECT count(*) AS n FROM maintenances WHERE status = 'in_progress'").await, 4);
    assert_eq!(count_status(&app, "under_maintenance").await, 8);
    assert_eq!(
        app.count(
            "SELECT count(*) AS n FROM (SELECT component_id FROM component_status_changes \
             WHERE new_status = 'under_maintenance' GROUP BY component_id HAVING count(*) = 1) once"
        )
        .await,
        8,
        "one log row per component"
    );

    exec(&app, "UPDATE maintenances SET ends_at = now() - interval '1 second', starts_at = now() - interval '1 hour'")
        .await;
    let moved = futures_util::future::join_all(pools.iter().map(|p| run_due(p, &settings))).await;
    let moved: usize = moved.into_iter().map(|r| r.expect("tick")).sum();
    assert!(moved <= 4);
    assert_eq!(app.count("SELECT count(*) AS n FROM maintenances WHERE status = 'completed'").await, 4);
    assert_eq!(count_status(&app, "operational").await, 8);
    assert_eq!(app.count("SELECT count(*) AS n FROM component_status_changes").await, 16, "one row per transition");
}

#[tokio::test]
async fn cancelling_and_completing_early() {
    let app = spawn_app().await;
    let ids = components(&app, &["Database"]).await;
    let (responder, _) = app.signed_in(Role::Responder).await;
    let first = location(&schedule(&responder, "Never mind", 60, 120, &[&ids[0]]).await);
    let second = location(&schedule(&responder, "Quick fix", 60, 120, &[&ids[0]]).await);

    // Completing is for windows in progress only.
    let response = responder.submit(&first, &format!("{first}/complete"), &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(responder.page(&first).await.contains("only maintenance in progress can be completed"));

    let response = responder.submit(&first, &format!("{first}/cancel"), &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let html = responder.page(&first).await;
    assert!(html.contains("Cancelled the maintenance Never mind.") && !html.contains("Save maintenance"));
    let list = responder.page("/maintenances").await;
    let past = list.find("id=\"past-heading\"").expect("past section");
    assert!(list[past..].contains("Never mind"), "cancelled windows are past");

    let second_id = second.trim_start_matches("/maintenances/");
    exec(&app, &format!("UPDATE maintenances SET starts_at = now() - interval '1 second' WHERE id = {second_id}"))
        .await;
    run_due(&app.pool, &test_settings(&app.db_url)).await.expect("tick");
    assert_eq!(count_status(&app, "under_maintenance").await, 1);
    let response = responder.submit(&second, &format!("{second}/complete"), &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(responder.page(&second).await.contains("Completed the maintenance Quick fix."));
    assert_eq!(count_status(&app, "operational").await, 1);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM component_status_changes WHERE new_status = 'operational' \
             AND maintenance_id = {second_id} AND changed_by IS NOT NULL"
        ))
        .await,
        1
    );
    assert_eq!(app.count("SELECT count(*) AS n FROM maintenances WHERE status = 'cancelled'").await, 1);
    assert_eq!(app.count("SELECT count(*) AS n FROM maintenances WHERE status = 'completed'").await, 1);
}

#[tokio::test]
async fn subscribers_of_its_components_hear_when_maintenance_is_scheduled_starts_and_ends() {
    let sink = crate::smtp::MailSink::start().await;
    let app = crate::smtp::spawn_app_with_sink(&sink).await;
    let ids = components(&app, &["Database", "API"]).await;
    exec(
        &app,
        "INSERT INTO subscribers (email, token, all_components, confirmed_at) VALUES \
         ('db@example.test', 'a', FALSE, now()), ('api@example.test', 'b', FALSE, now()), \
         ('pending@example.test', 'c', TRUE, NULL)",
    )
    .await;
    for (email, component) in [("db@example.test", &ids[0]), ("api@example.test", &ids[1])] {
        let sql = format!(
            "INSERT INTO subscriber_components SELECT id, {component} FROM subscribers WHERE email = '{email}'"
        );
        exec(&app, &sql).await;
    }
    let (responder, _) = app.signed_in(Role::Responder).await;
    let form = responder.page("/maintenances/new").await;
    assert!(
        form.contains("id=\"notify-started\" name=\"notify\" value=\"started\" checked"),
        "notices are on by default"
    );
    let (starts, ends) = (in_minutes(60), in_minutes(120));
    let fields = [
        ("title", "Database upgrade"),
        ("message", "Expect a short read-only period."),
        ("starts_at", starts.as_str()),
        ("ends_at", ends.as_str()),
        ("components", ids[0].as_str()),
        ("notify_shown", "1"),
        ("notify", "scheduled"),
        ("notify", "completed"),
    ];
    let response = responder.submit("/maintenances/new", "/maintenances", &fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let mails = sink.wait_for(1, std::time::Duration::from_secs(20)).await;
    assert_eq!(mails[0].to, vec!["db@example.test".to_owned()], "only the database's subscriber");
    let scheduled = String::from_utf8_lossy(mails[0].data.as_bytes()).to_string();
    assert!(scheduled.contains("Scheduled maintenance: Database upgrade"));

    // It starts (no notice: turned off), then ends (a notice).
    let settings = test_settings(&app.db_url);
    exec(&app, "UPDATE maintenances SET starts_at = now() - interval '1 second'").await;
    run_due(&app.pool, &settings).await.expect("tick");
    exec(&app, "UPDATE maintenances SET ends_at = now() - interval '1 second', starts_at = now() - interval '1 hour'")
        .await;
    run_due(&app.pool, &settings).await.expect("tick");
    let mails = sink.wait_for(2, std::time::Duration::from_secs(20)).await;
    let ended = mail_parser::MessageParser::default().parse(mails[1].data.as_bytes()).expect("an email");
    let ended = format!("{}\n{}", ended.subject().unwrap_or_default(), ended.body_text(0).unwrap_or_default());
    assert!(ended.contains("Maintenance completed: Database upgrade"), "{ended}");
    assert!(ended.contains("/preferences"), "with the preferences link");
    assert_eq!(app.count("SELECT count(*) AS n FROM outbox WHERE kind = 'maintenance'").await, 2, "no start notice");
}
