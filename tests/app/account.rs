use reqwest::StatusCode;

use crate::helpers::{html_of, location, spawn_app};
use firebreak::domain::Role;

#[tokio::test]
async fn anyone_can_change_their_own_password() {
    let app = spawn_app().await;
    let (browser, user) = app.signed_in(Role::Viewer).await;
    let other_session = app.browser();
    other_session.sign_in(&user.email, &user.password).await;

    let response = browser
        .submit(
            "/account",
            "/account/password",
            &[("current_password", "wrong"), ("new_password", "short"), ("confirm_password", "short")],
        )
        .await;
    let html = html_of(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(html.contains("That is not your current password."));
    assert!(html.contains("Use at least 10 characters"));

    let response = browser
        .submit(
            "/account",
            "/account/password",
            &[
                ("current_password", &user.password),
                ("new_password", "a much better one"),
                ("confirm_password", "a much better one"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(browser.page("/account").await.contains("Your password is changed."), "this session carries on");
    assert_eq!(location(&other_session.get("/").await), "/login", "other sessions end");
    app.browser().sign_in(&user.email, "a much better one").await;
}

#[tokio::test]
async fn mismatched_new_passwords_are_refused() {
    let app = spawn_app().await;
    let (browser, user) = app.signed_in(Role::Responder).await;
    let response = browser
        .submit(
            "/account",
            "/account/password",
            &[
                ("current_password", &user.password),
                ("new_password", "a much better one"),
                ("confirm_password", "a much better two"),
            ],
        )
        .await;
    assert!(html_of(response, StatusCode::UNPROCESSABLE_ENTITY).await.contains("The two new passwords differ."));
    app.browser().sign_in(&user.email, &user.password).await;
}

#[tokio::test]
async fn anyone_can_set_their_time_zone() {
    let app = spawn_app().await;
    let (browser, _) = app.signed_in(Role::Viewer).await;
    let response = browser.submit("/account", "/account/time-zone", &[("time_zone", "Asia/Tokyo")]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let html = browser.page("/account").await;
    assert!(html.contains("Times are now shown in Asia/Tokyo."));
    assert!(html.contains("<option selected>Asia/Tokyo</option>"));

    let response = browser.submit("/account", "/account/time-zone", &[("time_zone", "Atlantis/Capital")]).await;
    assert!(html_of(response, StatusCode::UNPROCESSABLE_ENTITY).await.contains("Choose a time zone from the list"));
}
