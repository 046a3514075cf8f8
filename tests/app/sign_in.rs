use reqwest::StatusCode;

use crate::helpers::{html_of, location, spawn_app};
use firebreak::domain::Role;

#[tokio::test]
async fn signing_in_reaches_the_dashboard_and_signing_out_leaves_it() {
    let app = spawn_app().await;
    let user = app.create_user(Role::Responder).await;
    let browser = app.browser();

    let response = browser
        .submit(
            "/login?next=%2Faccount",
            "/login",
            &[("email", &user.email.to_uppercase()), ("password", &user.password), ("next", "/account")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/account", "back to the page that asked for sign-in");
    let html = browser.page("/account").await;
    assert!(html.contains(&user.name) && html.contains(&user.email));

    let response = browser.submit("/", "/logout", &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let response = browser.get("/").await;
    assert_eq!(location(&response), "/login");
    assert!(browser.page("/login").await.contains("You are signed out."));
}

#[tokio::test]
async fn pages_that_need_a_user_send_visitors_to_sign_in() {
    let app = spawn_app().await;
    app.create_user(Role::Admin).await;
    let response = app.browser().get("/admin/users").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login?next=%2Fadmin%2Fusers");
}

#[tokio::test]
async fn a_redirect_after_sign_in_never_leaves_the_site() {
    let app = spawn_app().await;
    let user = app.create_user(Role::Viewer).await;
    let response = app
        .browser()
        .submit(
            "/login",
            "/login",
            &[("email", &user.email), ("password", &user.password), ("next", "//evil.example/")],
        )
        .await;
    assert_eq!(location(&response), "/");
}

#[tokio::test]
async fn wrong_password_and_unknown_email_get_the_same_message() {
    let app = spawn_app().await;
    let user = app.create_user(Role::Responder).await;
    let browser = app.browser();

    let wrong_password =
        browser.submit("/login", "/login", &[("email", &user.email), ("password", "not the password")]).await;
    let wrong_password = html_of(wrong_password, StatusCode::UNAUTHORIZED).await;
    let unknown_email =
        browser.submit("/login", "/login", &[("email", "nobody@example.test"), ("password", "not the password")]).await;
    let unknown_email = html_of(unknown_email, StatusCode::UNAUTHORIZED).await;

    for html in [&wrong_password, &unknown_email] {
        assert!(html.contains("Email or password is incorrect."));
    }
    assert!(wrong_password.contains(&format!("value=\"{}\"", user.email)), "the email is kept");
    assert_eq!(location(&browser.get("/").await), "/login", "still signed out");
}

#[tokio::test]
async fn a_disabled_account_cannot_sign_in() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let user = app.create_user(Role::Responder).await;
    let path = format!("/admin/users/{}", user.id);
    admin.submit(&path, &format!("{path}/disable"), &[]).await;

    let response =
        app.browser().submit("/login", "/login", &[("email", &user.email), ("password", &user.password)]).await;
    assert!(html_of(response, StatusCode::UNAUTHORIZED).await.contains("Email or password is incorrect."));
}

#[tokio::test]
async fn repeated_failures_are_slowed_down_then_refused() {
    let app = spawn_app().await;
    let user = app.create_user(Role::Responder).await;
    let browser = app.browser();

    for attempt in 1..=10 {
        let response = browser.submit("/login", "/login", &[("email", &user.email), ("password", "guess")]).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "attempt {attempt}");
    }
    // Even the right password is now refused, with a clear message.
    let response = browser.submit("/login", "/login", &[("email", &user.email), ("password", &user.password)]).await;
    let html = html_of(response, StatusCode::TOO_MANY_REQUESTS).await;
    assert!(html.contains("Too many failed sign-in attempts"));
    assert_eq!(location(&browser.get("/").await), "/login");

    // Another account from elsewhere is unaffected.
    let other = app.create_user(Role::Viewer).await;
    app.browser().sign_in(&other.email, &other.password).await;
}

#[tokio::test]
async fn an_admin_password_reset_lifts_the_refusal() {
    let app = spawn_app().await;
    let user = app.create_user(Role::Responder).await;
    let browser = app.browser();
    for _ in 0..10 {
        browser.submit("/login", "/login", &[("email", &user.email), ("password", "guess")]).await;
    }
    let (admin, _) = app.signed_in(Role::Admin).await;
    let path = format!("/admin/users/{}", user.id);
    let response = admin.submit(&path, &format!("{path}/password"), &[("password", "a brand new password")]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    app.browser().sign_in(&user.email, "a brand new password").await;
}

#[tokio::test]
async fn the_session_cookie_is_http_only_and_same_site_lax() {
    let app = spawn_app().await;
    let user = app.create_user(Role::Viewer).await;
    let browser = app.browser();
    let response = browser.submit("/login", "/login", &[("email", &user.email), ("password", &user.password)]).await;
    let cookie =
        response.headers().get("set-cookie").and_then(|v| v.to_str().ok()).expect("a session cookie").to_owned();
    assert!(cookie.starts_with("firebreak_session="));
    assert!(cookie.contains("HttpOnly"));
    assert!(cookie.contains("SameSite=Lax"));
    assert!(!cookie.contains("Secure"), "plain http base URL: not Secure");
}

#[tokio::test]
async fn the_session_cookie_is_secure_behind_https() {
    let app =
        crate::helpers::spawn_app_with(|s| s.base_url = url::Url::parse("https://firebreak.example").expect("url"))
            .await;
    let response = app.browser().get("/setup").await;
    let cookie =
        response.headers().get("set-cookie").and_then(|v| v.to_str().ok()).expect("a session cookie").to_owned();
    assert!(cookie.contains("Secure"));
}
