//! /metrics: request counters by route pattern, latency histograms, the
//! incident, queue and pool gauges, and the optional token.

use firebreak::domain::Role;
use reqwest::StatusCode;
use secrecy::SecretString;

use crate::helpers::{spawn_app, spawn_app_with};
use crate::updates::{declare, exec};

async fn scrape(address: &str, token: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(format!("{address}/metrics"));
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    request.send().await.expect("GET /metrics")
}

/// The value of the sample with exactly this name and labels.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn requests_are_counted_by_route_pattern_with_latency_histograms_and_gauges() {
    let app = spawn_app().await;
    let (browser, _) = app.signed_in(Role::Responder).await;
    let sev2 = declare(&browser, &[("title", "Slow API"), ("severity", "2")]).await;
    declare(&browser, &[("title", "Broken login"), ("severity", "1")]).await;
    let resolved = declare(&browser, &[("title", "Old news"), ("severity", "1")]).await;
    browser
        .submit(&format!("/incidents/{resolved}"), &format!("/incidents/{resolved}/status"), &[("status", "resolved")])
        .await;
    for _ in 0..3 {
        assert_eq!(browser.get(&format!("/incidents/{sev2}")).await.status(), StatusCode::OK);
    }
    assert_eq!(browser.get("/incidents/987654").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(browser.get("/no/such/page?token=s3cret").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(browser.get("/health").await.status(), StatusCode::OK);
    exec(&app, "INSERT INTO webhooks (name, url, secret, events) VALUES ('W', 'http://127.0.0.1:9/', 'x', '{}')").await;
    exec(
        &app,
        "INSERT INTO webhook_deliveries (webhook_id, delivery_id, event, body, status) \
         SELECT id, 'd1', 'test', '{}', 'failed' FROM webhooks",
    )
    .await;

    let response = scrape(&app.address, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    let text = response.text().await.expect("body");

    // Counters by pattern: the room views (three, and one before resolving) and the
    // missing incident share one route.
    assert_eq!(
        sample(&text, r#"http_requests_total{route="/incidents/{id}",method="GET",status="200"}"#),
        Some(4.0),
        "{text}"
    );
    assert_eq!(sample(&text, r#"http_requests_total{route="/incidents/{id}",method="GET",status="404"}"#), Some(1.0));
    assert_eq!(sample(&text, r#"http_requests_total{route="/incidents",method="POST",status="303"}"#), Some(3.0));
    assert_eq!(sample(&text, r#"http_requests_total{route="/health",method="GET",status="200"}"#), Some(1.0));
    assert_eq!(sample(&text, r#"http_requests_total{route="unmatched",method="GET",status="404"}"#), Some(1.0));
    assert!(
        !text.contains(&format!("/incidents/{sev2}")) && !text.contains("987654") && !text.contains("s3cret"),
        "no raw paths"
    );
    assert!(text.contains("# TYPE http_request_duration_seconds histogram"));
    assert_eq!(
        sample(&text, r#"http_request_duration_seconds_bucket{route="/incidents/{id}",method="GET",le="+Inf"}"#),
        Some(5.0)
    );
    assert_eq!(
        sample(&text, r#"http_request_duration_seconds_count{route="/incidents/{id}",method="GET"}"#),
        Some(5.0)
    );
    assert!(
        sample(&text, r#"http_request_duration_seconds_sum{route="/incidents/{id}",method="GET"}"#)
            .is_some_and(|s| s > 0.0)
    );

    // Gauges.
    assert_eq!(
        sample(&text, r#"firebreak_active_incidents{severity="SEV1"}"#),
        Some(1.0),
        "resolved ones do not count"
    );
    assert_eq!(sample(&text, r#"firebreak_active_incidents{severity="SEV2"}"#), Some(1.0));
    assert_eq!(sample(&text, r#"firebreak_active_incidents{severity="SEV4"}"#), Some(0.0));
    assert!(sample(&text, r#"firebreak_outbox_messages{status="pending"}"#).is_some());
    assert_eq!(sample(&text, r#"firebreak_outbox_messages{status="failed"}"#), Some(0.0));
    assert_eq!(sample(&text, r#"firebreak_webhook_deliveries{status="failed"}"#), Some(1.0));
    assert_eq!(sample(&text, r#"firebreak_webhook_deliveries{status="pending"}"#), Some(0.0));
    assert_eq!(sample(&text, r#"firebreak_db_pool_connections{state="max"}"#), Some(4.0));
    assert!(sample(&text, r#"firebreak_db_pool_connections{state="size"}"#).is_some_and(|n| n >= 1.0));
    assert!(sample(&text, r#"firebreak_db_pool_connections{state="available"}"#).is_some());
    assert_eq!(sample(&text, r#"firebreak_db_pool_connections{state="waiting"}"#), Some(0.0));
    assert_eq!(sample(&text, "firebreak_database_up"), Some(1.0));

    // The scrape itself is counted from the next one on.
    let again = scrape(&app.address, None).await.text().await.expect("body");
    assert_eq!(sample(&again, r#"http_requests_total{route="/metrics",method="GET",status="200"}"#), Some(1.0));
}

#[tokio::test]
async fn a_metrics_token_keeps_metrics_private() {
    let token = "metrics-token-0123456789";
    let app = spawn_app_with(|s| s.metrics_token = Some(SecretString::from(token.to_owned()))).await;
    let response = scrape(&app.address, None).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers().get("www-authenticate").and_then(|v| v.to_str().ok()),
        Some("Bearer realm=\"metrics\"")
    );
    assert!(!response.text().await.expect("body").contains("http_requests_total"));
    assert_eq!(scrape(&app.address, Some("metrics-token-0123456780")).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(scrape(&app.address, Some("short")).await.status(), StatusCode::UNAUTHORIZED);
    let response = scrape(&app.address, Some(token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.text().await.expect("body").contains("firebreak_active_incidents"));
}
