//! [`Chaos`], the service.

use std::sync::Arc;
use std::task::{Context, Poll};

use tower_service::Service;

use super::faults::Faults;
use super::future::ResponseFuture;
use crate::BoxError;

/// Injects latency and errors into calls of the inner service. Built by
/// [`ChaosLayer`](super::ChaosLayer).
#[must_use]
#[derive(Debug, Clone)]
pub struct Chaos<S> {
    inner: S,
    faults: Option<Arc<Faults>>,
}

impl<S> Chaos<S> {
    pub(crate) fn new(inner: S, faults: Option<Arc<Faults>>) -> Self {
        Self { inner, faults }
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

impl<S, Req> Service<Req> for Chaos<S>
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
        let Some(faults) = &self.faults else {
            return ResponseFuture::passthrough(self.inner.call(req));
        };
        let decision = faults.decide();
        // An injected error replaces the call: the inner service never sees
        // the request (its reserved readiness carries over to the next call).
        let fut = match decision.error {
            Some(error) => Err(error),
            None => Ok(self.inner.call(req)),
        };
        ResponseFuture::new(fut, decision.delay)
    }
}
