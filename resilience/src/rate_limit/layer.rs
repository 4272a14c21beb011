//! [`RateLimitLayer`]: the layer, its constructors and settings.

use std::fmt;
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::Arc;

use tower_layer::Layer;

use super::handle::{RateLimitHandle, Stats};
use super::headers::NoHeaders;
use super::keyed::Keyed;
use super::policy::Global;
use super::quota::Quota;
use super::service::RateLimit;

/// Applies a GCRA rate limit to a service: globally ([`global`](Self::global))
/// or per key ([`keyed`](Self::keyed)).
///
/// Every service the layer builds shares the layer's limiter, so the limit
/// holds across clones (one per connection or route). The `H` parameter
/// decides whether allowed responses carry `RateLimit-*` headers (see
/// `http()`, feature `http`).
#[must_use]
pub struct RateLimitLayer<P, H = NoHeaders> {
    policy: Arc<P>,
    stats: Arc<Stats>,
    name: &'static str,
    _headers: PhantomData<fn() -> H>,
}

impl RateLimitLayer<Global> {
    /// One bucket for every request.
    pub fn global(quota: Quota) -> Self {
        Self::new(Global::new(quota))
    }
}

impl<E, K: Hash + Eq + Clone> RateLimitLayer<Keyed<E, K>> {
    /// One bucket per key that `extractor` finds (any
    /// [`ExtractKey`](crate::key::ExtractKey)), at most
    /// [`DEFAULT_MAX_KEYS`](crate::key::DEFAULT_MAX_KEYS) keys; a request
    /// without a key is refused with [`MissingKey`](crate::key::MissingKey).
    /// For another bound, `RateLimitLayer::new(Keyed::new(quota, extractor,
    /// max_keys))`.
    pub fn keyed(quota: Quota, extractor: E) -> Self {
        Self::new(Keyed::with_default_max_keys(quota, extractor))
    }
}

impl<P> RateLimitLayer<P> {
    /// A layer around an already built policy.
    pub fn new(policy: P) -> Self {
        Self {
            policy: Arc::new(policy),
            stats: Stats::new(),
            name: "default",
            _headers: PhantomData,
        }
    }
}

impl<P, H> RateLimitLayer<P, H> {
    /// The limiter's name, used as the `name` label of its metrics and in
    /// tracing events.
    pub fn name(mut self, name: &'static str) -> Self {
        self.name = name;
        self
    }

    /// The shared limiter (e.g. for [`Keyed::key_count`]).
    #[must_use]
    pub fn policy(&self) -> &P {
        &self.policy
    }

    /// A handle to the counts of every service this layer (or a clone of it)
    /// builds, for health checks and dashboards.
    #[must_use]
    pub fn handle(&self) -> RateLimitHandle {
        RateLimitHandle::new(Arc::clone(&self.stats))
    }

    /// Adds `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` to
    /// every allowed `http::Response`.
    #[cfg(feature = "http")]
    pub fn http(self) -> RateLimitLayer<P, super::headers::HttpHeaders> {
        RateLimitLayer {
            policy: self.policy,
            stats: self.stats,
            name: self.name,
            _headers: PhantomData,
        }
    }
}

impl<P, H> Clone for RateLimitLayer<P, H> {
    fn clone(&self) -> Self {
        Self {
            policy: Arc::clone(&self.policy),
            stats: Arc::clone(&self.stats),
            name: self.name,
            _headers: PhantomData,
        }
    }
}

impl<P: fmt::Debug, H> fmt::Debug for RateLimitLayer<P, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimitLayer")
            .field("policy", &self.policy)
            .field("name", &self.name)
            .finish()
    }
}

impl<S, P, H> Layer<S> for RateLimitLayer<P, H> {
    type Service = RateLimit<S, P, H>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimit::from_parts(
            inner,
            Arc::clone(&self.policy),
            Arc::clone(&self.stats),
            self.name,
        )
    }
}
