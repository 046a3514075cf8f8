//! Which addresses the server may call on someone's behalf (webhooks, and any
//! other URL an admin or user types that the server will request).
//!
//! A URL typed into a form must not turn the server into a way to reach what
//! only it can reach: itself (loopback), the cloud metadata service (link-local
//! 169.254.169.254), or the private network behind it. Such addresses are
//! refused unless the operator allows the host by name (`OUTGOING_ALLOWED_HOSTS`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whether an address is internal: loopback, private, link-local, shared
/// (carrier-grade NAT), unspecified, multicast or broadcast, in IPv4 or IPv6
/// (IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry).
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => internal_v4(a),
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => internal_v4(v4),
            None => internal_v6(a),
        },
    }
}

fn internal_v4(a: Ipv4Addr) -> bool {
    let [first, second, ..] = a.octets();
    a.is_loopback()
        || a.is_private()
        || a.is_link_local()
        || a.is_unspecified()
        || a.is_broadcast()
        || a.is_multicast()
        || first == 0
        || (first == 100 && (64..128).contains(&second))
}

fn internal_v6(a: Ipv6Addr) -> bool {
    let first = a.segments()[0];
    a.is_loopback()
        || a.is_unspecified()
        || a.is_multicast()
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
}

/// Whether the operator allowed this host (compared case-insensitively, without
/// IPv6 brackets).
pub fn host_allowed(allowed: &[String], host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    allowed.iter().any(|a| a.eq_ignore_ascii_case(host))
}

/// The message shown beside a URL that points inside.
pub const REFUSED: &str = "This address is internal (loopback, link-local or private): Firebreak does not send \
    requests there unless the operator allows the host in OUTGOING_ALLOWED_HOSTS.";

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn internal_addresses_are_recognised() {
        for s in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            assert!(is_internal(ip(s)), "{s}");
        }
        for s in ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8"] {
            assert!(!is_internal(ip(s)), "{s}");
        }
    }

    #[test]
    fn allowed_hosts_match_by_name_without_brackets() {
        let allowed = vec!["Hooks.Internal".to_owned(), "::1".to_owned()];
        assert!(host_allowed(&allowed, "hooks.internal"));
        assert!(host_allowed(&allowed, "[::1]"));
        assert!(!host_allowed(&allowed, "127.0.0.1"));
    }
}
