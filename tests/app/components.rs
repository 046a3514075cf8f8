use reqwest::StatusCode;

use crate::helpers::{Browser, TestApp, html_of, location, spawn_app};
use firebreak::domain::Role;

async fn add(admin: &Browser, fields: &[(&str, &str)]) -> reqwest::Response {
    admin.submit("/admin/components", "/admin/components", fields).await
}

async fn id_of(app: &TestApp, name: &str) -> i64 {
    app.count(&format!("SELECT id AS n FROM components WHERE name = '{name}'")).await
}

#[tokio::test]
async fn an_admin_adds_edits_and_orders_components_in_groups() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let response = add(&admin, &[("name", "API"), ("group_name", "Core"), ("position", "2")]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    add(&admin, &[("name", "Database"), ("group_name", "Core"), ("position", "1")]).await;
    add(&admin, &[("name", "Website"), ("description", "The marketing site")]).await;

    let list = admin.page("/admin/components").await;
    assert!(list.contains("Added the component Website."));
    let (db, api) = (list.find(">Database<").expect("listed"), list.find(">API<").expect("listed"));
    assert!(db < api, "ordered by position within the group");
    assert!(list.contains("<caption>Core</caption>") && list.contains("<caption>Without a group</caption>"));

    let id = id_of(&app, "API").await;
    let page = format!("/admin/components/{id}");
    let response = admin
        .submit(
            &page,
            &page,
            &[("name", "Public API"), ("group_name", "Edge"), ("description", "REST and GraphQL"), ("position", "5")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), page);
    let html = admin.page(&page).await;
    assert!(html.contains("Saved the component Public API."));
    assert!(
        html.contains("value=\"Edge\"") && html.contains("value=\"REST and GraphQL\"") && html.contains("value=\"5\"")
    );
    assert_eq!(app.count("SELECT count(*) AS n FROM audit_log WHERE action = 'component.add'").await, 3);
    assert_eq!(
        app.count(
            "SELECT count(*) AS n FROM audit_log WHERE action = 'component.edit' \
             AND detail LIKE 'name: API → Public API%position: 2 → 5'"
        )
        .await,
        1
    );
    assert_eq!(app.count("SELECT count(*) AS n FROM components WHERE position = 0 AND group_name = ''").await, 1);
}

#[tokio::test]
async fn a_status_change_is_logged_with_who_and_shows_in_the_history() {
    let app = spawn_app().await;
    let (admin, me) = app.signed_in(Role::Admin).await;
    add(&admin, &[("name", "Checkout")]).await;
    let id = id_of(&app, "Checkout").await;
    let page = format!("/admin/components/{id}");
    assert!(admin.page(&page).await.contains("No status changes yet."));

    let status = format!("{page}/status");
    let response = admin.submit(&page, &status, &[("status", "major_outage"), ("note", "Payment provider down")]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    admin.submit(&page, &status, &[("status", "degraded_performance")]).await;
    // The same status again changes nothing.
    admin.submit(&page, &status, &[("status", "degraded_performance")]).await;

    let html = admin.page(&page).await;
    assert!(html.contains("was already degraded performance; nothing changed."));
    assert!(html.contains("Major outage</span> → <span class=\"badge cs-degraded_performance\">Degraded performance"));
    assert!(html.contains("Operational</span> → <span class=\"badge cs-major_outage\">Major outage"));
    assert!(html.contains(&me.name) && html.contains("set by hand"));
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM component_status_changes WHERE component_id = {id} AND changed_by = {}",
            me.id
        ))
        .await,
        2
    );
    assert_eq!(app.count("SELECT count(*) AS n FROM components WHERE status = 'degraded_performance'").await, 1);
    assert_eq!(
        app.count(
            "SELECT count(*) AS n FROM audit_log WHERE action = 'component.status' \
             AND detail = 'Operational → Major outage: Payment provider down'"
        )
        .await,
        1
    );

    let response = admin.submit(&page, &status, &[("status", "down"), ("note", "kept")]).await;
    let html = html_of(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(html.contains("Choose operational, degraded performance"));
    assert!(html.contains("value=\"kept\""));
}

#[tokio::test]
async fn duplicate_names_are_a_field_error_whatever_the_case() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    add(&admin, &[("name", "API")]).await;
    add(&admin, &[("name", "Search")]).await;

    let response = add(&admin, &[("name", "api"), ("group_name", "Core")]).await;
    let html = html_of(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(html.contains("A component with this name exists already."));
    assert!(html.contains("value=\"api\"") && html.contains("value=\"Core\""), "values are kept");

    let id = id_of(&app, "Search").await;
    let page = format!("/admin/components/{id}");
    let response = admin.submit(&page, &page, &[("name", "Api"), ("position", "x")]).await;
    let html = html_of(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(html.contains("Enter a whole number from 0 to 10000"));
    let response = admin.submit(&page, &page, &[("name", "Api"), ("position", "3")]).await;
    let html = html_of(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(html.contains("A component with this name exists already."));
    // Renaming a component to itself in another case is fine.
    let response = admin.submit(&page, &page, &[("name", "SEARCH"), ("position", "3")]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.count("SELECT count(*) AS n FROM components").await, 2);
}

#[tokio::test]
async fn only_admins_manage_components() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    add(&admin, &[("name", "API")]).await;
    let id = id_of(&app, "API").await;
    for role in [Role::Responder, Role::Viewer] {
        let (other, _) = app.signed_in(role).await;
        for path in ["/admin/components".to_owned(), format!("/admin/components/{id}")] {
            html_of(other.get(&path).await, StatusCode::FORBIDDEN).await;
        }
        let response =
            other.submit("/account", &format!("/admin/components/{id}/status"), &[("status", "major_outage")]).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let response = other.submit("/account", &format!("/admin/components/{id}"), &[("name", "Hacked")]).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let response = other.submit("/account", "/admin/components", &[("name", "Mine")]).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
    }
    assert_eq!(app.count("SELECT count(*) AS n FROM component_status_changes").await, 0);
    assert_eq!(app.count("SELECT count(*) AS n FROM components WHERE name = 'API'").await, 1);
    html_of(admin.get("/admin/components/999999").await, StatusCode::NOT_FOUND).await;
}
