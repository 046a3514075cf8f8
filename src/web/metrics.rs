//! `/metrics` in Prometheus text format, and the middleware that counts,
//! times and logs every request.
//!
//! Request metrics are kept in memory per app instance (they restart at zero
//! with it, as Prometheus counters may); labels use the matched route
//! pattern (`/incidents/{id}`), never the raw path, so their number stays
//! bounded; requests no route matched share `route="unmatched"`. Latency is
//! measured until the response starts (a live stream counts until it opens).
//! The gauges (incidents, queues, pool) are read when scraped.
//!
//! With `METRICS_TOKEN` set, `/metrics` answers only `Authorization: Bearer <token>`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::{Method, StatusCode, header};
use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use secrecy::ExposeSecret;
use tracing::Instrument;

use crate::telemetry::redacted_target;
use crate::web::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.route("/metrics", web::get().to(metrics));
}

/// Upper bounds (seconds) of the latency histogram's buckets.
pub const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// The `route` label of requests no route matched.
pub const UNMATCHED: &str = "unmatched";

/// One route and method: requests by status and the latency histogram.
#[derive(Debug, Default, Clone)]
struct Series {
    statuses: Vec<(u16, u64)>,
    /// Non-cumulative counts per bucket; the last one is +Inf.
    buckets: [u64; BUCKETS.len() + 1],
    sum: f64,
    count: u64,
}

/// Request counts and latencies of this app instance.
#[derive(Debug, Default)]
pub struct HttpMetrics {
    /// route → method → series. One short lock per request.
    routes: Mutex<BTreeMap<String, Vec<(&'static str, Series)>>>,
}

impl HttpMetrics {
    pub fn observe(&self, route: &str, method: &'static str, status: u16, seconds: f64) {
        let mut routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        let methods = match routes.get_mut(route) {
            Some(m) => m,
            None => routes.entry(route.to_owned()).or_default(),
        };
        let series = match methods.iter().position(|(m, _)| *m == method) {
            Some(i) => &mut methods[i].1,
            None => {
                methods.push((method, Series::default()));
                let last = methods.len() - 1;
                &mut methods[last].1
            }
        };
        match series.statuses.iter_mut().find(|(s, _)| *s == status) {
            Some((_, n)) => *n += 1,
            None => series.statuses.push((status, 1)),
        }
        let bucket = BUCKETS.iter().position(|b| seconds <= *b).unwrap_or(BUCKETS.len());
        series.buckets[bucket] += 1;
        series.sum += seconds;
        series.count += 1;
    }

    /// Appends the counter and the histogram in the text format.
    pub fn render(&self, out: &mut String) {
        let routes = self.routes.lock().unwrap_or_else(|e| e.into_inner()).clone();
        out.push_str("# HELP http_requests_total HTTP requests answered, by route pattern, method and status.\n");
        out.push_str("# TYPE http_requests_total counter\n");
        for (route, methods) in &routes {
            for (method, series) in methods {
                let mut statuses = series.statuses.clone();
                statuses.sort_unstable();
                for (status, n) in statuses {
                    let _ = writeln!(
                        out,
                        "http_requests_total{{route=\"{}\",method=\"{method}\",status=\"{status}\"}} {n}",
                        escape(route)
                    );
                }
            }
        }
        out.push_str(
            "# HELP http_request_duration_seconds Time until the response started, by route pattern and method.\n",
        );
        out.push_str("# TYPE http_request_duration_seconds histogram\n");
        for (route, methods) in &routes {
            let route = escape(route);
            for (method, series) in methods {
                let mut cumulative = 0;
                for (i, n) in series.buckets.iter().enumerate() {
                    cumulative += n;
                    let le = BUCKETS.get(i).map_or_else(|| "+Inf".to_owned(), |b| b.to_string());
                    let _ = writeln!(
                        out,
                        "http_request_duration_seconds_bucket{{route=\"{route}\",method=\"{method}\",le=\"{le}\"}} {cumulative}"
                    );
                }
                let _ = writeln!(
                    out,
                    "http_request_duration_seconds_sum{{route=\"{route}\",method=\"{method}\"}} {}",
                    series.sum
                );
                let _ = writeln!(
                    out,
                    "http_request_duration_seconds_count{{route=\"{route}\",method=\"{method}\"}} {}",
                    series.count
                );
            }
        }
    }
}

/// A label value in the text format: backslash, quote and newline escaped.
pub fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// The `method` label: the standard methods, anything else is `OTHER`.
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// Middleware: counts and times every request for `/metrics` and logs one
/// line per request (see `telemetry`). Wrap it outermost.
pub struct RequestTelemetry {
    metrics: Arc<HttpMetrics>,
}

impl RequestTelemetry {
    pub fn new(metrics: Arc<HttpMetrics>) -> Self {
        RequestTelemetry { metrics }
    }
}

impl<S, B> Transform<S, ServiceRequest> for RequestTelemetry
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    S::Future: 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Transform = RequestTelemetryService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequestTelemetryService { service, metrics: Arc::clone(&self.metrics) }))
    }
}

pub struct RequestTelemetryService<S> {
    service: S,
    metrics: Arc<HttpMetrics>,
}

impl<S, B> Service<ServiceRequest> for RequestTelemetryService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    S::Future: 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>>>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let started = Instant::now();
        let pattern = req.match_pattern();
        let route = pattern.clone().unwrap_or_else(|| UNMATCHED.to_owned());
        let method = method_label(req.method());
        let target = redacted_target(pattern.as_deref(), req.path(), req.query_string());
        let request_id = format!("{:016x}", rand::random::<u64>());
        let span = tracing::info_span!("request", method, route = %route, request_id = %request_id);
        let future = span.in_scope(|| self.service.call(req));
        let metrics = Arc::clone(&self.metrics);
        Box::pin(async move {
            let result = future.instrument(span).await;
            let status = match &result {
                Ok(response) => response.status(),
                Err(e) => e.as_response_error().status_code(),
            };
            let elapsed = started.elapsed();
            metrics.observe(&route, method, status.as_u16(), elapsed.as_secs_f64());
            let latency_ms = (elapsed.as_micros() / 100) as f64 / 10.0;
            tracing::info!(
                target: "firebreak::http",
                method,
                route = %route,
                path = %target,
                status = status.as_u16(),
                latency_ms,
                request_id = %request_id,
                "request"
            );
            result
        })
    }
}

/// Whether the request carries the metrics token (compared in constant time).
fn authorized(req: &HttpRequest, token: &str) -> bool {
    let Some(sent) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
    else {
        return false;
    };
    let (a, b) = (sent.trim().as_bytes(), token.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What the database says, read at each scrape.
#[derive(Default)]
struct Gauges {
    active: [i64; 4],
    /// Restricted incidents not resolved or closed, counted without their severity.
    restricted: i64,
    outbox: crate::db::outbox::Counts,
    webhooks: crate::db::webhooks::Counts,
}

async fn gauges(conn: &mut AsyncPgConnection) -> QueryResult<Gauges> {
    use crate::db::schema::incidents;
    // Read-only, so straight from the table: open incidents by severity.
    let restricted = crate::domain::incident::Visibility::Restricted.as_str();
    let rows: Vec<(i16, i64)> = incidents::table
        .filter(incidents::status.ne_all(["resolved", "closed"]))
        .filter(incidents::visibility.ne(restricted))
        .group_by(incidents::severity)
        .select((incidents::severity, diesel::dsl::count_star()))
        .load(conn)
        .await?;
    let mut active = [0; 4];
    for (severity, n) in rows {
        if let Some(slot) = usize::try_from(severity - 1).ok().and_then(|i| active.get_mut(i)) {
            *slot = n;
        }
    }
    let restricted = incidents::table
        .filter(incidents::status.ne_all(["resolved", "closed"]))
        .filter(incidents::visibility.eq(restricted))
        .count()
        .get_result(conn)
        .await?;
    Ok(Gauges {
        active,
        restricted,
        outbox: crate::db::outbox::counts(conn).await?,
        webhooks: crate::db::webhooks::counts(conn).await?,
    })
}

fn gauge(out: &mut String, name: &str, help: &str, label: &str, values: &[(&str, i64)]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
    for (value, n) in values {
        let _ = writeln!(out, "{name}{{{label}=\"{value}\"}} {n}");
    }
}

/// Without a token, only a scraper on this machine (loopback) is served.
pub fn from_this_machine(peer: std::net::IpAddr) -> bool {
    match peer {
        std::net::IpAddr::V4(a) => a.is_loopback(),
        std::net::IpAddr::V6(a) => a.is_loopback() || a.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
    }
}

/// `GET /metrics`
pub async fn metrics(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let allowed = match &state.settings.metrics_token {
        Some(token) => authorized(&req, token.expose_secret()),
        None => req.peer_addr().is_some_and(|a| from_this_machine(a.ip())),
    };
    if !allowed && state.settings.metrics_token.is_none() {
        return HttpResponse::Forbidden()
            .content_type("text/plain; charset=utf-8")
            .body("Metrics are served to this machine only. Set METRICS_TOKEN to scrape them from elsewhere.\n");
    }
    if !allowed {
        return HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"metrics\""))
            .content_type("text/plain; charset=utf-8")
            .body("Send the metrics token: Authorization: Bearer <METRICS_TOKEN>.\n");
    }
    let mut out = String::with_capacity(16 * 1024);
    if let Some(http) = req.app_data::<web::Data<HttpMetrics>>() {
        http.render(&mut out);
    }
    let pool = state.pool.status();
    // The connection for the gauges below is taken after reading the pool's use.
    // A busy or unreachable database must not hang the scrape.
    let read = tokio::time::timeout(std::time::Duration::from_secs(3), async {
        let mut conn = state.pool.get().await.ok()?;
        gauges(&mut conn).await.ok()
    })
    .await
    .ok()
    .flatten();
    gauge(
        &mut out,
        "firebreak_db_pool_connections",
        "Database connections of this instance: open (size), idle (available), the most allowed (max) and requests waiting for one.",
        "state",
        &[
            ("size", pool.size as i64),
            ("available", pool.available as i64),
            ("max", pool.max_size as i64),
            ("waiting", pool.waiting as i64),
        ],
    );
    let _ = writeln!(
        out,
        "# HELP firebreak_database_up Whether the database answered this scrape.\n# TYPE firebreak_database_up gauge\nfirebreak_database_up {}",
        i32::from(read.is_some())
    );
    if let Some(g) = read {
        let labels = ["SEV1", "SEV2", "SEV3", "SEV4"];
        let active: Vec<(&str, i64)> = labels.iter().copied().zip(g.active).collect();
        gauge(
            &mut out,
            "firebreak_active_incidents",
            "Incidents not resolved or closed, by severity (restricted ones are counted apart).",
            "severity",
            &active,
        );
        let _ = writeln!(
            out,
            "# HELP firebreak_active_restricted_incidents Restricted incidents not resolved or closed (no labels: \
             even their severity is not shown).\n# TYPE firebreak_active_restricted_incidents gauge\n\
             firebreak_active_restricted_incidents {}",
            g.restricted
        );
        gauge(
            &mut out,
            "firebreak_outbox_messages",
            "Email in the outbox: waiting to be sent (pending), sent, and given up on (failed).",
            "status",
            &[("pending", g.outbox.pending), ("sent", g.outbox.sent), ("failed", g.outbox.failed)],
        );
        gauge(
            &mut out,
            "firebreak_webhook_deliveries",
            "Webhook deliveries: queued or being retried (pending), delivered, and given up on (failed).",
            "status",
            &[("pending", g.webhooks.pending), ("delivered", g.webhooks.delivered), ("failed", g.webhooks.failed)],
        );
    }
    HttpResponse::build(StatusCode::OK).content_type("text/plain; version=0.0.4; charset=utf-8").body(out)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use actix_web::App;
    use actix_web::test as actix_test;

    use super::*;

    #[test]
    fn without_a_token_only_this_machine_is_served() {
        assert!(super::from_this_machine("127.0.0.1".parse().expect("ip")));
        assert!(super::from_this_machine("::ffff:127.0.0.1".parse().expect("ip")));
        assert!(!super::from_this_machine("10.0.0.7".parse().expect("ip")));
        assert!(!super::from_this_machine("2001:db8::1".parse().expect("ip")));
    }

    #[test]
    fn counters_and_histograms_use_the_text_format() {
        let m = HttpMetrics::default();
        m.observe("/incidents/{id}", "GET", 200, 0.003);
        m.observe("/incidents/{id}", "GET", 200, 0.2);
        m.observe("/incidents/{id}", "GET", 404, 20.0);
        m.observe("/a\"b", "POST", 303, 0.0);
        let mut out = String::new();
        m.render(&mut out);
        assert!(
            out.contains("http_requests_total{route=\"/incidents/{id}\",method=\"GET\",status=\"200\"} 2\n"),
            "{out}"
        );
        assert!(out.contains("http_requests_total{route=\"/incidents/{id}\",method=\"GET\",status=\"404\"} 1\n"));
        assert!(out.contains("http_requests_total{route=\"/a\\\"b\",method=\"POST\",status=\"303\"} 1\n"));
        assert!(out.contains(
            "http_request_duration_seconds_bucket{route=\"/incidents/{id}\",method=\"GET\",le=\"0.001\"} 0\n"
        ));
        assert!(out.contains(
            "http_request_duration_seconds_bucket{route=\"/incidents/{id}\",method=\"GET\",le=\"0.005\"} 1\n"
        ));
        assert!(out.contains(
            "http_request_duration_seconds_bucket{route=\"/incidents/{id}\",method=\"GET\",le=\"0.25\"} 2\n"
        ));
        assert!(out.contains(
            "http_request_duration_seconds_bucket{route=\"/incidents/{id}\",method=\"GET\",le=\"+Inf\"} 3\n"
        ));
        assert!(out.contains("http_request_duration_seconds_count{route=\"/incidents/{id}\",method=\"GET\"} 3\n"));
    }

    /// The log lines written while a test runs.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[actix_web::test]
    async fn each_request_is_logged_once_with_its_route_and_without_secrets() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || writer.clone())
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let metrics = Arc::new(HttpMetrics::default());
        let app = actix_test::init_service(App::new().wrap(RequestTelemetry::new(Arc::clone(&metrics))).route(
            "/hooks/alerts/{id}",
            web::post().to(|| async {
                tracing::info!("handling");
                HttpResponse::Accepted().finish()
            }),
        ))
        .await;
        let req = actix_test::TestRequest::post()
            .uri("/hooks/alerts/src1?token=s3cr3t-t0ken&dry=1")
            .insert_header(("Authorization", "Bearer api-s3cr3t"))
            .insert_header(("Cookie", "firebreak_session=sessi0n-value"))
            .to_request();
        assert_eq!(actix_test::call_service(&app, req).await.status(), StatusCode::ACCEPTED);
        let req = actix_test::TestRequest::get().uri("/nowhere/at/all").to_request();
        assert_eq!(actix_test::call_service(&app, req).await.status(), StatusCode::NOT_FOUND);

        let text = String::from_utf8(captured.0.lock().unwrap_or_else(|e| e.into_inner()).clone()).expect("utf-8");
        for secret in ["s3cr3t-t0ken", "api-s3cr3t", "sessi0n-value"] {
            assert!(!text.contains(secret), "{secret} leaked into the log:\n{text}");
        }
        let lines: Vec<serde_json::Value> =
            text.lines().map(|l| serde_json::from_str(l).expect("one JSON object per line")).collect();
        let requests: Vec<&serde_json::Value> = lines.iter().filter(|l| l["message"] == "request").collect();
        assert_eq!(requests.len(), 2, "one line per request:\n{text}");
        let first = requests[0];
        assert_eq!(first["method"], "POST");
        assert_eq!(first["route"], "/hooks/alerts/{id}");
        assert_eq!(first["path"], "/hooks/alerts/src1?token=[redacted]&dry=1");
        assert_eq!(first["status"], 202);
        assert!(first["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0));
        assert_eq!(requests[1]["route"], UNMATCHED);
        assert_eq!(requests[1]["status"], 404);
        // Lines logged by the handler carry the request's route and id.
        let handling = lines.iter().find(|l| l["message"] == "handling").expect("the handler's line");
        assert_eq!(handling["span"]["route"], "/hooks/alerts/{id}");
        assert_eq!(handling["span"]["request_id"], first["request_id"]);

        let mut out = String::new();
        metrics.render(&mut out);
        assert!(out.contains("http_requests_total{route=\"/hooks/alerts/{id}\",method=\"POST\",status=\"202\"} 1"));
        assert!(out.contains("http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"} 1"));
    }
}
