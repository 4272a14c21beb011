//! [`RedisRateLimitLayer`] and its builder.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use redis::Script;
use redis::aio::ConnectionManager;
use tower_layer::Layer;

use super::key::RedisKey;
use super::script::GCRA_LUA;
use super::service::RedisRateLimit;
use super::{DEFAULT_PREFIX, DEFAULT_TIMEOUT, FailurePolicy};
use crate::ConfigError;
use crate::rate_limit::handle::{RateLimitHandle, Stats};
use crate::rate_limit::headers::NoHeaders;
use crate::rate_limit::quota::Quota;
use crate::weight::Unweighted;

/// What every service of one layer shares.
pub(crate) struct Shared<E, W = Unweighted> {
    pub(super) conn: ConnectionManager,
    pub(super) script: Script,
    pub(super) key_of: crate::key::KeyOf<E>,
    pub(super) quota: Quota,
    pub(super) interval_us: u64,
    pub(super) prefix: Vec<u8>,
    pub(super) timeout: Duration,
    pub(super) failure: FailurePolicy,
    pub(super) name: &'static str,
    pub(super) stats: Arc<Stats>,
    pub(super) weigh: W,
}

/// Builds a [`RedisRateLimitLayer`]; see [`RedisRateLimitLayer::builder`].
#[must_use]
pub struct RedisRateLimitLayerBuilder<E, H = NoHeaders, W = Unweighted> {
    conn: ConnectionManager,
    quota: Quota,
    extractor: E,
    prefix: String,
    timeout: Duration,
    failure: FailurePolicy,
    name: &'static str,
    weigh: W,
    _headers: PhantomData<fn() -> H>,
}

impl<E, H> RedisRateLimitLayerBuilder<E, H> {
    /// The defaults, for [`RedisRateLimitLayer::builder`] and `::http`.
    fn new(conn: ConnectionManager, quota: Quota, extractor: E) -> Self {
        Self {
            conn,
            quota,
            extractor,
            prefix: DEFAULT_PREFIX.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            failure: FailurePolicy::default(),
            name: "default",
            weigh: Unweighted,
            _headers: PhantomData,
        }
    }
}

impl<E, H, W> RedisRateLimitLayerBuilder<E, H, W> {
    /// Charges each call the cells `weigh` finds in its key's bucket (a
    /// closure `Fn(&Req) -> u32`, or with feature `http`
    /// [`FromExtension`](crate::weight::FromExtension)) instead of one, as
    /// the [`weight`](crate::weight) module describes. The script takes them
    /// all or none in its one atomic step; a call weighing more than the
    /// burst is refused at once with
    /// [`ExceedsBurst`](crate::rate_limit::error::ExceedsBurst), without a
    /// round trip.
    pub fn weight<W2>(self, weigh: W2) -> RedisRateLimitLayerBuilder<E, H, W2> {
        RedisRateLimitLayerBuilder {
            conn: self.conn,
            quota: self.quota,
            extractor: self.extractor,
            prefix: self.prefix,
            timeout: self.timeout,
            failure: self.failure,
            name: self.name,
            weigh,
            _headers: PhantomData,
        }
    }

    /// Keys live under `prefix` (default [`DEFAULT_PREFIX`]); instances that
    /// should share limits use the same prefix.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The bound on every call to Redis (default [`DEFAULT_TIMEOUT`]).
    pub const fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// What to do when Redis cannot decide (default [`FailurePolicy::FailOpen`]).
    pub const fn failure_policy(mut self, failure: FailurePolicy) -> Self {
        self.failure = failure;
        self
    }

    /// The `name` label of the metrics and tracing events.
    pub const fn name(mut self, name: &'static str) -> Self {
        self.name = name;
        self
    }

    /// Validates the settings.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when the quota's interval is below one
    /// microsecond (the script's resolution), or the timeout is zero.
    pub fn build(self) -> Result<RedisRateLimitLayer<E, H, W>, ConfigError> {
        let quota = self.quota;
        let interval_us = u64::try_from(quota.replenish_interval().as_micros()).unwrap_or(u64::MAX);
        if interval_us == 0 {
            return Err(ConfigError::Zero {
                field: "period / count (microseconds)",
            });
        }
        if self.timeout.is_zero() {
            return Err(ConfigError::Zero { field: "timeout" });
        }
        Ok(RedisRateLimitLayer {
            shared: Arc::new(Shared {
                conn: self.conn,
                script: Script::new(GCRA_LUA),
                key_of: crate::key::KeyOf::new(self.extractor, "redis rate limiter"),
                quota,
                interval_us,
                prefix: self.prefix.into_bytes(),
                timeout: self.timeout,
                failure: self.failure,
                name: self.name,
                stats: Stats::new(),
                weigh: self.weigh,
            }),
            _headers: PhantomData,
        })
    }
}

impl<E, H, W> fmt::Debug for RedisRateLimitLayerBuilder<E, H, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisRateLimitLayerBuilder")
            .field("quota", &self.quota)
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("failure", &self.failure)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A keyed GCRA rate limit whose buckets live in Redis, shared by every
/// instance that uses the same Redis and prefix.
///
/// A request without a key is refused with
/// [`MissingKey`](crate::key::MissingKey) (wrap the extractor in
/// [`PoolMissing`](crate::key::PoolMissing) to share one bucket). The decision is made in the
/// response future (it needs a round trip), so the service clones its inner
/// service into each future, the way tower's `Retry` does: `S: Clone`.
#[must_use]
pub struct RedisRateLimitLayer<E, H = NoHeaders, W = Unweighted> {
    shared: Arc<Shared<E, W>>,
    _headers: PhantomData<fn() -> H>,
}

impl<E> RedisRateLimitLayer<E> {
    /// Starts a layer over `conn` (see [`lazy_connection`](super::lazy_connection)) for `quota`, one
    /// bucket per key `extractor` finds.
    pub fn builder(
        conn: ConnectionManager,
        quota: Quota,
        extractor: E,
    ) -> RedisRateLimitLayerBuilder<E> {
        RedisRateLimitLayerBuilder::new(conn, quota, extractor)
    }

    /// [`builder`](Self::builder) preset for HTTP: every allowed
    /// `http::Response` carries `RateLimit-Limit`, `RateLimit-Remaining` and
    /// `RateLimit-Reset` (not calls admitted by fail-open, where the state
    /// is unknown). Every setter of the plain builder is available.
    #[cfg(feature = "http")]
    pub fn http(
        conn: ConnectionManager,
        quota: Quota,
        extractor: E,
    ) -> RedisRateLimitLayerBuilder<E, crate::rate_limit::headers::HttpHeaders> {
        RedisRateLimitLayerBuilder::new(conn, quota, extractor)
    }
}

impl<E, H, W> RedisRateLimitLayer<E, H, W> {
    /// A handle to the counts of every service this layer (or a clone of it)
    /// builds, including whether the last call to Redis failed.
    #[must_use]
    pub fn handle(&self) -> RateLimitHandle {
        RateLimitHandle::new(Arc::clone(&self.shared.stats))
    }

    /// The Redis key of the bucket of `key`.
    #[must_use]
    pub fn redis_key<K: RedisKey + ?Sized>(&self, key: &K) -> Vec<u8> {
        self.shared.redis_key(key)
    }
}

impl<E, W> Shared<E, W> {
    pub(super) fn redis_key<K: RedisKey + ?Sized>(&self, key: &K) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.prefix.len() + 48);
        out.extend_from_slice(&self.prefix);
        out.extend_from_slice(b"k:");
        key.write_redis_key(&mut out);
        out
    }
}

impl<E, H, W> Clone for RedisRateLimitLayer<E, H, W> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
            _headers: PhantomData,
        }
    }
}

impl<E, H, W> fmt::Debug for RedisRateLimitLayer<E, H, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisRateLimitLayer")
            .field("quota", &self.shared.quota)
            .field("prefix", &String::from_utf8_lossy(&self.shared.prefix))
            .field("timeout", &self.shared.timeout)
            .field("failure", &self.shared.failure)
            .finish_non_exhaustive()
    }
}

impl<S, E, H, W> Layer<S> for RedisRateLimitLayer<E, H, W> {
    type Service = RedisRateLimit<S, E, H, W>;

    fn layer(&self, inner: S) -> Self::Service {
        RedisRateLimit::from_parts(inner, Arc::clone(&self.shared))
    }
}
