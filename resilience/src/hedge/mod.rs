//! Hedging: when a call is slow, send it again, take the first success.
//!
//! A few slow calls (a GC pause, a cold cache, a bad host) make a service's
//! tail latency. A [`HedgeLayer`] sends an extra attempt ("hedge") of a call
//! that has not answered after a delay — a fixed one, a percentile of the
//! latencies observed over a rolling window, or their average plus x %
//! (Resilience4j's model; [`HedgeDelay`]) — up to
//! `max_hedges` of them, each `delay` after the previous. The first
//! successful answer wins and the other attempts are dropped (cancelled).
//! An attempt that fails does not end the call while another is in flight;
//! when none is left, the last error is returned.
//!
//! - **Only idempotent calls**: the request must be `Clone`, and the
//!   [`Eligible`] predicate (a closure, [`AllRequests`], or for HTTP
//!   [`IdempotentMethods`] through [`HedgeLayer::http`]) picks which may be
//!   sent twice; the others pass through unhedged.
//! - **Bounded extra load**: hedges draw on a budget — retry's
//!   [`RetryBudget`](crate::retry::RetryBudget), by default 10 % of the
//!   answered calls plus 1 per second. When it is empty, the call simply
//!   waits for the attempts in flight.
//! - [`HedgeHandle`] counts hedges sent and won and budget refusals.
//!
//! ```
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicU32, Ordering};
//! use std::time::Duration;
//! use palisade_resilience::hedge::{HedgeDelay, HedgeLayer};
//! use tokio::time::Instant;
//! use tower::{Layer, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), palisade_resilience::BoxError> {
//! let calls = Arc::new(AtomicU32::new(0));
//! let counter = Arc::clone(&calls);
//! // The first call hangs for a second; later ones take 10 ms.
//! let replicas = service_fn(move |id: u32| {
//!     let n = counter.fetch_add(1, Ordering::SeqCst);
//!     async move {
//!         let latency = if n == 0 { 1_000 } else { 10 };
//!         tokio::time::sleep(Duration::from_millis(latency)).await;
//!         Ok::<_, std::io::Error>(format!("user {id}"))
//!     }
//! });
//! let layer = HedgeLayer::builder(HedgeDelay::fixed(Duration::from_millis(20))).build()?;
//! let handle = layer.handle();
//! let svc = layer.layer(replicas);
//!
//! let start = Instant::now();
//! assert_eq!(svc.oneshot(7).await?, "user 7");
//! // Answered by the hedge, sent at 20 ms, after 10 ms more.
//! assert_eq!(start.elapsed(), Duration::from_millis(30));
//! assert_eq!((handle.hedges_sent(), handle.hedges_won()), (1, 1));
//! # Ok(())
//! # }
//! ```
//!
//! # Where it goes in a stack
//!
//! Inside the overall timeout and the retry (a failed call is retried as a
//! whole, hedges included), outside the per-attempt timeout and the breaker
//! of each attempt. A throttle goes inside it, so that every attempt,
//! hedges included, counts as a request.

mod eligible;
pub mod future;
mod handle;
mod latency;
mod layer;
mod service;

#[cfg(feature = "http")]
pub use self::eligible::IdempotentMethods;
pub use self::eligible::{AllRequests, Eligible};
pub use self::handle::HedgeHandle;
pub use self::layer::{HedgeDelay, HedgeLayer, HedgeLayerBuilder};
pub use self::service::Hedge;
