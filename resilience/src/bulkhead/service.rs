//! [`Bulkhead`], the service.

use std::sync::Arc;
use std::task::{Context, Poll};

use tower_service::Service;

use super::error::Reason;
use super::future::ResponseFuture;
use super::handle::BulkheadHandle;
use super::shared::Shared;
use crate::BoxError;
use crate::weight::{self, Unweighted, Weigh};

/// Limits concurrent calls to the inner service, queueing a bounded number of
/// callers for at most `max_wait`. Built by [`BulkheadLayer`](super::BulkheadLayer);
/// every service from one layer shares the same permits.
///
/// `poll_ready` only forwards the inner service's readiness: the bulkhead
/// never applies backpressure, it queues (bounded) or rejects in the response
/// future. See the [module docs](super) for why.
///
/// Each call takes the permits `W` weighs it at ([`Unweighted`]: one).
#[must_use]
#[derive(Debug, Clone)]
pub struct Bulkhead<S, W = Unweighted> {
    inner: S,
    shared: Arc<Shared>,
    weigh: W,
}

impl<S, W> Bulkhead<S, W> {
    pub(crate) fn new(inner: S, shared: Arc<Shared>, weigh: W) -> Self {
        Self {
            inner,
            shared,
            weigh,
        }
    }

    /// A handle reporting this bulkhead's occupancy.
    #[must_use]
    pub fn handle(&self) -> BulkheadHandle {
        BulkheadHandle::new(self.shared.clone())
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

impl<S, W, Req> Service<Req> for Bulkhead<S, W>
where
    S: Service<Req> + Clone,
    S::Error: Into<BoxError>,
    W: Weigh<Req>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S, Req>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    #[inline]
    fn call(&mut self, req: Req) -> Self::Future {
        let weight = weight::of(&self.weigh, &req);
        start(&self.shared, &mut self.inner, req, weight)
    }
}

/// Admits a call of `weight` permits into `shared`: straight to the (ready)
/// inner service when that many permits are free, into the queue when there
/// is room, else a rejection.
#[inline]
pub(crate) fn start<S, Req>(
    shared: &Arc<Shared>,
    inner: &mut S,
    req: Req,
    weight: u32,
) -> ResponseFuture<S, Req>
where
    S: Service<Req> + Clone,
{
    match shared.try_acquire(weight) {
        Some(permit) => ResponseFuture::running(inner.call(req), permit),
        None => contended(shared, inner, req, weight),
    }
}

/// The slow path, kept out of line so the common one stays small.
#[cold]
#[inline(never)]
fn contended<S, Req>(
    shared: &Arc<Shared>,
    inner: &S,
    req: Req,
    weight: u32,
) -> ResponseFuture<S, Req>
where
    S: Service<Req> + Clone,
{
    // A call heavier than the whole bulkhead would wait for ever.
    if weight as usize > shared.max_concurrent() {
        return ResponseFuture::rejected(shared.reject(Reason::TooHeavy { weight }));
    }
    match shared.enqueue() {
        // `inner` stays ready for the next call; the queued call gets a fresh
        // clone and waits for its readiness once it holds a permit.
        Some(waiter) => ResponseFuture::queued(inner.clone(), req, waiter, weight),
        None => ResponseFuture::rejected(shared.reject(Reason::QueueFull)),
    }
}
