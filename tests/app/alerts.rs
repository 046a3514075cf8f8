//! Alerts in: admin alert sources, the hook with real Alertmanager, Grafana
//! and generic payloads (opening, deduplicating and annotating incidents),
//! refusals that write nothing, the payloads page and its retention, and a
//! real Alertmanager (Debian's prometheus-alertmanager) when installed.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Browser, TestApp, html_of, location, spawn_app};
use crate::updates::{component, exec, scalar};
use firebreak::domain::Role;

/// Exactly as Prometheus Alertmanager 0.25 sent it (nanosecond `startsAt`,
/// Go's zero time as `endsAt` of a firing alert).
const AM_FIRING: &str = r#"{"receiver":"ir-app","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"HighErrorRate","service":"checkout","severity":"critical"},"annotations":{"runbook_url":"https://runbooks.example.test/5xx","summary":"5xx ratio above 5%"},"startsAt":"2026-11-21T01:14:15.725947033Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus.example.test/graph","fingerprint":"7d2d332feada5c59"}],"groupLabels":{"alertname":"HighErrorRate","service":"checkout"},"commonLabels":{"alertname":"HighErrorRate","service":"checkout","severity":"critical"},"commonAnnotations":{"runbook_url":"https://runbooks.example.test/5xx","summary":"5xx ratio above 5%"},"externalURL":"http://127.0.0.1:19093","version":"4","groupKey":"{}:{alertname=\"HighErrorRate\", service=\"checkout\"}","truncatedAlerts":0}"#;

const AM_RESOLVED: &str = r#"{"receiver":"ir-app","status":"resolved","alerts":[{"status":"resolved","labels":{"alertname":"HighErrorRate","service":"checkout","severity":"critical"},"annotations":{"runbook_url":"https://runbooks.example.test/5xx","summary":"5xx ratio above 5%"},"startsAt":"2026-11-21T01:14:15.725947033Z","endsAt":"2026-11-21T01:14:22Z","generatorURL":"http://prometheus.example.test/graph","fingerprint":"7d2d332feada5c59"}],"groupLabels":{"alertname":"HighErrorRate","service":"checkout"},"commonLabels":{"alertname":"HighErrorRate","service":"checkout","severity":"critical"},"commonAnnotations":{"runbook_url":"https://runbooks.example.test/5xx","summary":"5xx ratio above 5%"},"externalURL":"http://127.0.0.1:19093","version":"4","groupKey":"{}:{alertname=\"HighErrorRate\", service=\"checkout\"}","truncatedAlerts":0}"#;

/// Grafana's documented webhook example (version "1").
const GRAFANA: &str = r#"{"receiver":"My Super Webhook","status":"firing","orgId":1,"alerts":[{"status":"firing","labels":{"alertname":"High memory usage","team":"blue","zone":"us-1"},"annotations":{"description":"The system has high memory usage","runbook_url":"https://myrunbook.com/runbook/1234","summary":"This alert was triggered for zone us-1"},"startsAt":"2021-10-12T09:51:03.157076+02:00","endsAt":"0001-01-01T00:00:00Z","generatorURL":"https://play.grafana.org/alerting/1afz29v7z/edit","fingerprint":"c6eadffa33fcdf37","silenceURL":"https://play.grafana.org/alerting/silence/new?alertmanager=grafana&matchers=alertname%3DT2%2Cteam%3Dblue%2Czone%3Dus-1","dashboardURL":"","panelURL":"","values":{"B":44.23943737541908,"C":1}},{"status":"firing","labels":{"alertname":"High CPU usage","team":"blue","zone":"eu-1"},"annotations":{"description":"The system has high CPU usage","runbook_url":"https://myrunbook.com/runbook/1234","summary":"This alert was triggered for zone eu-1"},"startsAt":"2021-10-12T09:56:03.157076+02:00","endsAt":"0001-01-01T00:00:00Z","generatorURL":"https://play.grafana.org/alerting/d1rdpdv7k/edit","fingerprint":"bc97ff14869b13e3","silenceURL":"https://play.grafana.org/alerting/silence/new?alertmanager=grafana&matchers=alertname%3DT1%2Cteam%3Dblue%2Czone%3Deu-1","dashboardURL":"","panelURL":"","values":{"B":44.23943737541908,"C":1}}],"groupLabels":{},"commonLabels":{"team":"blue"},"commonAnnotations":{},"externalURL":"https://play.grafana.org/","version":"1","groupKey":"{}:{}","truncatedAlerts":0,"title":"[FIRING:2]  (blue)","state":"alerting","message":"**Firing**\n\nLabels:\n - alertname = T2\n - team = blue\n - zone = us-1\n"}"#;

pub struct Source {
    pub id: String,
    pub public_id: String,
    pub token: String,
}

/// Creates a source through the admin page; reads the token shown once.
pub async fn create_source(app: &TestApp, admin: &Browser, fields: &[(&str, &str)]) -> Source {
    let response = admin.submit("/admin/alert-sources", "/admin/alert-sources", fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "creating the source should succeed");
    let page = location(&response);
    let id = page.trim_start_matches("/admin/alert-sources/").to_owned();
    let html = admin.page(&page).await;
    let token = shown_token(&html).expect("the new token is shown");
    let public_id = scalar(app, &format!("SELECT public_id AS v FROM alert_sources WHERE id = {id}")).await;
    assert!(html.contains(&format!("http://127.0.0.1/hooks/alerts/{public_id}")), "the page shows the hook URL");
    Source { id, public_id, token }
}

fn shown_token(html: &str) -> Option<String> {
    let start = html.find("id=\"new-token\"")?;
    let rest = &html[start..];
    let v = rest.find("value=\"")? + "value=\"".len();
    Some(rest[v..v + rest[v..].find('"')?].to_owned())
}

pub(crate) async fn post(app: &TestApp, source: &Source, body: impl Into<reqwest::Body>) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/hooks/alerts/{}", app.address, source.public_id))
        .bearer_auth(&source.token)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .expect("POST hook")
}

async fn json_of(response: reqwest::Response, expected: StatusCode) -> Value {
    let status = response.status();
    assert!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .starts_with("application/json"),
        "JSON answer expected"
    );
    let body: Value = response.json().await.expect("JSON body");
    assert_eq!(status, expected, "{body}");
    body
}

async fn count(app: &TestApp, table: &str) -> i64 {
    app.count(&format!("SELECT count(*) AS n FROM {table}")).await
}

async fn alert_entries(app: &TestApp, incident: &str) -> i64 {
    app.count(&format!("SELECT count(*) AS n FROM timeline_entries WHERE incident_id = {incident} AND kind = 'alert'"))
        .await
}

fn ids(v: &Value) -> Vec<i64> {
    v.as_array().expect("array").iter().map(|i| i.as_i64().expect("id")).collect()
}

async fn alertmanager_source(app: &TestApp, admin: &Browser) -> Source {
    component(app, "Checkout").await;
    create_source(
        app,
        admin,
        &[
            ("name", "Production Alertmanager"),
            ("kind", "alertmanager"),
            ("severity_label", "severity"),
            ("severity_mapping", "critical = 1\r\nwarning = SEV3"),
            ("default_severity", "4"),
            ("component_label", "service"),
            ("component_mapping", "checkout = Checkout"),
        ],
    )
    .await
}

#[tokio::test]
async fn an_alertmanager_alert_opens_one_incident_and_later_ones_annotate_it() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let source = alertmanager_source(&app, &admin).await;

    let first = json_of(post(&app, &source, AM_FIRING).await, StatusCode::OK).await;
    assert_eq!(first["accepted"], 1);
    let opened = ids(&first["opened"]);
    assert_eq!(opened.len(), 1, "{first}");
    let id = opened[0].to_string();
    assert_eq!(ids(&first["incidents"]), opened);
    let row = scalar(
        &app,
        &format!(
            "SELECT concat_ws('|', title, severity, detection_source, visibility, status, coalesce(declared_by::text, 'none'), \
             detected_at = '2026-11-21T01:14:15.725947Z', impact_started_at = detected_at) AS v FROM incidents WHERE id = {id}"
        ),
    )
    .await;
    assert_eq!(row, "HighErrorRate: 5xx ratio above 5%|1|alert|internal|investigating|none|t|t");
    let components =
        scalar(&app, &format!("SELECT string_agg(c.name, ',') AS v FROM incident_components ic JOIN components c ON c.id = ic.component_id WHERE ic.incident_id = {id}")).await;
    assert_eq!(components, "Checkout");
    assert_eq!(alert_entries(&app, &id).await, 1);
    let alert = scalar(&app, "SELECT concat_ws('|', fingerprint, status, name, generator_url, ends_at IS NULL, labels->>'service') AS v FROM alerts").await;
    assert_eq!(alert, "7d2d332feada5c59|firing|HighErrorRate|http://prometheus.example.test/graph|t|checkout");

    // The same alert again (Alertmanager repeats): no second incident, no new entry.
    for _ in 0..3 {
        let again = json_of(post(&app, &source, AM_FIRING).await, StatusCode::OK).await;
        assert_eq!(ids(&again["opened"]), Vec::<i64>::new());
        assert_eq!(ids(&again["incidents"]), opened);
    }
    assert_eq!(count(&app, "incidents").await, 1);
    assert_eq!(alert_entries(&app, &id).await, 1);

    // Resolved: noted on the timeline, the incident stays open.
    let resolved = json_of(post(&app, &source, AM_RESOLVED).await, StatusCode::OK).await;
    assert_eq!(ids(&resolved["incidents"]), opened);
    assert_eq!(alert_entries(&app, &id).await, 2);
    assert_eq!(scalar(&app, &format!("SELECT status AS v FROM incidents WHERE id = {id}")).await, "investigating");
    assert_eq!(
        scalar(&app, "SELECT concat_ws('|', status, ends_at = '2026-11-21T01:14:22Z') AS v FROM alerts").await,
        "resolved|t"
    );

    // It fires again (flapping): the same incident, an entry saying so.
    json_of(post(&app, &source, AM_FIRING).await, StatusCode::OK).await;
    assert_eq!(count(&app, "incidents").await, 1);
    assert_eq!(alert_entries(&app, &id).await, 3);
    assert_eq!(scalar(&app, "SELECT concat_ws('|', status, ends_at IS NULL) AS v FROM alerts").await, "firing|t");

    // Another alert of the same group joins the incident.
    let other = AM_FIRING.replace("7d2d332feada5c59", "0123456789abcdef").replace("5xx ratio above 5%", "p99 above 2s");
    let joined = json_of(post(&app, &source, other).await, StatusCode::OK).await;
    assert_eq!(ids(&joined["incidents"]), opened);
    assert_eq!(count(&app, "incidents").await, 1);
    assert_eq!(count(&app, "alerts").await, 2);
    assert_eq!(alert_entries(&app, &id).await, 4);

    // Every accepted payload is kept, with what was done.
    assert_eq!(count(&app, "alert_payloads").await, 7);
    let outcome = scalar(&app, "SELECT outcome AS v FROM alert_payloads ORDER BY id LIMIT 1").await;
    assert!(outcome.contains(&format!("opened incident {id}")), "{outcome}");

    // The room lists the alerts with links to their source.
    let (responder, _) = app.signed_in(Role::Responder).await;
    let room = responder.page(&format!("/incidents/{id}")).await;
    assert!(room.contains("id=\"alerts\""), "the room has the alerts card");
    assert!(room.contains("HighErrorRate") && room.contains("p99 above 2s"));
    assert!(room.contains("href=\"http://prometheus.example.test/graph\""));
    assert!(room.contains("service=checkout, severity=critical"));
    assert!(room.contains("2 firing of 2"), "both alerts fire");

    // Once the incident is resolved, the same alert opens a new incident.
    exec(&app, &format!("UPDATE incidents SET status = 'resolved', resolved_at = now() WHERE id = {id}")).await;
    let reopened = json_of(post(&app, &source, AM_FIRING).await, StatusCode::OK).await;
    assert_eq!(ids(&reopened["opened"]).len(), 1);
    assert_ne!(ids(&reopened["opened"]), opened);
    assert_eq!(count(&app, "incidents").await, 2);
}

#[tokio::test]
async fn a_grafana_payload_opens_one_incident_for_its_group() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let source = create_source(
        &app,
        &admin,
        &[("name", "Grafana"), ("kind", "grafana"), ("default_severity", "2"), ("component_label", "team")],
    )
    .await;
    let body = json_of(post(&app, &source, GRAFANA).await, StatusCode::OK).await;
    assert_eq!(body["accepted"], 2);
    let opened = ids(&body["opened"]);
    assert_eq!(opened.len(), 1, "both alerts share the group key: {body}");
    let id = opened[0];
    assert_eq!(
        scalar(
            &app,
            &format!(
                "SELECT concat_ws('|', title, severity, detected_at = '2021-10-12T07:51:03.157076Z') AS v FROM incidents WHERE id = {id}"
            )
        )
        .await,
        "High memory usage: This alert was triggered for zone us-1|2|t"
    );
    assert_eq!(count(&app, "alerts").await, 2);
    assert_eq!(alert_entries(&app, &id.to_string()).await, 2, "one fired, one joined");
    // A Grafana payload sent to an Alertmanager source is refused, naming the problem.
    let am = alertmanager_source(&app, &admin).await;
    let refused = json_of(post(&app, &am, GRAFANA).await, StatusCode::BAD_REQUEST).await;
    assert!(refused["error"].as_str().unwrap_or("").starts_with("version: expected \"4\""), "{refused}");
}

#[tokio::test]
async fn generic_json_alerts_open_and_resolve() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    component(&app, "Database").await;
    let source = create_source(&app, &admin, &[("name", "Cron checks"), ("kind", "generic")]).await;
    let first = r#"{"title":"Disk full on db-1","severity":"SEV2","component":"Database","url":"javascript:alert(1)"}"#;
    let body = json_of(post(&app, &source, first).await, StatusCode::OK).await;
    let id = ids(&body["opened"])[0];
    assert_eq!(
        scalar(&app, &format!("SELECT concat_ws('|', title, severity) AS v FROM incidents WHERE id = {id}")).await,
        "Disk full on db-1|2"
    );
    assert_eq!(
        scalar(&app, &format!("SELECT string_agg(c.name, ',') AS v FROM incident_components ic JOIN components c ON c.id = ic.component_id WHERE ic.incident_id = {id}")).await,
        "Database",
        "a component label without a mapping line matches the component of that name"
    );
    // No fingerprint: title + component identify it, so this is the same alert.
    let again = json_of(post(&app, &source, first).await, StatusCode::OK).await;
    assert_eq!(ids(&again["incidents"]), vec![id]);
    let resolved = r#"{"title":"Disk full on db-1","component":"Database","status":"resolved"}"#;
    json_of(post(&app, &source, resolved).await, StatusCode::OK).await;
    assert_eq!(count(&app, "incidents").await, 1);
    assert_eq!(alert_entries(&app, &id.to_string()).await, 2);
    assert_eq!(scalar(&app, "SELECT status AS v FROM alerts").await, "resolved");
    // Only http(s) links become links.
    let (responder, _) = app.signed_in(Role::Responder).await;
    let room = responder.page(&format!("/incidents/{id}")).await;
    assert!(room.contains("Disk full on db-1") && !room.contains("javascript:"), "no script link");
    // A resolved alert nobody carries is ignored (and said so).
    let unknown =
        json_of(post(&app, &source, r#"{"title":"Never fired","status":"resolved"}"#).await, StatusCode::OK).await;
    assert_eq!(unknown["ignored"], 1);
    assert_eq!(count(&app, "incidents").await, 1);
}

#[tokio::test]
async fn refused_payloads_write_nothing() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let source = alertmanager_source(&app, &admin).await;
    let nothing_written = async || {
        for table in ["alert_payloads", "alerts", "incidents", "timeline_entries"] {
            assert_eq!(count(&app, table).await, 0, "{table} must stay empty");
        }
    };

    let missing_labels =
        AM_FIRING.replace(r#""labels":{"alertname":"HighErrorRate","service":"checkout","severity":"critical"},"#, "");
    let bad = json_of(post(&app, &source, missing_labels).await, StatusCode::BAD_REQUEST).await;
    assert!(bad["error"].as_str().unwrap_or("").starts_with("alerts[0].labels: missing field"), "{bad}");
    let bad = json_of(post(&app, &source, "{not json").await, StatusCode::BAD_REQUEST).await;
    assert!(bad["error"].as_str().unwrap_or("").contains("not valid JSON"), "{bad}");
    let bad_time = AM_FIRING.replace("2026-11-21T01:14:15.725947033Z", "yesterday");
    let bad = json_of(post(&app, &source, bad_time).await, StatusCode::BAD_REQUEST).await;
    assert!(bad["error"].as_str().unwrap_or("").starts_with("alerts[0].startsAt:"), "{bad}");
    nothing_written().await;

    let wrong = Source { token: "not-the-token".into(), id: source.id.clone(), public_id: source.public_id.clone() };
    let body = json_of(post(&app, &wrong, AM_FIRING).await, StatusCode::UNAUTHORIZED).await;
    assert!(body["error"].as_str().unwrap_or("").contains("token"), "{body}");
    let no_token = reqwest::Client::new()
        .post(format!("{}/hooks/alerts/{}", app.address, source.public_id))
        .body(AM_FIRING)
        .send()
        .await
        .expect("POST");
    json_of(no_token, StatusCode::UNAUTHORIZED).await;
    let unknown = Source { public_id: "nosuchsource".into(), ..wrong };
    json_of(post(&app, &unknown, AM_FIRING).await, StatusCode::NOT_FOUND).await;

    // Over 1 MiB: refused by its length, and when streamed without one.
    let huge = format!("{}{}", " ".repeat(1024 * 1024), AM_FIRING);
    json_of(post(&app, &source, huge.clone()).await, StatusCode::PAYLOAD_TOO_LARGE).await;
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        huge.into_bytes().chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
    let streamed = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    json_of(post(&app, &source, streamed).await, StatusCode::PAYLOAD_TOO_LARGE).await;
    nothing_written().await;

    // Disabled: refused.
    let html = admin.page(&format!("/admin/alert-sources/{}", source.id)).await;
    assert!(shown_token(&html).is_none(), "the token is shown only once");
    let response = admin
        .submit(
            &format!("/admin/alert-sources/{}", source.id),
            &format!("/admin/alert-sources/{}/disable", source.id),
            &[],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    json_of(post(&app, &source, AM_FIRING).await, StatusCode::FORBIDDEN).await;
    nothing_written().await;

    // Enabled again, with the token as a query parameter: accepted.
    admin
        .submit(
            &format!("/admin/alert-sources/{}", source.id),
            &format!("/admin/alert-sources/{}/enable", source.id),
            &[],
        )
        .await;
    let response = reqwest::Client::new()
        .post(format!("{}/hooks/alerts/{}?token={}", app.address, source.public_id, source.token))
        .body(AM_FIRING)
        .send()
        .await
        .expect("POST");
    json_of(response, StatusCode::OK).await;
    assert_eq!(count(&app, "incidents").await, 1);
}

#[tokio::test]
async fn admins_manage_sources_and_read_payloads_responders_cannot() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let source = alertmanager_source(&app, &admin).await;
    json_of(post(&app, &source, AM_FIRING).await, StatusCode::OK).await;

    let list = admin.page("/admin/alert-sources").await;
    assert!(list.contains("Production Alertmanager"));
    let page = admin.page(&format!("/admin/alert-sources/{}/payloads", source.id)).await;
    assert!(page.contains("opened incident"), "the outcome is shown");
    assert!(page.contains("&#34;fingerprint&#34;: &#34;7d2d332feada5c59&#34;"), "the body is shown, pretty");
    let edit = admin.page(&format!("/admin/alert-sources/{}", source.id)).await;
    assert!(edit.contains("webhook_configs") && edit.contains("credentials"), "an Alertmanager example is shown");

    let (responder, _) = app.signed_in(Role::Responder).await;
    for path in [
        "/admin/alert-sources",
        &format!("/admin/alert-sources/{}", source.id),
        &format!("/admin/alert-sources/{}/payloads", source.id),
    ] {
        assert_eq!(responder.get(path).await.status(), StatusCode::FORBIDDEN, "{path}");
    }

    // Bad settings are refused beside their field, with the values kept.
    let response = admin
        .submit(
            "/admin/alert-sources",
            "/admin/alert-sources",
            &[
                ("name", "Second"),
                ("kind", "alertmanager"),
                ("severity_mapping", "critical = 9"),
                ("component_mapping", "db = No such component"),
            ],
        )
        .await;
    let html = html_of(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(html.contains("Line 1: “9” is not a severity"), "{html}");
    assert!(html.contains("there is no component “No such component”"), "{html}");
    assert!(html.contains("db = No such component</textarea>"));
    let response = admin
        .submit(
            "/admin/alert-sources",
            "/admin/alert-sources",
            &[("name", "production alertmanager"), ("kind", "grafana")],
        )
        .await;
    let html = html_of(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(html.contains("exists already"));

    // Edit: the new mapping applies to the next incident.
    let response = admin
        .submit(
            &format!("/admin/alert-sources/{}", source.id),
            &format!("/admin/alert-sources/{}", source.id),
            &[
                ("name", "Prod AM"),
                ("kind", "alertmanager"),
                ("severity_mapping", "critical = 2"),
                ("default_severity", "4"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    exec(&app, "UPDATE incidents SET status = 'closed'").await;
    let body = json_of(post(&app, &source, AM_FIRING).await, StatusCode::OK).await;
    let id = ids(&body["opened"])[0];
    assert_eq!(scalar(&app, &format!("SELECT severity::text AS v FROM incidents WHERE id = {id}")).await, "2");

    // A new token: shown once, the old one stops working.
    let response = admin
        .submit(
            &format!("/admin/alert-sources/{}", source.id),
            &format!("/admin/alert-sources/{}/token", source.id),
            &[],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let html = admin.page(&location(&response)).await;
    let token = shown_token(&html).expect("the new token is shown");
    assert_ne!(token, source.token);
    json_of(post(&app, &source, AM_FIRING).await, StatusCode::UNAUTHORIZED).await;
    let renewed = Source { token, ..source };
    json_of(post(&app, &renewed, AM_FIRING).await, StatusCode::OK).await;
    assert_eq!(
        scalar(
            &app,
            &format!(
                "SELECT (token_hash = encode(sha256('{}'::bytea), 'hex'))::text AS v FROM alert_sources",
                renewed.token
            )
        )
        .await,
        "true",
        "only the token's SHA-256 is stored"
    );

    // Delete: the source and its payloads go, the incidents stay.
    let response = admin
        .submit(
            &format!("/admin/alert-sources/{}/delete", renewed.id),
            &format!("/admin/alert-sources/{}/delete", renewed.id),
            &[],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(count(&app, "alert_sources").await, 0);
    assert_eq!(count(&app, "alert_payloads").await, 0);
    assert_eq!(count(&app, "incidents").await, 2);
    json_of(post(&app, &renewed, AM_FIRING).await, StatusCode::NOT_FOUND).await;
    let audit = scalar(
        &app,
        "SELECT string_agg(action, ',' ORDER BY id) AS v FROM audit_log WHERE action LIKE 'alert_source.%'",
    )
    .await;
    assert_eq!(audit, "alert_source.add,alert_source.edit,alert_source.token,alert_source.delete");
}

#[tokio::test]
async fn retention_deletes_payloads_older_than_30_days() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let source = alertmanager_source(&app, &admin).await;
    json_of(post(&app, &source, AM_FIRING).await, StatusCode::OK).await;
    exec(
        &app,
        &format!(
            "INSERT INTO alert_payloads (source_id, received_at, body, outcome) VALUES \
             ({0}, now() - interval '31 days', '{{}}', 'old'), ({0}, now() - interval '29 days', '{{}}', 'recent')",
            source.id
        ),
    )
    .await;
    // The app's start-up prune may have run already; either way the old one goes.
    firebreak::services::alerts::delete_old_payloads(&app.pool, chrono::Utc::now()).await.expect("delete");
    assert_eq!(count(&app, "alert_payloads").await, 2);
    assert_eq!(app.count("SELECT count(*) AS n FROM alert_payloads WHERE outcome = 'old'").await, 0);
}

#[tokio::test]
async fn concurrent_deliveries_to_two_instances_open_one_incident() {
    let app = spawn_app().await;
    let second = app.another_instance().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let source = alertmanager_source(&app, &admin).await;
    // 30 deliveries at once, alternating instances; a third are a second alert of the group.
    let other = AM_FIRING.replace("7d2d332feada5c59", "fedcba9876543210");
    let mut tasks = Vec::new();
    for i in 0..30 {
        let address = if i % 2 == 0 { app.address.clone() } else { second.address.clone() };
        let body = if i % 3 == 0 { other.clone() } else { AM_FIRING.to_owned() };
        let url = format!("{address}/hooks/alerts/{}", source.public_id);
        let token = source.token.clone();
        tasks.push(tokio::spawn(async move {
            reqwest::Client::new().post(url).bearer_auth(token).body(body).send().await.expect("POST").status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.expect("task"), StatusCode::OK);
    }
    assert_eq!(count(&app, "incidents").await, 1, "one incident, however the deliveries interleave");
    assert_eq!(count(&app, "alerts").await, 2);
    assert_eq!(count(&app, "alert_payloads").await, 30);
    let id = scalar(&app, "SELECT id::text AS v FROM incidents").await;
    assert_eq!(alert_entries(&app, &id).await, 2, "one fired, one joined");
}

/// Kills the process when the test ends, however it ends.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

async fn wait_for(app: &TestApp, sql: &str, what: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while app.count(sql).await == 0 {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_real_alertmanager_opens_and_resolves_through_the_hook() {
    let binary = std::path::Path::new("/usr/bin/prometheus-alertmanager");
    if !binary.exists() {
        eprintln!(
            "SKIPPED: /usr/bin/prometheus-alertmanager is not installed (apt-get install prometheus-alertmanager)"
        );
        return;
    }
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let source = alertmanager_source(&app, &admin).await;
    let dir = std::env::temp_dir().join(format!("firebreak-am-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(dir.join("data")).expect("temp dir");
    let config = format!(
        "route:\n  receiver: firebreak\n  group_by: [alertname, service]\n  group_wait: 0s\n  group_interval: 1s\n  repeat_interval: 1h\n\
         receivers:\n  - name: firebreak\n    webhook_configs:\n      - url: '{}/hooks/alerts/{}'\n        send_resolved: true\n\
         \x20       http_config:\n          authorization:\n            type: Bearer\n            credentials: '{}'\n",
        app.address, source.public_id, source.token
    );
    std::fs::write(dir.join("alertmanager.yml"), config).expect("config");
    let port = free_port();
    let child = std::process::Command::new(binary)
        .arg(format!("--config.file={}", dir.join("alertmanager.yml").display()))
        .arg(format!("--storage.path={}", dir.join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start alertmanager");
    let _running = Running(child);
    let api = format!("http://127.0.0.1:{port}/api/v2/alerts");
    let client = reqwest::Client::new();
    let alert = |ends: Option<String>| {
        let mut a = serde_json::json!({
            "labels": {"alertname": "RealAlert", "service": "checkout", "severity": "critical"},
            "annotations": {"summary": "sent through a real Alertmanager"},
            "generatorURL": "http://prometheus.example.test/graph?g0.expr=up",
        });
        if let Some(e) = ends {
            a["endsAt"] = e.into();
        }
        serde_json::json!([a])
    };
    // Alertmanager takes a moment to listen.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        match client.post(&api).json(&alert(None)).send().await {
            Ok(r) if r.status().is_success() => break,
            _ if std::time::Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(100)).await,
            other => panic!("alertmanager did not accept the alert: {other:?}"),
        }
    }
    wait_for(&app, "SELECT count(*) AS n FROM incidents WHERE title LIKE 'RealAlert:%'", "the incident").await;
    let row = scalar(&app, "SELECT concat_ws('|', title, severity, detection_source) AS v FROM incidents").await;
    assert_eq!(row, "RealAlert: sent through a real Alertmanager|1|alert");
    let body = scalar(&app, "SELECT body AS v FROM alert_payloads ORDER BY id LIMIT 1").await;
    assert!(body.contains("\"version\":\"4\"") && body.contains("\"endsAt\":\"0001-01-01T00:00:00Z\""), "{body}");

    // Resolve it: Alertmanager sends the resolved notification; the incident stays open.
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let r = client.post(&api).json(&alert(Some(now))).send().await.expect("resolve");
    assert!(r.status().is_success());
    wait_for(&app, "SELECT count(*) AS n FROM alerts WHERE status = 'resolved'", "the resolved alert").await;
    assert_eq!(count(&app, "incidents").await, 1);
    assert_eq!(scalar(&app, "SELECT status AS v FROM incidents").await, "investigating");
    let _ = std::fs::remove_dir_all(&dir);
}
