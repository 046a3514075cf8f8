//! Email through a real SMTP server: the outbox, retries, STARTTLS + AUTH, the admin outbox page.

use std::collections::HashSet;
use std::future::Future;
use std::time::{Duration, Instant};

use diesel_async::{AsyncConnection, RunQueryDsl};
use firebreak::db::outbox::{self, NewMessage, new_message_id};
use firebreak::db::{self, OutboxId};
use firebreak::domain::Role;
use firebreak::startup::Application;
use reqwest::StatusCode;

use crate::helpers::{TestApp, html_of, location, spawn_app, spawn_app_with, test_settings};
use crate::smtp::{MailSink, ReceivedMail, configure_for_sink, spawn_app_with_sink};

const WAIT: Duration = Duration::from_secs(20);

fn message(to: &str, subject: &str) -> NewMessage {
    NewMessage {
        message_id: new_message_id("Firebreak <firebreak@example.test>"),
        kind: "update".to_owned(),
        to_address: to.to_owned(),
        to_name: "Ada Lovelace".to_owned(),
        subject: subject.to_owned(),
        text_body: format!("{subject}\n\nIn plain words.\n"),
        html_body: format!("<p>{subject}</p><p>In <strong>rich</strong> words.</p>"),
        list_unsubscribe: None,
        calendar: None,
        calendar_method: None,
        incident_id: None,
    }
}

async fn enqueue(app: &TestApp, messages: &[NewMessage]) {
    let mut conn = app.pool.get().await.expect("conn");
    let queued = conn.transaction(async |conn| outbox::enqueue(conn, messages).await).await.expect("enqueue");
    assert_eq!(queued, messages.len());
}

async fn id_of(app: &TestApp, message_id: &str) -> OutboxId {
    let sql = format!("SELECT id AS n FROM outbox WHERE message_id = '{message_id}'");
    OutboxId(app.count(&sql).await)
}

/// Polls `check` until it holds, failing with `what` after `timeout`.
async fn eventually<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn wait_for_count(app: &TestApp, what: &str, sql: &str, expected: i64) {
    eventually(what, WAIT, || async { app.count(sql).await == expected }).await;
}

fn message_ids(mail: &[ReceivedMail]) -> Vec<String> {
    mail.iter().map(ReceivedMail::message_id).collect()
}

/// Another app instance on the same database, also sending to `sink`.
async fn second_instance(app: &TestApp, sink: &MailSink) -> TestApp {
    let mut settings = test_settings(&app.db_url);
    configure_for_sink(&mut settings, sink);
    let built = Application::build(settings).await.expect("build the second instance");
    let address = format!("http://127.0.0.1:{}", built.port());
    tokio::spawn(built.run_until_stopped());
    let pool = db::build_pool(&app.db_url, 2).expect("pool");
    TestApp { address, db_name: app.db_name.clone(), db_url: app.db_url.clone(), pool }
}

#[tokio::test]
async fn a_queued_email_arrives_as_text_and_html_with_its_headers() {
    let sink = MailSink::start().await;
    let app = spawn_app_with_sink(&sink).await;
    let plain = message("ada@example.test", "Checkout is degraded");
    let mut subscriber = message("bob@example.test", "Status update");
    subscriber.list_unsubscribe = Some("https://status.example.test/unsubscribe/t0ken".to_owned());
    let mut invite = message("cy@example.test", "Post-mortem review");
    invite.calendar = Some("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n".to_owned());
    invite.calendar_method = Some("REQUEST".to_owned());
    enqueue(&app, &[plain.clone(), subscriber.clone(), invite.clone()]).await;

    let mail = sink.wait_for(3, WAIT).await;
    let find = |id: &str| mail.iter().find(|m| m.message_id() == id).expect("each message arrives");

    let m = find(&plain.message_id);
    assert_eq!(m.from, "firebreak@example.test", "envelope sender is MAIL_FROM");
    assert_eq!(m.to, vec!["ada@example.test".to_owned()]);
    assert_eq!(m.subject(), "Checkout is degraded");
    assert_eq!(m.header("From").as_deref(), Some("Firebreak <firebreak@example.test>"));
    assert_eq!(m.header("To").as_deref(), Some("\"Ada Lovelace\" <ada@example.test>"));
    assert!(m.header("Date").is_some(), "{}", m.data);
    assert!(m.header("Content-Type").expect("content type").starts_with("multipart/alternative"));
    assert!(m.text().contains("In plain words."));
    assert!(m.html().contains("<strong>rich</strong>"));
    assert_eq!(m.header("List-Unsubscribe"), None, "only subscriber mail has unsubscribe headers");

    let s = find(&subscriber.message_id);
    assert_eq!(s.header("List-Unsubscribe").as_deref(), Some("<https://status.example.test/unsubscribe/t0ken>"));
    assert_eq!(s.header("List-Unsubscribe-Post").as_deref(), Some("List-Unsubscribe=One-Click"));

    let i = find(&invite.message_id);
    assert!(i.header("Content-Type").expect("content type").starts_with("multipart/mixed"));
    assert!(i.data.contains("text/calendar; charset=utf-8; method=REQUEST"), "{}", i.data);
    let attachments = i.attachments();
    assert_eq!(attachments.len(), 1);
    assert_eq!((attachments[0].name.as_str(), attachments[0].content_type.as_str()), ("invite.ics", "application/ics"));
    assert!(String::from_utf8_lossy(&attachments[0].body).contains("METHOD:REQUEST"));
    assert!(i.html().contains("Post-mortem review"));

    wait_for_count(&app, "all three are marked sent", "SELECT count(*) AS n FROM outbox WHERE status = 'sent'", 3)
        .await;
    let sent_cleanly = "SELECT count(*) AS n FROM outbox WHERE sent_at IS NOT NULL AND locked_until IS NULL \
                        AND attempts = 1 AND last_error IS NULL";
    assert_eq!(app.count(sent_cleanly).await, 3);
    assert_eq!(app.count("SELECT count(*) AS n FROM outbox_attempts WHERE error IS NULL").await, 3);
    assert_eq!(sink.messages().len(), 3, "nothing sent twice");
}

#[tokio::test]
async fn mail_goes_through_starttls_and_auth() {
    // Characters that must be percent-encoded in SMTP_URL.
    let sink = MailSink::start_tls_auth("alerts@example.test", "p@ss:w/rd %1").await;
    let url = sink.smtp_url();
    assert!(url.starts_with("smtp://alerts%40example.test:") && !url.contains("p@ss:w/rd %1"), "{url}");
    let app = spawn_app_with_sink(&sink).await;
    let queued = message("ada@example.test", "Over TLS");
    enqueue(&app, std::slice::from_ref(&queued)).await;
    let mail = sink.wait_for(1, WAIT).await;
    assert_eq!(mail[0].message_id(), queued.message_id);
    assert!(mail[0].tls, "the session was upgraded with STARTTLS");
    assert_eq!(mail[0].user.as_deref(), Some("alerts@example.test"));
}

#[tokio::test]
async fn mail_goes_through_implicit_tls() {
    let sink = MailSink::start_implicit_tls("alerts", "secret").await;
    assert!(sink.smtp_url().starts_with("smtps://"));
    let app = spawn_app_with_sink(&sink).await;
    enqueue(&app, &[message("ada@example.test", "Over smtps")]).await;
    let mail = sink.wait_for(1, WAIT).await;
    assert!(mail[0].tls && mail[0].user.as_deref() == Some("alerts"));
}

#[tokio::test]
async fn mail_queued_while_the_server_is_down_arrives_once_it_is_back() {
    let sink = MailSink::start().await;
    let port = sink.port();
    let app = spawn_app_with_sink(&sink).await;
    sink.stop();
    let queued: Vec<NewMessage> =
        (0..20).map(|i| message(&format!("p{i}@example.test"), &format!("Update {i}"))).collect();
    enqueue(&app, &queued).await;
    // Every message fails at least once, and says why.
    wait_for_count(
        &app,
        "every message has failed once",
        "SELECT count(DISTINCT outbox_id) AS n FROM outbox_attempts WHERE error IS NOT NULL",
        20,
    )
    .await;
    assert_eq!(app.count("SELECT count(*) AS n FROM outbox WHERE status = 'pending' AND last_error <> ''").await, 20);
    assert_eq!(app.count("SELECT count(*) AS n FROM outbox WHERE status <> 'pending'").await, 0);

    let back = MailSink::start_on(port).await;
    wait_for_count(&app, "all 20 are sent", "SELECT count(*) AS n FROM outbox WHERE status = 'sent'", 20).await;
    let mut received = sink.messages();
    received.extend(back.messages());
    let ids = message_ids(&received);
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(ids.len(), 20, "each message exactly once");
    assert_eq!(unique.len(), 20);
    assert_eq!(unique, queued.iter().map(|m| &m.message_id).collect::<HashSet<_>>());
    assert_eq!(app.count("SELECT count(*) AS n FROM outbox WHERE locked_until IS NOT NULL").await, 0);
}

#[tokio::test]
async fn two_instances_over_one_database_send_each_message_once() {
    let sink = MailSink::start().await;
    let first = spawn_app_with_sink(&sink).await;
    let _second = second_instance(&first, &sink).await;
    let queued: Vec<NewMessage> =
        (0..200).map(|i| message(&format!("m{i}@example.test"), &format!("Fan-out {i}"))).collect();
    enqueue(&first, &queued).await;
    wait_for_count(&first, "all 200 are sent", "SELECT count(*) AS n FROM outbox WHERE status = 'sent'", 200).await;
    let ids = message_ids(&sink.messages());
    assert_eq!(ids.len(), 200, "nothing sent twice");
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 200);
    assert_eq!(first.count("SELECT count(*) AS n FROM outbox_attempts").await, 200, "one attempt each");
}

#[tokio::test]
async fn a_message_claimed_by_a_worker_that_died_is_sent_after_its_lease() {
    let sink = MailSink::start().await;
    let app = spawn_app_with_sink(&sink).await;
    let expired = message("expired@example.test", "Claimed by a worker that died");
    let held = message("held@example.test", "Claimed by a worker still sending");
    let mut conn = app.pool.get().await.expect("conn");
    conn.transaction(async |conn| {
        outbox::enqueue(conn, &[expired.clone(), held.clone()]).await?;
        // As a worker leaves them: claimed (one attempt), lease running or run out.
        diesel::sql_query(format!(
            "UPDATE outbox SET attempts = 1, locked_until = now() - interval '1 second' WHERE message_id = '{}'",
            expired.message_id
        ))
        .execute(conn)
        .await?;
        diesel::sql_query(format!(
            "UPDATE outbox SET attempts = 1, locked_until = now() + interval '1 hour' WHERE message_id = '{}'",
            held.message_id
        ))
        .execute(conn)
        .await
    })
    .await
    .expect("queue");
    drop(conn);
    let mail = sink.wait_for(1, WAIT).await;
    assert_eq!(mail[0].message_id(), expired.message_id);
    let sql = format!("SELECT count(*) AS n FROM outbox WHERE status = 'sent' AND attempts = 2 AND id = {}", {
        id_of(&app, &expired.message_id).await
    });
    wait_for_count(&app, "the expired claim is sent", &sql, 1).await;
    let held_sql =
        format!("SELECT count(*) AS n FROM outbox WHERE status = 'pending' AND message_id = '{}'", held.message_id);
    assert_eq!(app.count(&held_sql).await, 1, "a running lease is respected");
    assert_eq!(sink.messages().len(), 1);
}

#[tokio::test]
async fn without_smtp_url_each_email_is_written_to_the_mail_folder() {
    let dir = std::env::temp_dir().join(format!("firebreak-mail-test-{}", uuid::Uuid::new_v4()));
    let app = spawn_app_with(|s| s.mail_dir = dir.clone()).await;
    let queued = message("ada@example.test", "Written to a file");
    enqueue(&app, std::slice::from_ref(&queued)).await;
    wait_for_count(&app, "the message is sent", "SELECT count(*) AS n FROM outbox WHERE status = 'sent'", 1).await;
    let files: Vec<_> = std::fs::read_dir(&dir)
        .expect("the mail folder was created")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let raw = std::fs::read(&files[0]).expect("read .eml");
    let mail = ReceivedMail {
        from: String::new(),
        to: Vec::new(),
        data: String::from_utf8(raw).expect("utf-8"),
        tls: false,
        user: None,
    };
    assert_eq!(mail.subject(), "Written to a file");
    assert_eq!(mail.message_id(), queued.message_id);
    assert!(mail.html().contains("<strong>rich</strong>"));
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[tokio::test]
async fn admins_see_failed_mail_with_its_error_and_retry_it() {
    let sink = MailSink::start().await;
    sink.reject("bounce@example.test");
    let app = spawn_app_with_sink(&sink).await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let bounced = message("bounce@example.test", "Refused by the server");
    let fine = message("fine@example.test", "Accepted by the server");
    enqueue(&app, &[bounced.clone(), fine.clone()]).await;
    wait_for_count(&app, "the refused message fails", "SELECT count(*) AS n FROM outbox WHERE status = 'failed'", 1)
        .await;
    wait_for_count(&app, "the other is sent", "SELECT count(*) AS n FROM outbox WHERE status = 'sent'", 1).await;
    let id = id_of(&app, &bounced.message_id).await;

    let html = admin.page("/admin/outbox").await;
    assert!(html.contains("Failed (1)") && html.contains("Sent (1)") && html.contains("Pending (0)"), "{html}");
    assert!(html.contains("Refused by the server") && html.contains("Accepted by the server"));
    assert!(html.contains("Recipient address rejected"), "the error is shown");
    let failed_only = admin.page("/admin/outbox?status=failed").await;
    assert!(failed_only.contains("Refused by the server") && !failed_only.contains("Accepted by the server"));
    let sent_only = admin.page("/admin/outbox?status=sent").await;
    assert!(!sent_only.contains("Refused by the server") && sent_only.contains("Accepted by the server"));

    let detail_path = format!("/admin/outbox/{id}");
    let detail = admin.page(&detail_path).await;
    assert!(detail.contains("bounce@example.test") && detail.contains("550"), "{detail}");
    assert!(detail.contains("Retry sending"));

    sink.accept("bounce@example.test");
    let response = admin.submit(&detail_path, &format!("/admin/outbox/{id}/retry"), &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), detail_path);
    let mail = sink.wait_for(2, WAIT).await;
    assert!(mail.iter().any(|m| m.message_id() == bounced.message_id), "retried and delivered");
    wait_for_count(&app, "both are sent", "SELECT count(*) AS n FROM outbox WHERE status = 'sent'", 2).await;
    let detail = admin.page(&detail_path).await;
    assert!(detail.contains("accepted") && detail.contains("Recipient address rejected"), "every attempt is listed");
    assert!(!detail.contains("Retry sending"), "nothing to retry once sent");
    assert_eq!(app.count("SELECT count(*) AS n FROM audit_log WHERE action = 'outbox.retry'").await, 1);
    assert_eq!(sink.messages().len(), 2, "the sent one was not sent again");
}

#[tokio::test]
async fn an_admin_sends_a_test_email() {
    let sink = MailSink::start().await;
    let app = spawn_app_with_sink(&sink).await;
    let (admin, me) = app.signed_in(Role::Admin).await;
    let html = admin.page("/admin/outbox").await;
    assert!(html.contains(&format!("value=\"{}\"", me.email)), "prefilled with the admin's own address");

    let response = admin.submit("/admin/outbox", "/admin/outbox/test", &[("to", "  Ops@Example.test ")]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/admin/outbox");
    let mail = sink.wait_for(1, WAIT).await;
    assert_eq!(mail[0].to, vec!["ops@example.test".to_owned()]);
    assert_eq!(mail[0].subject(), "Firebreak test email");
    assert!(mail[0].text().contains(&me.name) && mail[0].text().contains("/admin/outbox"));
    assert!(mail[0].html().contains("href=\"http://127.0.0.1/admin/outbox\""), "{}", mail[0].html());
    assert_eq!(app.count("SELECT count(*) AS n FROM outbox WHERE kind = 'test'").await, 1);
    assert!(admin.page("/admin/outbox").await.contains("Queued a test email to ops@example.test."));
}

#[tokio::test]
async fn a_test_email_to_a_bad_address_is_refused_with_a_message() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let response = admin.submit("/admin/outbox", "/admin/outbox/test", &[("to", "not an address")]).await;
    let html = html_of(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(html.contains("Enter an email address like name@example.com."), "{html}");
    assert!(html.contains("value=\"not an address\""), "the value is kept");
    assert_eq!(app.count("SELECT count(*) AS n FROM outbox").await, 0);
}

#[tokio::test]
async fn only_admins_reach_the_outbox() {
    let app = spawn_app().await;
    enqueue(&app, &[message("ada@example.test", "Private")]).await;
    let id = app.count("SELECT max(id) AS n FROM outbox").await;
    for role in [Role::Responder, Role::Viewer] {
        let (browser, _) = app.signed_in(role).await;
        html_of(browser.get("/admin/outbox").await, StatusCode::FORBIDDEN).await;
        html_of(browser.get(&format!("/admin/outbox/{id}")).await, StatusCode::FORBIDDEN).await;
        let token = crate::helpers::csrf_token(&browser.page("/").await);
        let retry = browser.post_raw(&format!("/admin/outbox/{id}/retry"), &[("csrf_token", &token)]).await;
        assert_eq!(retry.status(), StatusCode::FORBIDDEN);
        let test = browser.post_raw("/admin/outbox/test", &[("csrf_token", &token), ("to", "x@example.test")]).await;
        assert_eq!(test.status(), StatusCode::FORBIDDEN);
    }
    let anonymous = app.browser().get("/admin/outbox").await;
    assert_eq!(anonymous.status(), StatusCode::SEE_OTHER, "sign in first");
    assert_eq!(app.count("SELECT count(*) AS n FROM outbox WHERE kind = 'test'").await, 0, "nothing queued");
}

/// The fan-out target: 10,000 queued emails accepted by a local SMTP server
/// well within a minute. Slow in a debug build on a busy machine, so it runs
/// on request: `cargo nextest run --run-ignored only -E 'test(/mail::ten_thousand/)'`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "performance check; run on request"]
async fn ten_thousand_queued_emails_are_delivered_within_a_minute() {
    let sink = MailSink::start().await;
    let app = spawn_app_with_sink(&sink).await;
    let queued: Vec<NewMessage> =
        (0..10_000).map(|i| message(&format!("s{i}@example.test"), &format!("Public update {i}"))).collect();
    let started = Instant::now();
    enqueue(&app, &queued).await;
    sink.wait_for(10_000, Duration::from_secs(60)).await;
    let elapsed = started.elapsed();
    wait_for_count(&app, "all are marked sent", "SELECT count(*) AS n FROM outbox WHERE status = 'sent'", 10_000).await;
    eprintln!(
        "10,000 emails accepted in {:.1} s over {} SMTP connections; all marked sent after {:.1} s",
        elapsed.as_secs_f64(),
        sink.connections(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(sink.messages().len(), 10_000);
}
