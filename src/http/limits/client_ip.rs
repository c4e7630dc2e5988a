//! The client's address: the TCP peer, or, when the peer is a trusted proxy, the nearest
//! address in `X-Forwarded-For` that is not itself a trusted proxy.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::HeaderMap;
use ipnet::IpNet;

/// The client address of a request, if the peer is known.
pub fn of_request(parts: &axum::http::request::Parts, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())?;
    Some(resolve(peer, &parts.headers, trusted))
}

/// Walks `X-Forwarded-For` from the right (the entry our proxy added) while the hop is
/// trusted; the first untrusted hop is the client. A malformed entry stops the walk at the
/// last trusted hop, so a client cannot choose its address by writing the header itself.
pub fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !is_trusted(&ip) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn xff(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", value.parse().unwrap());
        h
    }

    #[test]
    fn only_trusted_peers_may_name_the_client() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        // Untrusted peer: the header is ignored.
        assert_eq!(
            resolve(ip("203.0.113.9"), &xff("1.2.3.4"), &trusted),
            ip("203.0.113.9")
        );
        // Trusted peer: the rightmost untrusted hop.
        assert_eq!(
            resolve(ip("10.0.0.2"), &xff("6.6.6.6, 1.2.3.4, 10.0.0.7"), &trusted),
            ip("1.2.3.4")
        );
        // No header: the peer.
        assert_eq!(
            resolve(ip("10.0.0.2"), &HeaderMap::new(), &trusted),
            ip("10.0.0.2")
        );
        // Garbage stops the walk.
        assert_eq!(
            resolve(ip("10.0.0.2"), &xff("1.2.3.4, junk"), &trusted),
            ip("10.0.0.2")
        );
        // Nothing trusted by default.
        assert_eq!(
            resolve(ip("10.0.0.2"), &xff("1.2.3.4"), &[]),
            ip("10.0.0.2")
        );
    }
}
