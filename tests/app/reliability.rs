//! What happens when the database or the mail server goes away: the one
//! database listener reconnects (quickly, every time) and tells everyone to
//! catch up; signed-in pages answer 503 instead of hanging; the status page
//! says it may be out of date; start-up waits for the database.

use std::time::{Duration, Instant};

use diesel::QueryableByName;
use diesel::sql_types::Integer;
use futures_util::StreamExt;
use reqwest::StatusCode;

use crate::api::create_token;
use crate::db_proxy::DbProxy;
use crate::helpers::{TestApp, create_database, drop_database, location, spawn_app, spawn_app_with};
use firebreak::domain::Role;

#[derive(QueryableByName)]
struct Pid {
    #[diesel(sql_type = Integer)]
    pid: i32,
}

/// The backend pid of the app's database listener, once it is connected.
async fn listener_pid(app: &TestApp) -> Option<i32> {
    let mut conn = app.pool.get().await.expect("conn");
    let sql = "SELECT pid FROM pg_stat_activity WHERE application_name = 'firebreak_listener' \
               AND datname = current_database() ORDER BY backend_start DESC LIMIT 1";
    diesel_async::RunQueryDsl::get_result::<Pid>(diesel::sql_query(sql), &mut conn).await.ok().map(|p| p.pid)
}

/// Waits until the listener is connected with a pid other than `old`.
async fn wait_for_listener(app: &TestApp, old: Option<i32>, within: Duration) -> i32 {
    let deadline = Instant::now() + within;
    loop {
        match listener_pid(app).await {
            Some(pid) if Some(pid) != old => return pid,
            _ if Instant::now() > deadline => panic!("the listener did not (re)connect within {within:?}"),
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// Ends the listener's connection from the server side, as a restart of PostgreSQL would.
async fn cut_listener(app: &TestApp, pid: i32) {
    let mut conn = app.pool.get().await.expect("conn");
    diesel_async::RunQueryDsl::execute(diesel::sql_query(format!("SELECT pg_terminate_backend({pid})")), &mut conn)
        .await
        .expect("terminate the listener's backend");
}

#[tokio::test]
async fn the_database_listener_reconnects_quickly_after_every_cut() {
    let app = spawn_app().await;
    let mut pid = wait_for_listener(&app, None, Duration::from_secs(5)).await;
    // A backoff that never resets would wait 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5, 5 s by the eighth cut.
    for cut in 1..=8 {
        cut_listener(&app, pid).await;
        let started = Instant::now();
        pid = wait_for_listener(&app, Some(pid), Duration::from_secs(10)).await;
        let took = started.elapsed();
        assert!(took < Duration::from_millis(2500), "reconnecting after cut {cut} took {took:?}");
    }
}

#[tokio::test]
async fn an_open_room_is_told_to_catch_up_after_the_listener_reconnects() {
    let app = spawn_app().await;
    let (lead, _) = app.signed_in(Role::Responder).await;
    let response = lead.submit("/incidents/new", "/incidents", &[("title", "Quiet room")]).await;
    let room = location(&response);
    let pid = wait_for_listener(&app, None, Duration::from_secs(5)).await;

    let response = lead.get(&format!("{room}/events")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut stream = response.bytes_stream();
    stream.next().await.expect("a first chunk").expect("bytes");

    // Nothing changes in the room: the only reason for a `change` is the reconnect.
    cut_listener(&app, pid).await;
    let told = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(chunk) = stream.next().await {
            if String::from_utf8_lossy(&chunk.expect("bytes")).contains("event: change") {
                return true;
            }
        }
        false
    })
    .await
    .expect("a change event within 5 seconds of the reconnect");
    assert!(told);
}

/// Asks for `path` until `ready` accepts the answer, for at most `within`; returns the answer and how long it took.
async fn poll_until(
    client: &reqwest::Client,
    url: &str,
    within: Duration,
    ready: impl Fn(StatusCode, &str) -> bool,
) -> (StatusCode, String, Duration) {
    let started = Instant::now();
    loop {
        if let Ok(Ok(response)) = tokio::time::timeout(within, client.get(url).send()).await {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            if ready(status, &body) {
                return (status, body, started.elapsed());
            }
        }
        assert!(started.elapsed() < within, "{url} did not give the expected answer within {within:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Signed-in pages and the API while the database is away, then back.
async fn pages_answer_503_while(take_away: impl Fn(&DbProxy), limit: Duration) {
    let proxy = DbProxy::start().await;
    let app = spawn_app_with(|s| proxy.route(s)).await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let token = create_token(&admin, "outage probe", "viewer").await;
    assert_eq!(admin.get("/incidents").await.status(), StatusCode::OK);

    take_away(&proxy);
    let started = Instant::now();
    let response = tokio::time::timeout(limit, admin.get("/incidents")).await.expect("a page, not a hang");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "a page after {:?}", started.elapsed());
    assert_eq!(response.headers()["retry-after"], "5");
    let html = response.text().await.expect("body");
    assert!(html.contains("<h1>The database is unreachable</h1>"), "{html}");
    assert!(html.contains("keeps retrying"));

    let api = reqwest::Client::new().get(format!("{}/api/v1/incidents", app.address)).bearer_auth(&token).send();
    let response = tokio::time::timeout(limit, api).await.expect("an API answer, not a hang").expect("GET");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: serde_json::Value = response.json().await.expect("JSON");
    assert!(body["error"].as_str().expect("error").contains("database is unreachable"), "{body}");

    proxy.restore();
    poll_until(&admin.client, &format!("{}/incidents", app.address), Duration::from_secs(20), |status, _| {
        status == StatusCode::OK
    })
    .await;
}

#[tokio::test]
async fn signed_in_pages_and_the_api_answer_503_while_the_database_is_down() {
    pages_answer_503_while(DbProxy::cut, Duration::from_secs(10)).await;
}

#[tokio::test]
async fn signed_in_pages_and_the_api_answer_503_rather_than_hang_while_the_database_is_frozen() {
    pages_answer_503_while(DbProxy::freeze, Duration::from_secs(15)).await;
}

#[tokio::test]
async fn the_status_json_and_feeds_say_they_may_be_stale_within_five_seconds_of_a_freeze() {
    let proxy = DbProxy::start().await;
    let app = spawn_app_with(|s| proxy.route(s)).await;
    let client = reqwest::Client::new();
    let status_json = format!("{}/api/v2/status.json", app.address);
    let fresh = |_: StatusCode, body: &str| body.contains("\"stale\":false");
    poll_until(&client, &status_json, Duration::from_secs(10), fresh).await;
    wait_for_listener(&app, None, Duration::from_secs(5)).await;

    proxy.freeze();
    let stale = |_: StatusCode, body: &str| body.contains("\"stale\":true");
    let (status, body, took) = poll_until(&client, &status_json, Duration::from_secs(10), stale).await;
    assert_eq!(status, StatusCode::OK, "the last snapshot is still served");
    assert!(took < Duration::from_secs(5), "marked stale only after {took:?}");
    let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert!(json["page"]["data_as_of"].as_str().is_some_and(|t| t.ends_with('Z')), "{json}");
    let atom = client.get(format!("{}/status/feed.atom", app.address)).send().await.expect("GET");
    assert!(atom.text().await.expect("atom").contains("<subtitle>This feed may be out of date"));
    let rss = client.get(format!("{}/status/feed.rss", app.address)).send().await.expect("GET");
    assert!(rss.text().await.expect("rss").contains("This feed may be out of date"));
    let page = client.get(format!("{}/status", app.address)).send().await.expect("GET");
    assert!(page.text().await.expect("page").contains("This page may be out of date"));

    proxy.restore();
    poll_until(&client, &status_json, Duration::from_secs(15), fresh).await;
}

/// Runs the binary in the background, collecting its output lines.
struct Running {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    fn start(database_url: &str, patience_secs: &str) -> Running {
        Self::start_with(database_url, patience_secs, &[])
    }

    fn start_with(database_url: &str, patience_secs: &str, env: &[(&str, &str)]) -> Running {
        use std::io::BufRead;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_firebreak"))
            .envs(env.iter().copied())
            .env("DATABASE_URL", database_url)
            .env("DB_START_TIMEOUT_SECS", patience_secs)
            .env("BIND", "127.0.0.1:0")
            .env("MAIL_DIR", std::env::temp_dir().join("firebreak-test-mail").join(uuid::Uuid::new_v4().to_string()))
            .env("RUST_LOG", "info")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start firebreak");
        let (tx, lines) = std::sync::mpsc::channel();
        let out = child.stdout.take().expect("stdout");
        let err = child.stderr.take().expect("stderr");
        let tx2 = tx.clone();
        std::thread::spawn(move || {
            std::io::BufReader::new(out).lines().map_while(Result::ok).for_each(|l| drop(tx.send(l)))
        });
        std::thread::spawn(move || {
            std::io::BufReader::new(err).lines().map_while(Result::ok).for_each(|l| drop(tx2.send(l)))
        });
        Running { child, lines, seen: Vec::new() }
    }

    /// Waits for a line containing `text`; false if the process ends first or time runs out.
    fn wait_for_line(&mut self, text: &str, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let found = line.contains(text);
                    self.seen.push(line);
                    if found {
                        return true;
                    }
                }
                Err(_) => return false,
            }
        }
        false
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn start_up_keeps_trying_while_the_database_is_down_and_serves_once_it_is_up() {
    let proxy = DbProxy::start().await;
    let (name, url) = create_database(true);
    proxy.cut();
    let mut app = tokio::task::spawn_blocking({
        let url = proxy.url_for(&url);
        move || {
            let mut app = Running::start(&url, "60");
            let waiting = app.wait_for_line("waiting for the database", Duration::from_secs(10));
            assert!(waiting, "a clear log line while waiting: {:#?}", app.seen);
            app
        }
    })
    .await
    .expect("join");
    proxy.restore();
    let app = tokio::task::spawn_blocking(move || {
        let listening = app.wait_for_line("Firebreak is listening", Duration::from_secs(20));
        assert!(listening, "it starts once the database answers: {:#?}", app.seen);
        assert!(app.child.try_wait().expect("status").is_none(), "still running");
        app
    })
    .await
    .expect("join");
    drop(app);
    drop_database(&name);
}

#[test]
fn start_up_gives_up_with_a_failure_status_after_the_configured_time() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let started = Instant::now();
    let mut app = Running::start(&format!("postgres://postgres@127.0.0.1:{port}/nowhere"), "2");
    assert!(app.wait_for_line("waiting for the database", Duration::from_secs(10)), "{:#?}", app.seen);
    let status = app.child.wait().expect("exit status");
    let took = started.elapsed();
    while let Ok(line) = app.lines.recv_timeout(Duration::from_millis(500)) {
        app.seen.push(line);
    }
    assert!(!status.success(), "exits with a failure status");
    assert!(took >= Duration::from_secs(2) && took < Duration::from_secs(15), "gave up after {took:?}");
    assert!(app.seen.iter().any(|l| l.contains("did not answer within 2 s")), "{:#?}", app.seen);
}

#[tokio::test]
async fn an_smtp_outage_is_logged_once_not_once_per_email() {
    let (name, url) = create_database(true);
    // A port nothing listens on: every attempt fails at once.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    {
        let pool = firebreak::db::build_pool(&url, 1).expect("pool");
        let mut conn = pool.get().await.expect("conn");
        let messages: Vec<_> = (0..10)
            .map(|i| firebreak::db::outbox::NewMessage {
                message_id: firebreak::db::outbox::new_message_id("test@example.test"),
                kind: "test".to_owned(),
                to_address: format!("person{i}@example.test"),
                to_name: format!("Person {i}"),
                subject: "Outage".to_owned(),
                text_body: "Hello".to_owned(),
                html_body: "<p>Hello</p>".to_owned(),
                list_unsubscribe: None,
                calendar: None,
                calendar_method: None,
                incident_id: None,
            })
            .collect();
        firebreak::db::outbox::enqueue(&mut conn, &messages).await.expect("queue mail");
    }
    let smtp = format!("smtp://127.0.0.1:{port}");
    let mut app = tokio::task::spawn_blocking(move || {
        let env = [("SMTP_URL", smtp.as_str()), ("MAIL_RETRY_BASE_SECS", "0.05")];
        let mut app = Running::start_with(&url, "10", &env);
        assert!(app.wait_for_line("Firebreak is listening", Duration::from_secs(20)), "{:#?}", app.seen);
        app
    })
    .await
    .expect("join");
    // Every message is tried at least twice.
    let pool = firebreak::db::build_pool(&format!("{}/{name}", crate::helpers::server_url()), 1).expect("pool");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut conn = pool.get().await.expect("conn");
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let sql = "SELECT count(*) AS n FROM outbox_attempts WHERE error IS NOT NULL";
        let n = diesel_async::RunQueryDsl::get_result::<N>(diesel::sql_query(sql), &mut conn).await.expect("count").n;
        if n >= 20 {
            break;
        }
        assert!(Instant::now() < deadline, "only {n} attempts");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let app = tokio::task::spawn_blocking(move || {
        app.wait_for_line("no such line", Duration::from_millis(500));
        app
    })
    .await
    .expect("join");
    let outage_lines = app.seen.iter().filter(|l| l.contains("cannot deliver email")).count();
    let per_email = app.seen.iter().filter(|l| l.contains("WARN") && l.contains("email not delivered")).count();
    assert_eq!((outage_lines, per_email), (1, 0), "{:#?}", app.seen);
    drop(app);
    drop(pool);
    drop_database(&name);
}
