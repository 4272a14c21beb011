//! [`AdaptiveLimit`], the service.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use tower_service::Service;

use super::future::ResponseFuture;
use super::handle::AdaptiveLimitHandle;
use super::limiter::Limiter;
use crate::BoxError;
use crate::classify::Classify;

/// Limits concurrent calls to the inner service to a limit that follows the
/// service's latency and drops; built by
/// [`AdaptiveLimitLayer`](super::AdaptiveLimitLayer).
///
/// As the bulkhead, `poll_ready` only forwards the inner service's
/// readiness: a call over the limit queues (bounded) or is rejected in the
/// response future.
#[must_use]
pub struct AdaptiveLimit<S, C> {
    inner: S,
    limiter: Arc<Limiter>,
    classify: C,
}

impl<S, C> AdaptiveLimit<S, C> {
    pub(crate) fn new(inner: S, limiter: Arc<Limiter>, classify: C) -> Self {
        Self {
            inner,
            limiter,
            classify,
        }
    }

    /// A handle reporting the limit, the calls in flight and the rejections.
    #[must_use]
    pub fn handle(&self) -> AdaptiveLimitHandle {
        AdaptiveLimitHandle::new(Arc::clone(&self.limiter))
    }

    /// A reference to the inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// A mutable reference to the inner service.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Consumes `self`, returning the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: Clone, C: Clone> Clone for AdaptiveLimit<S, C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            limiter: Arc::clone(&self.limiter),
            classify: self.classify.clone(),
        }
    }
}

impl<S: fmt::Debug, C: fmt::Debug> fmt::Debug for AdaptiveLimit<S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdaptiveLimit")
            .field("inner", &self.inner)
            .field("name", &self.limiter.name)
            .field("limit", &self.limiter.limit())
            .field("classify", &self.classify)
            .finish()
    }
}

impl<S, C, Req> Service<Req> for AdaptiveLimit<S, C>
where
    S: Service<Req> + Clone,
    S::Error: Into<BoxError>,
    C: Classify<S::Response, S::Error> + Clone,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S, Req, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    #[inline]
    fn call(&mut self, req: Req) -> Self::Future {
        match self.limiter.try_acquire_first() {
            Some(permit) => {
                ResponseFuture::running(self.inner.call(req), permit, self.classify.clone())
            }
            None => contended(&self.limiter, &self.inner, req, self.classify.clone()),
        }
    }
}

/// The slow path, kept out of line so the common one stays small.
#[cold]
#[inline(never)]
fn contended<S, Req, C>(
    limiter: &Arc<Limiter>,
    inner: &S,
    req: Req,
    classify: C,
) -> ResponseFuture<S, Req, C>
where
    S: Service<Req> + Clone,
{
    match limiter.enqueue() {
        // `inner` stays ready for the next call; the queued call gets a
        // fresh clone and waits for its readiness once it holds a place.
        Some(waiter) => ResponseFuture::queued(inner.clone(), req, waiter, classify),
        None => ResponseFuture::rejected(limiter.reject(None).into(), classify),
    }
}
