//! [`Fallback`], the service.

use std::task::{Context, Poll};

use tower_service::Service;

use super::future::ResponseFuture;
use super::handler::FallbackHandler;
use super::predicate::Predicate;
use crate::BoxError;

/// Answers with a fallback when the inner service fails with an error the
/// predicate accepts. Built by [`FallbackLayer`](super::FallbackLayer).
///
/// Errors from the inner service's `poll_ready` are returned as they are: a
/// service that is not ready has not failed a call yet.
#[must_use]
#[derive(Debug, Clone)]
pub struct Fallback<S, H, P> {
    inner: S,
    handler: H,
    predicate: P,
}

impl<S, H, P> Fallback<S, H, P> {
    pub(crate) fn new(inner: S, handler: H, predicate: P) -> Self {
        Self {
            inner,
            handler,
            predicate,
        }
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

impl<S, H, P, Req> Service<Req> for Fallback<S, H, P>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    H: FallbackHandler<Req, Response = S::Response> + Clone,
    P: Predicate + Clone,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future, H, P, Req>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let saved = self.handler.save(&req);
        ResponseFuture::new(
            self.inner.call(req),
            self.handler.clone(),
            self.predicate.clone(),
            saved,
        )
    }
}
