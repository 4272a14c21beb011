//! One access-log line per request, under the `access` tracing target:
//! method, path, status, duration and request id.
//!
//! Put [`access_log_layer`] *inside* the request-id layer, so the request
//! already carries its `x-request-id` header when this layer sees it. The
//! duration runs from the request's arrival here to its response head; the
//! path is the request's path without its query (which may hold secrets).
//!
//! ```
//! use axum::{Router, routing::get};
//! use palisade_server::access_log::access_log_layer;
//!
//! let app: Router = Router::new()
//!     .route("/", get(|| async { "hello" }))
//!     .layer(access_log_layer());
//! ```
//!
//! Filter the lines with `RUST_LOG`, e.g. `RUST_LOG=info,access=off` to
//! turn them off.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::{Method, Request, Response};
use pin_project_lite::pin_project;
use tokio::time::Instant;
use tower::{Layer, Service};
use tracing::Level;

/// The tracing target of access-log lines.
pub const TARGET: &str = "access";
/// The header the request-id layer sets on each request.
const REQUEST_ID: &str = "x-request-id";

/// The access-log layer for the server's stack.
#[must_use]
pub fn access_log_layer() -> AccessLogLayer {
    AccessLogLayer
}

/// Wraps a service in [`AccessLog`]; see [`access_log_layer`].
#[derive(Debug, Clone, Copy, Default)]
pub struct AccessLogLayer;

impl<S> Layer<S> for AccessLogLayer {
    type Service = AccessLog<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AccessLog { inner }
    }
}

/// Logs one line per request it serves; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct AccessLog<S> {
    inner: S,
}

impl<S, B, ResBody> Service<Request<B>> for AccessLog<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // Filtered off (`RUST_LOG=…,access=off`), a request costs this one
        // check: nothing is copied, timed or formatted.
        if !tracing::enabled!(target: TARGET, Level::INFO) {
            return ResponseFuture {
                inner: self.inner.call(request),
                line: None,
            };
        }
        let line = Line {
            method: request.method().clone(),
            path: request.uri().path().to_owned(),
            request_id: request
                .headers()
                .get(REQUEST_ID)
                .and_then(|id| id.to_str().ok())
                .map(str::to_owned),
            started: Instant::now(),
        };
        ResponseFuture {
            inner: self.inner.call(request),
            line: Some(line),
        }
    }
}

/// What the line says, gathered when the request arrives.
#[derive(Debug)]
struct Line {
    method: Method,
    path: String,
    request_id: Option<String>,
    started: Instant,
}

impl Line {
    fn write(self, status: Option<u16>) {
        let duration_ms = self.started.elapsed().as_secs_f64() * 1000.0;
        let request_id = self.request_id.as_deref().unwrap_or("-");
        match status {
            Some(status) => tracing::info!(
                target: TARGET,
                method = %self.method,
                path = %self.path,
                status,
                duration_ms,
                request_id,
                "request"
            ),
            None => tracing::info!(
                target: TARGET,
                method = %self.method,
                path = %self.path,
                status = "error",
                duration_ms,
                request_id,
                "request failed without a response"
            ),
        }
    }
}

pin_project! {
    /// The inner response; logs the line when it resolves.
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        line: Option<Line>,
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        if let Some(line) = this.line.take() {
            line.write(result.as_ref().ok().map(|r| r.status().as_u16()));
        }
        Poll::Ready(result)
    }
}
