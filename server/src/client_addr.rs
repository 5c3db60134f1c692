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

/// The client as this server believes it, for every layer and handler after [`resolve`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientAddr {
    /// `None` only for requests that arrive without a connection (in-process tests).
    pub ip: Option<IpAddr>,
    /// The client reached the nearest trusted proxy over TLS (`X-Forwarded-Proto: https`, or
    /// `proto=https` in `Forwarded`). Only a trusted proxy is believed: anyone can write those.
    pub tls: bool,
}

/// The addresses and networks whose `X-Forwarded-For`, `Forwarded` and `X-Forwarded-Proto`
/// are believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    networks: Arc<Vec<IpNet>>,
    header: ProxyHeader,
}

/// Which header the trusted proxies write. Only that one is read: a proxy passes the other
/// through as the client sent it, so reading both would let the client choose its address.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ProxyHeader {
    /// `X-Forwarded-For` with `X-Forwarded-Proto`.
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded` (`for=`, `proto=`).
    Forwarded,
}

impl TrustedProxies {
    pub fn new(networks: Vec<IpNet>, header: ProxyHeader) -> Self {
        TrustedProxies { networks: Arc::new(networks), header }
    }

    /// A dual-stack listener sees IPv4 peers as `::ffff:a.b.c.d`; they match IPv4 networks.
    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.networks.iter().any(|net| net.contains(&ip))
    }

    /// The client behind `peer`. When the peer is a trusted proxy, the walk goes right to left
    /// through the addresses it forwarded (`X-Forwarded-For`, else RFC 7239 `Forwarded`) to the
    /// nearest one that is not itself a trusted proxy. Each proxy appends the address it saw, so
    /// entries left of that one were written by the client and are not believed; an entry that
    /// is not an address (`unknown`, `_hidden`) ends the walk at the last one that was.
    pub fn client(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> ClientAddr {
        let Some(peer) = peer.map(|ip| ip.to_canonical()) else {
            return ClientAddr::default();
        };
        if !self.trusts(peer) {
            return ClientAddr { ip: Some(peer), tls: false };
        }
        let mut client = peer;
        for hop in forwarded_for(headers, self.header).into_iter().rev() {
            let Some(ip) = hop_address(&hop) else { break };
            client = ip.to_canonical();
            if !self.trusts(client) {
                break;
            }
        }
        ClientAddr { ip: Some(client), tls: forwarded_tls(headers, self.header) }
    }
}

/// The forwarded addresses in the proxies' header, leftmost first.
fn forwarded_for(headers: &HeaderMap, header: ProxyHeader) -> Vec<String> {
    let list = |name: &str| -> Vec<String> {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|hop| hop.trim().to_owned())
            .collect()
    };
    match header {
        ProxyHeader::XForwardedFor => list("x-forwarded-for"),
        ProxyHeader::Forwarded => {
            list("forwarded").iter().filter_map(|element| forwarded_param(element, "for")).collect()
        }
    }
}

/// What the nearest proxy says about the scheme the client used: the last `X-Forwarded-Proto`
/// value, or the `proto=` of the last `Forwarded` element.
fn forwarded_tls(headers: &HeaderMap, header: ProxyHeader) -> bool {
    let last = |name: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .last()
            .map(|v| v.trim().to_owned())
    };
    let proto = match header {
        ProxyHeader::XForwardedFor => last("x-forwarded-proto"),
        ProxyHeader::Forwarded => {
            last("forwarded").and_then(|element| forwarded_param(&element, "proto"))
        }
    };
    proto.is_some_and(|p| p.eq_ignore_ascii_case("https"))
}

/// One parameter of a `Forwarded` element (`for=192.0.2.60;proto=https`), unquoted.
fn forwarded_param(element: &str, name: &str) -> Option<String> {
    element.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        key.trim().eq_ignore_ascii_case(name).then(|| value.trim().trim_matches('"').to_owned())
    })
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
    let addr = proxies.client(peer, request.headers());
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
        let ip_of = |proxies: &TrustedProxies, peer: Option<IpAddr>, headers: &HeaderMap| {
            proxies.client(peer, headers).ip
        };
        let lan =
            TrustedProxies::new(vec![parse_proxy("10.0.0.0/8").unwrap()], ProxyHeader::default());
        let spoofed = forwarded(&["203.0.113.9"]);
        assert_eq!(ip_of(&none, Some(ip("10.0.0.1")), &spoofed), Some(ip("10.0.0.1")));
        assert_eq!(ip_of(&lan, Some(ip("198.51.100.7")), &spoofed), Some(ip("198.51.100.7")));
        assert_eq!(ip_of(&lan, Some(ip("10.0.0.1")), &spoofed), Some(ip("203.0.113.9")));

        // The client wrote the leftmost entry itself; two trusted hops are walked past.
        let chain = forwarded(&["1.1.1.1, 203.0.113.9", "10.0.0.2"]);
        assert_eq!(ip_of(&lan, Some(ip("10.0.0.1")), &chain), Some(ip("203.0.113.9")));
        let garbage = forwarded(&["203.0.113.9, not-an-address, 10.0.0.2"]);
        assert_eq!(ip_of(&lan, Some(ip("10.0.0.1")), &garbage), Some(ip("10.0.0.2")));
        assert_eq!(ip_of(&lan, Some(ip("10.0.0.1")), &HeaderMap::new()), Some(ip("10.0.0.1")));
        assert_eq!(ip_of(&lan, None, &spoofed), None);
        let v6 = forwarded(&["2001:db8::7"]);
        assert_eq!(ip_of(&lan, Some(ip("10.0.0.1")), &v6), Some(ip("2001:db8::7")));
    }

    #[test]
    fn rfc_7239_forwarded_mapped_peers_and_the_scheme() {
        let networks = vec![parse_proxy("10.0.0.0/8").unwrap()];
        let lan = TrustedProxies::new(networks.clone(), ProxyHeader::Forwarded);
        let mut headers = HeaderMap::new();
        headers.insert(
            "forwarded",
            "for=1.1.1.1, for=\"[2001:db8::7]:4711\";proto=https;by=10.0.0.2".parse().unwrap(),
        );
        let mapped = Some(ip("::ffff:10.0.0.1"));
        let seen = lan.client(mapped, &headers);
        assert_eq!(seen.ip, Some(ip("2001:db8::7")));
        assert!(seen.tls, "a trusted proxy's proto=https is believed");

        // From an untrusted peer neither the address nor the scheme is believed.
        let mut spoofed = headers.clone();
        spoofed.insert("x-forwarded-proto", "https".parse().unwrap());
        let seen = lan.client(Some(ip("198.51.100.7")), &spoofed);
        assert_eq!((seen.ip, seen.tls), (Some(ip("198.51.100.7")), false));
        let seen = TrustedProxies::default().client(Some(ip("10.0.0.1")), &spoofed);
        assert!(!seen.tls);

        // Only the configured header counts: a client's own X-Forwarded-For beside the proxy's
        // Forwarded changes nothing, and the other way round.
        let mut both = headers.clone();
        both.insert("x-forwarded-for", "6.6.6.6".parse().unwrap());
        assert_eq!(lan.client(mapped, &both).ip, Some(ip("2001:db8::7")));
        let xff_proxies = TrustedProxies::new(networks, ProxyHeader::XForwardedFor);
        let mut forged = HeaderMap::new();
        forged.insert("forwarded", "for=6.6.6.6;proto=https".parse().unwrap());
        forged.insert("x-forwarded-for", "203.0.113.9".parse().unwrap());
        let seen = xff_proxies.client(mapped, &forged);
        assert_eq!((seen.ip, seen.tls), (Some(ip("203.0.113.9")), false));

        // X-Forwarded-Proto from a trusted proxy; its last value is the proxy's own.
        let lan = xff_proxies;
        let mut xfp = HeaderMap::new();
        xfp.insert("x-forwarded-proto", "http, https".parse().unwrap());
        assert!(lan.client(Some(ip("10.0.0.1")), &xfp).tls);
        xfp.insert("x-forwarded-proto", "https, http".parse().unwrap());
        assert!(!lan.client(Some(ip("10.0.0.1")), &xfp).tls);
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
