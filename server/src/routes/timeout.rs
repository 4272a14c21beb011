//! The stack's request timeout: a request slower than the limit is answered
//! 504 `timeout` and its handler's future dropped, so it stops at its next
//! await.
//!
//! A tower service with a named future rather than an
//! `axum::middleware::from_fn`, which boxes the middleware's future, the
//! inner service and its future on every request; this runs on every route.
//!
//! ```
//! use std::time::Duration;
//! use axum::{Router, routing::get};
//! use palisade_server::routes::timeout::RequestTimeoutLayer;
//!
//! let app: Router = Router::new()
//!     .route("/", get(|| async { "hi" }))
//!     .layer(RequestTimeoutLayer::new(Duration::from_secs(30)));
//! # let _ = app;
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::response::{IntoResponse as _, Response};
use http::{Method, Request, StatusCode, Uri};
use palisade_problem::Problem;
use pin_project_lite::pin_project;
use tokio::time::Sleep;
use tower::{Layer, Service};

/// Wraps a service in [`RequestTimeout`].
#[derive(Debug, Clone, Copy)]
pub struct RequestTimeoutLayer {
    limit: Duration,
}

impl RequestTimeoutLayer {
    /// Requests may take up to `limit`.
    #[must_use]
    pub fn new(limit: Duration) -> Self {
        Self { limit }
    }
}

impl<S> Layer<S> for RequestTimeoutLayer {
    type Service = RequestTimeout<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestTimeout {
            inner,
            limit: self.limit,
        }
    }
}

/// Answers 504 `timeout` when `inner` takes longer than the limit; see the
/// [module docs](self).
#[derive(Debug, Clone)]
pub struct RequestTimeout<S> {
    inner: S,
    limit: Duration,
}

impl<S, B> Service<Request<B>> for RequestTimeout<S>
where
    S: Service<Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // Both clones share the request's storage (no copy of the path);
        // they name the request in the log line of a timeout.
        let method = request.method().clone();
        let uri = request.uri().clone();
        ResponseFuture {
            inner: self.inner.call(request),
            sleep: tokio::time::sleep(self.limit),
            limit: self.limit,
            method,
            uri,
        }
    }
}

pin_project! {
    /// The inner response, or a 504 once the limit has passed.
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        #[pin]
        sleep: Sleep,
        limit: Duration,
        method: Method,
        uri: Uri,
    }
}

impl<F, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(result) = this.inner.poll(cx) {
            return Poll::Ready(result);
        }
        if this.sleep.poll(cx).is_pending() {
            return Poll::Pending;
        }
        let limit = *this.limit;
        tracing::warn!(method = %this.method, path = %this.uri.path(), ?limit, "request timed out");
        Poll::Ready(Ok(Problem::palisade(
            StatusCode::GATEWAY_TIMEOUT,
            "timeout",
        )
        .with_detail(format!("the request took longer than {limit:?}"))
        .into_response()))
    }
}
