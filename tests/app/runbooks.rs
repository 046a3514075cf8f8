//! Runbooks: writing, reading, editing (with the conflict path) and deleting
//! them; bad input; the room's runbooks for its components and alerts; a done
//! mitigation task turned into a runbook step; viewers only read.

use reqwest::StatusCode;

use crate::helpers::{Browser, TestApp, html_of, location, spawn_app};
use crate::updates::{component, declare, exec, scalar};
use firebreak::domain::Role;

/// Writes a runbook through the form and returns its page's path.
async fn write(browser: &Browser, fields: &[(&str, &str)]) -> String {
    let response = browser.submit("/runbooks/new", "/runbooks", fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "saving the runbook");
    location(&response)
}

async fn audit_count(app: &TestApp, action: &str) -> i64 {
    app.count(&format!("SELECT count(*) AS n FROM audit_log WHERE action = '{action}'")).await
}

#[tokio::test]
async fn responders_write_read_edit_and_delete_runbooks() {
    let app = spawn_app().await;
    let (alice, _) = app.signed_in(Role::Responder).await;
    let (bob, _) = app.signed_in(Role::Admin).await;
    let checkout = component(&app, "Checkout").await;
    assert!(alice.page("/runbooks").await.contains("No runbooks yet."));

    let path = write(
        &alice,
        &[
            ("title", "Fail over the payments database"),
            ("steps", "1. Check **replication lag**\r\n2. Run `failover.sh`"),
            ("components", &checkout),
            ("alert_names", "PaymentsDbDown\r\nPaymentsDbDown\r\n\r\nHighErrorRate"),
            ("action", "save"),
        ],
    )
    .await;
    let id = path.trim_start_matches("/runbooks/").to_owned();
    let html = alice.page(&path).await;
    assert!(html.contains("<strong>replication lag</strong>"), "the steps are rendered: {html}");
    assert!(html.contains("<code>failover.sh</code>"));
    assert!(html.contains("Checkout") && html.contains("<code>PaymentsDbDown</code>"));
    assert_eq!(
        scalar(&app, "SELECT array_to_string(alert_names, ',') AS v FROM runbooks").await,
        "PaymentsDbDown,HighErrorRate"
    );
    let list = alice.page("/runbooks").await;
    assert!(list.contains(&format!("<a href=\"/runbooks/{id}\">Fail over the payments database</a>")));
    assert_eq!(audit_count(&app, "runbook.create").await, 1);

    // Both open the edit form on version 1; Alice saves first.
    let edit = format!("/runbooks/{id}/edit");
    assert!(alice.page(&edit).await.contains("name=\"version\" value=\"1\""));
    let base = [("version", "1"), ("components", checkout.as_str()), ("alert_names", "PaymentsDbDown")];
    let mut fields = base.to_vec();
    fields.extend([("title", "Fail over the payments DB"), ("steps", "1. Check lag\n2. Run `failover.sh`")]);
    assert_eq!(alice.submit(&edit, &path, &fields).await.status(), StatusCode::SEE_OTHER);
    let mut fields = base.to_vec();
    fields.extend([("title", "Bob's title"), ("steps", "Bob's steps")]);
    let response = bob.submit(&edit, &path, &fields).await;
    let html = html_of(response, StatusCode::CONFLICT).await;
    assert!(html.contains("Someone else saved this runbook while you were editing."));
    assert!(html.contains("Fail over the payments DB"), "theirs is shown");
    assert!(html.contains("value=\"Bob&#39;s title\"") || html.contains("value=\"Bob&#x27;s title\""), "{html}");
    assert!(html.contains("name=\"version\" value=\"2\""), "saving again overwrites knowingly");
    assert_eq!(scalar(&app, "SELECT title AS v FROM runbooks").await, "Fail over the payments DB");
    let mut fields = base.to_vec();
    fields[0] = ("version", "2");
    fields.extend([("title", "Bob's title"), ("steps", "Bob's steps")]);
    assert_eq!(bob.submit(&edit, &path, &fields).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(scalar(&app, "SELECT title || ' v' || version AS v FROM runbooks").await, "Bob's title v3");
    assert_eq!(audit_count(&app, "runbook.update").await, 2);

    let confirm = format!("/runbooks/{id}/delete");
    assert!(alice.page(&confirm).await.contains("Delete runbook"));
    let response = alice.submit(&confirm, &confirm, &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/runbooks");
    assert_eq!(app.count("SELECT count(*) AS n FROM runbooks").await, 0);
    assert_eq!(app.count("SELECT count(*) AS n FROM runbook_components").await, 0);
    assert_eq!(audit_count(&app, "runbook.delete").await, 1);
    assert_eq!(alice.get(&path).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_runbooks_are_refused_with_the_values_kept_and_previews_save_nothing() {
    let app = spawn_app().await;
    let (browser, _) = app.signed_in(Role::Responder).await;
    let response = browser
        .submit(
            "/runbooks/new",
            "/runbooks",
            &[
                ("title", "  "),
                ("steps", " "),
                ("components", "999999"),
                ("alert_names", "DiskFull"),
                ("action", "save"),
            ],
        )
        .await;
    let html = html_of(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(html.contains("Give the runbook a title"));
    assert!(html.contains("Write the steps"));
    assert!(html.contains("One of the chosen components no longer exists."));
    assert!(html.contains(">DiskFull</textarea>"), "the alert names are kept");
    assert!(html.contains("aria-describedby=\"steps-error steps-hint\""));

    let response = browser
        .submit("/runbooks/new", "/runbooks", &[("title", "Restart"), ("steps", "Run **this**"), ("action", "preview")])
        .await;
    let html = html_of(response, StatusCode::OK).await;
    assert!(html.contains("Preview of the steps") && html.contains("<strong>this</strong>"));
    assert!(html.contains(">Run **this**</textarea>"), "the text stays in the form");
    assert_eq!(app.count("SELECT count(*) AS n FROM runbooks").await, 0);
    assert_eq!(app.count("SELECT count(*) AS n FROM audit_log WHERE action LIKE 'runbook.%'").await, 0);
}

#[tokio::test]
async fn the_room_shows_the_runbooks_for_its_components_and_its_alerts() {
    let app = spawn_app().await;
    let (browser, _) = app.signed_in(Role::Responder).await;
    let checkout = component(&app, "Checkout").await;
    let search = component(&app, "Search").await;
    write(&browser, &[("title", "Checkout runbook"), ("steps", "Step **one**"), ("components", &checkout)]).await;
    write(&browser, &[("title", "Error rate runbook"), ("steps", "Look"), ("alert_names", "HighErrorRate")]).await;
    write(&browser, &[("title", "Search runbook"), ("steps", "Reindex"), ("components", &search)]).await;

    let id = declare(&browser, &[("title", "Checkout down"), ("components", &checkout)]).await;
    let room = format!("/incidents/{id}");
    let html = browser.page(&room).await;
    assert!(html.contains("id=\"runbooks\""), "the room has a runbooks card");
    assert!(html.contains("Checkout runbook") && html.contains("component Checkout"), "{html}");
    assert!(html.contains("Step <strong>one</strong>"));
    assert!(!html.contains("Error rate runbook") && !html.contains("Search runbook"));

    let source = scalar(
        &app,
        "INSERT INTO alert_sources (name, kind, token_hash) VALUES ('prometheus', 'alertmanager', 'x') RETURNING id::text AS v",
    )
    .await;
    exec(
        &app,
        &format!(
            "INSERT INTO alerts (source_id, incident_id, fingerprint, name, status, starts_at) \
             VALUES ({source}, {id}, 'fp-1', 'HighErrorRate', 'firing', now())"
        ),
    )
    .await;
    let html = browser.page(&room).await;
    assert!(html.contains("Error rate runbook") && html.contains("alert HighErrorRate"), "{html}");
    assert!(!html.contains("Search runbook"));

    let other = declare(&browser, &[("title", "Unrelated")]).await;
    let html = browser.page(&format!("/incidents/{other}")).await;
    assert!(html.contains("No runbook matches this incident's components or alerts."));
}

#[tokio::test]
async fn a_done_mitigation_task_turns_into_a_runbook_step() {
    let app = spawn_app().await;
    let (browser, user) = app.signed_in(Role::Responder).await;
    let checkout = component(&app, "Checkout").await;
    let id = declare(&browser, &[("title", "Checkout slow"), ("components", &checkout)]).await;
    let room = format!("/incidents/{id}");
    browser
        .submit(
            &room,
            &format!("{room}/tasks"),
            &[
                ("title", "Restart the checkout workers"),
                ("details", "kubectl rollout restart deploy/checkout"),
                ("kind", "mitigation"),
            ],
        )
        .await;
    browser.submit(&room, &format!("{room}/tasks"), &[("title", "Add a canary"), ("kind", "follow_up")]).await;
    let task = scalar(&app, "SELECT id::text AS v FROM tasks WHERE kind = 'mitigation'").await;
    let follow_up = scalar(&app, "SELECT id::text AS v FROM tasks WHERE kind = 'follow_up'").await;
    let link = format!("/runbooks/new?task={task}");
    assert!(!browser.page(&room).await.contains(&link), "only done mitigations offer it");
    assert_eq!(browser.get(&link).await.status(), StatusCode::NOT_FOUND);

    browser.submit(&room, &format!("{room}/tasks/{task}/status"), &[("status", "done")]).await;
    let html = browser.page(&room).await;
    assert!(html.contains(&format!("href=\"{link}\">Turn into runbook step")), "{html}");
    assert_eq!(browser.get(&format!("/runbooks/new?task={follow_up}")).await.status(), StatusCode::NOT_FOUND);

    let form = browser.page(&link).await;
    assert!(form.contains("Translate the actions into instructions that can be reused"));
    assert!(form.contains("value=\"Restart the checkout workers\""));
    assert!(form.contains("1. Restart the checkout workers\n\n   kubectl rollout restart deploy/checkout"), "{form}");
    assert!(form.contains(&format!("value=\"{checkout}\" checked")), "the incident's components are chosen");
    assert!(form.contains(&format!("name=\"source_task\" value=\"{task}\"")));

    let path = write(
        &browser,
        &[
            ("title", "Restart the checkout workers"),
            ("steps", "1. Restart the checkout workers with `kubectl rollout restart deploy/checkout`."),
            ("components", &checkout),
            ("source_task", &task),
            ("action", "save"),
        ],
    )
    .await;
    assert_eq!(scalar(&app, "SELECT source_task_id::text AS v FROM runbooks").await, task);
    assert!(browser.page(&path).await.contains(&format!("href=\"/incidents/{id}#task-{task}\"")));
    assert!(browser.page(&room).await.contains(&format!(
        "{} turned the task “Restart the checkout workers” into a step of the runbook “Restart the checkout workers”.",
        user.name
    )));

    // A task that is not a done mitigation cannot be linked.
    let response = browser
        .submit(
            "/runbooks/new",
            "/runbooks",
            &[("title", "Canary"), ("steps", "x"), ("source_task", &follow_up), ("action", "save")],
        )
        .await;
    assert!(html_of(response, StatusCode::UNPROCESSABLE_ENTITY).await.contains("is not a done mitigation task"));
    assert_eq!(app.count("SELECT count(*) AS n FROM runbooks").await, 1);
}

#[tokio::test]
async fn viewers_read_runbooks_but_cannot_write_them() {
    let app = spawn_app().await;
    let (writer, _) = app.signed_in(Role::Responder).await;
    let (viewer, _) = app.signed_in(Role::Viewer).await;
    let path = write(&writer, &[("title", "Flush the cache"), ("steps", "Run `flush`")]).await;

    let list = viewer.page("/runbooks").await;
    assert!(list.contains("Flush the cache") && !list.contains("Write a runbook"));
    let page = viewer.page(&path).await;
    assert!(!page.contains("Edit runbook"));
    assert_eq!(viewer.get("/runbooks/new").await.status(), StatusCode::FORBIDDEN);
    assert_eq!(viewer.get(&format!("{path}/edit")).await.status(), StatusCode::FORBIDDEN);
    let fields = [("title", "Mine now"), ("steps", "x"), ("version", "1"), ("action", "save")];
    assert_eq!(viewer.submit("/runbooks", "/runbooks", &fields).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(viewer.submit(&path, &path, &fields).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(viewer.submit(&path, &format!("{path}/delete"), &[]).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(scalar(&app, "SELECT title || ' ' || version AS v FROM runbooks").await, "Flush the cache 1");
}
