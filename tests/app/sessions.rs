//! Sessions the server can end (issue 16, item 3): a copy of a signed-out
//! cookie signs nobody in, a password change or "sign out everywhere" ends
//! the other browsers and their live streams, and idle or too-old sessions end.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::cookie::{CookieStore, Jar};
use reqwest::redirect::Policy;

use crate::helpers::{Browser, TestApp, csrf_token, location, spawn_app};
use firebreak::domain::Role;

/// A browser whose cookies the test can read, as an attacker who copied them would.
fn browser_with_jar(app: &TestApp) -> (Browser, Arc<Jar>) {
    let jar = Arc::new(Jar::default());
    let client =
        reqwest::Client::builder().redirect(Policy::none()).cookie_provider(Arc::clone(&jar)).build().expect("client");
    (Browser { client, address: app.address.clone() }, jar)
}

/// A second browser holding a copy of these cookies.
fn copy_of(app: &TestApp, jar: &Jar) -> Browser {
    let url: reqwest::Url = app.address.parse().expect("url");
    let cookies = jar.cookies(&url).expect("signed-in cookies");
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::COOKIE, cookies);
    let client = reqwest::Client::builder().redirect(Policy::none()).default_headers(headers).build().expect("client");
    Browser { client, address: app.address.clone() }
}

async fn signed_out(browser: &Browser) -> bool {
    let response = browser.get("/account").await;
    response.status() == StatusCode::SEE_OTHER && location(&response).starts_with("/login")
}

#[tokio::test]
async fn a_copied_cookie_stops_working_once_its_session_signs_out() {
    let app = spawn_app().await;
    let user = app.create_user(Role::Responder).await;
    let (browser, jar) = browser_with_jar(&app);
    browser.sign_in(&user.email, &user.password).await;
    let copy = copy_of(&app, &jar);
    assert!(!signed_out(&copy).await, "the copy works while the session does");

    let response = browser.submit("/account", "/logout", &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(signed_out(&browser).await);
    assert!(signed_out(&copy).await, "the server ended the session: its copied cookie signs nobody in");
    assert_eq!(app.count(&format!("SELECT count(*) AS n FROM user_sessions WHERE user_id = {}", user.id)).await, 0);
}

#[tokio::test]
async fn the_account_page_lists_sessions_and_signs_one_or_all_out() {
    let app = spawn_app().await;
    let user = app.create_user(Role::Viewer).await;
    let laptop = app.browser();
    laptop.sign_in(&user.email, &user.password).await;
    let phone = app.browser();
    phone.sign_in(&user.email, &user.password).await;
    let tablet = app.browser();
    tablet.sign_in(&user.email, &user.password).await;

    let html = laptop.page("/account").await;
    assert!(html.contains("Where you are signed in"));
    assert_eq!(html.matches("(this browser)").count(), 1);
    assert_eq!(html.matches(">Sign out this session</button>").count(), 2, "the two other browsers");
    assert!(html.contains("after 12 h without use"), "the idle timeout is stated");

    // End the phone's session only: its id is on the phone's own page, missing its button.
    let phone_page = phone.page("/account").await;
    let phone_id = ids_with_buttons(&html).into_iter().find(|id| !ids_with_buttons(&phone_page).contains(id));
    let phone_id = phone_id.expect("the phone's session is listed on the laptop");
    let token = csrf_token(&html);
    let response =
        laptop.post_raw(&format!("/account/sessions/{phone_id}/end"), &[("csrf_token", token.as_str())]).await;
    assert_eq!(location(&response), "/account");
    assert!(signed_out(&phone).await, "the phone is signed out");
    assert!(!signed_out(&tablet).await && !signed_out(&laptop).await, "the others carry on");

    // Someone else's session cannot be ended from here.
    let (stranger, _) = app.signed_in(Role::Admin).await;
    let own = ids_with_buttons(&laptop.page("/account").await);
    let page = stranger.page("/account").await;
    let response = stranger
        .post_raw(&format!("/account/sessions/{}/end", own[0]), &[("csrf_token", csrf_token(&page).as_str())])
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(!signed_out(&tablet).await);

    let response = laptop.submit("/account", "/account/sessions/end-all", &[]).await;
    assert_eq!(location(&response), "/login");
    assert!(signed_out(&laptop).await && signed_out(&tablet).await, "signed out everywhere");
    assert_eq!(app.count("SELECT count(*) AS n FROM audit_log WHERE action = 'account.sign_out_everywhere'").await, 1);
}

fn ids_with_buttons(html: &str) -> Vec<i64> {
    html.split("action=\"/account/sessions/").skip(1).filter_map(|rest| rest.split('/').next()?.parse().ok()).collect()
}

#[tokio::test]
async fn a_password_change_ends_the_other_sessions_live_streams() {
    let app = spawn_app().await;
    let user = app.create_user(Role::Responder).await;
    let desk = app.browser();
    desk.sign_in(&user.email, &user.password).await;
    let (stolen, _) = browser_with_jar(&app);
    stolen.sign_in(&user.email, &user.password).await;

    let mut stream = stolen.get("/incidents/events").await;
    assert_eq!(stream.status(), StatusCode::OK);
    let first = tokio::time::timeout(Duration::from_secs(5), stream.chunk()).await.expect("first chunk");
    assert!(first.expect("chunk").is_some(), "the stream is open");

    let response = desk
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

    // The open stream ends (the keepalive comes every 15 s; this must be sooner).
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match stream.chunk().await {
                Ok(Some(_)) => continue,
                _ => return,
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the other browser's live stream ended with its session");
    assert!(signed_out(&stolen).await);
    assert!(!signed_out(&desk).await, "the browser that changed the password carries on");
}

#[tokio::test]
async fn idle_and_too_old_sessions_end_on_their_own() {
    let app = spawn_app().await;
    let (idle, user) = app.signed_in(Role::Viewer).await;
    let old = app.browser();
    old.sign_in(&user.email, &user.password).await;
    let fresh = app.browser();
    fresh.sign_in(&user.email, &user.password).await;
    let nth =
        |n: usize| format!("(SELECT id FROM user_sessions WHERE user_id = {} ORDER BY id OFFSET {n} LIMIT 1)", user.id);
    // The first session sat unused for 13 hours (the default idle timeout is 12).
    execute(
        &app,
        &format!("UPDATE user_sessions SET last_seen_at = now() - interval '13 hours' WHERE id = {}", nth(0)),
    )
    .await;
    // The second was signed in 15 days ago, though used a minute ago (the default maximum is 14 days).
    execute(
        &app,
        &format!(
            "UPDATE user_sessions SET created_at = now() - interval '15 days', last_seen_at = now() - interval '1 minute' \
             WHERE id = {}",
            nth(1)
        ),
    )
    .await;
    assert!(signed_out(&idle).await, "idle too long");
    assert!(signed_out(&old).await, "signed in too long ago");
    assert!(!signed_out(&fresh).await);
}

async fn execute(app: &TestApp, sql: &str) {
    let mut conn = app.pool.get().await.expect("conn");
    diesel_async::RunQueryDsl::execute(diesel::sql_query(sql), &mut conn).await.expect("update");
}
