//! The client's address: the TCP peer, or behind trusted reverse proxies
//! (`HOIST_TRUSTED_PROXIES`) the address they report in `X-Forwarded-For`.
//!
//! Only a trusted peer's header is believed, and only the part its proxies appended:
//! reading the header from the right, the first address that is not a trusted proxy is
//! the client. Anything further left was written by the client itself and could be
//! anything, so a client cannot pick the address its sign-in failures count against.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

/// The networks whose `X-Forwarded-For` is believed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses `HOIST_TRUSTED_PROXIES`: comma-separated IPs or CIDRs.
    pub fn parse(value: &str) -> Result<Self, String> {
        let mut nets = vec![];
        for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let net = match IpNet::from_str(item) {
                Ok(net) => net.trunc(),
                Err(_) => IpAddr::from_str(item)
                    .map(IpNet::from)
                    .map_err(|_| format!("{item:?} is neither an IP address nor a CIDR (e.g. 10.0.0.0/8)"))?,
            };
            nets.push(net);
        }
        Ok(TrustedProxies(nets))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client's address for a request from `peer` with these headers.
    pub fn client_of(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        // Several X-Forwarded-For lines are one list, in order.
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            // Unreadable: written by someone untrusted; the last trusted hop is the best we know.
            let Some(ip) = parse_hop(hop) else { break };
            client = ip;
            if !self.trusts(ip) {
                break;
            }
        }
        client
    }
}

/// One `X-Forwarded-For` entry: an address, maybe with a port (`1.2.3.4:5`, `[::1]:5`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    IpAddr::from_str(hop)
        .or_else(|_| SocketAddr::from_str(hop).map(|s| s.ip()))
        .or_else(|_| IpAddr::from_str(hop.trim_start_matches('[').trim_end_matches(']')))
        .ok()
        .map(|ip| ip.to_canonical())
}

/// The client's address (see the module), for the lockout and the audit log. The
/// [`layer`] middleware works it out once per request; without it (a bare router in a
/// test), the peer's address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl ClientAddr {
    pub fn ip(&self) -> IpAddr {
        self.0
    }
}

impl std::fmt::Display for ClientAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if let Some(addr) = parts.extensions.get::<ClientAddr>() {
            return Ok(*addr);
        }
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        // No peer at all only happens for requests made in-process (tests, SSR); they are local.
        Ok(ClientAddr(peer.unwrap_or(IpAddr::from([127, 0, 0, 1])).to_canonical()))
    }
}

/// Middleware: puts the request's [`ClientAddr`] in its extensions.
pub async fn layer(State(proxies): State<Arc<TrustedProxies>>, mut request: Request, next: Next) -> Response {
    if let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>().copied() {
        let client = proxies.client_of(peer.ip(), request.headers());
        request.extensions_mut().insert(ClientAddr(client));
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn xff(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parses_ips_and_cidrs_and_refuses_the_rest() {
        let proxies = TrustedProxies::parse(" 10.0.0.0/8, 192.168.1.7 ,::1,fd00::/8,").unwrap();
        assert_eq!(proxies.0.len(), 4);
        assert!(proxies.trusts(ip("10.200.0.1")));
        assert!(proxies.trusts(ip("192.168.1.7")));
        assert!(!proxies.trusts(ip("192.168.1.8")));
        assert!(proxies.trusts(ip("::1")));
        assert!(proxies.trusts(ip("fd12::1")));
        // An IPv4 peer seen on a dual-stack socket.
        assert!(proxies.trusts(ip("::ffff:10.1.2.3")));
        assert!(TrustedProxies::parse("").unwrap().is_empty());
        for bad in ["10.0.0.0/33", "proxy.local", "10.0.0", "*"] {
            assert!(TrustedProxies::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_says() {
        let none = TrustedProxies::default();
        assert_eq!(none.client_of(ip("203.0.113.9"), &xff(&["1.1.1.1"])), ip("203.0.113.9"));
        let proxies = TrustedProxies::parse("10.0.0.0/8").unwrap();
        assert_eq!(proxies.client_of(ip("203.0.113.9"), &xff(&["10.0.0.1"])), ip("203.0.113.9"));
    }

    #[test]
    fn behind_trusted_proxies_the_rightmost_untrusted_hop_is_the_client() {
        let proxies = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let peer = ip("10.0.0.2");
        assert_eq!(proxies.client_of(peer, &xff(&["198.51.100.4"])), ip("198.51.100.4"));
        // The client wrote the leftmost entry itself; the proxies appended the rest.
        assert_eq!(proxies.client_of(peer, &xff(&["6.6.6.6, 198.51.100.4, 10.0.0.9"])), ip("198.51.100.4"));
        assert_eq!(proxies.client_of(peer, &xff(&["6.6.6.6", "198.51.100.4:5123"])), ip("198.51.100.4"));
        assert_eq!(proxies.client_of(peer, &xff(&["[2001:db8::1]:443"])), ip("2001:db8::1"));
        // No header: the proxy itself. Garbage: the last trusted hop.
        assert_eq!(proxies.client_of(peer, &HeaderMap::new()), peer);
        assert_eq!(proxies.client_of(peer, &xff(&["garbage, 10.0.0.9"])), ip("10.0.0.9"));
        assert_eq!(proxies.client_of(peer, &xff(&["1.2.3.4, garbage"])), peer);
        // Only trusted hops: the leftmost of them.
        assert_eq!(proxies.client_of(peer, &xff(&["10.0.0.7, 10.0.0.8"])), ip("10.0.0.7"));
    }
}
