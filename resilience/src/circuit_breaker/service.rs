//! The service.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use tower_service::Service;

use super::future::ResponseFuture;
use super::handle::CircuitBreakerHandle;
use super::state::Breaker;
use super::ticket::Admission;
use crate::BoxError;
use crate::classify::{Classify, ErrorsAreFailures};

/// Rejects calls while its breaker is open; see the [module docs](super).
///
/// Made by [`CircuitBreakerLayer`](super::CircuitBreakerLayer); every service
/// of one layer, and every clone, shares the layer's breaker.
///
/// `poll_ready` decides: if the breaker rejects, it is ready at once without
/// polling the inner service, and `call` returns an immediately ready
/// [`CircuitOpen`](super::error::CircuitOpen) error without calling it.
/// Otherwise it is ready when the inner service is, and a HalfOpen probe
/// permit taken for the call is held until then (and given back if the
/// service is dropped unused). In Closed nothing is reserved: `call` checks
/// the state again, so a breaker that opened in between rejects the call
/// (the inner service's readiness then goes unused, which tower allows).
#[must_use]
pub struct CircuitBreaker<S, C = ErrorsAreFailures> {
    inner: S,
    breaker: Arc<Breaker>,
    classifier: C,
    admission: Option<Admission>,
}

impl<S, C> CircuitBreaker<S, C> {
    pub(crate) fn new(inner: S, breaker: Arc<Breaker>, classifier: C) -> Self {
        Self {
            inner,
            breaker,
            classifier,
            admission: None,
        }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Consumes the breaker, returning the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// A handle to the shared breaker.
    pub fn handle(&self) -> CircuitBreakerHandle {
        CircuitBreakerHandle::new(Arc::clone(&self.breaker))
    }
}

impl<S, C, Req> Service<Req> for CircuitBreaker<S, C>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    C: Classify<S::Response, S::Error> + Clone,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future, C>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if self.admission.is_none() {
            match self.breaker.admit() {
                // Closed: nothing to remember, `call` looks again (one load).
                Admission::Pass { .. } => return self.inner.poll_ready(cx).map_err(Into::into),
                admission => self.admission = Some(admission),
            }
        }
        if let Some(Admission::Rejected { .. }) = self.admission {
            return Poll::Ready(Ok(()));
        }
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    #[inline]
    fn call(&mut self, request: Req) -> Self::Future {
        let admission = match self.admission.take() {
            Some(admission) => admission,
            None => self.breaker.admit(),
        };
        let inner = &mut self.inner;
        ResponseFuture::new(admission, &self.breaker, &self.classifier, || {
            inner.call(request)
        })
    }
}

impl<S: Clone, C: Clone> Clone for CircuitBreaker<S, C> {
    fn clone(&self) -> Self {
        // The verdict (and any probe permit) belongs to this instance only.
        Self::new(
            self.inner.clone(),
            Arc::clone(&self.breaker),
            self.classifier.clone(),
        )
    }
}

impl<S: fmt::Debug, C: fmt::Debug> fmt::Debug for CircuitBreaker<S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("inner", &self.inner)
            .field("name", &self.breaker.name())
            .field("classifier", &self.classifier)
            .field("admission", &self.admission)
            .finish()
    }
}
