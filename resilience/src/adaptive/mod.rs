//! Adaptive concurrency limits: the limit follows the service instead of
//! being a fixed number.
//!
//! An [`AdaptiveLimitLayer`] admits at most `limit` concurrent calls, as a
//! bulkhead does, but moves the limit as it learns the service: it measures
//! each call's latency (with the crate's [`Clock`](crate::clock::Clock), so
//! paused tokio time drives it in tests) and whether it was *dropped* (its
//! result classified as a failure by a [`Classify`](crate::classify::Classify),
//! by default every `Err`). Completed calls are gathered into sample windows
//! (at least [`sample_window`](AdaptiveLimitLayerBuilder::sample_window) long
//! and [`min_samples`](AdaptiveLimitLayerBuilder::min_samples) calls, as
//! Netflix's `WindowedLimit`); each closed window moves the limit by one of
//! Netflix `concurrency-limits`' algorithms:
//!
//! - [`Aimd`]: +1 per good window, × `backoff_ratio` after a drop or a
//!   latency above a threshold;
//! - [`Vegas`] (the default): keeps the estimated queue at the service,
//!   `limit × (1 − rtt_noload / rtt)`, between `alpha` and `beta`;
//! - [`Gradient2`]: scales the limit by `tolerance × long rtt / short rtt`
//!   (within `0.5..=1`) plus a small queue allowance.
//!
//! A call over the limit queues (at most `max_waiters`, for at most
//! `max_wait`) or is rejected at once with [`error::LimitReached`] — a
//! rejection, `503` with the problem code `limit_reached` at the edge.
//!
//! ```
//! use std::num::NonZeroUsize;
//! use std::time::Duration;
//! use palisade_resilience::adaptive::{AdaptiveLimitLayer, Aimd, error::LimitReached};
//! use tower::{Service, ServiceExt, Layer, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), palisade_resilience::BoxError> {
//! let layer = AdaptiveLimitLayer::builder()
//!     .algorithm(Aimd::default().latency_threshold(Duration::from_millis(100)))
//!     .initial_limit(NonZeroUsize::new(2).unwrap())
//!     .sample_window(Duration::from_millis(10))
//!     .min_samples(NonZeroUsize::MIN)
//!     .name("search")
//!     .build()?;
//! let handle = layer.handle();
//! let mut svc = layer.layer(service_fn(|()| async {
//!     tokio::time::sleep(Duration::from_millis(20)).await;
//!     Ok::<_, std::io::Error>("found")
//! }));
//!
//! // Two calls fill the limit; a third is rejected at once.
//! let a = svc.ready().await?.call(());
//! let b = svc.ready().await?.call(());
//! let err = svc.ready().await?.call(()).await.unwrap_err();
//! assert_eq!(err.downcast_ref::<LimitReached>().unwrap().limit(), 2);
//!
//! // Fast, successful calls at the limit raise it (AIMD: +1 per window).
//! let (a, b) = tokio::join!(a, b);
//! assert_eq!((a?, b?), ("found", "found"));
//! assert_eq!(handle.limit(), 3);
//! # Ok(())
//! # }
//! ```
//!
//! # Observability
//!
//! [`AdaptiveLimitHandle`] reports the limit, the calls in flight and
//! waiting, and the rejections; with the `health` feature it is a
//! `health::HealthSource` (degraded while the limit is reached, the state
//! names the limit). A moved limit emits a `trace` event, a rejection a
//! `debug` one. With the `metrics` feature:
//!
//! | metric                              | kind    | labels                                        |
//! |-------------------------------------|---------|-----------------------------------------------|
//! | `palisade_adaptive_limit`           | gauge   | `name`                                        |
//! | `palisade_adaptive_rejected_total`  | counter | `name`, `reason` (`queue_full`, `wait_expired`) |
//!
//! # Cost
//!
//! A call under the limit takes one compare-and-swap and one clock read, and
//! on completion an uncontended lock of the sample window; it allocates
//! nothing. Queued calls allocate (their wait is boxed), as in the bulkhead.
//! Queued calls are woken in order, but a place freed while one of them is
//! waking may go to another queued call first.

mod algorithm;
pub mod error;
pub mod future;
mod handle;
mod layer;
mod limiter;
mod service;

pub use algorithm::{Aimd, Algorithm, Gradient2, Sample, Vegas};
pub use handle::AdaptiveLimitHandle;
pub use layer::{AdaptiveLimitLayer, AdaptiveLimitLayerBuilder};
pub use service::AdaptiveLimit;
