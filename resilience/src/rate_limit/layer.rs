//! [`RateLimitLayer`]: the layer, its constructors and settings.

use std::fmt;
use std::hash::Hash;
use std::marker::PhantomData;
use std::num::NonZeroUsize;
use std::sync::Arc;

use tower_layer::Layer;

use super::handle::{RateLimitHandle, Stats};
use super::headers::NoHeaders;
use super::keyed::Keyed;
use super::policy::Global;
use super::quota::Quota;
use super::service::RateLimit;
use crate::key::DEFAULT_MAX_KEYS;
use crate::weight::Unweighted;

/// Applies a GCRA rate limit to a service: globally ([`global`](Self::global))
/// or per key ([`keyed`](Self::keyed)); [`builder`](Self::builder) and
/// [`http`](Self::http) (feature `http`) set the rest.
///
/// Every service the layer builds shares the layer's limiter, so the limit
/// holds across clones (one per connection or route). The `H` parameter
/// decides whether allowed responses carry `RateLimit-*` headers (see
/// [`RateLimitLayer::http`], feature `http`).
#[must_use]
pub struct RateLimitLayer<P, H = NoHeaders> {
    policy: Arc<P>,
    stats: Arc<Stats>,
    name: &'static str,
    _headers: PhantomData<fn() -> H>,
}

impl RateLimitLayer<Global> {
    /// One bucket for every request: a shortcut for
    /// `RateLimitLayer::builder(quota).build()`.
    pub fn global(quota: Quota) -> Self {
        Self::builder(quota).build()
    }

    /// A builder for a limiter of `quota`: global unless
    /// [`keyed`](RateLimitLayerBuilder::keyed), named `default`, responses
    /// left alone.
    pub fn builder(quota: Quota) -> RateLimitLayerBuilder {
        RateLimitLayerBuilder {
            quota,
            name: "default",
            keys: (),
            weigh: Unweighted,
            _headers: PhantomData,
        }
    }

    /// [`builder`](Self::builder) preset for HTTP: every allowed
    /// `http::Response` carries `RateLimit-Limit`, `RateLimit-Remaining` and
    /// `RateLimit-Reset`. Every setter of the plain builder is available.
    #[cfg(feature = "http")]
    pub fn http(quota: Quota) -> RateLimitLayerBuilder<super::headers::HttpHeaders> {
        RateLimitLayerBuilder {
            quota,
            name: "default",
            keys: (),
            weigh: Unweighted,
            _headers: PhantomData,
        }
    }
}

impl<E, K: Hash + Eq + Clone> RateLimitLayer<Keyed<E, K>> {
    /// One bucket per key that `extractor` finds (any
    /// [`ExtractKey`](crate::key::ExtractKey)), at most
    /// [`DEFAULT_MAX_KEYS`](crate::key::DEFAULT_MAX_KEYS) keys; a request
    /// without a key is refused with [`MissingKey`](crate::key::MissingKey).
    /// A shortcut for `RateLimitLayer::builder(quota).keyed(extractor).build()`.
    pub fn keyed(quota: Quota, extractor: E) -> Self {
        RateLimitLayer::builder(quota).keyed(extractor).build()
    }
}

impl<P> RateLimitLayer<P> {
    /// A layer around an already built policy (such as a
    /// `registry::TunableRate`), named `default`
    /// unless [`name`](Self::name) says otherwise.
    pub fn new(policy: P) -> Self {
        Self::named(policy, "default")
    }
}

impl<P, H> RateLimitLayer<P, H> {
    fn named(policy: P, name: &'static str) -> Self {
        Self {
            policy: Arc::new(policy),
            stats: Stats::new(),
            name,
            _headers: PhantomData,
        }
    }
}

impl<P, H> RateLimitLayer<P, H> {
    /// Names the limiter in tracing events and in the `name` label of its
    /// metrics, as [`RateLimitLayerBuilder::name`] does; for a layer made
    /// with [`new`](RateLimitLayer::new).
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
}

/// The keys of a limiter being built: `()` (one bucket for all requests) or, after
/// [`RateLimitLayerBuilder::keyed`], an extractor and a bound on the keys.
#[derive(Debug, Clone, Copy)]
pub struct ByKey<E> {
    extractor: E,
    max_keys: NonZeroUsize,
}

/// Configures a [`RateLimitLayer`]; from [`RateLimitLayer::builder`] or
/// [`RateLimitLayer::http`] (`H` = [`HttpHeaders`](super::HttpHeaders)).
///
/// Global and keyed limiters read alike:
/// `RateLimitLayer::builder(quota).name("api").build()` and
/// `RateLimitLayer::builder(quota).keyed(PeerIp).max_keys(n).name("api").build()`.
/// Either may [`weight`](Self::weight) its calls.
#[must_use]
pub struct RateLimitLayerBuilder<H = NoHeaders, X = (), W = Unweighted> {
    quota: Quota,
    name: &'static str,
    keys: X,
    weigh: W,
    _headers: PhantomData<fn() -> H>,
}

impl<H, X, W> RateLimitLayerBuilder<H, X, W> {
    /// The limiter's name, used as the `name` label of its metrics and in
    /// tracing events (default `default`).
    pub fn name(mut self, name: &'static str) -> Self {
        self.name = name;
        self
    }

    /// Charges each call the cells `weigh` finds (a closure
    /// `Fn(&Req) -> u32`, or with feature `http`
    /// [`FromExtension`](crate::weight::FromExtension)) instead of one, as
    /// the [`weight`](crate::weight) module describes: from the one bucket,
    /// or from the call's key's bucket when keyed. A call weighing more than
    /// the burst is refused at once with
    /// [`ExceedsBurst`](super::error::ExceedsBurst).
    ///
    /// ```
    /// use std::num::NonZeroU32;
    /// use palisade_resilience::rate_limit::error::{ExceedsBurst, RateLimited};
    /// use palisade_resilience::rate_limit::{Quota, RateLimitLayer};
    /// use tower::{Layer, ServiceExt, service_fn};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    /// // Ten cells a second per tenant; an export costs a cell per 100 rows.
    /// let quota = Quota::per_second(NonZeroU32::new(10).unwrap());
    /// let layer = RateLimitLayer::builder(quota)
    ///     .keyed(|(tenant, _rows): &(&'static str, u32)| Some(*tenant))
    ///     .weight(|(_tenant, rows): &(&'static str, u32)| rows / 100)
    ///     .build();
    /// let svc = layer.layer(service_fn(|call: (&'static str, u32)| async move { Ok::<_, std::io::Error>(call.1) }));
    ///
    /// svc.clone().oneshot(("acme", 800)).await?; // 8 of acme's 10 cells
    /// assert!(svc.clone().oneshot(("acme", 300)).await.unwrap_err().is::<RateLimited>());
    /// svc.clone().oneshot(("globex", 300)).await?; // another bucket
    /// assert!(svc.oneshot(("globex", 2000)).await.unwrap_err().is::<ExceedsBurst>());
    /// # Ok(())
    /// # }
    /// ```
    pub fn weight<W2>(self, weigh: W2) -> RateLimitLayerBuilder<H, X, W2> {
        RateLimitLayerBuilder {
            quota: self.quota,
            name: self.name,
            keys: self.keys,
            weigh,
            _headers: PhantomData,
        }
    }
}

impl<H, W> RateLimitLayerBuilder<H, (), W> {
    /// Continues as a keyed limiter: one bucket per key `extractor` finds
    /// (any [`ExtractKey`](crate::key::ExtractKey), such as
    /// [`PeerIp`](crate::key::PeerIp)), at most
    /// [`DEFAULT_MAX_KEYS`](crate::key::DEFAULT_MAX_KEYS) keys unless
    /// [`max_keys`](RateLimitLayerBuilder::max_keys) says otherwise. A request
    /// whose key cannot be found is refused with
    /// [`MissingKey`](crate::key::MissingKey).
    pub fn keyed<E>(self, extractor: E) -> RateLimitLayerBuilder<H, ByKey<E>, W> {
        RateLimitLayerBuilder {
            quota: self.quota,
            name: self.name,
            keys: ByKey {
                extractor,
                max_keys: DEFAULT_MAX_KEYS,
            },
            weigh: self.weigh,
            _headers: PhantomData,
        }
    }

    /// Builds the global (one-bucket) limiter.
    pub fn build(self) -> RateLimitLayer<Global<W>, H> {
        let policy = Global::new(self.quota).weight(self.weigh);
        RateLimitLayer::named(policy, self.name)
    }
}

impl<H, E, W> RateLimitLayerBuilder<H, ByKey<E>, W> {
    /// The most keys (buckets) kept at once; a new key in a full map replaces
    /// the least recently used of a few sampled keys.
    pub fn max_keys(mut self, max_keys: NonZeroUsize) -> Self {
        self.keys.max_keys = max_keys;
        self
    }

    /// Builds the keyed limiter.
    pub fn build<K: Hash + Eq + Clone>(self) -> RateLimitLayer<Keyed<E, K, W>, H> {
        let ByKey {
            extractor,
            max_keys,
        } = self.keys;
        let policy = Keyed::new(self.quota, extractor, max_keys).weight(self.weigh);
        RateLimitLayer::named(policy, self.name)
    }
}

impl<H, X: fmt::Debug, W> fmt::Debug for RateLimitLayerBuilder<H, X, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimitLayerBuilder")
            .field("quota", &self.quota)
            .field("name", &self.name)
            .field("keys", &self.keys)
            .finish()
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
