//! The one place that decides whether the server may request a URL typed by a
//! person (webhooks today; ntfy and webhook contact methods will use it too).
//! Call [`check_destination`] when the URL is saved, and send through
//! [`guarded_client`], which checks again after DNS resolution at send time, so a
//! name that later resolves inside is caught too. The rule is in `domain::outgoing`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use crate::domain::outgoing::{REFUSED, host_allowed, is_internal};

/// Why a destination is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refused {
    #[error("{0}")]
    Internal(&'static str),
    #[error("The host name does not resolve: {0}")]
    Unresolvable(String),
    #[error("Enter a full http:// or https:// URL.")]
    NotAUrl,
}

/// Checks that `url`'s host is not internal, resolving a name through DNS.
/// `allowed` are the hosts the operator allows anyway.
pub async fn check_destination(url: &str, allowed: &[String]) -> Result<(), Refused> {
    let parsed = url::Url::parse(url).map_err(|_| Refused::NotAUrl)?;
    let host = parsed.host_str().ok_or(Refused::NotAUrl)?;
    if host_allowed(allowed, host) {
        return Ok(());
    }
    let port = parsed.port_or_known_default().unwrap_or(443);
    let addrs: Vec<IpAddr> = match parsed.host() {
        Some(url::Host::Ipv4(a)) => vec![IpAddr::V4(a)],
        Some(url::Host::Ipv6(a)) => vec![IpAddr::V6(a)],
        _ => tokio::time::timeout(Duration::from_secs(5), tokio::net::lookup_host((host, port)))
            .await
            .map_err(|_| Refused::Unresolvable("no answer within 5 seconds".into()))?
            .map_err(|e| Refused::Unresolvable(e.to_string()))?
            .map(|a| a.ip())
            .collect(),
    };
    if addrs.iter().any(|a| is_internal(*a)) { Err(Refused::Internal(REFUSED)) } else { Ok(()) }
}

/// A DNS resolver that refuses names resolving to internal addresses.
struct Guarded {
    allowed: Arc<Vec<String>>,
}

impl reqwest::dns::Resolve for Guarded {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allowed = Arc::clone(&self.allowed);
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !host_allowed(&allowed, &host) && addrs.iter().any(|a| is_internal(a.ip())) {
                return Err(Box::new(Refused::Internal(REFUSED)) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// A client builder whose name lookups refuse internal addresses (IP literals in
/// URLs never reach a resolver: check those with [`check_destination`] before
/// sending). Redirects are not followed (a redirect could point inside).
pub fn guarded_client(allowed: &[String]) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Arc::new(Guarded { allowed: Arc::new(allowed.to_vec()) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn internal_destinations_are_refused_unless_allowed() {
        for url in ["http://127.0.0.1:9/x", "http://169.254.169.254/latest", "http://[::1]/", "http://localhost/"] {
            assert_eq!(check_destination(url, &[]).await, Err(Refused::Internal(REFUSED)), "{url}");
        }
        assert_eq!(check_destination("http://127.0.0.1:9/x", &["127.0.0.1".into()]).await, Ok(()));
        assert_eq!(check_destination("http://93.184.216.34/", &[]).await, Ok(()));
    }
}
