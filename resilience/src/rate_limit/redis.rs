//! A rate limiter shared by several instances through Redis (feature `redis`).
//!
//! The GCRA decision of the local limiter, made atomically in Redis by one Lua
//! script ([`redis::Script`], `EVALSHA` with an `EVAL` fallback, one round
//! trip) on the Redis server's clock (`TIME`), so every instance sees the same
//! buckets and the same time. Each bucket is one string key under a
//! configurable prefix that expires by itself once the bucket is full again.
//!
//! Every call to Redis is bounded by a timeout (default 50 ms). When Redis
//! does not answer in time or fails, the [`FailurePolicy`] decides: fail open
//! (admit, with a `tracing` warning and the
//! `palisade_rate_limit_backend_errors_total` counter) or fail closed (reject
//! with [`BackendUnavailable`]).
//!
//! ```no_run
//! use std::time::Duration;
//! use palisade_resilience::rate_limit::redis::{lazy_connection, FailurePolicy, RedisRateLimitLayer};
//! use palisade_resilience::rate_limit::{key_fn, Quota};
//!
//! # async fn run() -> Result<(), palisade_resilience::BoxError> {
//! let conn = lazy_connection("redis://127.0.0.1:6379", Duration::from_millis(50))?;
//! let layer = RedisRateLimitLayer::builder(conn, Quota::per_minute(600), key_fn(|tenant: &String| Some(tenant.clone())))
//!     .prefix("myapp:rl:")
//!     .failure_policy(FailurePolicy::FailClosed)
//!     .build()?;
//! # let _ = layer;
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::mem;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use pin_project_lite::pin_project;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, Script};
use tower_layer::Layer;
use tower_service::Service;

use super::error::{BackendUnavailable, RateLimited};
use super::headers::{NoHeaders, RateLimitInfo, ResponseHeaders};
use super::key::{ExtractKey, KeyExtractor};
use super::quota::{Quota, Validated};
use super::telemetry;
use crate::{BoxError, ConfigError};

/// The default bound on every call to Redis.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(50);
/// The default key prefix.
pub const DEFAULT_PREFIX: &str = "palisade:ratelimit:";

const GCRA_LUA: &str = include_str!("redis.lua");

/// What the layer does when Redis cannot decide in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum FailurePolicy {
    /// Admit the call: availability over strictness (the default).
    #[default]
    FailOpen,
    /// Reject the call with [`BackendUnavailable`] (the HTTP edge answers 503).
    FailClosed,
}

/// Writes a key as the bytes of a Redis key; implemented for the keys of the
/// built-in extractors and common key types.
pub trait RedisKey {
    /// Appends this key's bytes to `out`.
    fn write_redis_key(&self, out: &mut Vec<u8>);
}

impl RedisKey for () {
    fn write_redis_key(&self, _: &mut Vec<u8>) {}
}

impl RedisKey for String {
    fn write_redis_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_bytes());
    }
}

impl RedisKey for &'static str {
    fn write_redis_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_bytes());
    }
}

impl RedisKey for u64 {
    fn write_redis_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.to_string().as_bytes());
    }
}

impl RedisKey for IpAddr {
    fn write_redis_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.to_string().as_bytes());
    }
}

#[cfg(feature = "http")]
impl RedisKey for http::HeaderValue {
    fn write_redis_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_bytes());
    }
}

/// A [`ConnectionManager`] that connects on first use, with `timeout` on
/// every connection attempt and response and few reconnection retries, so a
/// missing Redis never blocks the caller.
///
/// # Errors
///
/// When `url` is not a Redis URL, or when called outside a Tokio runtime (the
/// manager spawns a task).
pub fn lazy_connection(url: &str, timeout: Duration) -> Result<ConnectionManager, BoxError> {
    if tokio::runtime::Handle::try_current().is_err() {
        return Err("lazy_connection must be called inside a Tokio runtime".into());
    }
    let client = Client::open(url)?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout))
        .set_number_of_retries(2)
        .set_max_delay(Duration::from_secs(1));
    Ok(ConnectionManager::new_lazy_with_config(client, config)?)
}

struct Shared<E> {
    conn: ConnectionManager,
    script: Script,
    extractor: E,
    quota: Validated,
    interval_us: u64,
    prefix: Vec<u8>,
    timeout: Duration,
    failure: FailurePolicy,
    name: &'static str,
}

/// Builds a [`RedisRateLimitLayer`]; see [`RedisRateLimitLayer::builder`].
#[must_use]
pub struct RedisRateLimitBuilder<E> {
    conn: ConnectionManager,
    quota: Quota,
    extractor: E,
    prefix: String,
    timeout: Duration,
    failure: FailurePolicy,
    name: &'static str,
}

impl<E> RedisRateLimitBuilder<E> {
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
    /// [`ConfigError`] when the quota is invalid, its interval is below one
    /// microsecond (the script's resolution), or the timeout is zero.
    pub fn build(self) -> Result<RedisRateLimitLayer<E>, ConfigError> {
        let quota = self.quota.validate()?;
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
                extractor: self.extractor,
                quota,
                interval_us,
                prefix: self.prefix.into_bytes(),
                timeout: self.timeout,
                failure: self.failure,
                name: self.name,
            }),
            _headers: PhantomData,
        })
    }
}

impl<E> fmt::Debug for RedisRateLimitBuilder<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisRateLimitBuilder")
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
/// Requests without a key share one bucket. The decision is made in the
/// response future (it needs a round trip), so the service clones its inner
/// service into each future, the way tower's `Retry` does: `S: Clone`.
#[must_use]
pub struct RedisRateLimitLayer<E, H = NoHeaders> {
    shared: Arc<Shared<E>>,
    _headers: PhantomData<fn() -> H>,
}

impl<E: KeyExtractor> RedisRateLimitLayer<E> {
    /// Starts a layer over `conn` (see [`lazy_connection`]) for `quota`, one
    /// bucket per key `extractor` finds.
    pub fn builder(
        conn: ConnectionManager,
        quota: Quota,
        extractor: E,
    ) -> RedisRateLimitBuilder<E> {
        RedisRateLimitBuilder {
            conn,
            quota,
            extractor,
            prefix: DEFAULT_PREFIX.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            failure: FailurePolicy::default(),
            name: "default",
        }
    }
}

impl<E, H> RedisRateLimitLayer<E, H> {
    /// Adds `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` to
    /// every allowed `http::Response` (not to calls admitted by fail-open,
    /// where the state is unknown).
    #[cfg(feature = "http")]
    pub fn http(self) -> RedisRateLimitLayer<E, super::headers::HttpHeaders> {
        RedisRateLimitLayer {
            shared: self.shared,
            _headers: PhantomData,
        }
    }

    /// The Redis key of a request's bucket (`None`: requests without a key).
    #[must_use]
    pub fn redis_key(&self, key: Option<&E::Key>) -> Vec<u8>
    where
        E: KeyExtractor,
        E::Key: RedisKey,
    {
        self.shared.redis_key(key)
    }
}

impl<E: KeyExtractor> Shared<E> {
    fn redis_key(&self, key: Option<&E::Key>) -> Vec<u8>
    where
        E::Key: RedisKey,
    {
        let mut out = Vec::with_capacity(self.prefix.len() + 48);
        out.extend_from_slice(&self.prefix);
        match key {
            Some(key) => {
                out.extend_from_slice(b"k:");
                key.write_redis_key(&mut out);
            }
            None => out.extend_from_slice(b"none"),
        }
        out
    }
}

impl<E, H> Clone for RedisRateLimitLayer<E, H> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
            _headers: PhantomData,
        }
    }
}

impl<E, H> fmt::Debug for RedisRateLimitLayer<E, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisRateLimitLayer")
            .field("quota", &self.shared.quota)
            .field("prefix", &String::from_utf8_lossy(&self.shared.prefix))
            .field("timeout", &self.shared.timeout)
            .field("failure", &self.shared.failure)
            .finish_non_exhaustive()
    }
}

impl<S, E, H> Layer<S> for RedisRateLimitLayer<E, H> {
    type Service = RedisRateLimit<S, E, H>;

    fn layer(&self, inner: S) -> Self::Service {
        RedisRateLimit {
            inner,
            shared: Arc::clone(&self.shared),
            _headers: PhantomData,
        }
    }
}

/// The service of [`RedisRateLimitLayer`].
#[must_use]
pub struct RedisRateLimit<S, E, H = NoHeaders> {
    inner: S,
    shared: Arc<Shared<E>>,
    _headers: PhantomData<fn() -> H>,
}

impl<S, E, H> RedisRateLimit<S, E, H> {
    /// The inner service.
    #[must_use]
    pub const fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub const fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Consumes the limiter, returning the inner service.
    #[must_use]
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: Clone, E, H> Clone for RedisRateLimit<S, E, H> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: Arc::clone(&self.shared),
            _headers: PhantomData,
        }
    }
}

impl<S: fmt::Debug, E, H> fmt::Debug for RedisRateLimit<S, E, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisRateLimit")
            .field("inner", &self.inner)
            .field("name", &self.shared.name)
            .finish_non_exhaustive()
    }
}

type Decision = Result<Result<RateLimitInfo, RateLimited>, BoxError>;
/// Boxed because redis' script invocation is an unnameable `async fn`; the
/// allocation is small next to the network round trip it waits for.
type DecisionFuture = Pin<Box<dyn Future<Output = Decision> + Send>>;

impl<E: KeyExtractor> Shared<E> {
    fn decide(self: &Arc<Self>, key: Vec<u8>) -> DecisionFuture {
        let shared = Arc::clone(self);
        Box::pin(async move {
            let mut conn = shared.conn.clone();
            let burst = shared.quota.burst();
            let mut invocation = shared.script.key(key);
            invocation.arg(shared.interval_us).arg(burst);
            let reply: Vec<i64> =
                tokio::time::timeout(shared.timeout, invocation.invoke_async(&mut conn))
                    .await
                    .map_err(|_| -> BoxError { "redis did not answer in time".into() })??;
            let [allowed, remaining, wait_us, reset_us] = reply[..] else {
                return Err(
                    format!("unexpected reply from the rate limit script: {reply:?}").into(),
                );
            };
            let micros = |v: i64| Duration::from_micros(u64::try_from(v).unwrap_or(0));
            if allowed == 1 {
                Ok(Ok(RateLimitInfo {
                    limit: burst,
                    remaining: u32::try_from(remaining).unwrap_or(0).min(burst),
                    reset: micros(reset_us),
                }))
            } else {
                Ok(Err(RateLimited::new(
                    micros(wait_us),
                    burst,
                    micros(reset_us),
                )))
            }
        })
    }
}

impl<S, E, H, Req> Service<Req> for RedisRateLimit<S, E, H>
where
    S: Service<Req> + Clone,
    S::Error: Into<BoxError>,
    E: ExtractKey<Req>,
    E::Key: RedisKey,
    H: ResponseHeaders<S::Response>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = RedisResponseFuture<S, Req, H>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let key = self.shared.extractor.extract(&req);
        let check = self.shared.decide(self.shared.redis_key(key.as_ref()));
        // The ready service goes with the request; this one gets a fresh clone.
        let clone = self.inner.clone();
        let inner = mem::replace(&mut self.inner, clone);
        RedisResponseFuture {
            state: State::Checking {
                check,
                inner: Some(inner),
                req: Some(req),
                name: self.shared.name,
                failure: self.shared.failure,
            },
            _headers: PhantomData,
        }
    }
}

pin_project! {
    /// The future of [`RedisRateLimit`]: the Redis decision, then the inner
    /// call.
    pub struct RedisResponseFuture<S: Service<Req>, Req, H> {
        #[pin]
        state: State<S, Req>,
        _headers: PhantomData<fn() -> H>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S: Service<Req>, Req> {
        Checking {
            check: DecisionFuture,
            inner: Option<S>,
            req: Option<Req>,
            name: &'static str,
            failure: FailurePolicy,
        },
        Called { #[pin] future: S::Future, info: Option<RateLimitInfo> },
        Done,
    }
}

impl<S, Req, H> Future for RedisResponseFuture<S, Req, H>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    H: ResponseHeaders<S::Response>,
{
    type Output = Result<S::Response, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        loop {
            match state.as_mut().project() {
                StateProj::Checking {
                    check,
                    inner,
                    req,
                    name,
                    failure,
                } => {
                    let info = match ready!(check.as_mut().poll(cx)) {
                        Ok(Ok(info)) => Some(info),
                        Ok(Err(limited)) => {
                            telemetry::limited(name, &limited);
                            state.set(State::Done);
                            return Poll::Ready(Err(limited.into()));
                        }
                        Err(error) => {
                            let fail_open = *failure == FailurePolicy::FailOpen;
                            telemetry::backend_error(name, fail_open, &*error);
                            if !fail_open {
                                state.set(State::Done);
                                return Poll::Ready(Err(
                                    BackendUnavailable::new(Some(error)).into()
                                ));
                            }
                            None
                        }
                    };
                    let (Some(mut svc), Some(req)) = (inner.take(), req.take()) else {
                        return Poll::Ready(
                            Err("rate limit future polled after completion".into()),
                        );
                    };
                    let future = svc.call(req);
                    state.set(State::Called { future, info });
                }
                StateProj::Called { future, info } => {
                    let mut response = ready!(future.poll(cx)).map_err(Into::into)?;
                    if let Some(info) = info {
                        H::apply(&mut response, info);
                    }
                    return Poll::Ready(Ok(response));
                }
                StateProj::Done => {
                    return Poll::Ready(Err("rate limit future polled after completion".into()));
                }
            }
        }
    }
}

impl<S: Service<Req>, Req, H> fmt::Debug for RedisResponseFuture<S, Req, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisResponseFuture")
            .finish_non_exhaustive()
    }
}
