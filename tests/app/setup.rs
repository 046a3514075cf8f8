use reqwest::StatusCode;

use crate::helpers::{csrf_token, html_of, location, spawn_app};
use firebreak::domain::Role;

#[tokio::test]
async fn the_first_visit_leads_to_the_setup_page() {
    let app = spawn_app().await;
    let browser = app.browser();
    let response = browser.get("/").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/setup");
    assert_eq!(location(&browser.get("/login").await), "/setup");
    let html = browser.page("/setup").await;
    assert!(html.contains("Create admin account"));
}

#[tokio::test]
async fn setup_with_bad_input_keeps_the_values_and_says_what_is_wrong() {
    let app = spawn_app().await;
    let browser = app.browser();
    let response = browser
        .submit(
            "/setup",
            "/setup",
            &[("display_name", "Ada"), ("email", "not-an-email"), ("password", "short"), ("time_zone", "UTC")],
        )
        .await;
    let html = html_of(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(html.contains("value=\"Ada\""), "the name is kept");
    assert!(html.contains("value=\"not-an-email\""), "the email is kept");
    assert!(html.contains("Enter an email address like name@example.com."));
    assert!(html.contains("Use at least 10 characters"));
    assert_eq!(app.count("SELECT count(*) AS n FROM users").await, 0, "nothing written");
}

#[tokio::test]
async fn setup_creates_the_first_admin_and_signs_them_in() {
    let app = spawn_app().await;
    let browser = app.browser();
    let response = browser
        .submit(
            "/setup",
            "/setup",
            &[
                ("display_name", "Ada Lovelace"),
                ("email", "Ada@Example.com"),
                ("password", "analytical engine"),
                ("time_zone", "Europe/London"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(browser.page("/").await.contains("Welcome, Ada Lovelace."));
    let dashboard = browser.page("/account").await;
    assert!(dashboard.contains("Ada Lovelace"));
    assert!(dashboard.contains("ada@example.com"), "emails are stored lower-case");
    assert!(dashboard.contains("Europe/London"));
    assert_eq!(app.count("SELECT count(*) AS n FROM users WHERE role = 'admin'").await, 1);
}

#[tokio::test]
async fn setup_is_never_reachable_once_a_user_exists() {
    let app = spawn_app().await;
    app.create_user(Role::Viewer).await;
    let browser = app.browser();

    html_of(browser.get("/setup").await, StatusCode::NOT_FOUND).await;

    // Even a well-formed POST with a valid token is refused.
    let token = csrf_token(&browser.page("/login").await);
    let response = browser
        .post_raw(
            "/setup",
            &[
                ("csrf_token", &token),
                ("display_name", "Mallory"),
                ("email", "m@example.com"),
                ("password", "take over the place"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.count("SELECT count(*) AS n FROM users").await, 1);
}
