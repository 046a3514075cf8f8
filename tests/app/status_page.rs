//! The public status page, its feeds and the Statuspage v2-compatible JSON API.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text};
use firebreak::db::component_status::{self, Cause};
use firebreak::db::{ComponentId, IncidentId, UpdateId};
use firebreak::domain::Role;
use firebreak::domain::status::ComponentStatus;
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::helpers::{TestApp, assert_valid_html, spawn_app, spawn_app_with};

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    public_id: String,
}

async fn exec(app: &TestApp, sql: &str) {
    let mut conn = app.pool.get().await.expect("conn");
    diesel_async::RunQueryDsl::execute(diesel::sql_query(sql), &mut conn).await.expect("sql");
}

/// Runs an INSERT ... RETURNING id, public_id.
async fn insert(app: &TestApp, sql: &str) -> Row {
    let mut conn = app.pool.get().await.expect("conn");
    diesel_async::RunQueryDsl::get_result(diesel::sql_query(sql), &mut conn).await.expect("insert")
}

async fn component(app: &TestApp, name: &str, group: &str, position: i32, days_old: i32) -> Row {
    insert(
        app,
        &format!(
            "INSERT INTO components (name, description, group_name, position, created_at, updated_at) \
             VALUES ('{name}', 'The {name} service', '{group}', {position}, now() - interval '{days_old} days', \
             now() - interval '{days_old} days') RETURNING id, public_id"
        ),
    )
    .await
}

async fn incident(
    app: &TestApp,
    user: i64,
    title: &str,
    visibility: &str,
    status: &str,
    severity: i16,
    hours_ago: i32,
) -> Row {
    insert(
        app,
        &format!(
            "INSERT INTO incidents (title, kind, severity, status, detection_source, visibility, impact_started_at, \
             detected_at, declared_at, declared_by, resolved_at) \
             VALUES ('{title}', 'outage', {severity}, '{status}', 'alert', '{visibility}', \
             now() - interval '{hours_ago} hours', now() - interval '{hours_ago} hours', \
             now() - interval '{hours_ago} hours', {user}, \
             CASE WHEN '{status}' IN ('resolved', 'closed') THEN now() - interval '1 hour' END) \
             RETURNING id, public_id"
        ),
    )
    .await
}

async fn update(app: &TestApp, incident: &Row, status: &str, audience: &str, body: &str, minutes_ago: i32) -> Row {
    insert(
        app,
        &format!(
            "INSERT INTO incident_updates (incident_id, status, audience, impact_started_at, subject, body, created_at) \
             VALUES ({}, '{status}', '{audience}', now() - interval '2 hours', '{status}', '{body}', \
             now() - interval '{minutes_ago} minutes') RETURNING id, public_id",
            incident.id
        ),
    )
    .await
}

async fn link(app: &TestApp, incident: &Row, component: &Row) {
    exec(
        app,
        &format!(
            "INSERT INTO incident_components (incident_id, component_id) VALUES ({}, {})",
            incident.id, component.id
        ),
    )
    .await;
}

async fn set_status(app: &TestApp, component: &Row, status: ComponentStatus, cause: Cause, minutes_ago: i64) {
    let mut conn = app.pool.get().await.expect("conn");
    let at = Utc::now() - chrono::Duration::minutes(minutes_ago);
    component_status::set(&mut conn, ComponentId(component.id), status, cause, at).await.expect("set status");
}

/// Tells the status page to rebuild, as the app's own writers do.
async fn notify(app: &TestApp) {
    exec(app, "SELECT pg_notify('firebreak_status', '')").await;
}

async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    reqwest::Client::new().get(format!("{}{path}", app.address)).send().await.expect("GET")
}

async fn json(app: &TestApp, path: &str) -> Value {
    let response = get(app, path).await;
    assert_eq!(response.status(), StatusCode::OK, "GET {path}");
    assert_eq!(
        response.headers().get("access-control-allow-origin").and_then(|v| v.to_str().ok()),
        Some("*"),
        "{path} is readable cross-origin"
    );
    response.json().await.expect("JSON")
}

/// Polls `path` until its body satisfies `done` (the snapshot rebuilds in the background).
async fn wait_for(app: &TestApp, path: &str, what: &str, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let response = get(app, path).await;
        let status = response.status();
        let body = response.text().await.expect("body");
        if status == StatusCode::OK && done(&body) {
            return body;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {path} to show {what}; last ({status}):\n{body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

struct Seeded {
    api: Row,
    checkout: Row,
    public: Row,
    resolved: Row,
    internal: Row,
    restricted: Row,
    unpublished: Row,
    first_update: Row,
    latest_update: Row,
    maintenance: Row,
    ongoing: Row,
}

const SECRET_WORDS: [&str; 6] =
    ["Payroll leak", "internal-only", "Breach in vault", "restricted-only", "Not yet announced", "draft-only"];

/// Two components in a group and one alone, a public incident with two public
/// updates and an internal one, a resolved public incident, an internal, a
/// restricted and a not-yet-announced incident, an upcoming maintenance, one in
/// progress and a cancelled one.
async fn seed(app: &TestApp) -> Seeded {
    let user = app.create_user(Role::Admin).await;
    let api = component(app, "API", "", 1, 120).await;
    let checkout = component(app, "Checkout", "Shop", 2, 120).await;
    let _cart = component(app, "Cart", "Shop", 3, 10).await;

    let public = incident(app, user.id.0, "Checkout errors", "public", "identified", 2, 2).await;
    link(app, &public, &checkout).await;
    let first_update =
        update(app, &public, "investigating", "public", "We are looking into failed payments.", 90).await;
    update(app, &public, "investigating", "internal", "internal-only note about the root cause", 80).await;
    let latest_update =
        update(app, &public, "identified", "both", "The cause is a bad deploy.\nA rollback is under way.", 30).await;
    set_status(
        app,
        &checkout,
        ComponentStatus::PartialOutage,
        Cause { incident: Some(IncidentId(public.id)), update: Some(UpdateId(latest_update.id)), ..Cause::default() },
        30,
    )
    .await;

    let resolved = incident(app, user.id.0, "Slow searches", "public", "closed", 3, 5).await;
    update(app, &resolved, "resolved", "public", "Searches are fast again.", 60).await;

    let internal = incident(app, user.id.0, "Payroll leak", "internal", "investigating", 1, 1).await;
    update(app, &internal, "investigating", "both", "internal-only incident text", 20).await;
    let restricted = incident(app, user.id.0, "Breach in vault", "restricted", "investigating", 1, 1).await;
    update(app, &restricted, "investigating", "public", "restricted-only incident text", 20).await;
    let unpublished = incident(app, user.id.0, "Not yet announced", "public", "investigating", 2, 1).await;
    update(app, &unpublished, "investigating", "internal", "draft-only words", 20).await;

    let maintenance = insert(
        app,
        "INSERT INTO maintenances (title, message, starts_at, ends_at) VALUES ('Database upgrade', \
         'We upgrade the database.', now() + interval '1 day', now() + interval '1 day 2 hours') RETURNING id, public_id",
    )
    .await;
    exec(
        app,
        &format!(
            "INSERT INTO maintenance_components (maintenance_id, component_id) VALUES ({}, {})",
            maintenance.id, api.id
        ),
    )
    .await;
    // One whose window is open now (the status job has not moved it yet) and a cancelled one.
    let ongoing = insert(
        app,
        "INSERT INTO maintenances (title, message, starts_at, ends_at) VALUES ('Cache flush', '', \
         now() - interval '10 minutes', now() + interval '1 hour') RETURNING id, public_id",
    )
    .await;
    exec(
        app,
        "INSERT INTO maintenances (title, message, starts_at, ends_at, status) VALUES ('Cancelled work', '', \
         now() + interval '1 hour', now() + interval '2 hours', 'cancelled')",
    )
    .await;
    notify(app).await;
    // Wait for a snapshot that holds the last rows seeded (an earlier rebuild may
    // have caught the scene half written).
    wait_for(app, "/status", "the seeded scene", |b| {
        b.contains("Database upgrade") && b.contains("Slow searches") && b.contains("Cache flush")
    })
    .await;
    Seeded {
        api,
        checkout,
        public,
        resolved,
        internal,
        restricted,
        unpublished,
        first_update,
        latest_update,
        maintenance,
        ongoing,
    }
}

fn assert_no_secrets(what: &str, body: &str, s: &Seeded) {
    for word in SECRET_WORDS {
        assert!(!body.contains(word), "{what} shows {word:?}");
    }
    for id in [&s.internal.public_id, &s.restricted.public_id, &s.unpublished.public_id] {
        assert!(!body.contains(id.as_str()), "{what} shows a private incident's id {id}");
    }
}

const API_PATHS: [&str; 8] = [
    "/api/v2/summary.json",
    "/api/v2/status.json",
    "/api/v2/components.json",
    "/api/v2/incidents.json",
    "/api/v2/incidents/unresolved.json",
    "/api/v2/scheduled-maintenances.json",
    "/api/v2/scheduled-maintenances/upcoming.json",
    "/api/v2/scheduled-maintenances/active.json",
];

#[tokio::test]
async fn the_status_page_shows_components_and_public_incidents_with_updates_newest_first() {
    let app = spawn_app().await;
    let s = seed(&app).await;
    let browser = app.browser();
    let html = browser.page("/status").await;

    assert!(html.contains("Partial System Outage"), "the banner follows the worst component");
    assert!(html.contains("class=\"banner banner-partial\""));
    assert!(html.contains(&format!("id=\"component-{}\"", s.api.public_id)));
    assert!(html.contains("Shop") && html.contains("Cart"), "groups and their members");
    assert!(html.contains("Partial outage") && html.contains("Operational"));

    let active = &html[html.find("Active incidents").expect("active incidents")..];
    let newer = active.find("The cause is a bad deploy.<br>A rollback is under way.").expect("line breaks kept");
    let older = active.find("We are looking into failed payments.").expect("the first update");
    assert!(newer < older, "updates are newest first");
    assert!(active.contains(&format!("href=\"/status/incidents/{}\"", s.public.public_id)));
    assert!(html.contains("<time datetime=\""), "times are machine-readable");

    let past = &html[html.find("Past incidents").expect("past incidents")..];
    assert!(past.contains("Slow searches") && past.contains("Resolved"), "closed incidents show as resolved");
    assert!(html.contains("Database upgrade") && html.contains("Scheduled maintenance"));
    assert!(html.contains("Maintenance in progress") && html.contains("Cache flush"));
    assert!(!html.contains("Cancelled work"), "cancelled maintenance is not shown");

    // The subscribe form the lead's handler reads.
    assert!(html.contains("<form class=\"subscribe\" method=\"post\" action=\"/status/subscribe\">"));
    assert!(html.contains("type=\"email\" name=\"email\""));
    assert!(html.contains("name=\"scope\" value=\"all\" checked") && html.contains("name=\"scope\" value=\"chosen\""));
    assert!(html.contains(&format!("name=\"components\" value=\"{}\"", s.checkout.public_id)));
    assert!(html.contains("Subscribe to updates</button>"));
    assert!(!html.contains("csrf_token"), "one page for everybody: no per-visitor token");
    assert!(!html.contains("Sign out") && !html.contains("/admin/"), "no application navigation");

    let page = browser.page(&format!("/status/incidents/{}", s.public.public_id)).await;
    assert!(page.contains("Checkout errors") && page.contains("Affects Checkout"));
    assert!(page.find("The cause is a bad deploy.").expect("latest") < page.find("failed payments").expect("first"));
    assert!(!page.contains("internal-only"), "internal updates of a public incident stay internal");
    assert!(browser.page(&format!("/status/incidents/{}", s.resolved.public_id)).await.contains("Searches are fast"));

    let history = browser.page("/status/history").await;
    assert!(history.contains("Checkout errors") && history.contains("Slow searches"));
    assert!(history.contains("Page 1 of 1"));
    let beyond = get(&app, "/status/history?page=7").await;
    assert_eq!(beyond.status(), StatusCode::NOT_FOUND, "no such page of history");
}

#[tokio::test]
async fn internal_restricted_and_unannounced_incidents_appear_nowhere_public() {
    let app = spawn_app().await;
    let s = seed(&app).await;
    let html = get(&app, "/status").await.text().await.expect("body");
    assert_no_secrets("/status", &html, &s);
    assert!(!html.contains("internal-only"), "internal updates of public incidents stay internal");
    for path in ["/status/history", "/status/feed.atom", "/status/feed.rss"] {
        let body = get(&app, path).await.text().await.expect("body");
        assert_no_secrets(path, &body, &s);
        assert!(!body.contains("internal-only"), "{path}");
    }
    for path in API_PATHS {
        let body = get(&app, path).await.text().await.expect("body");
        assert_no_secrets(path, &body, &s);
        assert!(!body.contains("internal-only"), "{path}");
    }
    let summary = json(&app, "/api/v2/summary.json").await;
    assert_eq!(summary["incidents"].as_array().map(Vec::len), Some(1), "only the public active incident");
    let all = json(&app, "/api/v2/incidents.json").await;
    assert_eq!(all["incidents"].as_array().map(Vec::len), Some(2), "public ones only, not even counted otherwise");
    for id in [&s.internal.public_id, &s.restricted.public_id, &s.unpublished.public_id, &"nope".to_owned()] {
        let response = get(&app, &format!("/status/incidents/{id}")).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{id}");
        let body = response.text().await.expect("body");
        assert_valid_html("not found", &body).await;
        assert_no_secrets("the 404 page", &body, &s);
    }
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

/// Statuspage's five, plus ours: `stale` and `data_as_of` (clients ignore fields they do not know).
const PAGE: [&str; 7] = ["id", "name", "url", "time_zone", "updated_at", "stale", "data_as_of"];
const COMPONENT: [&str; 13] = [
    "id",
    "name",
    "status",
    "created_at",
    "updated_at",
    "position",
    "description",
    "showcase",
    "start_date",
    "group_id",
    "page_id",
    "group",
    "only_show_if_degraded",
];
const INCIDENT: [&str; 13] = [
    "id",
    "name",
    "status",
    "created_at",
    "updated_at",
    "monitoring_at",
    "resolved_at",
    "impact",
    "shortlink",
    "started_at",
    "page_id",
    "incident_updates",
    "components",
];
const UPDATE: [&str; 11] = [
    "id",
    "status",
    "body",
    "incident_id",
    "created_at",
    "updated_at",
    "display_at",
    "affected_components",
    "deliver_notifications",
    "custom_tweet",
    "tweet_id",
];

fn is_timestamp(v: &Value) -> bool {
    v.as_str().is_some_and(|s| chrono::DateTime::parse_from_rfc3339(s).is_ok())
}

fn check_component(c: &Value) {
    let mut expected = set(&COMPONENT);
    if c["group"] == Value::Bool(true) {
        expected.insert("components".to_owned());
    }
    assert_eq!(keys(c), expected, "component {c}");
    assert!(is_timestamp(&c["created_at"]) && is_timestamp(&c["updated_at"]));
    let statuses = ["operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance"];
    assert!(statuses.contains(&c["status"].as_str().unwrap_or("")), "{c}");
}

fn check_incident(i: &Value, extra: &[&str]) {
    let mut expected = set(&INCIDENT);
    expected.extend(extra.iter().map(|s| (*s).to_owned()));
    assert_eq!(keys(i), expected, "incident {i}");
    for u in i["incident_updates"].as_array().expect("updates") {
        assert_eq!(keys(u), set(&UPDATE), "update {u}");
        assert_eq!(u["incident_id"], i["id"]);
        if let Some(affected) = u["affected_components"].as_array() {
            for a in affected {
                assert_eq!(keys(a), set(&["code", "name", "old_status", "new_status"]));
            }
        } else {
            assert!(u["affected_components"].is_null());
        }
    }
    for c in i["components"].as_array().expect("components") {
        check_component(c);
    }
    assert!(is_timestamp(&i["created_at"]) && is_timestamp(&i["started_at"]));
}

#[tokio::test]
async fn the_json_api_has_statuspage_fields_nesting_and_values() {
    let app = spawn_app().await;
    let s = seed(&app).await;

    let summary = json(&app, "/api/v2/summary.json").await;
    assert_eq!(keys(&summary), set(&["page", "components", "incidents", "scheduled_maintenances", "status"]));
    let page = &summary["page"];
    assert_eq!(keys(page), set(&PAGE));
    assert_eq!(page["name"], "Example");
    assert_eq!(page["url"], "http://127.0.0.1/status");
    assert_eq!(page["time_zone"], "Etc/UTC");
    assert_eq!(page["id"].as_str().map(str::len), Some(12));
    assert_eq!(summary["status"], serde_json::json!({ "indicator": "major", "description": "Partial System Outage" }));

    let components = summary["components"].as_array().expect("components");
    components.iter().for_each(check_component);
    let group = components.iter().find(|c| c["group"] == Value::Bool(true)).expect("the Shop group");
    assert_eq!(group["name"], "Shop");
    assert_eq!(group["status"], "partial_outage", "a group is as bad as its worst member");
    let member_ids: Vec<&str> =
        group["components"].as_array().expect("members").iter().filter_map(Value::as_str).collect();
    assert!(member_ids.contains(&s.checkout.public_id.as_str()));
    let checkout = components.iter().find(|c| c["id"] == s.checkout.public_id.as_str()).expect("checkout");
    assert_eq!(checkout["group_id"], group["id"]);
    assert_eq!(checkout["status"], "partial_outage");
    let api = components.iter().find(|c| c["id"] == s.api.public_id.as_str()).expect("api");
    assert_eq!(api["group_id"], Value::Null);
    assert_eq!(api["description"], "The API service");

    let incidents = summary["incidents"].as_array().expect("incidents");
    assert_eq!(incidents.len(), 1);
    let i = &incidents[0];
    check_incident(i, &[]);
    assert_eq!(i["id"], s.public.public_id.as_str());
    assert_eq!(i["name"], "Checkout errors");
    assert_eq!(i["status"], "identified");
    assert_eq!(i["impact"], "major", "SEV2");
    assert_eq!(i["shortlink"], format!("http://127.0.0.1/status/incidents/{}", s.public.public_id));
    assert_eq!(i["resolved_at"], Value::Null);
    let updates = i["incident_updates"].as_array().expect("updates");
    assert_eq!(updates.len(), 2, "public and both, not internal");
    assert_eq!(updates[0]["id"], s.latest_update.public_id.as_str(), "newest first");
    assert_eq!(updates[1]["id"], s.first_update.public_id.as_str());
    assert_eq!(
        updates[0]["affected_components"],
        serde_json::json!([{
            "code": s.checkout.public_id, "name": "Checkout",
            "old_status": "operational", "new_status": "partial_outage"
        }])
    );
    assert_eq!(updates[1]["affected_components"], Value::Null);
    assert_eq!(i["components"][0]["id"], s.checkout.public_id.as_str());

    let all = json(&app, "/api/v2/incidents.json").await;
    assert_eq!(keys(&all), set(&["page", "incidents"]));
    let list = all["incidents"].as_array().expect("incidents");
    list.iter().for_each(|i| check_incident(i, &[]));
    assert_eq!(list[0]["id"], s.public.public_id.as_str());
    let resolved = list.iter().find(|i| i["id"] == s.resolved.public_id.as_str()).expect("resolved one");
    assert_eq!(resolved["status"], "resolved", "closed is resolved publicly");
    assert!(is_timestamp(&resolved["resolved_at"]));
    assert_eq!(resolved["impact"], "minor");

    let unresolved = json(&app, "/api/v2/incidents/unresolved.json").await;
    assert_eq!(unresolved["incidents"].as_array().map(Vec::len), Some(1));

    let status = json(&app, "/api/v2/status.json").await;
    assert_eq!(keys(&status), set(&["page", "status"]));
    let comps = json(&app, "/api/v2/components.json").await;
    assert_eq!(keys(&comps), set(&["page", "components"]));
    assert_eq!(comps["components"], summary["components"]);

    let all = json(&app, "/api/v2/scheduled-maintenances.json").await;
    assert_eq!(keys(&all), set(&["page", "scheduled_maintenances"]));
    let list = all["scheduled_maintenances"].as_array().expect("maintenances");
    assert_eq!(list.len(), 2, "not the cancelled one");
    list.iter().for_each(|m| check_incident(m, &["scheduled_for", "scheduled_until"]));
    assert_eq!(list[0]["id"], s.maintenance.public_id.as_str(), "latest window first");

    let upcoming = json(&app, "/api/v2/scheduled-maintenances/upcoming.json").await;
    assert_eq!(keys(&upcoming), set(&["page", "scheduled_maintenances"]));
    let m = &upcoming["scheduled_maintenances"][0];
    assert_eq!(upcoming["scheduled_maintenances"].as_array().map(Vec::len), Some(1));
    assert_eq!(m["id"], s.maintenance.public_id.as_str());
    assert_eq!(m["status"], "scheduled");
    assert_eq!(m["impact"], "maintenance");
    assert!(is_timestamp(&m["scheduled_for"]) && is_timestamp(&m["scheduled_until"]));
    assert_eq!(m["components"][0]["id"], s.api.public_id.as_str());
    assert_eq!(m["incident_updates"][0]["body"], "We upgrade the database.");

    let active = json(&app, "/api/v2/scheduled-maintenances/active.json").await;
    let m = &active["scheduled_maintenances"][0];
    assert_eq!(active["scheduled_maintenances"].as_array().map(Vec::len), Some(1));
    assert_eq!(m["id"], s.ongoing.public_id.as_str());
    assert_eq!(m["status"], "in_progress", "the window is open");
    let statuses: Vec<&str> =
        m["incident_updates"].as_array().expect("updates").iter().filter_map(|u| u["status"].as_str()).collect();
    assert_eq!(statuses, ["in_progress", "scheduled"], "newest first");
    assert_eq!(summary["scheduled_maintenances"].as_array().map(Vec::len), Some(2), "upcoming and active ones");
    assert!(!all.to_string().contains("Cancelled work"));
}

/// Runs the npm `statuspage.io` client against the app.
fn run_statuspage_client(base: &str) -> Value {
    let tools = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools");
    assert!(
        tools.join("node_modules/statuspage.io").exists(),
        "the statuspage.io client is missing: run ./scripts/test, or `npm ci` in tests/tools"
    );
    let out = std::process::Command::new("node")
        .arg(tools.join("statuspage-client.js"))
        .arg(base)
        .output()
        .expect("run node (./scripts/test installs it)");
    assert!(out.status.success(), "the statuspage.io client failed:\n{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("the client's JSON")
}

#[tokio::test]
async fn the_npm_statuspage_client_reads_every_endpoint() {
    let app = spawn_app().await;
    let s = seed(&app).await;
    let base = app.address.clone();
    let got = tokio::task::spawn_blocking(move || run_statuspage_client(&base)).await.expect("client thread");
    assert_eq!(got["summary"]["status"]["indicator"], "major");
    assert_eq!(got["status"]["status"]["description"], "Partial System Outage");
    assert_eq!(got["components"]["components"].as_array().map(Vec::len), Some(4), "3 components and 1 group");
    assert_eq!(got["incidents"]["incidents"].as_array().map(Vec::len), Some(2));
    assert_eq!(got["unresolved"]["incidents"][0]["name"], "Checkout errors");
    assert_eq!(got["upcoming"]["scheduled_maintenances"][0]["id"], s.maintenance.public_id.as_str());
    assert_eq!(got["maintenances"]["scheduled_maintenances"][0]["name"], "Database upgrade");
    assert_eq!(got["active"]["scheduled_maintenances"][0]["name"], "Cache flush");
    assert_eq!(got["summary"]["page"]["id"], got["components"]["page"]["id"]);
}

/// Parses a feed with Python's feedparser; returns (version, bozo, entries).
pub(crate) fn feedparser(xml: String) -> Value {
    let script = "import sys, json, feedparser\n\
        f = feedparser.parse(sys.stdin.buffer.read())\n\
        print(json.dumps({'version': f.version, 'bozo': int(bool(f.bozo)), 'error': str(f.get('bozo_exception', '')), \
        'title': f.feed.get('title'), 'entries': [{'id': e.get('id'), 'title': e.get('title'), \
        'link': e.get('link'), 'summary': e.get('summary'), 'published': e.get('published')} for e in f.entries]}))";
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run python3 (./scripts/test installs feedparser)");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), xml.as_bytes()).expect("write feed");
    let out = child.wait_with_output().expect("feedparser output");
    assert!(out.status.success(), "feedparser failed (is it installed?):\n{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("feedparser JSON")
}

#[tokio::test]
async fn the_feeds_are_valid_atom_and_rss_with_one_entry_per_public_update() {
    let app = spawn_app().await;
    let s = seed(&app).await;
    for (path, version, content_type) in [
        ("/status/feed.atom", "atom10", "application/atom+xml; charset=utf-8"),
        ("/status/feed.rss", "rss20", "application/rss+xml; charset=utf-8"),
    ] {
        let response = get(&app, path).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers().get("content-type").and_then(|v| v.to_str().ok()), Some(content_type));
        let xml = response.text().await.expect("feed");
        let feed = tokio::task::spawn_blocking(move || feedparser(xml)).await.expect("parser thread");
        assert_eq!(feed["bozo"], 0, "{path}: {}", feed["error"]);
        assert_eq!(feed["version"], version);
        assert_eq!(feed["title"], "Example status");
        let entries = feed["entries"].as_array().expect("entries");
        assert_eq!(entries.len(), 3, "{path}: two updates of the open incident and one of the resolved one");
        let latest = &entries[0];
        assert_eq!(latest["title"], "Checkout errors — Identified");
        assert_eq!(latest["link"], format!("http://127.0.0.1/status/incidents/{}", s.public.public_id));
        assert!(latest["id"].as_str().is_some_and(|id| id.ends_with(&s.latest_update.public_id)), "stable ids");
        assert!(latest["summary"].as_str().is_some_and(|b| b.contains("bad deploy")));
        assert!(latest["published"].is_string());
    }
}

#[tokio::test]
async fn responses_carry_etags_answer_304_and_are_gzipped_when_asked() {
    let app = spawn_app().await;
    seed(&app).await;
    for path in ["/status", "/api/v2/summary.json", "/status/feed.atom"] {
        // The page shows uptime up to now, so a background rebuild between two
        // requests may change it: retry the sequence when the ETag moved.
        let mut attempts = 0;
        while !etags_and_gzip_work(&app, path).await {
            attempts += 1;
            assert!(attempts < 5, "{path}: the ETag kept changing");
        }
    }
}

/// Checks one path; false when the document changed in between.
async fn etags_and_gzip_work(app: &TestApp, path: &str) -> bool {
    let client = reqwest::Client::new();
    let url = format!("{}{path}", app.address);
    let header = |r: &reqwest::Response, name: &str| {
        r.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned).unwrap_or_default()
    };
    let first = client.get(&url).send().await.expect("GET");
    assert_eq!(first.status(), StatusCode::OK);
    let etag = header(&first, "etag");
    assert!(etag.starts_with('"') && etag.len() > 2, "strong ETag: {etag}");
    assert!(header(&first, "cache-control").starts_with("public, max-age="), "{path}");
    assert_eq!(header(&first, "vary"), "Accept-Encoding");
    assert!(first.headers().get("set-cookie").is_none(), "no session on the public pages");
    let plain = first.bytes().await.expect("body");

    let again = client.get(&url).header("If-None-Match", &etag).send().await.expect("GET");
    if again.status() == StatusCode::OK && header(&again, "etag") != etag {
        return false;
    }
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{path}");
    assert_eq!(header(&again, "etag"), etag);

    let zipped = client.get(&url).header("Accept-Encoding", "gzip").send().await.expect("GET");
    assert_eq!(header(&zipped, "content-encoding"), "gzip", "{path}");
    let gz_etag = header(&zipped, "etag");
    assert_ne!(gz_etag, etag, "each encoding has its own strong ETag");
    let compressed = zipped.bytes().await.expect("body");
    assert!(compressed.len() < plain.len());
    let mut unzipped = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&compressed[..]), &mut unzipped).expect("valid gzip");
    if unzipped != plain.to_vec() {
        return false;
    }
    let not_modified =
        client.get(&url).header("Accept-Encoding", "gzip").header("If-None-Match", &gz_etag).send().await.expect("GET");
    if not_modified.status() == StatusCode::OK {
        return false;
    }
    assert_eq!(not_modified.status(), StatusCode::NOT_MODIFIED);
    true
}

#[tokio::test]
async fn uptime_bars_come_from_the_status_change_log() {
    let app = spawn_app().await;
    let web = component(&app, "Web", "", 1, 5).await;
    // Down for an hour two hours ago, then degraded (which counts as up).
    set_status(&app, &web, ComponentStatus::MajorOutage, Cause::default(), 180).await;
    set_status(&app, &web, ComponentStatus::DegradedPerformance, Cause::default(), 120).await;
    let html = wait_for(&app, "/status", "the degraded component", |b| b.contains("Degraded performance")).await;
    assert_valid_html("/status", &html).await;
    let today = Utc::now().date_naive();
    let day = |n: u64| today.checked_sub_days(chrono::Days::new(n)).expect("date").format("%b %-d").to_string();
    assert!(html.contains(&format!("{}: no data", day(10))), "days before the component existed");
    assert!(html.contains(&format!("{}: 100% uptime</span>", day(3))), "a quiet day");
    assert!(html.contains("uptime, major outage "), "the outage is described");
    assert!(html.contains(", degraded performance "), "and the degradation");
    assert!(html.contains("<li class=m><span>"), "a bar shows its day's worst state (m: major outage)");
    assert!(html.contains("% uptime</span><span>Today</span>"), "a 90-day percentage per component");
    assert!(html.contains("Degraded Performance"), "the banner");
}

/// A TCP proxy in front of PostgreSQL that the test can cut.
struct Proxy {
    port: u16,
    accept: tokio::task::JoinHandle<()>,
    connections: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(target: String) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let connections: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let list = Arc::clone(&connections);
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let target = target.clone();
                let handle = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                list.lock().expect("lock").push(handle);
            }
        });
        Proxy { port, accept, connections }
    }

    /// Stops accepting (the port closes) and drops every open connection.
    fn cut(&self) {
        self.accept.abort();
        for c in self.connections.lock().expect("lock").drain(..) {
            c.abort();
        }
    }
}

#[tokio::test]
async fn the_status_page_stays_up_when_the_database_goes_away() {
    let server = url::Url::parse(&crate::helpers::server_url()).expect("server url");
    let target = format!("{}:{}", server.host_str().unwrap_or("127.0.0.1"), server.port().unwrap_or(5432));
    let proxy = Proxy::start(target).await;
    let port = proxy.port;
    let app = spawn_app_with(|settings| {
        let mut url = url::Url::parse(settings.database_url.expose_secret()).expect("db url");
        url.set_port(Some(port)).expect("port");
        settings.database_url = SecretString::from(url.to_string());
        settings.status_refresh = Duration::from_secs(1);
    })
    .await;
    let s = seed(&app).await;
    let incident_page = format!("/status/incidents/{}", s.public.public_id);
    assert!(get(&app, &incident_page).await.status().is_success());

    proxy.cut();
    let deadline = Instant::now() + Duration::from_secs(30);
    let html = loop {
        let response = get(&app, "/status").await;
        assert_eq!(response.status(), StatusCode::OK, "the status page never fails");
        let body = response.text().await.expect("body");
        if body.contains("This page may be out of date") {
            break body;
        }
        assert!(Instant::now() < deadline, "the page never said it may be stale:\n{body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_valid_html("the stale status page", &html).await;
    assert!(html.contains("last updated <time datetime=\""));
    assert!(html.contains("Checkout errors") && html.contains("Partial System Outage"), "the last known state");
    for path in ["/api/v2/summary.json", "/status/feed.atom", incident_page.as_str()] {
        assert_eq!(get(&app, path).await.status(), StatusCode::OK, "{path} is served from memory");
    }
    let history = get(&app, "/status/history").await;
    assert_eq!(history.status(), StatusCode::SERVICE_UNAVAILABLE, "the history needs the database");
    assert!(history.headers().get("retry-after").is_some());
    let body = history.text().await.expect("body");
    assert_valid_html("the history while the database is away", &body).await;
    assert!(body.contains("History temporarily unavailable"));
    // Several refresh periods later, still up.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(get(&app, "/status").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_active_incident_is_listed_once_and_a_resolved_one_looks_resolved() {
    let app = spawn_app().await;
    let s = seed(&app).await;
    let html = get(&app, "/status").await.text().await.expect("body");
    let link = format!("href=\"/status/incidents/{}\"", s.public.public_id);
    assert_eq!(html.matches(&link).count(), 1, "the active incident once, under Active incidents");
    assert!(html.contains("is still active: see above."), "its day says where it is");
    // The resolved one is muted and says how long it lasted.
    let resolved = format!("incident-{}\"", s.resolved.public_id);
    let start = html.find(&resolved).expect("the resolved incident is listed");
    let article = &html[html[..start].rfind("<article").expect("its article")..];
    let article = &article[..article.find("</article>").expect("its end")];
    assert!(article.contains("incident-resolved"), "muted: {article}");
    assert!(article.contains("Resolved</span> after "), "with its duration: {article}");
}

#[tokio::test]
async fn the_history_groups_incidents_by_month() {
    let app = spawn_app().await;
    seed(&app).await;
    let history = get(&app, "/status/history").await.text().await.expect("body");
    // The seeded incidents were all declared within the last week: one or two months.
    let months = history.matches("<h2 id=\"month-").count();
    assert!((1..=2).contains(&months), "a heading per month, not per day: {history}");
    let month = chrono::Utc::now().format("%B %Y").to_string();
    let last_week = (chrono::Utc::now() - chrono::Duration::days(7)).format("%B %Y").to_string();
    assert!(history.contains(&format!(">{month}</time>")) || history.contains(&format!(">{last_week}</time>")));
}
