//! Two instances of the built binary on one PostgreSQL behind HAProxy; one is
//! killed with -9 while a room is open and email is going out.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use futures_util::StreamExt;
use rand::RngCore;
use reqwest::StatusCode;

use crate::embedded::{Server, firebreak_bin};
use crate::helpers::{TestApp, create_database};
use crate::smtp::MailSink;
use crate::updates::{declare, group, post_update};

struct Haproxy(Child);

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port()
}

fn port_of(address: &str) -> u16 {
    address.rsplit(':').next().and_then(|p| p.parse().ok()).expect("address with a port")
}

fn start_haproxy(port: u16, backends: &[&str], folder: &std::path::Path) -> Haproxy {
    let servers: String = backends
        .iter()
        .enumerate()
        .map(|(i, a)| format!("  server app{i} 127.0.0.1:{} check inter 500 fall 2 rise 1\n", port_of(a)))
        .collect();
    let config = format!(
        "global\n  maxconn 256\n\
         defaults\n  mode http\n  timeout connect 1s\n  timeout client 30s\n  timeout server 30s\n\
         \x20 retries 3\n  option redispatch\n  retry-on conn-failure\n\
         frontend web\n  bind 127.0.0.1:{port}\n  default_backend apps\n\
         backend apps\n  balance roundrobin\n  option httpchk GET /ready\n{servers}"
    );
    let path = folder.join("haproxy.cfg");
    std::fs::write(&path, config).expect("write haproxy.cfg");
    let child = Command::new("haproxy")
        .arg("-f")
        .arg(&path)
        .arg("-db")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start haproxy");
    Haproxy(child)
}

/// One session key for all instances, so a browser's cookie works on each.
fn session_key() -> String {
    let mut key = [0u8; 64];
    rand::rng().fill_bytes(&mut key);
    base64::engine::general_purpose::STANDARD.encode(key)
}

/// The built binary as one instance of several on `db_url`, mailing through the test's SMTP server.
fn instance_command(db_url: &str, key: &str, sink: &MailSink) -> Command {
    let mut cmd = Command::new(firebreak_bin());
    cmd.env("DATABASE_URL", db_url)
        .env("SESSION_KEY", key)
        .env("SMTP_URL", sink.smtp_url())
        .env("MAIL_RETRY_BASE_SECS", "0.2")
        .env("WORKERS", "1")
        .env("RUST_LOG", "warn");
    cmd
}

async fn answers(url: &str) -> bool {
    reqwest::get(url).await.is_ok_and(|r| r.status() == StatusCode::OK)
}

#[tokio::test]
async fn with_one_of_two_instances_killed_the_room_keeps_working_and_queued_email_is_not_lost() {
    if Command::new("haproxy").arg("-v").output().is_err() {
        eprintln!("haproxy is not installed (./scripts/test installs it): skipping");
        return;
    }
    let folder = crate::embedded::DataFolder::new();
    let (db_name, db_url) = create_database(true);
    let sink = MailSink::start().await;
    let lb_port = free_port();
    let lb = format!("http://127.0.0.1:{lb_port}");
    let key = session_key();
    let instance = || {
        let mut cmd = instance_command(&db_url, &key, &sink);
        cmd.env("BASE_URL", &lb);
        Server::start(cmd)
    };
    let mut first = instance();
    let second = instance();
    let _haproxy = start_haproxy(lb_port, &[&first.address, &second.address], &folder.0);
    let pool = firebreak::db::build_pool(&db_url, 2).expect("pool");
    // Drops the database at the end.
    let app = TestApp { address: lb.clone(), db_name, db_url: db_url.clone(), pool };
    let mut ready = false;
    for _ in 0..100 {
        if answers(&format!("{lb}/ready")).await {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "HAProxy answers /ready");

    let members: Vec<(String, String)> =
        (0..20).map(|i| (format!("Member {i}"), format!("member{i}@example.test"))).collect();
    let members: Vec<(&str, &str)> = members.iter().map(|(n, e)| (n.as_str(), e.as_str())).collect();
    let stakeholders = group(&app, "everyone", &members).await;
    let (browser, _) = app.signed_in(firebreak::domain::Role::Responder).await;
    let id = declare(&browser, &[("title", "Payments time out"), ("severity", "2")]).await;
    let room = format!("/incidents/{id}");
    browser.page(&room).await;

    let update = |impact: &'static str| {
        vec![
            ("status", "identified"),
            ("impact_started_at", "2026-01-01T09:00"),
            ("impact", impact),
            ("actions", "We are failing over to the standby."),
            ("next_update", "30"),
            ("audience", "internal"),
            ("groups", stakeholders.as_str()),
            ("action", "send"),
        ]
    };
    let sent = post_update(&browser, &id, &update("Before the crash: card payments time out.")).await;
    assert_eq!(sent.status(), StatusCode::SEE_OTHER);
    // Email is going out (from either instance) when the first one dies.
    first.signal("KILL");
    first.wait();

    // The room keeps working through the other instance: the same session
    // reconnects to the live stream (as the page's EventSource does), a new
    // note arrives on it as a change, and the note is on the page.
    let mut live = browser.get(&format!("{room}/events")).await.bytes_stream();
    live.next().await.expect("a first chunk").expect("bytes");
    browser.submit(&room, &format!("{room}/notes"), &[("body", "Standby promoted after the crash")]).await;
    let seen = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(chunk) = live.next().await {
            if String::from_utf8_lossy(&chunk.expect("bytes")).contains("event: change") {
                return true;
            }
        }
        false
    })
    .await
    .expect("the live stream tells of the note within 5 seconds");
    assert!(seen);
    let html = browser.page(&room).await;
    assert!(html.contains("Standby promoted after the crash"), "the note is in the room");
    let sent = post_update(&browser, &id, &update("After the crash: payments recovering.")).await;
    assert_eq!(sent.status(), StatusCode::SEE_OTHER);

    // Mail queued after the crash reaches everyone exactly once.
    let after = |sink: &MailSink| -> Vec<String> {
        let mut to: Vec<String> = sink
            .messages()
            .iter()
            .filter(|m| m.text().contains("After the crash"))
            .flat_map(|m| m.to.clone())
            .collect();
        to.sort();
        to
    };
    // Waits without blocking: the SMTP sink runs on this test's runtime.
    for _ in 0..300 {
        if after(&sink).len() >= members.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if after(&sink).len() < members.len() {
        let state = crate::updates::scalar(
            &app,
            "SELECT string_agg(to_address || ' ' || status || ' a=' || attempts || ' lock=' || coalesce(locked_until::text, '-') \
             || ' err=' || coalesce(last_error, '-') || ' sent=' || coalesce(sent_at::text, '-') || ' now=' || now()::text, E'\\n') AS v \
             FROM outbox WHERE text_body LIKE '%After the crash%' AND sent_at IS NULL",
        )
        .await;
        panic!("not every member got the post-crash update: {:?}\n{state}", after(&sink));
    }
    let mut expected: Vec<String> = members.iter().map(|(_, e)| e.to_string()).collect();
    expected.sort();
    assert_eq!(after(&sink), expected, "each member once");

    // Mail in flight at the crash is not lost: every row is soon sent, or
    // still claimed by the dead instance until its claim expires (then the
    // survivor sends it); none failed, and nobody got it twice so far.
    let mut unaccounted = -1;
    for _ in 0..100 {
        unaccounted = app
            .count(
                "SELECT count(*) AS n FROM outbox WHERE text_body LIKE '%Before the crash%' \
                 AND sent_at IS NULL AND (locked_until IS NULL OR locked_until < now())",
            )
            .await;
        if unaccounted == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(unaccounted, 0, "pre-crash messages neither sent nor claimed");
    let failed = app.count("SELECT count(*) AS n FROM outbox WHERE status = 'failed'").await;
    assert_eq!(failed, 0, "no message failed");
    let before: Vec<String> =
        sink.messages().iter().filter(|m| m.text().contains("Before the crash")).flat_map(|m| m.to.clone()).collect();
    let mut unique = before.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), before.len(), "no member got the pre-crash update twice");
    let claimed = app
        .count("SELECT count(*) AS n FROM outbox WHERE text_body LIKE '%Before the crash%' AND sent_at IS NULL")
        .await;
    eprintln!(
        "instances: of {} messages queued before the kill, {} delivered, {claimed} held by the dead instance's claim",
        members.len(),
        before.len()
    );
    drop(second);
}

/// Issue 14: pages, escalation deadlines and notifications are durable rows,
/// so an instance killed with -9 between two escalation steps leaves the next
/// step to the other instance, and nobody is notified twice.
#[tokio::test]
async fn an_instance_killed_mid_escalation_leaves_every_step_notified_exactly_once() {
    use crate::oncall::{pages_to, policy_with, schedule_with, wait_for, wait_for_page_mail};
    let (db_name, db_url) = create_database(true);
    let sink = MailSink::start().await;
    let key = session_key();
    let instance = || {
        let mut cmd = instance_command(&db_url, &key, &sink);
        // A "minute" of escalation is half a second.
        cmd.env("ESCALATION_MINUTE_SECS", "0.5");
        Server::start(cmd)
    };
    let mut first = instance();
    let _second = instance();
    let pool = firebreak::db::build_pool(&db_url, 2).expect("pool");
    // Set up through the first instance; drops the database at the end.
    let app = TestApp { address: first.address.clone(), db_name, db_url: db_url.clone(), pool };
    let (admin, _) = app.signed_in(firebreak::domain::Role::Admin).await;
    let pat = app.create_user(firebreak::domain::Role::Responder).await;
    let backup = app.create_user(firebreak::domain::Role::Responder).await;
    let schedule = schedule_with(&admin, "Payments", &[&pat]).await;
    // Step 2 comes 10 "minutes" (5 s) after step 1.
    let policy = policy_with(&admin, "Payments", &schedule, &backup, "10").await;
    let id = declare(&admin, &[("title", "Card payments fail"), ("severity", "1")]).await;
    let room = format!("/incidents/{id}");
    let r = admin.submit(&format!("{room}/paging"), &format!("{room}/paging"), &[("policy", policy.as_str())]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "Page someone");

    wait_for_page_mail(&sink, &pat.email).await;
    // Between the steps: the instance that may hold the page dies.
    first.signal("KILL");
    first.wait();

    wait_for_page_mail(&sink, &backup.email).await;
    wait_for(&app, "SELECT count(*) AS n FROM pages WHERE status = 'exhausted'", "the policy to run out").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(pages_to(&sink, &pat.email).len(), 1, "step 1 notified once");
    assert_eq!(pages_to(&sink, &backup.email).len(), 1, "step 2 notified once, by the surviving instance");
}
