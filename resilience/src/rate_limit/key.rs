//! What a keyed limiter keys on: client IP, a header (API key), the path, or a closure.

use std::fmt;
use std::hash::Hash;
use std::marker::PhantomData;

/// The key type an extractor produces, independent of the request type.
pub trait KeyExtractor: Send + Sync + 'static {
    /// One bucket per distinct key.
    type Key: Hash + Eq + Clone + Send + Sync + 'static;
}

/// Finds the key of a request.
pub trait ExtractKey<Req>: KeyExtractor {
    /// The key of `req`, or `None` when it has none; requests without a key
    /// share one bucket.
    fn extract(&self, req: &Req) -> Option<Self::Key>;
}

/// Keys on whatever a closure returns: [`key_fn`].
pub struct KeyFn<F, K> {
    f: F,
    _key: PhantomData<fn() -> K>,
}

/// Keys on what `f` returns for each request.
///
/// ```
/// use palisade_resilience::rate_limit::key_fn;
///
/// // Tenants are the first path segment of a plain string request.
/// let by_tenant = key_fn(|req: &String| req.split('/').nth(1).map(str::to_owned));
/// # let _ = by_tenant;
/// ```
pub fn key_fn<Req, F, K>(f: F) -> KeyFn<F, K>
where
    F: Fn(&Req) -> Option<K>,
{
    KeyFn {
        f,
        _key: PhantomData,
    }
}

impl<F, K> KeyExtractor for KeyFn<F, K>
where
    F: Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
{
    type Key = K;
}

impl<F, K, Req> ExtractKey<Req> for KeyFn<F, K>
where
    F: Fn(&Req) -> Option<K> + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
{
    #[inline]
    fn extract(&self, req: &Req) -> Option<K> {
        (self.f)(req)
    }
}

impl<F, K> Clone for KeyFn<F, K>
where
    F: Clone,
{
    fn clone(&self) -> Self {
        Self {
            f: self.f.clone(),
            _key: PhantomData,
        }
    }
}

impl<F, K> fmt::Debug for KeyFn<F, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyFn").finish_non_exhaustive()
    }
}

#[cfg(feature = "http")]
pub use self::http_keys::{ForwardedIp, HeaderKey, PathKey, PeerIp};

#[cfg(feature = "http")]
mod http_keys {
    use std::net::{IpAddr, SocketAddr};

    use http::{HeaderName, HeaderValue, Request};

    use super::{ExtractKey, KeyExtractor};

    /// Keys on the client IP from a [`SocketAddr`] in the request extensions.
    ///
    /// Servers built on hyper directly can insert the peer address as a
    /// plain `SocketAddr`. axum stores it as `ConnectInfo<SocketAddr>` (from
    /// `into_make_service_with_connect_info`), an axum type that exists only
    /// with axum's `tokio` feature, which this crate does not enable; the
    /// `axum` edge can copy it into a plain `SocketAddr` extension (one
    /// `map_request`), or offer its own extractor. Behind a reverse proxy,
    /// use [`ForwardedIp`]. Requests without an address share one bucket.
    #[derive(Debug, Clone, Copy, Default)]
    pub struct PeerIp;

    impl KeyExtractor for PeerIp {
        type Key = IpAddr;
    }

    impl<B> ExtractKey<Request<B>> for PeerIp {
        #[inline]
        fn extract(&self, req: &Request<B>) -> Option<IpAddr> {
            req.extensions().get::<SocketAddr>().map(SocketAddr::ip)
        }
    }

    /// Keys on the client IP that the trusted proxies in front recorded in
    /// `X-Forwarded-For`, falling back to the peer address ([`PeerIp`]).
    ///
    /// With `trusted_proxies = n`, the client is the `n`-th address from the
    /// right: each trusted proxy appends the address it saw, and anything
    /// further left was written by the client and could be forged. When the
    /// header holds fewer than `n` valid addresses, the peer address is used.
    #[derive(Debug, Clone, Copy)]
    pub struct ForwardedIp {
        trusted_proxies: usize,
    }

    impl ForwardedIp {
        /// Trusts the last `trusted_proxies` hops (`0` ignores the header and
        /// keys on the peer address).
        #[must_use]
        pub const fn new(trusted_proxies: usize) -> Self {
            Self { trusted_proxies }
        }

        fn forwarded<B>(&self, req: &Request<B>) -> Option<IpAddr> {
            if self.trusted_proxies == 0 {
                return None;
            }
            // Several headers are one list in order; walk them from the last.
            let mut hops = req
                .headers()
                .get_all("x-forwarded-for")
                .iter()
                .rev()
                .flat_map(|value| value.to_str().unwrap_or("").rsplit(','));
            let hop = hops.nth(self.trusted_proxies - 1)?;
            parse_hop(hop.trim())
        }
    }

    /// An address as proxies write it: `1.2.3.4`, `2001:db8::1`,
    /// `[2001:db8::1]:443` or `1.2.3.4:80`.
    fn parse_hop(hop: &str) -> Option<IpAddr> {
        hop.parse::<IpAddr>()
            .ok()
            .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
    }

    impl KeyExtractor for ForwardedIp {
        type Key = IpAddr;
    }

    impl<B> ExtractKey<Request<B>> for ForwardedIp {
        #[inline]
        fn extract(&self, req: &Request<B>) -> Option<IpAddr> {
            self.forwarded(req).or_else(|| PeerIp.extract(req))
        }
    }

    /// Keys on a header's value, e.g. an API key.
    ///
    /// The key is the `HeaderValue` itself: cloning one that hyper parsed
    /// shares its buffer, so known keys do not allocate.
    #[derive(Debug, Clone)]
    pub struct HeaderKey {
        name: HeaderName,
    }

    impl HeaderKey {
        /// Keys on the header `name`.
        #[must_use]
        pub const fn new(name: HeaderName) -> Self {
            Self { name }
        }
    }

    impl KeyExtractor for HeaderKey {
        type Key = HeaderValue;
    }

    impl<B> ExtractKey<Request<B>> for HeaderKey {
        #[inline]
        fn extract(&self, req: &Request<B>) -> Option<HeaderValue> {
            req.headers().get(&self.name).cloned()
        }
    }

    /// Keys on the request path (without the query).
    ///
    /// Allocates the path for every call; behind a router, a key on the
    /// matched route template keeps the key space small.
    #[derive(Debug, Clone, Copy, Default)]
    pub struct PathKey;

    impl KeyExtractor for PathKey {
        type Key = String;
    }

    impl<B> ExtractKey<Request<B>> for PathKey {
        #[inline]
        fn extract(&self, req: &Request<B>) -> Option<String> {
            Some(req.uri().path().to_owned())
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn req(xff: &[&str], peer: Option<&str>) -> Request<()> {
            let mut b = Request::builder();
            for v in xff {
                b = b.header("x-forwarded-for", *v);
            }
            let mut r = b.body(()).unwrap();
            if let Some(p) = peer {
                r.extensions_mut().insert(p.parse::<SocketAddr>().unwrap());
            }
            r
        }

        fn ip(s: &str) -> Option<IpAddr> {
            Some(s.parse().unwrap())
        }

        #[test]
        fn forwarded_ip_takes_the_nth_hop_from_the_right() {
            let r = req(&["6.6.6.6, 1.1.1.1", "2.2.2.2"], Some("9.9.9.9:1"));
            assert_eq!(ForwardedIp::new(1).extract(&r), ip("2.2.2.2"));
            assert_eq!(ForwardedIp::new(2).extract(&r), ip("1.1.1.1"));
            assert_eq!(ForwardedIp::new(3).extract(&r), ip("6.6.6.6"));
            // Too few hops: the forged part is not trusted, the peer is used.
            assert_eq!(ForwardedIp::new(4).extract(&r), ip("9.9.9.9"));
            assert_eq!(ForwardedIp::new(0).extract(&r), ip("9.9.9.9"));
        }

        #[test]
        fn forwarded_ip_parses_ports_and_ipv6_and_rejects_garbage() {
            let r = req(&["[2001:db8::1]:443"], None);
            assert_eq!(ForwardedIp::new(1).extract(&r), ip("2001:db8::1"));
            // A garbage trusted hop keys on the proxy itself: never a bypass.
            let r = req(&["not-an-ip"], Some("9.9.9.9:1"));
            assert_eq!(ForwardedIp::new(1).extract(&r), ip("9.9.9.9"));
            let r = req(&[], None);
            assert_eq!(ForwardedIp::new(1).extract(&r), None);
        }

        #[test]
        fn header_and_path_keys() {
            let r = Request::builder()
                .uri("/a/b?q=1")
                .header("x-api-key", "k1")
                .body(())
                .unwrap();
            assert_eq!(
                HeaderKey::new(HeaderName::from_static("x-api-key")).extract(&r),
                Some(HeaderValue::from_static("k1"))
            );
            assert_eq!(PathKey.extract(&r), Some("/a/b".to_owned()));
        }
    }
}
