//! [`ForwardedIp`]: the client address that trusted proxies recorded.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use http::{HeaderName, Request};
use ipnet::IpNet;

use super::peer::{NO_PEER, peer_addr};
use super::{ExtractKey, MissingKey};

/// At most this many hops of a forwarding header are read; a longer chain
/// keys on the last address reached.
const MAX_HOPS: usize = 32;

/// Keys on the client IP as recorded by the reverse proxies you trust, named
/// by address range.
///
/// Only a request whose *peer* (the connection's address) is a trusted proxy
/// has its forwarding header read; from any other peer the header is ignored
/// and the peer address is the key, so a client cannot pick its own key by
/// sending `X-Forwarded-For`. The header is read from the right: each trusted
/// proxy appended the address it saw, and the first address that is not a
/// trusted proxy is the client. An unparseable hop (`unknown`, an obfuscated
/// identifier, garbage) stops the walk at the last trusted proxy.
///
/// ```
/// use std::net::{IpAddr, SocketAddr};
/// use palisade_resilience::key::{ExtractKey, ForwardedIp};
///
/// // Our load balancers live in 10.0.0.0/8.
/// let key = ForwardedIp::x_forwarded_for(["10.0.0.0/8".parse().unwrap()]);
///
/// let mut via_proxy = http::Request::builder()
///     .header("x-forwarded-for", "203.0.113.9, 10.1.2.3")
///     .body(())
///     .unwrap();
/// via_proxy.extensions_mut().insert(SocketAddr::from(([10, 0, 0, 1], 443)));
/// assert_eq!(key.extract(&via_proxy), Ok(IpAddr::from([203, 0, 113, 9])));
///
/// // A client talking to us directly cannot choose its key.
/// let mut direct = http::Request::builder()
///     .header("x-forwarded-for", "198.51.100.1")
///     .body(())
///     .unwrap();
/// direct.extensions_mut().insert(SocketAddr::from(([192, 0, 2, 66], 5000)));
/// assert_eq!(key.extract(&direct), Ok(IpAddr::from([192, 0, 2, 66])));
/// ```
#[derive(Debug, Clone)]
pub struct ForwardedIp {
    trusted: Arc<[IpNet]>,
    header: Header,
}

#[derive(Debug, Clone, Copy)]
enum Header {
    /// `X-Forwarded-For: client, proxy1, proxy2`.
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client;proto=https, for="[2001:db8::1]:80"`.
    Forwarded,
}

impl ForwardedIp {
    /// Reads `X-Forwarded-For` from peers in `trusted_proxies`.
    pub fn x_forwarded_for(trusted_proxies: impl IntoIterator<Item = IpNet>) -> Self {
        Self {
            trusted: trusted_proxies.into_iter().collect(),
            header: Header::XForwardedFor,
        }
    }

    /// Reads the standard `Forwarded` header (RFC 7239, its `for=`
    /// parameters) from peers in `trusted_proxies`.
    pub fn forwarded(trusted_proxies: impl IntoIterator<Item = IpNet>) -> Self {
        Self {
            trusted: trusted_proxies.into_iter().collect(),
            header: Header::Forwarded,
        }
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.trusted.iter().any(|net| net.contains(&ip))
    }

    fn client<B>(&self, peer: IpAddr, req: &Request<B>) -> IpAddr {
        let name = match self.header {
            Header::XForwardedFor => HeaderName::from_static("x-forwarded-for"),
            Header::Forwarded => http::header::FORWARDED,
        };
        // Several header lines are one list in order: walk them from the last.
        let hops = req
            .headers()
            .get_all(name)
            .iter()
            .rev()
            .flat_map(|value| value.to_str().unwrap_or("").rsplit(','));
        let mut client = peer;
        for hop in hops.take(MAX_HOPS) {
            let parsed = match self.header {
                Header::XForwardedFor => parse_address(hop.trim()),
                Header::Forwarded => forwarded_for(hop),
            };
            let Some(ip) = parsed else { break };
            client = ip;
            if !self.is_trusted(ip) {
                break;
            }
        }
        client
    }
}

impl<B> ExtractKey<Request<B>> for ForwardedIp {
    type Key = IpAddr;

    #[inline]
    fn extract(&self, req: &Request<B>) -> Result<IpAddr, MissingKey> {
        let peer = peer_addr(req.extensions())
            .ok_or(MissingKey::misconfigured(NO_PEER))?
            .ip();
        if self.is_trusted(peer) {
            Ok(self.client(peer, req))
        } else {
            Ok(peer)
        }
    }
}

/// An address as proxies write it: `1.2.3.4`, `2001:db8::1`,
/// `[2001:db8::1]:443` or `1.2.3.4:80`.
fn parse_address(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .map(|ip| ip.to_canonical())
}

/// The `for=` address of one `Forwarded` element (`for=1.2.3.4;proto=http`).
fn forwarded_for(element: &str) -> Option<IpAddr> {
    let value = element.split(';').find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        name.eq_ignore_ascii_case("for").then_some(value)
    })?;
    let value = value.trim_matches('"');
    // `[2001:db8::1]` without a port is not a socket address.
    let value = value
        .strip_prefix('[')
        .and_then(|v| v.strip_suffix(']'))
        .unwrap_or(value);
    parse_address(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(header: &str, values: &[&str], peer: &str) -> Request<()> {
        let mut builder = Request::builder();
        for value in values {
            builder = builder.header(header, *value);
        }
        let mut req = builder.body(()).unwrap();
        req.extensions_mut()
            .insert(peer.parse::<SocketAddr>().unwrap());
        req
    }

    fn ip(s: &str) -> Result<IpAddr, MissingKey> {
        Ok(s.parse().unwrap())
    }

    fn nets(nets: &[&str]) -> Vec<IpNet> {
        nets.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn an_untrusted_peer_is_the_key_whatever_it_sends() {
        let key = ForwardedIp::x_forwarded_for(nets(&["10.0.0.0/8"]));
        for forged in ["1.1.1.1", "10.0.0.5", "garbage", ""] {
            let r = req("x-forwarded-for", &[forged], "192.0.2.1:1");
            assert_eq!(key.extract(&r), ip("192.0.2.1"), "{forged}");
        }
    }

    #[test]
    fn trusted_hops_are_skipped_from_the_right() {
        let key = ForwardedIp::x_forwarded_for(nets(&["10.0.0.0/8", "2001:db8::/32"]));
        let r = req(
            "x-forwarded-for",
            &["6.6.6.6, 1.1.1.1", "10.9.9.9, [2001:db8::7]:443"],
            "10.0.0.1:1",
        );
        assert_eq!(key.extract(&r), ip("1.1.1.1"));
        // Every hop trusted: the leftmost one is the best we know.
        let r = req("x-forwarded-for", &["10.1.1.1, 10.2.2.2"], "10.0.0.1:1");
        assert_eq!(key.extract(&r), ip("10.1.1.1"));
        // No header: the proxy itself.
        let r = req("x-forwarded-for", &[], "10.0.0.1:1");
        assert_eq!(key.extract(&r), ip("10.0.0.1"));
        // Garbage stops the walk at the last trusted hop, never past it.
        let r = req(
            "x-forwarded-for",
            &["6.6.6.6, unknown, 10.3.3.3"],
            "10.0.0.1:1",
        );
        assert_eq!(key.extract(&r), ip("10.3.3.3"));
    }

    #[test]
    fn the_forwarded_header_reads_for_parameters() {
        let key = ForwardedIp::forwarded(nets(&["127.0.0.0/8"]));
        let r = req(
            "forwarded",
            &[r#"for=192.0.2.60;proto=http;by=203.0.113.43, For="[2001:db8:cafe::17]:4711""#],
            "127.0.0.1:1",
        );
        assert_eq!(key.extract(&r), ip("2001:db8:cafe::17"));
        let r = req(
            "forwarded",
            &["for=192.0.2.60", "for=127.0.0.9"],
            "127.0.0.1:1",
        );
        assert_eq!(key.extract(&r), ip("192.0.2.60"));
        let r = req("forwarded", &["for=_hidden, for=127.0.0.9"], "127.0.0.1:1");
        assert_eq!(key.extract(&r), ip("127.0.0.9"));
    }

    #[test]
    fn ipv4_mapped_peers_match_ipv4_ranges() {
        let key = ForwardedIp::x_forwarded_for(nets(&["127.0.0.1/32"]));
        let r = req(
            "x-forwarded-for",
            &["198.51.100.4"],
            "[::ffff:127.0.0.1]:80",
        );
        assert_eq!(key.extract(&r), ip("198.51.100.4"));
    }

    #[test]
    fn no_peer_address_is_a_missing_key() {
        let key = ForwardedIp::x_forwarded_for(nets(&["0.0.0.0/0"]));
        let r = Request::builder()
            .header("x-forwarded-for", "1.1.1.1")
            .body(())
            .unwrap();
        let missing = key.extract(&r).unwrap_err();
        assert!(!missing.is_client_error());
    }
}
