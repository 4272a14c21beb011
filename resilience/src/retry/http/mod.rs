//! The HTTP preset: [`RetryLayer::http`].
//!
//! [`HttpRetryLayer`] wraps services taking `http::Request<RetryBody<B>>`
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

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tower_layer::Layer;

pub use self::body::RetryBody;
pub use self::future::HttpResponseFuture;
pub use self::policy::{HttpPredicate, SystemClock, WallClock};
pub use self::service::HttpRetry;

use super::layer::{RetryLayer, RetryLayerBuilder, Shared};
use super::{Backoff, RetryBudget};
use crate::ConfigError;

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

impl RetryLayer {
    /// A builder for the HTTP preset, with the defaults of
    /// [`RetryLayer::builder`], [`HttpPredicate`], the [`SystemClock`] and a
    /// 64 KiB body buffer.
    pub fn http() -> HttpRetryLayerBuilder {
        HttpRetryLayerBuilder {
            base: RetryLayer::builder().predicate(HttpPredicate::default()),
            max_body_bytes: 64 * 1024,
        }
    }
}

/// The HTTP retry preset; built with [`RetryLayer::http`].
#[must_use]
#[derive(Clone)]
pub struct HttpRetryLayer {
    shared: Arc<Shared<HttpPredicate>>,
    max_body_bytes: usize,
}

impl HttpRetryLayer {
    /// The backoff schedule.
    #[must_use]
    pub fn backoff(&self) -> Backoff {
        self.shared.settings.backoff
    }

    /// The largest request body kept for retries, in bytes.
    #[must_use]
    pub fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }
}

impl fmt::Debug for HttpRetryLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpRetryLayer")
            .field("shared", &self.shared)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish()
    }
}

impl<S> Layer<S> for HttpRetryLayer {
    type Service = HttpRetry<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HttpRetry::new(inner, Arc::clone(&self.shared), self.max_body_bytes)
    }
}

/// Configures an [`HttpRetryLayer`]; from [`RetryLayer::http`]. The settings
/// mean the same as on [`RetryLayerBuilder`].
#[must_use]
#[derive(Debug, Clone)]
pub struct HttpRetryLayerBuilder {
    base: RetryLayerBuilder<HttpPredicate>,
    max_body_bytes: usize,
}

impl HttpRetryLayerBuilder {
    /// See [`RetryLayerBuilder::max_attempts`].
    pub fn max_attempts(mut self, max_attempts: u32) -> Self {
        self.base = self.base.max_attempts(max_attempts);
        self
    }

    /// See [`RetryLayerBuilder::backoff`].
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.base = self.base.backoff(backoff);
        self
    }

    /// See [`RetryLayerBuilder::max_elapsed`].
    pub fn max_elapsed(mut self, max_elapsed: Duration) -> Self {
        self.base = self.base.max_elapsed(max_elapsed);
        self
    }

    /// The longest `Retry-After` honoured (30 s by default); a response
    /// asking for more is returned without retrying.
    pub fn max_retry_after(mut self, max_retry_after: Duration) -> Self {
        self.base = self.base.max_retry_after(max_retry_after);
        self
    }

    /// See [`RetryLayerBuilder::budget`].
    pub fn budget(mut self, budget: RetryBudget) -> Self {
        self.base = self.base.budget(budget);
        self
    }

    /// See [`RetryLayerBuilder::no_budget`].
    pub fn no_budget(mut self) -> Self {
        self.base = self.base.no_budget();
        self
    }

    /// See [`RetryLayerBuilder::rng_seed`].
    pub fn rng_seed(mut self, seed: u64) -> Self {
        self.base = self.base.rng_seed(seed);
        self
    }

    /// The largest request body, in bytes, buffered so the request can be
    /// retried (64 KiB by default). Zero retries only requests without a body.
    pub fn max_body_bytes(mut self, max_body_bytes: usize) -> Self {
        self.max_body_bytes = max_body_bytes;
        self
    }

    /// The wall clock `Retry-After` dates are compared with (default:
    /// [`SystemClock`]).
    pub fn clock(mut self, clock: impl WallClock + 'static) -> Self {
        self.base.predicate = HttpPredicate::new(clock);
        self
    }

    /// Checks the configuration and builds the layer.
    ///
    /// # Errors
    ///
    /// As [`RetryLayerBuilder::build`].
    pub fn build(self) -> Result<HttpRetryLayer, ConfigError> {
        Ok(HttpRetryLayer {
            shared: Arc::new(self.base.into_shared()?),
            max_body_bytes: self.max_body_bytes,
        })
    }
}
