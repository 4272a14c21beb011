//! [`Timeout`], the service.

use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tower_service::Service;

use super::future::ResponseFuture;
use crate::BoxError;

/// Fails a call with [`Elapsed`](super::error::Elapsed) when the inner service
/// has not answered within the timeout. Built by
/// [`TimeoutLayer`](super::TimeoutLayer).
///
/// The timer starts when the call is made (not while waiting for readiness)
/// and is a `tokio::time::Sleep` inside the response future: no boxing, no
/// allocation.
///
/// `K` is [`AnyRequest`](super::AnyRequest) (one timeout for every call) or,
/// from [`TimeoutLayer::http`](super::TimeoutLayer::http),
/// [`Http`](super::Http): the timeout is then the most a request may ask
/// for (see [`http`](super::http)).
#[must_use]
#[derive(Debug, Clone)]
pub struct Timeout<S, K = super::AnyRequest> {
    pub(super) inner: S,
    pub(super) timeout: Duration,
    pub(super) name: Option<Arc<str>>,
    pub(super) kind: PhantomData<fn() -> K>,
}

impl<S, K> Timeout<S, K> {
    /// The configured timeout (with [`Http`](super::Http), the longest).
    #[must_use]
    pub fn timeout(&self) -> Duration {
        self.timeout
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

impl<S, Req> Service<Req> for Timeout<S, super::AnyRequest>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        ResponseFuture::new(self.inner.call(req), self.timeout, self.name.clone())
    }
}
