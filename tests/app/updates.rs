//! Stakeholder updates from the room: compose, preview, send; who receives
//! them (through a real SMTP server), what the status page shows, the
//! announcement of new incidents and the restoration notice.

use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::{Browser, TestApp, html_of, location, spawn_app};
use crate::smtp::{MailSink, ReceivedMail, spawn_app_with_sink};
use firebreak::domain::Role;

pub async fn app_with_mail() -> (TestApp, MailSink) {
    let sink = MailSink::start().await;
    let app = spawn_app_with_sink(&sink).await;
    (app, sink)
}

pub async fn exec(app: &TestApp, sql: &str) {
    let mut conn = app.pool.get().await.expect("conn");
    diesel_async::RunQueryDsl::execute(diesel::sql_query(sql), &mut conn).await.expect("sql");
}

pub async fn scalar(app: &TestApp, sql: &str) -> String {
    use diesel::sql_types::Text;
    #[derive(diesel::QueryableByName)]
    struct One {
        #[diesel(sql_type = Text)]
        v: String,
    }
    let mut conn = app.pool.get().await.expect("conn");
    diesel_async::RunQueryDsl::get_result::<One>(diesel::sql_query(sql), &mut conn).await.expect("query").v
}

/// A group with members given as (name, email).
pub async fn group(app: &TestApp, name: &str, members: &[(&str, &str)]) -> String {
    let id =
        scalar(app, &format!("INSERT INTO stakeholder_groups (name) VALUES ('{name}') RETURNING id::text AS v")).await;
    for (n, e) in members {
        exec(app, &format!("INSERT INTO stakeholder_members (group_id, name, email) VALUES ({id}, '{n}', '{e}')"))
            .await;
    }
    id
}

pub async fn component(app: &TestApp, name: &str) -> String {
    scalar(app, &format!("INSERT INTO components (name) VALUES ('{name}') RETURNING id::text AS v")).await
}

/// Declares through the form and returns the incident id.
pub async fn declare(browser: &Browser, fields: &[(&str, &str)]) -> String {
    let response = browser.submit("/incidents/new", "/incidents", fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "declaring should open the room");
    location(&response).trim_start_matches("/incidents/").to_owned()
}

/// Opens the compose form and submits it with `fields` (plus the CSRF token).
pub async fn post_update(browser: &Browser, id: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    browser.submit(&format!("/incidents/{id}/updates/new"), &format!("/incidents/{id}/updates"), fields).await
}

fn base_fields<'a>(status: &'a str, audience: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("status", status),
        ("impact_started_at", "2026-01-01T09:00"),
        ("impact", "Card payments fail for some customers."),
        ("actions", "We are rolling back the last deploy."),
        ("next_update", "30"),
        ("audience", audience),
    ]
}

fn recipients(mails: &[ReceivedMail]) -> Vec<String> {
    let mut all: Vec<String> = mails.iter().flat_map(|m| m.to.iter().map(|t| t.to_lowercase())).collect();
    all.sort();
    all
}

fn parsed(mail: &ReceivedMail) -> mail_parser::Message<'_> {
    mail_parser::MessageParser::default().parse(mail.data.as_bytes()).expect("a parsable email")
}

#[tokio::test]
async fn an_update_reaches_every_member_of_the_chosen_groups_exactly_once() {
    let (app, sink) = app_with_mail().await;
    let execs = group(&app, "executives", &[("Ann", "ann@example.test"), ("Bob", "bob@example.test")]).await;
    let support = group(&app, "support", &[("Bob again", "BOB@example.test"), ("Cy", "cy@example.test")]).await;
    group(&app, "legal", &[("Di", "di@example.test")]).await;
    let (browser, _) = app.signed_in(Role::Responder).await;
    let id = declare(&browser, &[("title", "Checkout errors"), ("severity", "3")]).await;

    // The compose form is filled in already.
    let form = browser.page(&format!("/incidents/{id}/updates/new")).await;
    assert!(form.contains("We are investigating the cause"), "suggested text for the status");
    assert!(form.contains("Preview update") && form.contains("Send update"));

    let mut fields = base_fields("identified", "internal");
    fields.extend([("groups", execs.as_str()), ("groups", support.as_str())]);
    let mut preview_fields = fields.clone();
    preview_fields.push(("action", "preview"));
    let preview = html_of(post_update(&browser, &id, &preview_fields).await, StatusCode::OK).await;
    assert!(preview.contains("Identified: Checkout errors"), "the preview shows the subject");
    assert!(preview.contains("3 internal stakeholders"), "each address once: {preview}");
    assert_eq!(app.count("SELECT count(*) AS n FROM outbox").await, 0, "a preview sends nothing");

    fields.push(("action", "send"));
    let sent = post_update(&browser, &id, &fields).await;
    assert_eq!(sent.status(), StatusCode::SEE_OTHER);
    let mails = sink.wait_for(3, Duration::from_secs(20)).await;
    assert_eq!(recipients(&mails), vec!["ann@example.test", "bob@example.test", "cy@example.test"]);
    let first = parsed(&mails[0]);
    assert_eq!(first.subject(), Some("[SEV3] Identified: Checkout errors"));
    let text = first.body_text(0).expect("a text part").to_string();
    assert!(text.contains("We are rolling back the last deploy."), "{text}");
    assert!(text.contains(&format!("/incidents/{id}")), "links back to the room: {text}");
    assert!(first.body_html(0).is_some(), "an HTML part too");

    let room = browser.page(&format!("/incidents/{id}")).await;
    assert!(room.contains("sent an update to 3 internal stakeholders"), "on the timeline");
    assert!(room.contains("Last update sent"));
    // The status moved with the update: its own timeline entry, and the record.
    assert!(room.contains("changed the status: Investigating → Identified."), "on the timeline: {room}");
    assert_eq!(
        app.count(&format!("SELECT count(*) AS n FROM incidents WHERE id = {id} AND status = 'identified'")).await,
        1
    );
    // Internal only: the incident stays off the status page.
    assert_eq!(app.count("SELECT count(*) AS n FROM incidents WHERE visibility = 'public'").await, 0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.messages().len(), 3, "nobody gets a second copy");
}

#[tokio::test]
async fn a_public_update_publishes_changes_components_and_reaches_subscribers() {
    let (app, sink) = app_with_mail().await;
    let api = component(&app, "API").await;
    let web = component(&app, "Website").await;
    exec(&app, "INSERT INTO subscribers (email, token, all_components, confirmed_at) VALUES ('all@example.test', 'a', TRUE, now()), ('pending@example.test', 'b', TRUE, NULL), ('web@example.test', 'c', FALSE, now())").await;
    exec(
        &app,
        &format!(
            "INSERT INTO subscriber_components SELECT id, {web} FROM subscribers WHERE email = 'web@example.test'"
        ),
    )
    .await;
    let (browser, _) = app.signed_in(Role::Responder).await;
    let id = declare(&browser, &[("title", "API errors"), ("severity", "2"), ("components", api.as_str())]).await;

    let status = format!("{api}:partial_outage");
    let mut fields = base_fields("investigating", "public");
    fields.extend([("component_status", status.as_str()), ("action", "send")]);
    assert_eq!(post_update(&browser, &id, &fields).await.status(), StatusCode::SEE_OTHER);

    let mails = sink.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(recipients(&mails), vec!["all@example.test"], "only confirmed subscribers of the component");
    let mail = parsed(&mails[0]);
    assert!(mail.header_raw("List-Unsubscribe").is_some_and(|v| v.contains("/status/subscriptions/a/unsubscribe")));
    assert_eq!(mail.header_raw("List-Unsubscribe-Post").map(str::trim), Some("List-Unsubscribe=One-Click"));

    assert_eq!(scalar(&app, &format!("SELECT status AS v FROM components WHERE id = {api}")).await, "partial_outage");
    assert_eq!(
        app.count("SELECT count(*) AS n FROM component_status_changes WHERE update_id IS NOT NULL AND incident_id IS NOT NULL AND new_status = 'partial_outage'").await,
        1,
        "the change is logged with its update"
    );
    assert_eq!(scalar(&app, &format!("SELECT visibility AS v FROM incidents WHERE id = {id}")).await, "public");
    let public_id = scalar(&app, &format!("SELECT public_id AS v FROM incidents WHERE id = {id}")).await;
    let page = app.browser().page(&format!("/status/incidents/{public_id}")).await;
    assert!(page.contains("We are rolling back the last deploy."), "published on the status page");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.messages().len(), 1);
}

#[tokio::test]
async fn bad_update_input_is_refused_with_the_values_kept_and_nothing_written() {
    let (app, _sink) = app_with_mail().await;
    let (browser, _) = app.signed_in(Role::Responder).await;
    let id = declare(&browser, &[("title", "Secret leak"), ("restricted", "true")]).await;
    let fields = [
        ("status", "identified"),
        ("impact_started_at", "2999-01-01T00:00"),
        ("impact", "Tokens may have leaked."),
        ("actions", ""),
        ("next_update", "7"),
        ("audience", "public"),
        ("action", "send"),
    ];
    let html = html_of(post_update(&browser, &id, &fields).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(html.contains("Tokens may have leaked."), "typed text is kept");
    assert!(html.contains("That time is in the future"));
    assert!(html.contains("Say what is being done."));
    assert!(html.contains("Choose when the next update will come"));
    assert!(html.contains("Restricted incidents are never published"));
    assert_eq!(app.count("SELECT count(*) AS n FROM incident_updates").await, 0);
    assert_eq!(app.count("SELECT count(*) AS n FROM outbox").await, 0);
    assert_eq!(app.count("SELECT count(*) AS n FROM incidents WHERE status = 'investigating'").await, 1);
}

#[tokio::test]
async fn only_the_communications_lead_the_lead_or_an_admin_send_updates() {
    let (app, _sink) = app_with_mail().await;
    let (lead, _) = app.signed_in(Role::Responder).await;
    let id = declare(&lead, &[("title", "Slow search")]).await;
    let (other, _) = app.signed_in(Role::Responder).await;
    assert_eq!(other.get(&format!("/incidents/{id}/updates/new")).await.status(), StatusCode::FORBIDDEN);
    let room = other.page(&format!("/incidents/{id}")).await;
    assert!(!room.contains("Compose update"), "no button for someone who may not send");
    let token = crate::helpers::csrf_token(&room);
    let mut fields = base_fields("identified", "internal");
    fields.extend([("csrf_token", token.as_str()), ("action", "send")]);
    let response = other.post_raw(&format!("/incidents/{id}/updates"), &fields).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.count("SELECT count(*) AS n FROM incident_updates").await, 0);
    assert!(lead.page(&format!("/incidents/{id}")).await.contains("Compose update"));
}

#[tokio::test]
async fn declaring_announces_the_incident_to_the_incident_reports_group() {
    let (app, sink) = app_with_mail().await;
    group(&app, "Incident Reports", &[("Ann", "ann@example.test"), ("Bob", "bob@example.test")]).await;
    let execs = group(&app, "executives", &[("Cy", "cy@example.test")]).await;
    let (browser, _) = app.signed_in(Role::Responder).await;
    let id = declare(&browser, &[("title", "Login broken"), ("severity", "2")]).await;
    let mails = sink.wait_for(2, Duration::from_secs(20)).await;
    assert_eq!(recipients(&mails), vec!["ann@example.test", "bob@example.test"]);
    let mail = parsed(&mails[0]);
    assert_eq!(mail.subject(), Some("[SEV2] New incident: Login broken"));
    assert!(mail.body_text(0).expect("text").contains(&format!("/incidents/{id}")), "links to the room");
    // SEV2: every group is chosen for its updates by default.
    let chosen =
        app.count(&format!("SELECT count(*) AS n FROM incident_stakeholder_groups WHERE incident_id = {id}")).await;
    assert_eq!(chosen, 2);
    let form = browser.page(&format!("/incidents/{id}/updates/new")).await;
    assert!(form.contains(&format!("id=\"group-{execs}\" name=\"groups\" value=\"{execs}\" checked")), "{form}");

    // Restricted incidents are not announced.
    declare(&browser, &[("title", "Credential stuffing"), ("restricted", "true")]).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.messages().len(), 2);
}

#[tokio::test]
async fn resolving_offers_the_restoration_notice_and_sets_components_back() {
    let (app, sink) = app_with_mail().await;
    let api = component(&app, "API").await;
    exec(&app, &format!("UPDATE components SET status = 'major_outage' WHERE id = {api}")).await;
    let (browser, _) = app.signed_in(Role::Responder).await;
    let id = declare(&browser, &[("title", "API down"), ("components", api.as_str())]).await;
    let response = browser
        .submit(&format!("/incidents/{id}"), &format!("/incidents/{id}/status"), &[("status", "resolved")])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let room = browser.page(&format!("/incidents/{id}")).await;
    assert!(room.contains("Send the restoration notice"));

    let form = browser.page(&format!("/incidents/{id}/updates/new?status=resolved")).await;
    let operational = format!("value=\"{api}:operational\" selected");
    assert!(form.contains(&operational), "components are offered back to operational");
    assert!(form.contains("Service is back to normal"));
    let target = format!("{api}:operational");
    let fields = [
        ("status", "resolved"),
        ("impact_started_at", "2026-01-01T09:00"),
        ("impact", "Service is back to normal for all customers."),
        ("actions", "We fixed it."),
        ("next_update", ""),
        ("audience", "public"),
        ("component_status", target.as_str()),
        ("action", "send"),
    ];
    assert_eq!(post_update(&browser, &id, &fields).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(scalar(&app, &format!("SELECT status AS v FROM components WHERE id = {api}")).await, "operational");
    let room = browser.page(&format!("/incidents/{id}")).await;
    assert!(!room.contains("Send the restoration notice"), "done");
    assert!(sink.messages().is_empty(), "nobody subscribed, nobody mailed");
}

#[tokio::test]
async fn the_room_nudges_when_the_promised_update_is_late() {
    let (app, _sink) = app_with_mail().await;
    let (browser, _) = app.signed_in(Role::Responder).await;
    let id = declare(&browser, &[("title", "Queue backlog")]).await;
    exec(&app, &format!("INSERT INTO incident_updates (incident_id, status, audience, impact_started_at, next_update_at, subject, body) VALUES ({id}, 'investigating', 'internal', now() - interval '2 hours', now() - interval '15 minutes', 'Investigating: Queue backlog', 'x')")).await;
    let room = browser.page(&format!("/incidents/{id}")).await;
    assert!(room.contains("The next update was promised by"), "{room}");
}

/// The value of the form field `name` in a page (hidden inputs included).
fn field_value(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap_or_else(|| panic!("a field named {name}")) + marker.len();
    let end = html[start..].find('"').expect("the value's end") + start;
    unescape(&html[start..end])
}

/// The text of the element with this id, as a person reads it.
fn element_text(html: &str, id: &str) -> String {
    let marker = format!("id=\"{id}\">");
    let start = html.find(&marker).unwrap_or_else(|| panic!("an element #{id}")) + marker.len();
    let end = html[start..].find("</").expect("the element's end") + start;
    unescape(&html[start..end])
}

fn unescape(s: &str) -> String {
    s.replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#38;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

/// Previews an update and returns (preview page, the fields to send it with).
async fn preview_then_send_fields(
    browser: &Browser,
    id: &str,
    fields: &[(&str, &str)],
) -> (String, Vec<(String, String)>) {
    let mut preview_fields: Vec<(&str, &str)> = fields.to_vec();
    preview_fields.push(("action", "preview"));
    let page = html_of(post_update(browser, id, &preview_fields).await, StatusCode::OK).await;
    let mut send: Vec<(String, String)> = fields.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    for name in ["composed_at", "preview_digest", "idempotency_key"] {
        send.push((name.to_owned(), field_value(&page, name)));
    }
    send.push(("action".to_owned(), "send".to_owned()));
    (page, send)
}

async fn send_fields(browser: &Browser, id: &str, fields: &[(String, String)]) -> reqwest::Response {
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    post_update(browser, id, &fields).await
}

#[tokio::test]
async fn the_email_sent_is_the_one_previewed_even_when_the_minute_changes_in_between() {
    let (app, sink) = app_with_mail().await;
    let execs = group(&app, "executives", &[("Ann", "ann@example.test")]).await;
    let (browser, _) = app.signed_in(Role::Responder).await;
    let id = declare(&browser, &[("title", "Checkout errors"), ("severity", "2")]).await;
    let mut fields = base_fields("identified", "internal");
    fields.push(("groups", execs.as_str()));

    // Preview in the last seconds of a minute, send in the next one: the
    // "next update at" time must not move by that minute.
    wait_until(|| chrono::Utc::now().timestamp() % 60 >= 58, Duration::from_secs(65)).await;
    let minute = chrono::Utc::now().timestamp() / 60;
    let (preview, send) = preview_then_send_fields(&browser, &id, &fields).await;
    let previewed_subject = element_text(&preview, "preview-subject");
    let previewed_text = element_text(&preview, "preview-body");
    assert!(previewed_text.contains("Next update by"), "the preview promises the next update: {previewed_text}");
    wait_until(|| chrono::Utc::now().timestamp() / 60 > minute, Duration::from_secs(5)).await;

    let sent = send_fields(&browser, &id, &send).await;
    assert_eq!(sent.status(), StatusCode::SEE_OTHER, "sent");
    let mails = sink.wait_for(1, Duration::from_secs(20)).await;
    let mail = parsed(&mails[0]);
    assert_eq!(mail.subject(), Some(previewed_subject.as_str()), "the subject previewed");
    let received = mail.body_text(0).expect("a text part").replace("\r\n", "\n");
    assert_eq!(received.trim_end(), previewed_text.trim_end(), "the text part is the text previewed");
}

#[tokio::test]
async fn a_form_changed_after_its_preview_is_shown_again_instead_of_sent() {
    let (app, sink) = app_with_mail().await;
    let execs = group(&app, "executives", &[("Ann", "ann@example.test")]).await;
    let (browser, _) = app.signed_in(Role::Responder).await;
    let id = declare(&browser, &[("title", "Checkout errors")]).await;
    let mut fields = base_fields("identified", "internal");
    fields.push(("groups", execs.as_str()));
    let (_, mut send) = preview_then_send_fields(&browser, &id, &fields).await;
    for (k, v) in &mut send {
        if k == "actions" {
            *v = "We are failing over to the second region.".to_owned();
        }
    }
    let page = html_of(send_fields(&browser, &id, &send).await, StatusCode::CONFLICT).await;
    assert!(page.contains("nothing was sent"), "says why: {page}");
    assert!(element_text(&page, "preview-body").contains("failing over to the second region"), "the new text is shown");
    assert_eq!(app.count("SELECT count(*) AS n FROM incident_updates").await, 0);
    assert_eq!(app.count("SELECT count(*) AS n FROM outbox").await, 0);

    // Sending from the new preview goes through.
    let (_, send) = preview_then_send_fields(&browser, &id, &send_pairs(&send)).await;
    assert_eq!(send_fields(&browser, &id, &send).await.status(), StatusCode::SEE_OTHER);
    sink.wait_for(1, Duration::from_secs(20)).await;
}

fn send_pairs(fields: &[(String, String)]) -> Vec<(&str, &str)> {
    fields
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "composed_at" | "preview_digest" | "idempotency_key" | "action"))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

#[tokio::test]
async fn sending_the_same_form_twice_sends_one_update() {
    let (app, sink) = app_with_mail().await;
    let execs = group(&app, "executives", &[("Ann", "ann@example.test"), ("Bob", "bob@example.test")]).await;
    let (browser, _) = app.signed_in(Role::Responder).await;
    let id = declare(&browser, &[("title", "Checkout errors")]).await;
    let mut fields = base_fields("identified", "internal");
    fields.push(("groups", execs.as_str()));
    let (_, send) = preview_then_send_fields(&browser, &id, &fields).await;
    // A double click: both POSTs at once, then a retry.
    let (a, b) = tokio::join!(send_fields(&browser, &id, &send), send_fields(&browser, &id, &send));
    assert_eq!((a.status(), b.status()), (StatusCode::SEE_OTHER, StatusCode::SEE_OTHER));
    assert_eq!(send_fields(&browser, &id, &send).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.count("SELECT count(*) AS n FROM incident_updates").await, 1, "one update");
    sink.wait_for(2, Duration::from_secs(20)).await;
    let room = browser.page(&format!("/incidents/{id}")).await;
    assert_eq!(room.matches("sent an update to 2 internal stakeholders").count(), 1, "one timeline entry");
    assert_eq!(app.count("SELECT count(*) AS n FROM outbox").await, 2, "one email each");
}

/// Waits (polling) until `condition` holds; panics after `limit`.
async fn wait_until(condition: impl Fn() -> bool, limit: Duration) {
    let deadline = std::time::Instant::now() + limit;
    while !condition() {
        assert!(std::time::Instant::now() < deadline, "the condition did not hold within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The path of the first link in `text` that contains `part`.
fn link_path(text: &str, part: &str) -> String {
    let url = text
        .split_whitespace()
        .find(|w| w.starts_with("http") && w.contains(part))
        .unwrap_or_else(|| panic!("a link with {part} in: {text}"));
    url::Url::parse(url).expect("a URL").path().to_owned()
}

#[tokio::test]
async fn a_subscriber_chooses_components_from_the_link_in_an_email_and_then_hears_only_about_them() {
    let (app, sink) = app_with_mail().await;
    let api = component(&app, "API").await;
    let web = component(&app, "Website").await;
    let web_public = scalar(&app, &format!("SELECT public_id AS v FROM components WHERE id = {web}")).await;
    exec(&app, "INSERT INTO subscribers (email, token, all_components, confirmed_at) VALUES ('sam@example.test', 'a', TRUE, now())").await;
    let (browser, _) = app.signed_in(Role::Responder).await;
    let api_incident = declare(&browser, &[("title", "API errors"), ("components", api.as_str())]).await;
    let mut fields = base_fields("investigating", "public");
    fields.push(("action", "send"));
    assert_eq!(post_update(&browser, &api_incident, &fields).await.status(), StatusCode::SEE_OTHER);
    let mails = sink.wait_for(1, Duration::from_secs(20)).await;
    let text = parsed(&mails[0]).body_text(0).expect("a text part").to_string();
    assert!(text.contains("Choose the components you follow:"), "{text}");
    let preferences = link_path(&text, "/preferences");

    // The page shows what the address follows today and saves a new choice.
    let visitor = app.browser();
    let page = visitor.page(&preferences).await;
    assert!(page.contains("sam@example.test"));
    assert!(page.contains("id=\"scope-all\" name=\"scope\" value=\"all\" checked"), "everything, for now");
    let none = visitor.post_raw(&preferences, &[("scope", "chosen")]).await;
    let refused = html_of(none, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(refused.contains("Tick at least one component"), "{refused}");
    let saved = visitor.post_raw(&preferences, &[("scope", "chosen"), ("components", web_public.as_str())]).await;
    let saved = html_of(saved, StatusCode::OK).await;
    assert!(saved.contains("Your preferences are saved."));
    assert!(saved.contains(&format!("value=\"{web_public}\" checked")), "the choice is shown back");

    // An update about the API no longer reaches them; one about the website does.
    let mut second = base_fields("identified", "public");
    second.push(("action", "send"));
    assert_eq!(post_update(&browser, &api_incident, &second).await.status(), StatusCode::SEE_OTHER);
    let web_incident = declare(&browser, &[("title", "Website down"), ("components", web.as_str())]).await;
    assert_eq!(post_update(&browser, &web_incident, &fields).await.status(), StatusCode::SEE_OTHER);
    let mails = sink.wait_for(2, Duration::from_secs(20)).await;
    assert!(parsed(&mails[1]).subject().is_some_and(|s| s.contains("Website down")), "only the website's update");
    assert_eq!(app.count("SELECT count(*) AS n FROM outbox WHERE to_address = 'sam@example.test'").await, 2);
}

#[tokio::test]
async fn a_preferences_link_that_is_not_one_shows_a_clear_page() {
    let app = spawn_app().await;
    let response = app.browser().get(&format!("/status/subscriptions/{}/preferences", "0".repeat(64))).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(response.text().await.expect("body").contains("This link is no longer valid"));
}

#[tokio::test]
async fn lists_and_line_breaks_in_an_update_are_lists_in_the_html_email_and_on_the_status_page() {
    let (app, sink) = app_with_mail().await;
    exec(&app, "INSERT INTO subscribers (email, token, all_components, confirmed_at) VALUES ('all@example.test', 'a', TRUE, now())").await;
    let (browser, _) = app.signed_in(Role::Responder).await;
    let id = declare(&browser, &[("title", "Search is slow"), ("severity", "3")]).await;
    let actions =
        "What we did:\n- moved traffic to the standby\n- paused the reindex job\nNext: <b>warm</b> the cache.";
    let mut fields = base_fields("identified", "public");
    fields.retain(|(k, _)| *k != "actions");
    fields.extend([("actions", actions), ("action", "send")]);
    assert_eq!(post_update(&browser, &id, &fields).await.status(), StatusCode::SEE_OTHER);

    let mails = sink.wait_for(1, Duration::from_secs(20)).await;
    let mail = parsed(&mails[0]);
    let html = mail.body_html(0).expect("an HTML part").to_string();
    assert!(
        html.contains("<ul><li>moved traffic to the standby</li><li>paused the reindex job</li></ul>"),
        "a list in the HTML part: {html}"
    );
    assert!(html.contains("warm") && !html.contains("<b>warm"), "typed markup stays text: {html}");
    let text = mail.body_text(0).expect("a text part").replace("\r\n", "\n");
    assert!(
        text.contains("- moved traffic to the standby\n- paused the reindex job"),
        "the text part as typed: {text}"
    );

    let public_id = scalar(&app, &format!("SELECT public_id AS v FROM incidents WHERE id = {id}")).await;
    let page = app.browser().page(&format!("/status/incidents/{public_id}")).await;
    assert!(page.contains("<ul><li>moved traffic to the standby</li><li>paused the reindex job</li></ul>"), "{page}");
    assert!(page.contains("<p>What we did:</p>") || page.contains("What we did:<br>"), "{page}");
}

/// Every kind of email a scenario sends (updates to stakeholders and
/// subscribers, the new-incident announcement, a subscription confirmation,
/// a follow-up assignment, a maintenance notice), rendered by Chromium as a
/// phone's and a desktop's mail app would show it: no sideways scrolling, the
/// button in view. Update emails also carry the banner in the status's colour
/// and the component table. The screenshots are kept in
/// target/test-artifacts/emails/ for a person to look at.
#[tokio::test]
async fn every_email_kind_reads_on_a_phone_and_a_desktop() {
    let (app, sink) = app_with_mail().await;
    let driver = crate::browser::Chromedriver::start();
    let checkout = component(&app, "Checkout").await;
    let team = group(&app, "Support", &[("Sam", "sam@example.test")]).await;
    group(&app, "incident reports", &[("Ira", "ira@example.test")]).await;
    exec(&app, "INSERT INTO subscribers (email, token, all_components, confirmed_at) VALUES ('all@example.test', 'a', TRUE, now())").await;
    app.browser().post_raw("/status/subscribe", &[("email", "new@example.test"), ("scope", "all")]).await;
    let (browser, _) = app.signed_in(Role::Responder).await;
    let id =
        declare(&browser, &[("title", "Card payments fail"), ("severity", "2"), ("components", checkout.as_str())])
            .await;
    let component_status = format!("{checkout}:partial_outage");
    let mut fields = base_fields("identified", "both");
    fields.extend([("groups", team.as_str()), ("component_status", component_status.as_str()), ("action", "send")]);
    assert_eq!(post_update(&browser, &id, &fields).await.status(), StatusCode::SEE_OTHER);
    let component_status = format!("{checkout}:operational");
    let mut fields = base_fields("resolved", "both");
    fields.retain(|(k, _)| *k != "next_update");
    fields.extend([("groups", team.as_str()), ("component_status", component_status.as_str()), ("action", "send")]);
    assert_eq!(post_update(&browser, &id, &fields).await.status(), StatusCode::SEE_OTHER);
    let (_, owner) = app.signed_in(Role::Responder).await;
    let room = format!("/incidents/{id}");
    let owner_id = owner.id.to_string();
    let task = [("title", "Renew certificates automatically"), ("kind", "follow_up"), ("assignee", owner_id.as_str())];
    assert_eq!(browser.submit(&room, &format!("{room}/tasks"), &task).await.status(), StatusCode::SEE_OTHER);
    let soon = (chrono::Utc::now() + chrono::Duration::days(1)).format("%Y-%m-%dT%H:%M").to_string();
    let later = (chrono::Utc::now() + chrono::Duration::days(1) + chrono::Duration::hours(1))
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let maintenance = [
        ("title", "Database upgrade"),
        ("message", "We upgrade the database."),
        ("starts_at", soon.as_str()),
        ("ends_at", later.as_str()),
        ("components", checkout.as_str()),
        ("notify_shown", "1"),
        ("notify", "scheduled"),
    ];
    assert_eq!(
        browser.submit("/maintenances/new", "/maintenances", &maintenance).await.status(),
        StatusCode::SEE_OTHER
    );
    let mails = sink.wait_for(8, Duration::from_secs(20)).await;

    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts/emails");
    std::fs::create_dir_all(&dir).expect("the artifacts folder");
    let session = driver.new_session("emails").await;
    let mut kinds = Vec::new();
    for mail in &mails {
        let parsed = mail_parser::MessageParser::default().parse(mail.data.as_bytes()).expect("parsable");
        let subject = parsed.subject().unwrap_or_default().to_owned();
        let html = parsed.body_html(0).expect("an HTML part").to_string();
        let text = parsed.body_text(0).expect("a text part").replace("\r\n", "\n");
        let kind = scalar(
            &app,
            &format!(
                "SELECT kind AS v FROM outbox WHERE subject = '{}' ORDER BY id LIMIT 1",
                subject.replace('\'', "''")
            ),
        )
        .await;
        let name = format!("{kind}-{}", if subject.contains("Resolved") { "resolved" } else { "open" });
        if kinds.contains(&name) {
            continue;
        }
        kinds.push(name.clone());
        if kind == "update" || kind == "status_update" {
            if subject.contains("Resolved") {
                assert!(html.contains("background:#067647;"), "a green banner when resolved: {html}");
                assert!(html.contains(">Total duration</td>") && text.contains("Total duration: "), "{text}");
                assert!(html.contains(">Checkout</td>") && html.contains(">Operational</td>"), "the component table");
            } else {
                assert!(html.contains("background:#93370d;"), "an amber banner while identified: {html}");
                assert!(html.contains(">Partial outage</td>"), "{html}");
            }
        }
        let file = dir.join(format!("{name}.html"));
        std::fs::write(&file, &html).expect("write the email's HTML");
        for (width, mobile) in [(390, true), (800, false)] {
            crate::room::set_viewport(&session, width, 844, mobile).await;
            session.goto(&format!("file://{}", file.display())).await.expect("open the email");
            let fits = session
                .execute("return document.documentElement.scrollWidth <= document.documentElement.clientWidth ? true : document.documentElement.scrollWidth + ' > ' + document.documentElement.clientWidth;", vec![])
                .await
                .expect("measure");
            assert_eq!(fits, serde_json::json!(true), "“{subject}” scrolls sideways at {width} px");
            let button = session
                .find(fantoccini::Locator::Css("a[style*='background'], td[style*='background:#155eef'] a"))
                .await
                .expect("the button");
            assert!(button.is_displayed().await.expect("visible"), "{name}: the button shows at {width} px");
            let png = session.screenshot().await.expect("a screenshot");
            std::fs::write(dir.join(format!("{name}-{width}.png")), png).expect("save the screenshot");
        }
    }
    session.close().await.expect("close the browser");
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "announcement-open",
            "confirm_subscription-open",
            "followup_assigned-open",
            "maintenance-open",
            "status_update-open",
            "status_update-resolved",
            "update-open",
            "update-resolved",
        ],
        "each kind was rendered"
    );
}
