//! The HTTP preset: [`RetryLayer::http`].
//!
//! [`RetryLayer::http`] is [`RetryLayer::builder`] preset for HTTP: the same
//! builder type ([`RetryLayerBuilder`]) with every setter, a custom
//! [`predicate`](RetryLayerBuilder::predicate) still settable, and the
//! HTTP-only setters [`max_body_bytes`](RetryLayerBuilder::max_body_bytes)
//! and [`clock`](RetryLayerBuilder::clock). The layer it builds
//! ([`HttpRetryLayer`], a `RetryLayer<P, Http>`) wraps services taking `http::Request<RetryBody<B>>`
//! and returning `http::Response<_>`; it takes `http::Request<B>` for any
//! [`http_body::Body`] `B` that is `Unpin` (hyper's `Incoming`, axum's
//! `Body`, `Full`, boxed bodies; pin other bodies with `BodyExt::boxed`).
//!
//! - **Only idempotent methods** are retried: GET, HEAD, OPTIONS, TRACE, PUT
//!   and DELETE. Other requests (POST, PATCH, …) are sent once with their
//!   body streamed through untouched.
//! - **Only "not now" answers** are retried: 429, 502, 503, 504, and every
//!   `Err` of the inner service (connection refused, reset, timeout). A 500
//!   is returned as it is.
//! - **`Retry-After`** (delta-seconds or HTTP-date, compared with the
//!   [`WallClock`]) is waited when it is longer than the backoff delay (the
//!   delay is the larger of the two), and our own rejections' `retry_after`
//!   counts the same way (see [`RetryErrors`](super::RetryErrors)). If it asks for
//!   more than `max_retry_after` (30 s by default), the layer stops and
//!   returns the response: the upstream said it will not recover in time.
//!   `max_elapsed` and the retry budget apply as well.
//! - **Bodies are buffered** up to `max_body_bytes` (64 KiB by default)
//!   before the first attempt and replayed intact on every attempt. A body
//!   larger than that (by its size hint, or found while reading) is sent
//!   once, its bytes already read first and the rest streamed, so the inner
//!   service receives all of it. If that single attempt fails in a way that
//!   would have been retried, an `Err` becomes
//!   [`BodyTooLargeToRetry`](super::error::BodyTooLargeToRetry) (wrapping
//!   the inner error) and a retryable response carries
//!   [`RetrySkipped::BodyTooLarge`] in its extensions.
//!
//! A body that fails while it is buffered fails the call with the body's
//! error (boxed) before anything is sent. The retry budget only counts
//! retryable requests (idempotent, buffered).
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use bytes::Bytes;
//! use http::{Request, Response, StatusCode};
//! use http_body_util::{BodyExt, Full};
//! use palisade_resilience::retry::RetryLayer;
//! use palisade_resilience::retry::http::RetryBody;
//! use tower::{Layer, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! let layer = RetryLayer::http()
//!     .max_attempts(2)
//!     .max_body_bytes(1024)
//!     .clock(|| SystemTime::UNIX_EPOCH)
//!     .build()
//!     .expect("valid configuration");
//!
//! // Busy on the first attempt, then echoes the body.
//! let busy = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
//! let upstream = service_fn(move |request: Request<RetryBody<Full<Bytes>>>| {
//!     let busy = busy.swap(false, std::sync::atomic::Ordering::SeqCst);
//!     async move {
//!         let body = request.into_body().collect().await?.to_bytes();
//!         let status = if busy { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK };
//!         Ok::<_, std::convert::Infallible>(Response::builder().status(status).body(body).unwrap())
//!     }
//! });
//!
//! let request = Request::put("/items/7").body(Full::new(Bytes::from("{}"))).unwrap();
//! let response = layer.layer(upstream).oneshot(request).await.unwrap();
//! assert_eq!(response.status(), StatusCode::OK);
//! assert_eq!(response.into_body(), "{}");
//! # }
//! ```

mod body;
mod future;
mod policy;
mod service;

use tower_layer::Layer;

pub use self::body::RetryBody;
pub use self::future::HttpResponseFuture;
pub use self::policy::{HttpPredicate, SystemClock, WallClock, parse_retry_after};
pub use self::service::HttpRetry;

use super::layer::{RetryLayer, RetryLayerBuilder};

/// Why a retryable response was returned without being retried; found in
/// the response's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetrySkipped {
    /// The request body exceeded the buffering limit (in bytes), so it was
    /// sent once and could not be sent again.
    BodyTooLarge {
        /// The limit the body exceeded.
        limit: usize,
    },
}

/// The HTTP request kind of a [`RetryLayer`]: requests are
/// `http::Request<B>`, idempotent ones have their bodies buffered up to a
/// limit and are retried. Set through [`RetryLayer::http`].
#[derive(Debug, Clone, Copy)]
pub struct Http {
    max_body_bytes: usize,
}

/// The HTTP retry layer: a [`RetryLayer`] built by [`RetryLayer::http`],
/// with [`HttpPredicate`] unless another predicate was set.
pub type HttpRetryLayer<P = HttpPredicate> = RetryLayer<P, Http>;

impl RetryLayer {
    /// [`RetryLayer::builder`] preset for HTTP: the same defaults, with
    /// [`HttpPredicate`] (its [`SystemClock`]), a 64 KiB body buffer and
    /// requests of type `http::Request<B>`. Every setter of the plain builder
    /// is available, [`predicate`](RetryLayerBuilder::predicate) included.
    pub fn http() -> RetryLayerBuilder<HttpPredicate, Http> {
        let plain = RetryLayer::builder();
        RetryLayerBuilder {
            settings: plain.settings,
            predicate: HttpPredicate::default(),
            budget: plain.budget,
            seed: plain.seed,
            kind: Http {
                max_body_bytes: 64 * 1024,
            },
        }
    }
}

impl<P> RetryLayerBuilder<P, Http> {
    /// The largest request body, in bytes, buffered so the request can be
    /// retried (64 KiB by default). Zero retries only requests without a body.
    pub fn max_body_bytes(mut self, max_body_bytes: usize) -> Self {
        self.kind.max_body_bytes = max_body_bytes;
        self
    }
}

impl RetryLayerBuilder<HttpPredicate, Http> {
    /// The wall clock `Retry-After` dates are compared with (default:
    /// [`SystemClock`]). Only for [`HttpPredicate`]; a custom predicate
    /// reads its own clock.
    pub fn clock(mut self, clock: impl WallClock + 'static) -> Self {
        self.predicate = HttpPredicate::new(clock);
        self
    }
}

impl<P> RetryLayer<P, Http> {
    /// The largest request body kept for retries, in bytes.
    #[must_use]
    pub fn max_body_bytes(&self) -> usize {
        self.kind.max_body_bytes
    }
}

impl<S, P> Layer<S> for RetryLayer<P, Http> {
    type Service = HttpRetry<S, P>;

    fn layer(&self, inner: S) -> Self::Service {
        HttpRetry::new(
            inner,
            std::sync::Arc::clone(&self.shared),
            self.kind.max_body_bytes,
        )
    }
}

/// This request's own limit on attempts: a [`MaxAttempts`] extension when it
/// has one, else the layer's.
pub(crate) fn max_attempts_of<B, P>(
    request: &http::Request<B>,
    shared: &super::layer::Shared<P>,
) -> u32 {
    request
        .extensions()
        .get::<MaxAttempts>()
        .map_or(shared.settings.max_attempts, |own| own.0.get())
}

/// A request extension that sets the most attempts (the first included) the
/// HTTP retry layer makes for this request, instead of the layer's
/// `max_attempts`: `MaxAttempts(1)` turns retries off for it, a larger number
/// allows more (the retry budget and `max_elapsed` still apply).
///
/// ```
/// use std::num::NonZeroU32;
/// use palisade_resilience::retry::http::MaxAttempts;
///
/// let mut request = http::Request::new(());
/// request.extensions_mut().insert(MaxAttempts(NonZeroU32::MIN));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxAttempts(pub std::num::NonZeroU32);
