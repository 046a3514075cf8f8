//! Logging with tracing: text for people, JSON for log collectors.
//!
//! Every request is logged once when its response starts (see
//! `web::metrics::RequestTelemetry`), on the `firebreak::http` target, with
//! `method`, `route` (the matched pattern, e.g. `/incidents/{id}`), `path`
//! (the real path and query with secrets blanked: see `redacted_target`),
//! `status`, `latency_ms` and a `request_id` that every other line logged
//! while handling the request carries too. Headers (cookies, `Authorization`)
//! and bodies (passwords, form fields) are never logged.
//! `RUST_LOG=info,firebreak::http=warn` silences the request lines.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

use crate::config::LogFormat;

/// Installs the global subscriber. `RUST_LOG` overrides the default levels.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_span_events(FmtSpan::NONE);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// `spawn_blocking` that keeps the caller's span, so logs from the blocking
/// thread still carry the request id.
pub fn spawn_blocking_with_tracing<F, R>(f: F) -> tokio::task::JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(f))
}

/// What replaces a secret in logs.
pub const REDACTED: &str = "[redacted]";

/// Whether a query parameter or path parameter name may carry a secret.
pub fn is_sensitive(name: &str) -> bool {
    const WORDS: &[&str] = &[
        "token",
        "password",
        "passwd",
        "secret",
        "key",
        "session",
        "auth",
        "signature",
        "sig",
        "csrf",
        "credential",
        "code",
    ];
    let name = name.to_ascii_lowercase();
    WORDS.iter().any(|w| name.contains(w))
}

/// The query string with the value of every sensitive parameter blanked
/// (`token=abc&status=open` → `token=[redacted]&status=open`).
pub fn redact_query(query: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if is_sensitive(&percent_decoded(name)) => format!("{name}={REDACTED}"),
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn percent_decoded(s: &str) -> String {
    url::form_urlencoded::parse(s.as_bytes()).map(|(k, _)| k.into_owned()).next().unwrap_or_default()
}

/// The path with every segment matched by a sensitive route parameter
/// blanked: pattern `/status/subscriptions/{token}/confirm` turns
/// `/status/subscriptions/abc/confirm` into `/status/subscriptions/[redacted]/confirm`.
/// A sensitive tail parameter (`{token:.*}`) blanks the rest of the path.
pub fn redact_path(pattern: Option<&str>, path: &str) -> String {
    let Some(pattern) = pattern else { return path.to_owned() };
    let mut out = Vec::new();
    let mut segments = path.split('/');
    for p in pattern.split('/') {
        let Some(segment) = segments.next() else { break };
        let name = p.strip_prefix('{').and_then(|p| p.strip_suffix('}')).map(|p| p.split(':').next().unwrap_or(p));
        match name {
            Some(name) if is_sensitive(name) => {
                out.push(REDACTED.to_owned());
                if p.contains(':') {
                    // A tail match: whatever follows belongs to this parameter too.
                    return out.join("/");
                }
            }
            _ => out.push(segment.to_owned()),
        }
    }
    out.extend(segments.map(str::to_owned));
    out.join("/")
}

/// The request target as logged: path and query, secrets blanked.
pub fn redacted_target(pattern: Option<&str>, path: &str, query: &str) -> String {
    let path = redact_path(pattern, path);
    if query.is_empty() { path } else { format!("{path}?{}", redact_query(query)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_secrets_are_blanked_and_the_rest_kept() {
        assert_eq!(redact_query("token=abc123"), "token=[redacted]");
        assert_eq!(redact_query("status=open&api_key=k&x"), "status=open&api_key=[redacted]&x");
        assert_eq!(redact_query("Access%5FToken=zz&page=2"), "Access%5FToken=[redacted]&page=2");
        assert_eq!(redact_query("password=hunter2"), "password=[redacted]");
        assert_eq!(redact_query("next=%2Fincidents"), "next=%2Fincidents");
    }

    #[test]
    fn path_parameters_that_carry_secrets_are_blanked() {
        assert_eq!(
            redact_path(Some("/status/subscriptions/{token}/confirm"), "/status/subscriptions/s3cr3t/confirm"),
            "/status/subscriptions/[redacted]/confirm"
        );
        assert_eq!(redact_path(Some("/incidents/{id}"), "/incidents/12"), "/incidents/12");
        assert_eq!(redact_path(Some("/static/{path:.*}"), "/static/css/app.css"), "/static/css/app.css");
        assert_eq!(redact_path(Some("/t/{token:.*}"), "/t/a/b"), "/t/[redacted]");
        assert_eq!(redact_path(None, "/nowhere/x"), "/nowhere/x");
        assert_eq!(
            redacted_target(Some("/hooks/alerts/{id}"), "/hooks/alerts/x", "token=abc"),
            "/hooks/alerts/x?token=[redacted]"
        );
    }
}
