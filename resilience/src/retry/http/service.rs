//! The HTTP retrying service.

use std::fmt;
use std::mem;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::BytesMut;
use http::{Request, Response};
use http_body::Body;
use tower_service::Service;

use super::body::RetryBody;
use super::future::HttpResponseFuture;
use super::policy::{HttpPredicate, is_idempotent};
use crate::BoxError;
use crate::retry::Predicate;
use crate::retry::layer::Shared;

/// Retries HTTP requests to `S`; made by
/// [`HttpRetryLayer`](super::HttpRetryLayer).
///
/// Takes `http::Request<B>` and calls `S` with
/// `http::Request<RetryBody<B>>`: see the [module docs](super) for which
/// requests are buffered and retried.
#[must_use]
pub struct HttpRetry<S, P = HttpPredicate> {
    inner: S,
    shared: Arc<Shared<P>>,
    max_body_bytes: usize,
}

impl<S, P> HttpRetry<S, P> {
    pub(crate) fn new(inner: S, shared: Arc<Shared<P>>, max_body_bytes: usize) -> Self {
        Self {
            inner,
            shared,
            max_body_bytes,
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

    /// Consumes the layer's service and returns the inner one.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: Clone, P> Clone for HttpRetry<S, P> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: Arc::clone(&self.shared),
            max_body_bytes: self.max_body_bytes,
        }
    }
}

impl<S: fmt::Debug, P: fmt::Debug> fmt::Debug for HttpRetry<S, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpRetry")
            .field("inner", &self.inner)
            .field("shared", &self.shared)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish()
    }
}

impl<S, P, B, ResB> Service<Request<B>> for HttpRetry<S, P>
where
    S: Service<Request<RetryBody<B>>, Response = Response<ResB>> + Clone,
    S::Error: Into<BoxError> + 'static,
    P: Predicate<Response<ResB>, S::Error>,
    B: Body + Unpin,
    B::Error: Into<BoxError>,
{
    type Response = Response<ResB>;
    type Error = BoxError;
    type Future = HttpResponseFuture<S, B, P>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        if super::max_attempts_of(&request, &self.shared) == 1 || !is_idempotent(request.method()) {
            let future = self
                .inner
                .call(request.map(|b| RetryBody::streaming(None, b)));
            return HttpResponseFuture::once(future, None);
        }
        let limit = self.max_body_bytes;
        if request.body().size_hint().lower() > limit as u64 {
            tracing::debug!(
                limit,
                "request body too large to buffer; it will not be retried"
            );
            let future = self
                .inner
                .call(request.map(|b| RetryBody::streaming(None, b)));
            return HttpResponseFuture::once(future, Some(limit));
        }
        // The body must be read before the first attempt, so the service that
        // `poll_ready` made ready goes into the future and a fresh clone stays.
        let clone = self.inner.clone();
        let inner = mem::replace(&mut self.inner, clone);
        let (parts, body) = request.into_parts();
        let capacity = usize::try_from(body.size_hint().lower())
            .unwrap_or(0)
            .min(limit);
        HttpResponseFuture::buffering(
            inner,
            parts,
            body,
            BytesMut::with_capacity(capacity),
            Arc::clone(&self.shared),
            limit,
        )
    }
}
