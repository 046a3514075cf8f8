//! Outgoing webhooks: a real HTTP receiver in the test gets signed deliveries
//! for incident events, retries reach a receiver that was down or failing
//! exactly once, and the admin pages manage webhooks and their delivery log.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use firebreak::domain::Role;
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::helpers::{Browser, TestApp, html_of, location, spawn_app};
use crate::updates::{declare, exec, scalar};

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    /// Lower-cased names.
    pub headers: HashMap<String, String>,
    pub body: String,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(String::as_str).unwrap_or_default()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

#[derive(Default)]
struct Shared {
    received: Mutex<Vec<Received>>,
    /// Statuses to answer with, in order; 200 once it is empty.
    plan: Mutex<VecDeque<u16>>,
}

/// A small HTTP/1.1 server on 127.0.0.1 that records every request.
pub struct Receiver {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        Self::on(TcpListener::bind("127.0.0.1:0").await.expect("bind")).await
    }

    pub async fn on(listener: TcpListener) -> Receiver {
        let addr = listener.local_addr().expect("addr");
        let shared = Arc::new(Shared::default());
        let serving = Arc::clone(&shared);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, Arc::clone(&serving)));
            }
        });
        Receiver { addr, shared }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Answers the next requests with these statuses (then 200).
    pub fn answer(&self, statuses: &[u16]) {
        self.shared.plan.lock().expect("lock").extend(statuses);
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().expect("lock").clone()
    }

    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let received = self.received();
            if received.len() >= n {
                return received;
            }
            assert!(
                Instant::now() < deadline,
                "expected {n} requests at {} within {timeout:?}, got {}",
                self.addr,
                received.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn serve(mut stream: TcpStream, shared: Arc<Shared>) {
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    };
    let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let method = request_line.next().unwrap_or_default().to_owned();
    let path = request_line.next().unwrap_or_default().to_owned();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut body = data[head_end + 4..].to_vec();
    while body.len() < length {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => body.extend_from_slice(&buf[..n]),
        }
    }
    let status = shared.plan.lock().expect("lock").pop_front().unwrap_or(200);
    shared.received.lock().expect("lock").push(Received {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let answer = format!("HTTP/1.1 {status} Whatever\r\nContent-Length: 7\r\nConnection: close\r\n\r\nanswer!");
    let _ = stream.write_all(answer.as_bytes()).await;
    let _ = stream.shutdown().await;
}

pub const SECRET: &str = "test-secret-0123456789";

/// HMAC-SHA256 computed here, independently of the app's code.
pub fn expected_signature(secret: &str, timestamp: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(format!("{timestamp}.{body}").as_bytes());
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

fn assert_signed(r: &Received, secret: &str) {
    let timestamp = r.header("x-firebreak-timestamp");
    let sent: i64 = timestamp.parse().expect("a unix timestamp");
    let now = chrono::Utc::now().timestamp();
    assert!((now - 60..=now + 1).contains(&sent), "timestamp {sent} is recent");
    assert_eq!(r.header("x-firebreak-signature"), expected_signature(secret, timestamp, &r.body));
    assert_ne!(r.header("x-firebreak-signature"), expected_signature("another secret!!", timestamp, &r.body));
}

/// Registers a webhook through the admin form; returns its id.
pub async fn add_webhook(
    admin: &Browser,
    name: &str,
    url: &str,
    secret: &str,
    events: &[&str],
    format: &str,
) -> String {
    let mut fields = vec![("name", name), ("url", url), ("secret", secret), ("format", format)];
    fields.extend(events.iter().map(|e| ("events", *e)));
    let response = admin.submit("/admin/webhooks", "/admin/webhooks", &fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "adding the webhook should work");
    location(&response).trim_start_matches("/admin/webhooks/").to_owned()
}

/// Polls the database until `sql` (a count) reaches `n`.
async fn wait_count(app: &TestApp, sql: &str, n: i64) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let got = app.count(sql).await;
        if got >= n {
            return;
        }
        assert!(Instant::now() < deadline, "{sql}: expected {n}, got {got}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_declared_incident_reaches_the_receiver_signed_and_only_for_chosen_events() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    add_webhook(
        &admin,
        "Bridge",
        &receiver.url("/hooks/in?x=1"),
        SECRET,
        &["incident_declared", "status_changed"],
        "json",
    )
    .await;
    let (responder, _) = app.signed_in(Role::Responder).await;
    let id = declare(&responder, &[("title", "Checkout errors"), ("severity", "2")]).await;

    let got = receiver.wait_for(1, Duration::from_secs(10)).await;
    let r = &got[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/hooks/in?x=1");
    assert_eq!(r.header("content-type"), "application/json");
    assert_eq!(r.header("user-agent"), "Firebreak-Webhooks");
    assert_eq!(r.header("x-firebreak-event"), "incident_declared");
    assert_signed(r, SECRET);
    let body = r.json();
    assert_eq!(r.header("x-firebreak-delivery"), body["id"].as_str().expect("id"));
    assert_eq!(body["event"], "incident_declared");
    assert!(body["occurred_at"].as_str().is_some_and(|t| t.ends_with('Z')));
    assert_eq!(body["incident"]["id"].to_string(), id);
    assert_eq!(body["incident"]["title"], "Checkout errors");
    assert_eq!(body["incident"]["severity"], "SEV2");
    assert_eq!(body["incident"]["status"], "investigating");
    assert_eq!(body["incident"]["visibility"], "internal");
    assert!(body["incident"]["public_id"].as_str().is_some_and(|p| !p.is_empty()));
    assert_eq!(body["incident"]["url"], format!("http://127.0.0.1/incidents/{id}"));
    assert!(body["incident"]["declared_at"].is_string());

    // Not chosen: no delivery at all. Chosen: delivered with its data.
    let room = format!("/incidents/{id}");
    responder.submit(&room, &format!("{room}/severity"), &[("severity", "1")]).await;
    assert_eq!(app.count("SELECT count(*) AS n FROM webhook_deliveries WHERE event = 'severity_changed'").await, 0);
    responder.submit(&room, &format!("{room}/status"), &[("status", "identified")]).await;
    let got = receiver.wait_for(2, Duration::from_secs(10)).await;
    let body = got[1].json();
    assert_eq!(got[1].header("x-firebreak-event"), "status_changed");
    assert_eq!(body["data"], serde_json::json!({"from": "investigating", "to": "identified"}));
    assert_eq!(body["incident"]["severity"], "SEV1");
    assert_signed(&got[1], SECRET);

    wait_count(&app, "SELECT count(*) AS n FROM webhook_deliveries WHERE status = 'delivered'", 2).await;
    assert_eq!(
        app.count("SELECT count(*) AS n FROM webhook_attempts WHERE status_code = 200 AND error IS NULL").await,
        2,
        "one attempt each, recorded"
    );
    assert_eq!(receiver.received().len(), 2);
}

#[tokio::test]
async fn slack_compatible_webhooks_get_one_line_of_text_and_restricted_incidents_keep_their_secrets() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let json_receiver = Receiver::start().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    add_webhook(&admin, "Chat", &receiver.url("/slack"), "", &["incident_declared"], "slack").await;
    add_webhook(&admin, "Robot", &json_receiver.url("/json"), SECRET, &["incident_declared"], "json").await;
    let id = declare(&admin, &[("title", "Payments <down> & out"), ("severity", "1")]).await;
    let got = receiver.wait_for(1, Duration::from_secs(10)).await;
    let body = got[0].json();
    let text = body["text"].as_str().expect("text");
    assert_eq!(body.as_object().map(|o| o.len()), Some(1), "only text: {body}");
    assert_eq!(
        text,
        format!(
            "[SEV1] Payments &lt;down&gt; &amp; out: incident declared (Investigating) — http://127.0.0.1/incidents/{id}"
        )
    );
    assert!(got[0].header("x-firebreak-signature").starts_with("sha256="), "signed too");

    let secret_id = declare(&admin, &[("title", "Leaked signing keys"), ("restricted", "true")]).await;
    let got = receiver.wait_for(2, Duration::from_secs(10)).await;
    assert!(!got[1].body.contains("Leaked"), "{}", got[1].body);
    assert!(got[1].json()["text"].as_str().is_some_and(|t| t.contains("Restricted incident")));
    let got = json_receiver.wait_for(2, Duration::from_secs(10)).await;
    let body = got[1].json();
    assert_eq!(body["incident"]["id"].to_string(), secret_id);
    assert_eq!(body["incident"]["title"], "Restricted incident");
    assert_eq!(body["incident"]["restricted"], true);
    assert!(!got[1].body.contains("Leaked"));
}

#[tokio::test]
async fn a_failing_receiver_gets_the_delivery_once_it_recovers_with_every_attempt_recorded() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    receiver.answer(&[500, 503]);
    let (admin, _) = app.signed_in(Role::Admin).await;
    let hook = add_webhook(&admin, "Flaky", &receiver.url("/"), SECRET, &["incident_declared"], "json").await;
    declare(&admin, &[("title", "Disk full")]).await;

    let got = receiver.wait_for(3, Duration::from_secs(15)).await;
    let ids: Vec<&str> = got.iter().map(|r| r.header("x-firebreak-delivery")).collect();
    assert!(ids.iter().all(|i| *i == ids[0]), "the same delivery each time: {ids:?}");
    wait_count(&app, "SELECT count(*) AS n FROM webhook_deliveries WHERE status = 'delivered'", 1).await;
    let codes = scalar(&app, "SELECT string_agg(status_code::text, ',' ORDER BY id) AS v FROM webhook_attempts").await;
    assert_eq!(codes, "500,503,200");
    assert_eq!(scalar(&app, "SELECT attempts::text AS v FROM webhook_deliveries").await, "3");
    // Delivered means done: nothing more is sent.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(receiver.received().len(), 3);

    // The log shows it, with the codes and errors.
    let page = admin.page(&format!("/admin/webhooks/{hook}")).await;
    assert!(page.contains("delivered") && page.contains("Incident declared"));
    let delivery = scalar(&app, "SELECT id::text AS v FROM webhook_deliveries").await;
    let detail = admin.page(&format!("/admin/webhooks/{hook}/deliveries/{delivery}")).await;
    assert!(detail.contains("HTTP 500: answer!") && detail.contains("HTTP 503"), "{detail}");
}

#[tokio::test]
async fn a_receiver_that_is_down_gets_the_delivery_when_it_comes_up() {
    let app = spawn_app().await;
    // A port nothing listens on (yet).
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let (admin, _) = app.signed_in(Role::Admin).await;
    add_webhook(&admin, "Later", &format!("http://127.0.0.1:{port}/in"), SECRET, &["incident_declared"], "json").await;
    declare(&admin, &[("title", "Queue stuck")]).await;
    wait_count(
        &app,
        "SELECT count(*) AS n FROM webhook_attempts WHERE status_code IS NULL AND error LIKE 'cannot connect%'",
        1,
    )
    .await;
    assert_eq!(scalar(&app, "SELECT status AS v FROM webhook_deliveries").await, "pending");

    let receiver = Receiver::on(TcpListener::bind(("127.0.0.1", port)).await.expect("rebind the port")).await;
    let got = receiver.wait_for(1, Duration::from_secs(15)).await;
    assert_signed(&got[0], SECRET);
    wait_count(&app, "SELECT count(*) AS n FROM webhook_deliveries WHERE status = 'delivered'", 1).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(receiver.received().len(), 1, "delivered exactly once");
    assert!(app.count("SELECT count(*) AS n FROM webhook_attempts").await >= 2);
}

#[tokio::test]
async fn admins_test_disable_retry_and_delete_webhooks_with_audit_entries() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let (admin, _) = app.signed_in(Role::Admin).await;

    // A generated secret is shown once, in the confirmation.
    let response = admin
        .submit(
            "/admin/webhooks",
            "/admin/webhooks",
            &[("name", "Pager"), ("url", &receiver.url("/p")), ("events", "resolved"), ("format", "json")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let hook = location(&response).trim_start_matches("/admin/webhooks/").to_owned();
    let page = admin.page(&format!("/admin/webhooks/{hook}")).await;
    let start = page.find("whsec_").expect("the generated secret is shown");
    let secret = page[start..start + 70].to_owned();
    assert_eq!(scalar(&app, &format!("SELECT secret AS v FROM webhooks WHERE id = {hook}")).await, secret);
    assert!(!admin.page(&format!("/admin/webhooks/{hook}")).await.contains(&secret), "shown once");
    assert!(admin.page("/admin/webhooks").await.contains("Pager"));

    // Test event, signed with that secret.
    let edit = format!("/admin/webhooks/{hook}");
    let response = admin.submit(&edit, &format!("{edit}/test"), &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let got = receiver.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got[0].header("x-firebreak-event"), "test");
    assert_eq!(got[0].json()["event"], "test");
    assert_signed(&got[0], &secret);

    // A receiver refusing outright (404) fails the delivery at once; retry sends it again.
    receiver.answer(&[404]);
    admin.submit(&edit, &format!("{edit}/test"), &[]).await;
    wait_count(&app, "SELECT count(*) AS n FROM webhook_deliveries WHERE status = 'failed'", 1).await;
    assert_eq!(app.count("SELECT count(*) AS n FROM webhook_attempts WHERE status_code = 404").await, 1);
    let failed = scalar(&app, "SELECT id::text AS v FROM webhook_deliveries WHERE status = 'failed'").await;
    let page = admin.page(&edit).await;
    assert!(page.contains("HTTP 404") && page.contains("Retry"));
    let response = admin.submit(&edit, &format!("{edit}/deliveries/{failed}/retry"), &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    wait_count(
        &app,
        &format!("SELECT count(*) AS n FROM webhook_deliveries WHERE id = {failed} AND status = 'delivered'"),
        1,
    )
    .await;
    assert_eq!(receiver.received().len(), 3);

    // Editing keeps the secret when the field is left empty.
    let response = admin
        .submit(
            &edit,
            &edit,
            &[("name", "Pager 2"), ("url", &receiver.url("/p2")), ("events", "incident_declared"), ("format", "slack")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(scalar(&app, &format!("SELECT secret AS v FROM webhooks WHERE id = {hook}")).await, secret);
    assert_eq!(
        scalar(&app, &format!("SELECT format || ' ' || url AS v FROM webhooks WHERE id = {hook}")).await,
        format!("slack {}", receiver.url("/p2"))
    );

    // Disabled: events are not queued for it.
    admin.submit(&edit, &format!("{edit}/disable"), &[]).await;
    assert!(admin.page(&edit).await.contains("Enable webhook"));
    let before = app.count("SELECT count(*) AS n FROM webhook_deliveries").await;
    declare(&admin, &[("title", "Nobody hears this")]).await;
    assert_eq!(app.count("SELECT count(*) AS n FROM webhook_deliveries").await, before);
    admin.submit(&edit, &format!("{edit}/enable"), &[]).await;
    declare(&admin, &[("title", "Everybody hears this")]).await;
    assert_eq!(app.count("SELECT count(*) AS n FROM webhook_deliveries").await, before + 1);

    // Delete, after a confirmation page.
    admin.page(&format!("{edit}/delete")).await;
    let response = admin.submit(&format!("{edit}/delete"), &format!("{edit}/delete"), &[]).await;
    assert_eq!(location(&response), "/admin/webhooks");
    assert_eq!(app.count("SELECT count(*) AS n FROM webhooks").await, 0);
    assert_eq!(app.count("SELECT count(*) AS n FROM webhook_deliveries").await, 0);

    let actions =
        scalar(&app, "SELECT string_agg(DISTINCT action, ',') AS v FROM audit_log WHERE action LIKE 'webhook.%'").await;
    assert_eq!(
        actions,
        "webhook.add,webhook.delete,webhook.disable,webhook.edit,webhook.enable,webhook.retry,webhook.test"
    );
    let details = scalar(&app, "SELECT string_agg(detail, ' ') AS v FROM audit_log").await;
    assert!(!details.contains(&secret), "the secret never reaches the audit log");
    assert!(!details.contains(&receiver.url("/p")), "nor a URL's path, where some receivers keep theirs: {details}");
}

#[tokio::test]
async fn bad_input_is_refused_with_the_values_kept_and_nothing_written() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let response = admin
        .submit(
            "/admin/webhooks",
            "/admin/webhooks",
            &[("name", "Chat room"), ("url", "ftp://files.example.com/in"), ("secret", "short"), ("format", "json")],
        )
        .await;
    let page = html_of(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(page.contains("value=\"Chat room\"") && page.contains("value=\"ftp://files.example.com/in\""));
    assert!(page.contains("Use an https:// (or http://) URL."));
    assert!(page.contains("Choose at least one event."));
    assert!(page.contains("Use at least 16 characters"));
    assert!(page.contains("aria-describedby=\"url-error\""));
    assert!(!page.contains("value=\"short\""), "a refused secret is not sent back");
    let response = admin
        .submit("/admin/webhooks", "/admin/webhooks", &[("name", "x"), ("url", "not a url"), ("events", "resolved")])
        .await;
    let page = html_of(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(page.contains("Enter a full URL"));
    assert_eq!(app.count("SELECT count(*) AS n FROM webhooks").await, 0);

    // The same on the edit page.
    let receiver = Receiver::start().await;
    let hook = add_webhook(&admin, "Good", &receiver.url("/"), SECRET, &["resolved"], "json").await;
    let edit = format!("/admin/webhooks/{hook}");
    let response = admin
        .submit(&edit, &edit, &[("name", "Renamed"), ("url", "https://"), ("events", "resolved"), ("format", "json")])
        .await;
    let page = html_of(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(page.contains("value=\"Renamed\""));
    assert_eq!(scalar(&app, &format!("SELECT name AS v FROM webhooks WHERE id = {hook}")).await, "Good");
}

#[tokio::test]
async fn only_admins_see_or_change_webhooks() {
    let app = spawn_app().await;
    exec(&app, "INSERT INTO webhooks (name, url, secret, events) VALUES ('W', 'http://127.0.0.1:9/', 'sixteen-chars-secret', '{resolved}')").await;
    let id = scalar(&app, "SELECT id::text AS v FROM webhooks").await;
    let (responder, _) = app.signed_in(Role::Responder).await;
    assert_eq!(responder.get("/admin/webhooks").await.status(), StatusCode::FORBIDDEN);
    assert_eq!(responder.get(&format!("/admin/webhooks/{id}")).await.status(), StatusCode::FORBIDDEN);
    let token = crate::helpers::csrf_token(&responder.page("/incidents/new").await);
    for path in [
        "/admin/webhooks".to_owned(),
        format!("/admin/webhooks/{id}/test"),
        format!("/admin/webhooks/{id}/disable"),
        format!("/admin/webhooks/{id}/delete"),
    ] {
        let response = responder
            .post_raw(
                &path,
                &[("csrf_token", &token), ("name", "Mine"), ("url", "http://127.0.0.1:9/"), ("events", "resolved")],
            )
            .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(app.count("SELECT count(*) AS n FROM webhooks WHERE enabled").await, 1);
    assert_eq!(app.count("SELECT count(*) AS n FROM webhook_deliveries").await, 0);
    let anonymous = app.browser();
    assert_ne!(anonymous.get("/admin/webhooks").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_delivery_log_forgets_finished_deliveries_after_30_days_but_never_pending_ones() {
    let app = spawn_app().await;
    let hook = scalar(
        &app,
        "INSERT INTO webhooks (name, url, secret, events) VALUES ('Chat', 'http://127.0.0.1:9/hook', \
         'a-secret-of-sixteen', '{incident_declared}') RETURNING id::text AS v",
    )
    .await;
    for (n, status, age) in
        [(1, "delivered", 31), (2, "failed", 31), (3, "pending", 31), (4, "delivered", 29), (5, "failed", 1)]
    {
        // One statement: the app's own retention job may run at any moment
        // and must never see a delivery without its attempt.
        exec(
            &app,
            &format!(
                "WITH d AS (INSERT INTO webhook_deliveries (webhook_id, delivery_id, event, body, status, \
                 created_at, next_attempt_at) VALUES ({hook}, 'd{n}', 'incident_declared', '{{}}', '{status}', \
                 now() - interval '{age} days', now() + interval '1 day') RETURNING id) \
                 INSERT INTO webhook_attempts (delivery_id, status_code) SELECT id, 200 FROM d"
            ),
        )
        .await;
    }
    // The app's start-up prune may already have run; either way, after this
    // call only the old finished deliveries are gone.
    firebreak::services::webhooks::delete_old_deliveries(&app.pool, chrono::Utc::now()).await.expect("prune");
    let left =
        scalar(&app, "SELECT string_agg(delivery_id, ',' ORDER BY delivery_id) AS v FROM webhook_deliveries").await;
    assert_eq!(left, "d3,d4,d5", "a pending delivery stays whatever its age");
    assert_eq!(app.count("SELECT count(*) AS n FROM webhook_attempts").await, 3, "attempts go with their delivery");
}
