//! What happens when the database or the mail server goes away: the one
//! database listener reconnects (quickly, every time) and tells everyone to
//! catch up; signed-in pages answer 503 instead of hanging; the status page
//! says it may be out of date; start-up waits for the database.

use std::time::{Duration, Instant};

use diesel::QueryableByName;
use diesel::sql_types::Integer;
use futures_util::StreamExt;
use reqwest::StatusCode;

use crate::helpers::{TestApp, location, spawn_app};
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
    // A backoff that never resets would wait 0.1, 0.2, 0.4, 0.8, 1.6, 3.2 s... by the sixth cut.
    for cut in 1..=6 {
        cut_listener(&app, pid).await;
        let started = Instant::now();
        pid = wait_for_listener(&app, Some(pid), Duration::from_secs(10)).await;
        let took = started.elapsed();
        assert!(took < Duration::from_millis(1500), "reconnecting after cut {cut} took {took:?}");
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
