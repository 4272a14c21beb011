//! [`RedisRateLimit`]: the service the layer builds.

use std::fmt;
use std::marker::PhantomData;
use std::mem;
use std::sync::Arc;
use std::task::{Context, Poll};

use tower_service::Service;

use super::future::RedisResponseFuture;
use super::key::RedisKey;
use super::layer::Shared;
use crate::BoxError;
use crate::key::ExtractKey;
use crate::rate_limit::error::ExceedsBurst;
use crate::rate_limit::handle::RateLimitHandle;
use crate::rate_limit::headers::{NoHeaders, ResponseHeaders};
use crate::weight::{self, Unweighted, Weigh};

/// The service of [`RedisRateLimitLayer`](super::RedisRateLimitLayer).
#[must_use]
pub struct RedisRateLimit<S, E, H = NoHeaders, W = Unweighted> {
    inner: S,
    shared: Arc<Shared<E, W>>,
    _headers: PhantomData<fn() -> H>,
}

impl<S, E, H, W> RedisRateLimit<S, E, H, W> {
    pub(super) fn from_parts(inner: S, shared: Arc<Shared<E, W>>) -> Self {
        Self {
            inner,
            shared,
            _headers: PhantomData,
        }
    }

    /// A handle to the counts this service shares with its layer.
    #[must_use]
    pub fn handle(&self) -> RateLimitHandle {
        RateLimitHandle::new(Arc::clone(&self.shared.stats))
    }

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

impl<S: Clone, E, H, W> Clone for RedisRateLimit<S, E, H, W> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: Arc::clone(&self.shared),
            _headers: PhantomData,
        }
    }
}

impl<S: fmt::Debug, E, H, W> fmt::Debug for RedisRateLimit<S, E, H, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisRateLimit")
            .field("inner", &self.inner)
            .field("name", &self.shared.name)
            .finish_non_exhaustive()
    }
}

impl<S, E, H, W, Req> Service<Req> for RedisRateLimit<S, E, H, W>
where
    S: Service<Req> + Clone,
    S::Error: Into<BoxError>,
    E: ExtractKey<Req> + Send + Sync + 'static,
    E::Key: RedisKey,
    H: ResponseHeaders<S::Response>,
    W: Weigh<Req> + Send + Sync + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = RedisResponseFuture<S, Req, H>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let key = match self.shared.key_of.extract(&req) {
            Ok(key) => key,
            Err(missing) => return RedisResponseFuture::refused(missing.into()),
        };
        let weight = weight::of(&self.shared.weigh, &req);
        let burst = self.shared.quota.burst_size();
        if weight > burst {
            // It could never pass: refused here, without a round trip.
            self.shared.stats.record_limited();
            return RedisResponseFuture::refused(ExceedsBurst::new(weight, burst).into());
        }
        let check = self.shared.decide(self.shared.redis_key(&key), weight);
        // The ready service goes with the request; this one gets a fresh clone.
        let clone = self.inner.clone();
        let inner = mem::replace(&mut self.inner, clone);
        RedisResponseFuture::new(check, inner, req, self.shared.name, self.shared.failure)
    }
}
