//! Status-page subscribers: double opt-in, one-click unsubscribe, no
//! duplicates, no disclosure, rate limits.

use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::{TestApp, html_of, input_value};
use crate::smtp::ReceivedMail;
use crate::updates::{app_with_mail, component, declare, post_update, scalar};
use firebreak::domain::Role;

async fn subscribe(app: &TestApp, fields: &[(&str, &str)]) -> reqwest::Response {
    app.browser().post_raw("/status/subscribe", fields).await
}

/// The first link in a mail's text part that contains `needle`, as a path.
fn link_in(mail: &ReceivedMail, needle: &str) -> String {
    let parsed = mail_parser::MessageParser::default().parse(mail.data.as_bytes()).expect("parsable");
    let text = parsed.body_text(0).expect("text part").to_string();
    let url = text
        .split_whitespace()
        .find(|w| w.contains(needle))
        .unwrap_or_else(|| panic!("no {needle} link in {text}"))
        .to_owned();
    url::Url::parse(&url).expect("absolute link").path().to_owned()
}

async fn public_update(app: &TestApp, browser: &crate::helpers::Browser, id: &str) {
    let fields = [
        ("status", "identified"),
        ("impact_started_at", "2026-01-01T09:00"),
        ("impact", "Search is slow."),
        ("actions", "Adding capacity."),
        ("next_update", "60"),
        ("audience", "public"),
        ("action", "send"),
    ];
    assert_eq!(post_update(browser, id, &fields).await.status(), StatusCode::SEE_OTHER);
    let _ = app;
}

#[tokio::test]
async fn double_opt_in_then_updates_then_one_click_unsubscribe() {
    let (app, sink) = app_with_mail().await;
    let search = component(&app, "Search").await;
    let form = app.browser().page("/status/subscribe").await;
    assert!(form.contains("Subscribe to updates") && form.contains("Email address"));

    let response = subscribe(&app, &[("email", "reader@example.test"), ("scope", "all")]).await;
    let page = html_of(response, StatusCode::OK).await;
    assert!(page.contains("Check your inbox"));
    let mails = sink.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(mails[0].to, vec!["reader@example.test"]);
    let confirm = link_in(&mails[0], "/confirm");

    // Not confirmed yet: a public update does not reach them.
    let (browser, _) = app.signed_in(Role::Responder).await;
    let id = declare(&browser, &[("title", "Search slow"), ("components", search.as_str())]).await;
    public_update(&app, &browser, &id).await;
    assert_eq!(app.count("SELECT count(*) AS n FROM outbox WHERE kind = 'status_update'").await, 0);

    // The link only asks (a mail scanner's GET confirms nothing); the button confirms.
    let asked = app.browser().page(&confirm).await;
    assert!(asked.contains("<button type=\"submit\" class=\"button\">Confirm subscription</button>"), "{asked}");
    assert_eq!(app.count("SELECT count(*) AS n FROM subscribers WHERE confirmed_at IS NOT NULL").await, 0);
    let confirmed = html_of(app.browser().post_raw(&confirm, &[]).await, StatusCode::OK).await;
    assert!(confirmed.contains("You are subscribed"));
    public_update(&app, &browser, &id).await;
    let mails = sink.wait_for(2, Duration::from_secs(20)).await;
    let update = &mails[1];
    let parsed = mail_parser::MessageParser::default().parse(update.data.as_bytes()).expect("parsable");
    let header = parsed.header_raw("List-Unsubscribe").expect("List-Unsubscribe").trim().to_owned();
    assert!(header.starts_with('<') && header.ends_with('>'), "{header}");
    let unsubscribe = url::Url::parse(&header[1..header.len() - 1]).expect("url").path().to_owned();

    // The page asks first (a link scanner's GET changes nothing)...
    let page = app.browser().page(&unsubscribe).await;
    assert!(page.contains("Unsubscribe"));
    assert_eq!(app.count("SELECT count(*) AS n FROM subscribers").await, 1);
    // ...and a mail client's RFC 8058 one-click POST ends it.
    let response = app.browser().post_raw(&unsubscribe, &[("List-Unsubscribe", "One-Click")]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(app.count("SELECT count(*) AS n FROM subscribers").await, 0);
    public_update(&app, &browser, &id).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.messages().len(), 2, "nothing after unsubscribing");
}

#[tokio::test]
async fn subscribing_again_neither_duplicates_nor_reveals_anything() {
    let (app, sink) = app_with_mail().await;
    let first =
        html_of(subscribe(&app, &[("email", "twice@example.test"), ("scope", "all")]).await, StatusCode::OK).await;
    let mails = sink.wait_for(1, Duration::from_secs(20)).await;
    app.browser().post_raw(&link_in(&mails[0], "/confirm"), &[]).await;
    let again =
        html_of(subscribe(&app, &[("email", "Twice@Example.test"), ("scope", "all")]).await, StatusCode::OK).await;
    let strip = |s: &str| s.replace("Twice@Example.test", "twice@example.test");
    assert_eq!(strip(&again), strip(&first), "the same answer whether or not the address was subscribed");
    assert_eq!(app.count("SELECT count(*) AS n FROM subscribers").await, 1);
    let mails = sink.wait_for(2, Duration::from_secs(20)).await;
    let notice = mail_parser::MessageParser::default().parse(mails[1].data.as_bytes()).expect("parsable");
    assert!(notice.subject().is_some_and(|s| s.contains("already subscribed")), "the owner is told, not the requester");
}

#[tokio::test]
async fn bad_subscriptions_are_refused_with_values_kept() {
    let (app, sink) = app_with_mail().await;
    component(&app, "API").await;
    let html = html_of(
        subscribe(&app, &[("email", "not-an-address"), ("scope", "chosen")]).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(html.contains("value=\"not-an-address\""));
    assert!(html.contains("Choose at least one component"));
    let html = html_of(
        subscribe(&app, &[("email", "ok@example.test"), ("scope", "chosen"), ("components", "nope")]).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(html.contains("Choose components from the list."));
    assert_eq!(app.count("SELECT count(*) AS n FROM subscribers").await, 0);
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn chosen_components_are_kept_for_the_subscriber() {
    let (app, _sink) = app_with_mail().await;
    let api = component(&app, "API").await;
    let public_id = scalar(&app, &format!("SELECT public_id AS v FROM components WHERE id = {api}")).await;
    let response =
        subscribe(&app, &[("email", "api@example.test"), ("scope", "chosen"), ("components", public_id.as_str())])
            .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        app.count(&format!("SELECT count(*) AS n FROM subscriber_components WHERE component_id = {api}")).await,
        1
    );
    assert_eq!(app.count("SELECT count(*) AS n FROM subscribers WHERE NOT all_components").await, 1);
}

#[tokio::test]
async fn subscription_requests_are_rate_limited_per_address_and_per_client() {
    let (app, sink) = app_with_mail().await;
    for _ in 0..5 {
        let response = subscribe(&app, &[("email", "flood@example.test"), ("scope", "all")]).await;
        assert_eq!(response.status(), StatusCode::OK, "the answer never changes for one address");
    }
    sink.wait_for(3, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.messages().len(), 3, "at most 3 confirmation emails an hour to one address");

    for i in 5..20 {
        subscribe(&app, &[("email", &format!("reader{i}@example.test")), ("scope", "all")]).await;
    }
    let response = subscribe(&app, &[("email", "one-too-many@example.test"), ("scope", "all")]).await;
    let html = html_of(response, StatusCode::TOO_MANY_REQUESTS).await;
    assert!(html.contains("Too many subscription requests"));
    assert_eq!(app.count("SELECT count(*) AS n FROM subscribers WHERE email = 'one-too-many@example.test'").await, 0);
}

#[tokio::test]
async fn cross_site_subscribe_posts_are_refused() {
    let (app, sink) = app_with_mail().await;
    let response = app
        .browser()
        .client
        .post(format!("{}/status/subscribe", app.address))
        .header("Origin", "https://evil.example")
        .form(&[("email", "victim@example.test"), ("scope", "all")])
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.count("SELECT count(*) AS n FROM subscribers").await, 0);
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn unknown_links_say_so() {
    let (app, _sink) = app_with_mail().await;
    let token = "0".repeat(48);
    let response = app.browser().get(&format!("/status/subscriptions/{token}/confirm")).await;
    let html = html_of(response, StatusCode::NOT_FOUND).await;
    assert!(html.contains("no longer valid"));
}

#[tokio::test]
async fn a_public_title_is_what_the_status_page_its_api_and_subscribers_read() {
    let (app, sink) = app_with_mail().await;
    subscribe(&app, &[("email", "reader@example.test"), ("scope", "all")]).await;
    let mails = sink.wait_for(1, Duration::from_secs(20)).await;
    app.browser().post_raw(&link_in(&mails[0], "/confirm"), &[]).await;

    let (browser, me) = app.signed_in(Role::Responder).await;
    let internal = "Stripe webhook secret rotated by mistake";
    let id = declare(&browser, &[("title", internal)]).await;
    let room = format!("/incidents/{id}");
    let html = browser.page(&room).await;
    assert!(html.contains("<label for=\"details-public-title\">Public title (optional)</label>"));
    let version = input_value(&html, "version");
    let details = |public: &'static str| {
        vec![
            ("version", version.clone()),
            ("original_title", internal.to_owned()),
            ("title", internal.to_owned()),
            ("original_public_title", String::new()),
            ("public_title", public.to_owned()),
            ("environment", "production".to_owned()),
        ]
    };
    // A title over 200 characters is refused on its field, the typed value kept.
    let long: &'static str = Box::leak("Payments degraded ".repeat(12).into_boxed_str());
    let bad = details(long);
    let bad: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let refused =
        html_of(browser.submit(&room, &format!("{room}/details"), &bad).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(refused.contains("id=\"details-public-title-error\""), "{refused}");
    assert_eq!(input_value(&refused, "public_title"), long);
    let good = details("Payments degraded");
    let good: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(browser.submit(&room, &format!("{room}/details"), &good).await.status(), StatusCode::SEE_OTHER);
    assert!(browser.page(&room).await.contains(&format!("{} set the public title to “Payments degraded”.", me.name)));

    public_update(&app, &browser, &id).await;
    let mails = sink.wait_for(2, Duration::from_secs(20)).await;
    let update = mail_parser::MessageParser::default().parse(mails[1].data.as_bytes()).expect("parsable");
    assert_eq!(update.subject(), Some("[Example] Identified: Payments degraded"), "subscribers read the public title");
    let status = app.browser().page("/status").await;
    assert!(status.contains("Payments degraded") && !status.contains("Stripe"), "{status}");
    let feed = app.browser().get("/status/feed.atom").await.text().await.expect("feed");
    assert!(feed.contains("Payments degraded") && !feed.contains("Stripe"), "{feed}");
    let api: serde_json::Value =
        app.browser().get("/api/v2/incidents.json").await.json().await.expect("the incidents JSON");
    assert_eq!(api["incidents"][0]["name"], "Payments degraded");
    // Inside, the room keeps the internal title.
    assert!(browser.page(&room).await.contains(internal));
}

#[tokio::test]
async fn a_webhook_subscriber_gets_each_public_update_posted_signed_and_no_email() {
    let (app, sink) = app_with_mail().await;
    let receiver = crate::webhooks::Receiver::start().await;
    let search = component(&app, "Search").await;
    let form = app.browser().page("/status/subscribe").await;
    assert!(form.contains("<label for=\"subscribe-webhook\">Webhook URL (optional)</label>"), "{form}");

    // A URL that is not one: refused on its field, everything kept.
    let refused = subscribe(&app, &[("email", "ops@example.test"), ("scope", "all"), ("webhook_url", "ftp://x")]).await;
    let html = html_of(refused, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(html.contains("id=\"subscribe-webhook-error\""), "{html}");
    assert_eq!(input_value(&html, "webhook_url"), "ftp://x");
    assert_eq!(app.count("SELECT count(*) AS n FROM subscribers").await, 0);

    let url = receiver.url("/status-hook");
    let response =
        subscribe(&app, &[("email", "ops@example.test"), ("scope", "all"), ("webhook_url", url.as_str())]).await;
    html_of(response, StatusCode::OK).await;
    let mails = sink.wait_for(1, Duration::from_secs(20)).await;
    let confirm_mail = mails[0].text();
    assert!(confirm_mail.contains(&format!("posted as JSON to {url}")), "the address is asked first: {confirm_mail}");
    assert!(receiver.received().is_empty(), "nothing is posted before confirmation");
    let confirmed = html_of(app.browser().post_raw(&link_in(&mails[0], "/confirm"), &[]).await, StatusCode::OK).await;
    assert!(confirmed.contains("Signing secret (shown only now: copy it)"), "{confirmed}");
    let secret_at = confirmed.find("id=\"webhook-secret\">").expect("the secret") + "id=\"webhook-secret\">".len();
    let secret = &confirmed[secret_at..secret_at + confirmed[secret_at..].find('<').expect("ends")];
    let (admin, _) = app.signed_in(Role::Admin).await;
    assert!(!admin.page("/admin/webhooks").await.contains("ops@example.test"), "not among the admins' webhooks");

    let (browser, _) = app.signed_in(Role::Responder).await;
    let id = declare(&browser, &[("title", "Search slow"), ("components", search.as_str())]).await;
    public_update(&app, &browser, &id).await;
    let got = receiver.wait_for(1, Duration::from_secs(20)).await;
    let r = &got[0];
    assert_eq!(r.path, "/status-hook");
    let expected = firebreak::domain::webhooks::signature(
        secret,
        r.header("x-firebreak-timestamp").parse().expect("a timestamp"),
        &r.body,
    );
    assert_eq!(r.header("x-firebreak-signature"), expected, "signed with the secret shown at confirmation");
    let body = r.json();
    assert_eq!(body["incident"]["name"], "Search slow");
    assert_eq!(body["incident"]["status"], "identified");
    assert_eq!(
        body["incident"]["incident_updates"][0]["body"].as_str().map(|b| b.starts_with("Search is slow.")),
        Some(true)
    );
    assert_eq!(body["incident"]["components"][0]["name"], "Search");
    let unsubscribe =
        url::Url::parse(body["meta"]["unsubscribe"].as_str().expect("a link")).expect("url").path().to_owned();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.messages().len(), 1, "no update email: the URL replaces it");

    // Unsubscribing ends the posts and removes the webhook.
    app.browser().post_raw(&unsubscribe, &[]).await;
    assert_eq!(app.count("SELECT count(*) AS n FROM webhooks").await, 0);
    public_update(&app, &browser, &id).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 1);
}
