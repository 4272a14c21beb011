//! Bulkheads: a bounded number of concurrent calls, a bounded wait queue, then
//! a fast, typed rejection.
//!
//! A [`BulkheadLayer`] keeps one slow dependency from taking every task and
//! connection of a service with it: at most `max_concurrent` calls run at
//! once, at most `max_waiters` more wait up to `max_wait` for a permit, and
//! anything beyond fails at once with [`error::BulkheadFull`] — nothing is
//! buffered without bound. [`KeyedBulkheadLayer`] does the same separately per
//! key (upstream host, tenant, route), with a bounded number of partitions.
//!
//! ```
//! use std::num::NonZeroUsize;
//! use std::time::Duration;
//! use palisade_resilience::bulkhead::{BulkheadLayer, error::BulkheadFull};
//! use tower::{Service, ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let layer = BulkheadLayer::builder()
//!     .max_concurrent(NonZeroUsize::MIN)
//!     .max_waiters(1)
//!     .max_wait(Duration::from_millis(100))
//!     .name("search")
//!     .build()?;
//! let handle = layer.handle();
//! let mut svc = ServiceBuilder::new().layer(layer).service(service_fn(|q: &'static str| async move {
//!     tokio::time::sleep(Duration::from_secs(1)).await;
//!     Ok::<_, std::io::Error>(q.len())
//! }));
//!
//! let first = svc.ready().await?.call("running");   // takes the permit
//! let second = svc.ready().await?.call("queued");   // waits for it
//! let third = svc.ready().await?.call("rejected");  // no room to wait
//!
//! let err = third.await.unwrap_err();
//! assert!(err.downcast_ref::<BulkheadFull>().unwrap().is_queue_full());
//! assert_eq!(handle.rejected_total(), 1);
//!
//! // The queued call gives up after 100 ms; the running one is unaffected.
//! let (first, second) = tokio::join!(first, second);
//! assert_eq!(first?, 7);
//! assert!(second.unwrap_err().downcast_ref::<BulkheadFull>().unwrap().is_wait_expired());
//! # Ok(())
//! # }
//! ```
//!
//! # Design: the wait happens in the response future
//!
//! `poll_ready` only forwards the inner service's readiness; the permit is
//! taken in `call`:
//!
//! - **free permit** (the common case): the inner service — made ready by
//!   `poll_ready` — is called at once and the permit moves into the response
//!   future. One `try_acquire` on a tokio semaphore, no allocation, no lock:
//!   the same work as tower's `ConcurrencyLimit`.
//! - **no permit, room in the queue**: the response future takes a *fresh
//!   clone* of the inner service (hence `S: Clone`) and waits, with a deadline
//!   of `max_wait`, for a permit (tokio's semaphore is fair, so waiters are
//!   served in order). Only once it holds the permit does it drive that clone's
//!   `poll_ready` and call it — a call that gives up (deadline, or its future is
//!   dropped) never reaches the inner service. This path allocates.
//! - **no permit, no room**: the future fails at once with
//!   [`BulkheadFull`](error::BulkheadFull), reason
//!   [`QueueFull`](error::Reason::QueueFull).
//!
//! Waiting in `poll_ready` instead would push backpressure to the caller,
//! whose own queue (a `Buffer`, hyper's accept loop) is unbounded in time;
//! a bulkhead's job is to shed that load quickly, and waiting in the future
//! makes `max_wait` a plain deadline on one call.
//!
//! The permit is an RAII guard in the response future: it is released when the
//! response is ready or the future is dropped. A zero `max_wait` (the default)
//! or zero `max_waiters` means "reject immediately when full".
//!
//! # Weights and a moving limit
//!
//! With [`BulkheadLayerBuilder::weight`] a call takes as many permits as it
//! weighs (see [`weight`](crate::weight)); one heavier than `max_concurrent`
//! is rejected at once with [`Reason::TooHeavy`](error::Reason::TooHeavy).
//! A `registry::Registry` (feature `registry`) can move
//! `max_concurrent` while calls run: raising it frees permits at once,
//! lowering it takes free permits out at once and held ones as they come
//! back; no call is interrupted.
//!
//! # Observability
//!
//! [`BulkheadHandle`] (`in_flight()`, `available()`, `waiting()`,
//! `rejected_total()`) and [`KeyedBulkheadHandle`] report occupancy; with the
//! `health` feature `BulkheadHandle` is a `health::HealthSource` (degraded
//! while no permit is free). Every rejection emits a `debug` tracing event. With the `metrics`
//! feature:
//!
//! | metric                                   | kind    | labels                                                        |
//! |------------------------------------------|---------|---------------------------------------------------------------|
//! | `palisade_bulkhead_rejected_total`       | counter | `name`, `reason` (`queue_full`, `wait_expired`, `too_many_partitions`, `too_heavy`) |
//! | `palisade_bulkhead_in_flight`            | gauge   | `name` (a keyed bulkhead reports the sum over its partitions) |
//!
//! The gauge's handle is taken when the layer is built, so install the metrics
//! recorder before building layers.

pub mod error;
pub mod future;
mod handle;
mod keyed;
mod layer;
mod service;
mod shared;

pub use handle::BulkheadHandle;
pub use keyed::{
    KeyedBulkhead, KeyedBulkheadHandle, KeyedBulkheadLayer, KeyedBulkheadLayerBuilder,
};
pub use layer::{BulkheadLayer, BulkheadLayerBuilder};
pub use service::Bulkhead;
