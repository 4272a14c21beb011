//! Bounding how long a call may take.
//!
//! [`TimeoutLayer`] fails a call with [`error::Elapsed`] (which carries the
//! timeout) when the inner service has not answered in time; the inner
//! response future is dropped, which cancels the work. The timer is a
//! `tokio::time::Sleep` stored in the response future, exactly as in tower's
//! `Timeout`: no boxing, no allocation, and it follows paused time in tests.
//!
//! ```
//! use std::time::Duration;
//! use palisade_resilience::timeout::{TimeoutLayer, error::Elapsed};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let slow = service_fn(|_: ()| async {
//!     tokio::time::sleep(Duration::from_secs(5)).await;
//!     Ok::<_, std::io::Error>("done")
//! });
//! let svc = ServiceBuilder::new()
//!     .layer(TimeoutLayer::new(Duration::from_secs(1)))
//!     .service(slow);
//!
//! let err = svc.oneshot(()).await.unwrap_err();
//! let elapsed = err.downcast_ref::<Elapsed>().expect("an Elapsed error");
//! assert_eq!(elapsed.timeout(), Duration::from_secs(1));
//! # Ok(())
//! # }
//! ```
//!
//! # Per attempt or overall: the order of layers decides
//!
//! Combined with a retry layer, the *position* of the timeout decides what it
//! bounds:
//!
//! - **inside** the retry layer (added after it in a `ServiceBuilder`, so
//!   closer to the inner service), it bounds **each attempt**: an attempt that
//!   takes too long fails with `Elapsed` and the retry layer may try again;
//! - **outside** the retry layer (added before it), it bounds **the whole
//!   call**: every attempt *and every backoff sleep between attempts*. When it
//!   fires, the attempt in flight is dropped and no further attempt starts.
//!
//! Both can be used together: a short per-attempt timeout inside, a longer
//! overall deadline outside. In the example below the upstream takes 300 ms on
//! its first attempt and 10 ms afterwards; `RetryLayer` stands for
//! `palisade_resilience::retry::RetryLayer` (here a stand-in with three
//! attempts, 100 ms apart, to keep the example self-contained).
//!
//! ```
//! # use std::future::Future;
//! # use std::pin::Pin;
//! # use std::sync::Arc;
//! # use std::sync::atomic::{AtomicUsize, Ordering};
//! # use std::task::{Context, Poll};
//! # use std::time::Duration;
//! # use palisade_resilience::BoxError;
//! # use palisade_resilience::timeout::{TimeoutLayer, error::Elapsed};
//! # use tower::{Layer, Service, ServiceBuilder, ServiceExt, service_fn};
//! # struct RetryLayer(usize);
//! # impl RetryLayer { fn attempts(n: usize) -> Self { Self(n) } }
//! # #[derive(Clone)] struct Retry<S>(S, usize);
//! # impl<S> Layer<S> for RetryLayer { type Service = Retry<S>; fn layer(&self, s: S) -> Retry<S> { Retry(s, self.0) } }
//! # impl<S> Service<()> for Retry<S>
//! # where S: Service<(), Error = BoxError> + Clone + Send + 'static, S::Future: Send, S::Response: Send + 'static {
//! #     type Response = S::Response;
//! #     type Error = BoxError;
//! #     type Future = Pin<Box<dyn Future<Output = Result<S::Response, BoxError>> + Send>>;
//! #     fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> { Poll::Ready(Ok(())) }
//! #     fn call(&mut self, _: ()) -> Self::Future {
//! #         let (svc, attempts) = (self.0.clone(), self.1);
//! #         Box::pin(async move {
//! #             let mut last = None;
//! #             for attempt in 0..attempts {
//! #                 if attempt > 0 { tokio::time::sleep(Duration::from_millis(100)).await; }
//! #                 match svc.clone().oneshot(()).await { Ok(r) => return Ok(r), Err(e) => last = Some(e) }
//! #             }
//! #             Err(last.unwrap())
//! #         })
//! #     }
//! # }
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), BoxError> {
//! let calls = Arc::new(AtomicUsize::new(0));
//! let upstream = service_fn(move |_: ()| {
//!     let slow = calls.fetch_add(1, Ordering::SeqCst) == 0;
//!     async move {
//!         let took = if slow { 300 } else { 10 };
//!         tokio::time::sleep(Duration::from_millis(took)).await;
//!         Ok::<_, BoxError>("pong")
//!     }
//! });
//!
//! // Per attempt: the slow first attempt is cut at 200 ms and retried.
//! let per_attempt = ServiceBuilder::new()
//!     .layer(RetryLayer::attempts(3))
//!     .layer(TimeoutLayer::new(Duration::from_millis(200)))
//!     .service(upstream.clone());
//! assert_eq!(per_attempt.oneshot(()).await?, "pong");
//!
//! // Overall: the deadline covers everything the retry layer does, here the
//! // slow attempt alone is too long.
//! # let calls = Arc::new(AtomicUsize::new(0));
//! # let upstream = service_fn(move |_: ()| {
//! #     let slow = calls.fetch_add(1, Ordering::SeqCst) == 0;
//! #     async move {
//! #         tokio::time::sleep(Duration::from_millis(if slow { 300 } else { 10 })).await;
//! #         Ok::<_, BoxError>("pong")
//! #     }
//! # });
//! let overall = ServiceBuilder::new()
//!     .layer(TimeoutLayer::new(Duration::from_millis(200)))
//!     .layer(RetryLayer::attempts(3))
//!     .service(upstream);
//! let err = overall.oneshot(()).await.unwrap_err();
//! assert!(err.is::<Elapsed>());
//! # Ok(())
//! # }
//! ```
//!
//! # Observability
//!
//! Each timeout emits a `debug` tracing event and, with the `metrics` feature,
//! increments the counter `palisade_timeout_elapsed_total{name}` (the name set
//! with [`TimeoutLayer::name`], `timeout` by default).

pub mod error;
pub mod future;
#[cfg(feature = "http")]
pub mod http;
mod layer;
mod service;

pub use layer::TimeoutLayer;
pub use service::Timeout;

/// The kind of a [`TimeoutLayer`] that gives every call the same timeout.
#[derive(Debug, Clone, Copy, Default)]
pub struct AnyRequest;

/// The kind of a [`TimeoutLayer::http`]: its timeout is the longest an
/// `http::Request` may ask for.
#[cfg(feature = "http")]
#[derive(Debug, Clone, Copy, Default)]
pub struct Http;

/// The `name` label when none was configured.
pub(crate) const DEFAULT_NAME: &str = "timeout";
