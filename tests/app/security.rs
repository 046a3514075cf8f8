use reqwest::StatusCode;

use crate::helpers::{csrf_token, html_of, spawn_app};
use firebreak::domain::Role;

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = spawn_app().await;
    let browser = app.browser();
    for path in ["/", "/setup", "/login", "/health", "/static/css/app.css", "/no/such/page"] {
        let response = browser.get(path).await;
        let h = response.headers();
        let csp = h.get("content-security-policy").and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{path}: CSP {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}");
        assert_eq!(h.get("x-content-type-options").map(|v| v.as_bytes()), Some(&b"nosniff"[..]), "{path}");
        assert!(h.get("referrer-policy").is_some(), "{path}");
    }
}

#[tokio::test]
async fn a_post_without_a_valid_csrf_token_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let fields = [
        ("display_name", "Eve"),
        ("email", "eve@example.test"),
        ("role", "admin"),
        ("password", "long enough password"),
    ];

    let response = admin.post_raw("/admin/users", &fields).await;
    assert!(html_of(response, StatusCode::FORBIDDEN).await.contains("This form has expired"));

    let mut forged = vec![("csrf_token", "forged-token")];
    forged.extend_from_slice(&fields);
    assert_eq!(admin.post_raw("/admin/users", &forged).await.status(), StatusCode::FORBIDDEN);

    // A token from another session does not work either.
    let other = app.browser();
    let foreign = csrf_token(&other.page("/login").await);
    let mut foreign_fields = vec![("csrf_token", foreign.as_str())];
    foreign_fields.extend_from_slice(&fields);
    assert_eq!(admin.post_raw("/admin/users", &foreign_fields).await.status(), StatusCode::FORBIDDEN);

    assert_eq!(app.count("SELECT count(*) AS n FROM users").await, 1);
    assert_eq!(admin.post_raw("/logout", &[]).await.status(), StatusCode::FORBIDDEN, "sign-out needs the token too");
}

#[tokio::test]
async fn sign_in_needs_a_csrf_token() {
    let app = spawn_app().await;
    let user = app.create_user(Role::Viewer).await;
    let response = app.browser().post_raw("/login", &[("email", &user.email), ("password", &user.password)]).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn error_pages_use_the_layout_and_show_no_internals() {
    let app = spawn_app().await;
    let (browser, _) = app.signed_in(Role::Viewer).await;
    let html = html_of(browser.get("/no/such/page").await, StatusCode::NOT_FOUND).await;
    assert!(html.contains("class=\"site-header\""));
    assert!(html.contains("Page not found"));

    let html = html_of(browser.get("/admin/users").await, StatusCode::FORBIDDEN).await;
    assert!(html.contains("Not allowed"));
}

#[tokio::test]
async fn the_stylesheet_is_served_and_cached() {
    let app = spawn_app().await;
    let response = app.browser().get("/static/css/app.css").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/css; charset=utf-8");
    assert!(response.headers()["cache-control"].to_str().expect("ascii").contains("max-age"));
    assert!(response.text().await.expect("css").contains("prefers-color-scheme: dark"));
}
