use reqwest::StatusCode;

use crate::helpers::{html_of, location, spawn_app};
use firebreak::domain::Role;

#[tokio::test]
async fn only_admins_reach_the_admin_pages() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let (responder, _) = app.signed_in(Role::Responder).await;
    let (viewer, _) = app.signed_in(Role::Viewer).await;

    for path in ["/admin/users", "/admin/users/new", "/admin/audit"] {
        admin.page(path).await;
        html_of(responder.get(path).await, StatusCode::FORBIDDEN).await;
        html_of(viewer.get(path).await, StatusCode::FORBIDDEN).await;
    }
    assert!(!responder.page("/").await.contains("/admin/users"), "no admin link for others");
}

#[tokio::test]
async fn a_responder_cannot_add_users_even_with_a_valid_token() {
    let app = spawn_app().await;
    let (responder, _) = app.signed_in(Role::Responder).await;
    let response = responder
        .submit(
            "/account",
            "/admin/users",
            &[
                ("email", "x@example.test"),
                ("display_name", "X"),
                ("role", "admin"),
                ("password", "long enough password"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.count("SELECT count(*) AS n FROM users").await, 1);
}

#[tokio::test]
async fn an_admin_adds_a_user_who_can_then_sign_in() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let response = admin
        .submit(
            "/admin/users/new",
            "/admin/users",
            &[
                ("display_name", "Grace Hopper"),
                ("email", "grace@example.test"),
                ("role", "responder"),
                ("password", "find the moth"),
                ("time_zone", "America/New_York"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/admin/users");
    let list = admin.page("/admin/users").await;
    assert!(list.contains("Added Grace Hopper as responder."));
    assert!(list.contains("grace@example.test"));

    let grace = app.browser();
    grace.sign_in("grace@example.test", "find the moth").await;
    assert!(grace.page("/account").await.contains("America/New_York"));
    assert_eq!(
        app.count("SELECT count(*) AS n FROM audit_log WHERE action = 'user.add'").await,
        2,
        "CLI user and Grace"
    );
}

#[tokio::test]
async fn adding_a_user_with_bad_input_keeps_the_values() {
    let app = spawn_app().await;
    let (admin, existing) = app.signed_in(Role::Admin).await;
    let response = admin
        .submit(
            "/admin/users/new",
            "/admin/users",
            &[
                ("display_name", ""),
                ("email", &existing.email.to_uppercase()),
                ("role", "owner"),
                ("password", "long enough password"),
                ("time_zone", "Mars/Base"),
            ],
        )
        .await;
    let html = html_of(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(html.contains("Enter a name."));
    assert!(html.contains("Choose admin, responder or viewer."));
    assert!(html.contains("Choose a time zone from the list"));
    assert!(html.contains(&format!("value=\"{}\"", existing.email.to_uppercase())), "the email is kept as typed");
    assert!(!html.contains("long enough password"), "passwords are never echoed back");

    let response = admin
        .submit(
            "/admin/users/new",
            "/admin/users",
            &[
                ("display_name", "Twin"),
                ("email", &existing.email),
                ("role", "viewer"),
                ("password", "long enough password"),
            ],
        )
        .await;
    let html = html_of(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(html.contains("Someone already signs in with this email address."));
    assert_eq!(app.count("SELECT count(*) AS n FROM users").await, 1);
}

#[tokio::test]
async fn an_admin_changes_a_role() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let (viewer_browser, viewer) = app.signed_in(Role::Viewer).await;
    let path = format!("/admin/users/{}", viewer.id);
    let response = admin.submit(&path, &format!("{path}/role"), &[("role", "responder")]).await;
    assert_eq!(location(&response), path);
    assert!(admin.page(&path).await.contains("is now responder."));
    assert!(
        viewer_browser.page("/account").await.contains("badge badge-responder"),
        "their new role shows at their next request"
    );
}

#[tokio::test]
async fn the_last_admin_cannot_be_demoted_or_disabled() {
    let app = spawn_app().await;
    let (admin, me) = app.signed_in(Role::Admin).await;
    let path = format!("/admin/users/{}", me.id);
    let response = admin.submit(&path, &format!("{path}/role"), &[("role", "viewer")]).await;
    let html = html_of(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(html.contains("This is the only active admin"));
    let response = admin.submit(&path, &format!("{path}/disable"), &[]).await;
    let html = html_of(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(html.contains("You cannot disable your own account."));
    assert_eq!(app.count("SELECT count(*) AS n FROM users WHERE role = 'admin' AND NOT disabled").await, 1);
}

#[tokio::test]
async fn a_disabled_user_loses_access_at_the_next_request() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let (user_browser, user) = app.signed_in(Role::Responder).await;
    user_browser.page("/").await;

    let path = format!("/admin/users/{}", user.id);
    let response = admin.submit(&path, &format!("{path}/disable"), &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    let response = user_browser.get("/").await;
    assert_eq!(location(&response), "/login");

    // Enabled again, they sign in anew.
    admin.submit(&path, &format!("{path}/enable"), &[]).await;
    user_browser.sign_in(&user.email, &user.password).await;
}

#[tokio::test]
async fn a_password_reset_signs_the_user_out_everywhere() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let (user_browser, user) = app.signed_in(Role::Viewer).await;
    let path = format!("/admin/users/{}", user.id);

    let response = admin.submit(&path, &format!("{path}/password"), &[("password", "short")]).await;
    assert!(html_of(response, StatusCode::UNPROCESSABLE_ENTITY).await.contains("Use at least 10 characters"));
    user_browser.page("/").await;

    admin.submit(&path, &format!("{path}/password"), &[("password", "fresh start please")]).await;
    assert_eq!(location(&user_browser.get("/").await), "/login");
    let response =
        app.browser().submit("/login", "/login", &[("email", &user.email), ("password", &user.password)]).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "the old password is gone");
    app.browser().sign_in(&user.email, "fresh start please").await;
}

#[tokio::test]
async fn unknown_or_malformed_user_ids_are_not_found() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    html_of(admin.get("/admin/users/999999").await, StatusCode::NOT_FOUND).await;
    html_of(admin.get("/admin/users/abc").await, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn admin_actions_land_in_the_audit_log() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let user = app.create_user(Role::Viewer).await;
    let path = format!("/admin/users/{}", user.id);
    admin.submit(&path, &format!("{path}/role"), &[("role", "responder")]).await;
    let html = admin.page("/admin/audit").await;
    assert!(html.contains("user.role"));
    assert!(html.contains("viewer → responder"));
}
