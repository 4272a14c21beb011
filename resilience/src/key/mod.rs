//! What keyed layers key on, shared by every one of them: the keyed circuit
//! breaker (one breaker per upstream), the keyed bulkhead (one partition per
//! tenant) and the keyed rate limiter (one bucket per client).
//!
//! An [`ExtractKey`] finds a request's key; every extractor works with every
//! keyed layer:
//!
//! | extractor | key | for |
//! |---|---|---|
//! | [`PeerIp`] | the connection's IP | per-client limits on a server reached directly |
//! | [`ForwardedIp`] | the client IP recorded by proxies you name by CIDR | per-client limits behind a load balancer |
//! | [`HeaderKey`] | a header's value (a bounded copy) | per-API-key limits, per-tenant bulkheads |
//! | [`AuthorityKey`] | `host:port` of the URI or `Host` | per-upstream breakers on a client |
//! | [`RouteKey`] (feature `axum`) | the matched route template | per-route breakers and bulkheads |
//! | a closure `Fn(&Req) -> Option<K>` | anything | everything else |
//!
//! The keys live in one bounded map per layer, at most `max_keys` of them
//! ([`DEFAULT_MAX_KEYS`] unless set): memory stays bounded under a flood of
//! distinct keys. Known keys take a shard's read lock and allocate nothing;
//! when the map is full, a new key evicts the least recently used of a few
//! sampled entries (as Redis's approximated LRU), so making room costs the
//! same whatever the size of the map.
//!
//! # A request without a key is refused, never pooled
//!
//! When the extractor finds no key (no peer address was recorded, the header
//! is missing, the closure returned `None`), the layer fails the call with
//! [`MissingKey`], logs the first such request at `ERROR`, and the `edge`
//! answers `500` (a set-up problem) or `400` (the client's request lacks what
//! the key is made of). Sharing one bucket among keyless requests would turn
//! a per-client limit into a global one that any single client can exhaust.
//! Where sharing is what you want, say so with [`PoolMissing`].
//!
//! # Example
//!
//! The same extractor keys a rate limiter and a bulkhead; a closure keys a
//! breaker.
//!
//! ```
//! use std::net::SocketAddr;
//! use std::num::{NonZeroU32, NonZeroUsize};
//! use palisade_resilience::bulkhead::BulkheadLayer;
//! use palisade_resilience::circuit_breaker::CircuitBreakerLayer;
//! use palisade_resilience::key::{MissingKey, PeerIp};
//! use palisade_resilience::rate_limit::{Quota, RateLimitLayer};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), palisade_resilience::BoxError> {
//! const PER_SECOND: NonZeroU32 = NonZeroU32::new(10).unwrap();
//! const PERMITS: NonZeroUsize = NonZeroUsize::new(4).unwrap();
//! const CLIENTS: NonZeroUsize = NonZeroUsize::new(10_000).unwrap();
//! let tenant = |req: &http::Request<()>| req.headers().get("x-tenant")?.to_str().ok().map(str::to_owned);
//!
//! // Every keyed layer reads the same: builder, `.keyed(extractor)`,
//! // `.max_keys(n)`, `.build()`.
//! let per_client = RateLimitLayer::builder(Quota::per_second(PER_SECOND))
//!     .keyed(PeerIp)
//!     .max_keys(CLIENTS)
//!     .build();
//! let per_client_bulkhead = BulkheadLayer::builder()
//!     .max_concurrent(PERMITS)
//!     .keyed(PeerIp)
//!     .max_keys(CLIENTS)
//!     .build()?;
//! let per_tenant_breaker = CircuitBreakerLayer::builder()
//!     .keyed(tenant)
//!     .max_keys(CLIENTS)
//!     .build()?;
//! let svc = ServiceBuilder::new()
//!     .layer(per_client)
//!     .layer(per_client_bulkhead)
//!     .layer(per_tenant_breaker)
//!     .service(service_fn(|_: http::Request<()>| async { Ok::<_, std::convert::Infallible>("ok") }));
//!
//! let mut req = http::Request::builder().header("x-tenant", "t1").body(())?;
//! req.extensions_mut().insert(SocketAddr::from(([192, 0, 2, 7], 4711)));
//! assert_eq!(svc.clone().oneshot(req).await?, "ok");
//!
//! // No peer address recorded: refused, not counted against everyone.
//! let err = svc.oneshot(http::Request::new(())).await.unwrap_err();
//! assert!(err.downcast_ref::<MissingKey>().is_some());
//! # Ok(())
//! # }
//! ```

// The map and `KeyOf` serve the keyed breaker, bulkhead and limiter; with
// some of those features off, parts of them are unused.
#![cfg_attr(
    not(all(
        feature = "circuit-breaker",
        feature = "bulkhead",
        feature = "rate-limit"
    )),
    allow(dead_code, unused_imports)
)]

mod bytes;
mod error;
#[cfg(feature = "http")]
mod forwarded;
mod map;
#[cfg(feature = "http")]
mod peer;
#[cfg(feature = "http")]
mod request;

use std::hash::Hash;

pub use self::bytes::{DEFAULT_MAX_KEY_LEN, KeyBytes};
pub(crate) use self::error::KeyOf;
pub use self::error::MissingKey;
#[cfg(feature = "http")]
pub use self::forwarded::ForwardedIp;
pub use self::map::DEFAULT_MAX_KEYS;
pub(crate) use self::map::KeyedMap;
#[cfg(feature = "http")]
pub use self::peer::{PeerIp, peer_addr};
#[cfg(feature = "axum")]
pub use self::request::RouteKey;
#[cfg(feature = "http")]
pub use self::request::{AuthorityKey, HeaderKey};

/// Finds the key of a request, for every keyed layer.
///
/// Implemented by the extractors of this module and by closures
/// `Fn(&Req) -> Option<K>` (`None` is a [`MissingKey`]). Keys must own their
/// data: a key kept in a layer's map must not keep the request alive.
pub trait ExtractKey<Req> {
    /// One breaker, partition or bucket per distinct key.
    type Key: Hash + Eq + Clone + Send + Sync + 'static;

    /// The key of `req`.
    ///
    /// # Errors
    ///
    /// [`MissingKey`] when the request has no key.
    fn extract(&self, req: &Req) -> Result<Self::Key, MissingKey>;
}

impl<Req, F, K> ExtractKey<Req> for F
where
    F: Fn(&Req) -> Option<K>,
    K: Hash + Eq + Clone + Send + Sync + 'static,
{
    type Key = K;

    #[inline]
    fn extract(&self, req: &Req) -> Result<K, MissingKey> {
        self(req).ok_or(MissingKey::misconfigured(
            "the key function returned `None`",
        ))
    }
}

/// Requests whose key `E` cannot find share one key (`None`), explicitly.
///
/// For limits where that is the intent — a per-tenant bulkhead where
/// anonymous traffic gets one partition of its own. For per-client limits it
/// is rarely right: every client without a key then competes for one quota.
///
/// ```
/// use palisade_resilience::key::{ExtractKey, HeaderKey, KeyBytes, PoolMissing};
///
/// let key = PoolMissing(HeaderKey::new(http::HeaderName::from_static("x-tenant")));
/// assert_eq!(key.extract(&http::Request::new(())), Ok(None));
/// let req = http::Request::builder().header("x-tenant", "t1").body(()).unwrap();
/// assert_eq!(key.extract(&req), Ok(Some(KeyBytes::from("t1"))));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct PoolMissing<E>(pub E);

impl<Req, E: ExtractKey<Req>> ExtractKey<Req> for PoolMissing<E> {
    type Key = Option<E::Key>;

    #[inline]
    fn extract(&self, req: &Req) -> Result<Self::Key, MissingKey> {
        Ok(self.0.extract(req).ok())
    }
}
