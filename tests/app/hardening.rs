//! What the security review of issue 16 found, each kept from coming back.

use futures_util::future::join_all;
use reqwest::StatusCode;

use crate::helpers::{Browser, csrf_token, spawn_app};
use firebreak::domain::Role;

/// Sends `n` sign-ins at the same moment from one browser, `credentials(i)` each.
async fn simultaneous_sign_ins(
    browser: &Browser,
    n: usize,
    credentials: impl Fn(usize) -> (String, String),
) -> Vec<reqwest::Response> {
    let token = csrf_token(&browser.page("/login").await);
    let url = format!("{}/login", browser.address);
    join_all((0..n).map(|i| {
        let (email, password) = credentials(i);
        let fields = vec![("csrf_token", token.clone()), ("email", email), ("password", password)];
        let request = browser.client.post(&url).form(&fields);
        async move { request.send().await.expect("POST /login") }
    }))
    .await
}

fn count(responses: &[reqwest::Response], status: StatusCode) -> usize {
    responses.iter().filter(|r| r.status() == status).count()
}

#[tokio::test]
async fn a_burst_of_sign_ins_is_turned_away_with_retry_after_and_a_correct_one_still_works() {
    let app = spawn_app().await;
    let user = app.create_user(Role::Responder).await;
    let browser = app.browser();

    let responses = simultaneous_sign_ins(&browser, 40, |i| (format!("nobody-{i}@example.test"), "guess".into())).await;
    let busy: Vec<_> = responses.iter().filter(|r| r.status() == StatusCode::SERVICE_UNAVAILABLE).collect();
    assert!(!busy.is_empty(), "some of 40 simultaneous password checks are refused at once");
    for response in &busy {
        let retry = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert!(retry.parse::<u32>().is_ok_and(|s| s > 0), "503 says when to retry: {retry:?}");
    }
    for response in &responses {
        assert!(
            [StatusCode::UNAUTHORIZED, StatusCode::SERVICE_UNAVAILABLE].contains(&response.status()),
            "{}",
            response.status()
        );
    }

    app.browser().sign_in(&user.email, &user.password).await;
}

#[tokio::test]
async fn of_thirty_simultaneous_guesses_for_one_account_at_most_ten_are_checked() {
    let app = spawn_app().await;
    let user = app.create_user(Role::Responder).await;
    let browser = app.browser();

    let responses = simultaneous_sign_ins(&browser, 30, |i| (user.email.clone(), format!("guess {i}"))).await;
    let checked = count(&responses, StatusCode::UNAUTHORIZED);
    let refused = count(&responses, StatusCode::TOO_MANY_REQUESTS);
    assert!(checked <= 10, "{checked} guesses were checked");
    assert!(refused >= 20 - count(&responses, StatusCode::SERVICE_UNAVAILABLE), "{refused} refused with 429");
    let recorded = app
        .count(&format!("SELECT count(*) AS n FROM sign_in_failures WHERE email = '{}'", user.email.to_lowercase()))
        .await;
    assert!(recorded <= 10, "{recorded} failures recorded");
}

#[tokio::test]
async fn next_never_leaves_the_site_however_it_is_spelled_and_control_characters_are_no_500() {
    let app = spawn_app().await;
    let user = app.create_user(Role::Viewer).await;
    for next in ["/\t/evil.example", "/\n/evil.example", "\\\\evil.example", "/\\/evil.example", "/\u{0}x", "/a\rb"] {
        let browser = app.browser();
        let response = browser.get(&format!("/login?next={}", urlencode(next))).await;
        assert_eq!(response.status(), StatusCode::OK, "{next:?}");
        let response = quick_sign_in(&browser, &user.email, &user.password, next).await;
        // Refused as a bad form (NUL) or signed in and sent home; never a 500, never away.
        if response.status() == StatusCode::BAD_REQUEST {
            quick_sign_in(&browser, &user.email, &user.password, "/").await;
        } else {
            assert_eq!(response.status(), StatusCode::SEE_OTHER, "{next:?}");
            assert_eq!(crate::helpers::location(&response), "/", "{next:?}");
        }
        // Already signed in: the login page sends the browser on at once.
        let response = browser.get(&format!("/login?next={}", urlencode(next))).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{next:?}");
        assert_eq!(crate::helpers::location(&response), "/", "{next:?}");
    }
}

/// Signs in without checking the login page's HTML first (so the connection is
/// still fresh when the form is posted).
async fn quick_sign_in(browser: &Browser, email: &str, password: &str, next: &str) -> reqwest::Response {
    let html = browser.get("/login").await.text().await.expect("login page");
    let token = csrf_token(&html);
    browser
        .post_raw("/login", &[("csrf_token", &token), ("email", email), ("password", password), ("next", next)])
        .await
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn a_follow_up_owner_who_did_not_take_part_never_sees_a_restricted_incidents_title() {
    use crate::updates::{app_with_mail, declare, exec};
    let (app, sink) = app_with_mail().await;
    let (lead, _) = app.signed_in(Role::Responder).await;
    let owner = app.create_user(Role::Responder).await;
    let id = declare(&lead, &[("title", "Leaked signing key"), ("restricted", "true")]).await;
    let room = format!("/incidents/{id}");
    let owner_id = owner.id.to_string();
    let fields = [("title", "Rotate every key"), ("kind", "follow_up"), ("assignee", owner_id.as_str())];
    let response = lead.submit(&room, &format!("{room}/tasks"), &fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    let mails = sink.wait_for(1, std::time::Duration::from_secs(20)).await;
    let assigned = mails.iter().find(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(&owner.email))).expect("mail");
    assert!(assigned.text().contains("a restricted incident"), "{}", assigned.text());
    assert!(!assigned.text().contains("Leaked signing key") && !assigned.html().contains("Leaked signing key"));

    let browser = app.browser();
    browser.sign_in(&owner.email, &owner.password).await;
    let dashboard = browser.page("/").await;
    assert!(dashboard.contains("Rotate every key") && dashboard.contains("a restricted incident"), "{dashboard}");
    assert!(!dashboard.contains("Leaked signing key"));

    exec(&app, "UPDATE tasks SET due_at = now() - interval '2 days'").await;
    let settings = crate::helpers::test_settings(&app.db_url);
    firebreak::services::followups::send_due_digests(&app.pool, &settings, chrono::Utc::now()).await.expect("digest");
    let mails = sink.wait_for(2, std::time::Duration::from_secs(20)).await;
    let digest = mails.iter().find(|m| m.subject().contains("overdue")).expect("the digest");
    assert!(digest.text().contains("a restricted incident"), "{}", digest.text());
    assert!(!digest.text().contains("Leaked signing key") && !digest.html().contains("Leaked signing key"));
}
