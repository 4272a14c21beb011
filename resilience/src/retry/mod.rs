//! Retries with exponential backoff, jitter and a retry budget.
//!
//! [`RetryLayer`] sends a request again when the [`Predicate`] says its
//! result is worth retrying (by default: every error, no response), waiting
//! between attempts according to a [`Backoff`], or longer when the result
//! asks for it:
//!
//! - the delay before retry `n` (1, 2, …) is `min(cap, base * 2^(n-1))`,
//!   randomised by a [`Jitter`] mode exactly as in the AWS architecture
//!   blog's "Exponential Backoff and Jitter" (`Full`, `Equal`,
//!   `Decorrelated`, or `None`);
//! - `max_attempts` counts every attempt, the first one included;
//! - `max_elapsed` bounds the call: a retry is only started if its delay ends
//!   within `max_elapsed` of the first attempt;
//! - a [`RetryBudget`] shared by all services of the layer lets retries add
//!   at most a fixed share of extra load (20 % by default, plus 10 retries a
//!   second), so retries cannot multiply an outage.
//!
//! # Our own rejections
//!
//! A `CircuitOpen` or `RateLimited` from a layer below says when a call can
//! pass again ([`rejection::Rejection::retry_after`](crate::rejection::Rejection::retry_after)).
//! The default predicate ([`RetryErrors`]) and the HTTP preset use it: the
//! delay before the next attempt is the **larger** of the backoff and that
//! wait (the same rule as for HTTP's `Retry-After`), and when the wait would
//! end after `max_elapsed`, exceeds `max_retry_after` or no attempt is left,
//! the rejection is returned at once, unchanged, without spending retry
//! budget. A ForcedOpen breaker is not retried; `BulkheadFull` (no schedule)
//! and `Elapsed` are retried after the backoff. See [`RetryErrors`].
//!
//! When no retry is possible (attempts, time or budget exhausted, or the
//! result is not retryable), the last result is returned as it is: the
//! upstream's response, or its error boxed into [`BoxError`](crate::BoxError).
//! Each retry is logged as a `debug` event with the attempt number, delay and
//! reason, and so is the reason retrying stopped.
//!
//! Requests must be `Clone` and so must the inner service: the response
//! future keeps a copy of the request and a clone of the service, and waits
//! for the service's `poll_ready` before each retry. All delays use
//! `tokio::time`, so tests can pause time.
//!
//! Randomness is injectable: [`RetryLayerBuilder::rng_seed`] makes the
//! schedule reproducible and [`Backoff::delays`] shows it.
//!
//! A call that needs no retry takes no lock, allocates nothing and reads no
//! clock (unless `max_elapsed` is set, which needs the start time): on top of
//! the inner call it costs a copy of the request, a clone of the inner
//! service, one reference count on the layer's shared state and, with a
//! budget, one atomic addition. The generator is locked, the timer allocated
//! and the budget locked only when a retry is being scheduled.
//!
//! With the `http` feature, `RetryLayer::http()` builds a preset for HTTP
//! clients: idempotent methods only, 429/502/503/504 and transport errors,
//! `Retry-After`, and request bodies buffered up to a limit (see the `http`
//! module).
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicU32, Ordering};
//! use std::time::Duration;
//! use palisade_resilience::retry::{Backoff, Jitter, RetryLayer};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! let calls = Arc::new(AtomicU32::new(0));
//! let counter = Arc::clone(&calls);
//! // Fails twice, then answers.
//! let flaky = service_fn(move |name: &'static str| {
//!     let n = counter.fetch_add(1, Ordering::SeqCst);
//!     async move {
//!         if n < 2 { Err("connection reset") } else { Ok(format!("hello, {name}")) }
//!     }
//! });
//!
//! let layer = RetryLayer::builder()
//!     .max_attempts(3)
//!     .backoff(
//!         Backoff::exponential(Duration::from_millis(50), Duration::from_secs(2))
//!             .jitter(Jitter::Full),
//!     )
//!     .build()
//!     .expect("valid configuration");
//! let service = ServiceBuilder::new().layer(layer).service(flaky);
//!
//! let answer = service.oneshot("world").await.expect("third attempt succeeds");
//! assert_eq!(answer, "hello, world");
//! assert_eq!(calls.load(Ordering::SeqCst), 3);
//! # }
//! ```

mod backoff;
pub(crate) mod budget;
pub mod future;
mod layer;
mod policy;
mod service;

#[cfg(feature = "http")]
pub mod error;
#[cfg(feature = "http")]
pub mod http;

pub use self::backoff::{Backoff, Delays, Jitter};
pub use self::budget::RetryBudget;
pub use self::layer::{AnyRequest, RetryLayer, RetryLayerBuilder};
pub use self::policy::{Predicate, RetryErrors, RetryFailures};
pub use self::service::Retry;
