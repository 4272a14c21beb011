//! The retrying service.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::time::Instant;
use tower_service::Service;

use super::future::ResponseFuture;
use super::layer::Shared;
use super::policy::{Predicate, RetryErrors};
use crate::BoxError;

/// Retries calls to `S`; made by [`RetryLayer`](super::RetryLayer).
///
/// Requests must be `Clone`: a copy is kept for the next attempt (none when
/// `max_attempts` is 1). `S` must be `Clone` too: the response future holds
/// a clone of it and waits for its `poll_ready` before each retry.
#[must_use]
pub struct Retry<S, P = RetryErrors> {
    inner: S,
    shared: Arc<Shared<P>>,
}

impl<S, P> Retry<S, P> {
    pub(crate) fn new(inner: S, shared: Arc<Shared<P>>) -> Self {
        Self { inner, shared }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Consumes the layer's service and returns the inner one.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: Clone, P> Clone for Retry<S, P> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<S: fmt::Debug, P: fmt::Debug> fmt::Debug for Retry<S, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Retry")
            .field("inner", &self.inner)
            .field("shared", &self.shared)
            .finish()
    }
}

impl<S, P, Req> Service<Req> for Retry<S, P>
where
    S: Service<Req> + Clone,
    S::Error: Into<BoxError>,
    P: Predicate<S::Response, S::Error>,
    Req: Clone,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S, P, Req>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let settings = &self.shared.settings;
        let copy = (settings.max_attempts > 1).then(|| request.clone());
        // The clock is only read when `max_elapsed` needs the start time.
        let started = settings.max_elapsed.map(|_| Instant::now());
        let future = self.inner.call(request);
        ResponseFuture::new(
            future,
            self.inner.clone(),
            copy,
            Arc::clone(&self.shared),
            started,
        )
    }
}
