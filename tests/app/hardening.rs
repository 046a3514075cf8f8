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

/// A ready-to-send "make this user a viewer" request, its form already loaded.
async fn demote_request(browser: &Browser, target: firebreak::db::UserId) -> reqwest::RequestBuilder {
    let path = format!("/admin/users/{target}");
    let html = browser.get(&path).await.text().await.expect("page");
    let token = csrf_token(&html);
    browser
        .client
        .post(format!("{}{path}/role", browser.address))
        .form(&[("csrf_token", token.as_str()), ("role", "viewer")])
}

#[tokio::test]
async fn two_admins_demoting_each_other_at_the_same_moment_leave_one_admin() {
    let app = spawn_app().await;
    for _ in 0..3 {
        let (a, a_user) = app.signed_in(Role::Admin).await;
        let (b, b_user) = app.signed_in(Role::Admin).await;
        crate::updates::exec(
            &app,
            &format!("UPDATE users SET role = 'viewer' WHERE id NOT IN ({}, {})", a_user.id, b_user.id),
        )
        .await;
        let (demote_b, demote_a) = tokio::join!(demote_request(&a, b_user.id), demote_request(&b, a_user.id));
        let (r1, r2) = tokio::join!(demote_b.send(), demote_a.send());
        let statuses = [r1.expect("POST").status(), r2.expect("POST").status()];
        assert!(statuses.contains(&StatusCode::SEE_OTHER), "one of them is demoted: {statuses:?}");
        assert_eq!(
            app.count("SELECT count(*) AS n FROM users WHERE role = 'admin' AND NOT disabled").await,
            1,
            "one admin is left ({statuses:?})"
        );
    }
}

#[tokio::test]
async fn markup_in_an_update_reaches_feed_readers_as_text() {
    use crate::updates::{declare, post_update};
    let app = spawn_app().await;
    let (browser, _) = app.signed_in(Role::Responder).await;
    let id = declare(&browser, &[("title", "Checkout errors")]).await;
    let fields = [
        ("status", "identified"),
        ("impact_started_at", "2026-01-01T09:00"),
        ("impact", "Card payments fail."),
        ("actions", "We roll back the <b>bold</b> deploy & watch."),
        ("next_update", "30"),
        ("audience", "public"),
        ("action", "send"),
    ];
    assert_eq!(post_update(&browser, &id, &fields).await.status(), StatusCode::SEE_OTHER);

    for path in ["/status/feed.rss", "/status/feed.atom"] {
        let mut attempts = 0;
        let feed = loop {
            let xml = app.browser().get(path).await.text().await.expect("feed");
            let feed = tokio::task::spawn_blocking(move || crate::status_page::feedparser(xml)).await.expect("parser");
            if feed["entries"].as_array().is_some_and(|e| !e.is_empty()) {
                break feed;
            }
            attempts += 1;
            assert!(attempts < 100, "{path}: the update never reached the feed");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        };
        assert_eq!(feed["bozo"], 0, "{path}: {}", feed["error"]);
        let summary = feed["entries"][0]["summary"].as_str().expect("summary").to_owned();
        if path.ends_with("rss") {
            // RSS descriptions are HTML to a reader: the markup must arrive as its source text.
            assert!(summary.contains("&lt;b&gt;bold&lt;/b&gt; deploy &amp; watch"), "{path}: {summary}");
        } else {
            // Atom content is declared type="text": feedparser hands back the text itself.
            assert!(summary.contains("<b>bold</b> deploy & watch"), "{path}: {summary}");
        }
    }
}

#[tokio::test]
async fn strict_transport_security_is_sent_only_behind_https() {
    let plain = spawn_app().await;
    assert!(plain.browser().get("/login").await.headers().get("strict-transport-security").is_none());
    let https =
        crate::helpers::spawn_app_with(|s| s.base_url = url::Url::parse("https://firebreak.example").expect("url"))
            .await;
    let response = https.browser().get("/login").await;
    let hsts = response.headers().get("strict-transport-security").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(
        hsts.starts_with("max-age=")
            && hsts
                .trim_start_matches("max-age=")
                .split(';')
                .next()
                .is_some_and(|s| s.parse::<u64>().is_ok_and(|n| n >= 15_552_000)),
        "{hsts}"
    );
}

#[tokio::test]
async fn metrics_count_restricted_incidents_without_their_severity() {
    use crate::updates::declare;
    let app = spawn_app().await;
    let (browser, _) = app.signed_in(Role::Responder).await;
    declare(&browser, &[("title", "Open one"), ("severity", "2")]).await;
    declare(&browser, &[("title", "Quiet one"), ("severity", "1"), ("restricted", "true")]).await;
    let text = reqwest::get(format!("{}/metrics", app.address)).await.expect("scrape").text().await.expect("body");
    assert!(text.contains("firebreak_active_incidents{severity=\"SEV1\"} 0\n"), "{text}");
    assert!(text.contains("firebreak_active_incidents{severity=\"SEV2\"} 1\n"), "{text}");
    assert!(text.contains("\nfirebreak_active_restricted_incidents 1\n"), "{text}");
}

#[tokio::test]
async fn webhooks_to_internal_addresses_are_refused_when_saved_and_when_sent() {
    use crate::updates::{declare, exec};
    use crate::webhooks::Receiver;
    let app = crate::helpers::spawn_app_with(|s| s.outgoing_allowed_hosts.clear()).await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    for url in
        ["http://127.0.0.1:9/hook", "http://169.254.169.254/latest/meta-data", "http://[::1]/x", "http://10.0.0.8/"]
    {
        let fields = [("name", "Inside"), ("url", url), ("format", "json"), ("events", "incident_declared")];
        let response = admin.submit("/admin/webhooks", "/admin/webhooks", &fields).await;
        let html = crate::helpers::html_of(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert!(html.contains("This address is internal"), "{url}");
        assert!(html.contains(&format!("value=\"{url}\"")), "{url}: the value is kept");
    }
    assert_eq!(app.count("SELECT count(*) AS n FROM webhooks").await, 0);

    // A row that points inside anyway (saved before, or written elsewhere) is not sent to.
    let receiver = Receiver::start().await;
    exec(
        &app,
        &format!(
            "INSERT INTO webhooks (name, url, secret, events, format, enabled) VALUES \
             ('Old', '{}', 'whsec_0123456789abcdef', ARRAY['incident_declared'], 'json', true)",
            receiver.url("/old")
        ),
    )
    .await;
    let (responder, _) = app.signed_in(Role::Responder).await;
    declare(&responder, &[("title", "Checkout errors")]).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while app.count("SELECT count(*) AS n FROM webhook_attempts WHERE error LIKE '%internal%'").await == 0 {
        assert!(std::time::Instant::now() < deadline, "the delivery was never attempted");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(receiver.received().is_empty(), "nothing reached the internal address");
}

#[tokio::test]
async fn an_alert_with_nul_characters_is_kept_with_them_replaced() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let source = crate::alerts::create_source(&app, &admin, &[("name", "Cron checks"), ("kind", "generic")]).await;
    let body = r#"{"title":"Disk\u0000full on db-1","severity":"SEV2"}"#;
    let response = crate::alerts::post(&app, &source, body).await;
    assert_eq!(response.status(), StatusCode::OK, "{}", response.text().await.unwrap_or_default());
    assert_eq!(app.count("SELECT count(*) AS n FROM incidents WHERE title = 'Disk\u{fffd}full on db-1'").await, 1);
}
