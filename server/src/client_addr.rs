//! Who is on the other end of a request. Behind a reverse proxy every connection comes from the
//! proxy, so the address the audit trail records and the rate limits count by would be the
//! proxy's for everyone. Proxies named with `--trusted-proxy` may say who their client was in
//! `X-Forwarded-For`; nobody else may, because anyone can write that header.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

/// The client's address as this server believes it, for every layer and handler after
/// [`resolve`]. `None` only for requests that arrive without a connection (in-process tests).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub Option<IpAddr>);

/// The addresses and networks whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Arc<Vec<IpNet>>);

impl TrustedProxies {
    pub fn new(networks: Vec<IpNet>) -> Self {
        TrustedProxies(Arc::new(networks))
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The peer, or, when the peer is a trusted proxy, the nearest address in
    /// `X-Forwarded-For` that is not itself a trusted proxy. Each proxy appends the address it
    /// saw, so entries left of that one were written by the client and are not believed; an
    /// entry that is not an address ends the walk at the last one that was.
    pub fn client(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let mut client = peer?;
        if !self.trusts(client) {
            return Some(client);
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        for hop in hops.into_iter().rev() {
            let Some(ip) = hop_address(hop) else { break };
            client = ip;
            if !self.trusts(ip) {
                break;
            }
        }
        Some(client)
    }
}

/// An `X-Forwarded-For` entry's address: `203.0.113.9`, `2001:db8::7`, or with a port as some
/// proxies write it, `203.0.113.9:4711` and `[2001:db8::7]:4711`.
fn hop_address(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse() {
        return Some(ip);
    }
    if let Some(bracketed) = hop.strip_prefix('[') {
        return bracketed.split_once(']')?.0.parse().ok();
    }
    let (host, port) = hop.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

/// Reads `--trusted-proxy`: an address (`10.0.0.5`) or a network (`10.0.0.0/8`).
pub fn parse_proxy(raw: &str) -> Result<IpNet, String> {
    let raw = raw.trim();
    raw.parse::<IpNet>()
        .or_else(|_| raw.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{raw:?} is neither an IP address nor a network like 10.0.0.0/8"))
}

/// Puts the request's [`ClientAddr`] in its extensions.
pub async fn resolve(
    State(proxies): State<TrustedProxies>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(a)| a.ip());
    let addr = ClientAddr(proxies.client(peer, request.headers()));
    request.extensions_mut().insert(addr);
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append("x-forwarded-for", v.parse().unwrap());
        }
        headers
    }

    #[test]
    fn only_a_trusted_proxy_is_believed_and_only_for_its_own_hop() {
        let none = TrustedProxies::default();
        let lan = TrustedProxies::new(vec![parse_proxy("10.0.0.0/8").unwrap()]);
        let spoofed = forwarded(&["203.0.113.9"]);
        assert_eq!(none.client(Some(ip("10.0.0.1")), &spoofed), Some(ip("10.0.0.1")));
        assert_eq!(lan.client(Some(ip("198.51.100.7")), &spoofed), Some(ip("198.51.100.7")));
        assert_eq!(lan.client(Some(ip("10.0.0.1")), &spoofed), Some(ip("203.0.113.9")));

        // The client wrote the leftmost entry itself; two trusted hops are walked past.
        let chain = forwarded(&["1.1.1.1, 203.0.113.9", "10.0.0.2"]);
        assert_eq!(lan.client(Some(ip("10.0.0.1")), &chain), Some(ip("203.0.113.9")));
        let garbage = forwarded(&["203.0.113.9, not-an-address, 10.0.0.2"]);
        assert_eq!(lan.client(Some(ip("10.0.0.1")), &garbage), Some(ip("10.0.0.2")));
        assert_eq!(lan.client(Some(ip("10.0.0.1")), &HeaderMap::new()), Some(ip("10.0.0.1")));
        assert_eq!(lan.client(None, &spoofed), None);
        let v6 = forwarded(&["2001:db8::7"]);
        assert_eq!(lan.client(Some(ip("10.0.0.1")), &v6), Some(ip("2001:db8::7")));
    }

    #[test]
    fn forwarded_entries_may_carry_a_port() {
        assert_eq!(hop_address("203.0.113.9:4711"), Some(ip("203.0.113.9")));
        assert_eq!(hop_address("[2001:db8::7]:4711"), Some(ip("2001:db8::7")));
        assert_eq!(hop_address("[2001:db8::7]"), Some(ip("2001:db8::7")));
        for bad in ["203.0.113.9:port", "unknown", "_hidden", "[nope]:1", ""] {
            assert_eq!(hop_address(bad), None, "{bad}");
        }
    }

    #[test]
    fn proxies_are_addresses_or_networks() {
        assert_eq!(parse_proxy("127.0.0.1").unwrap(), "127.0.0.1/32".parse::<IpNet>().unwrap());
        assert_eq!(parse_proxy(" ::1 ").unwrap(), "::1/128".parse::<IpNet>().unwrap());
        assert!(parse_proxy("10.0.0.0/8").is_ok());
        assert!(parse_proxy("proxy.local").unwrap_err().contains("proxy.local"));
    }
}
