//! A circuit breaker: stop calling a dependency that keeps failing, give it
//! time to recover, then probe it carefully.
//!
//! [`CircuitBreakerLayer`] wraps services in one shared breaker with the
//! classic states:
//!
//! - **Closed**: calls pass and their outcomes go into a sliding window — the
//!   last N calls ([`SlidingWindow::count`]) or the last N seconds in buckets
//!   ([`SlidingWindow::time`]). Once the window holds `minimum_calls`, a
//!   failure rate (or, with `slow_call_duration`, a slow-call rate) at or
//!   above its threshold opens the breaker. With
//!   [`consecutive_failures`](CircuitBreakerLayerBuilder::consecutive_failures)
//!   a run of that many failures in a row opens it too, whichever comes
//!   first. A result can also open it at once, for as long as it asks: a
//!   classifier's [`break_for`](crate::classify::Classify::break_for) — with
//!   feature `http`, [`BreakOnRetryAfter`] reads an upstream's `503`/`429`
//!   `Retry-After` — keeps it open until then, at most
//!   [`max_result_break`](CircuitBreakerLayerBuilder::max_result_break).
//! - **Open**: calls are rejected with [`error::CircuitOpen`], which says how
//!   long until the next probe ([`retry_after`](error::CircuitOpen::retry_after),
//!   exact to the nanosecond: a call made exactly that much later is admitted).
//!   The first call after the wait moves the breaker to HalfOpen (lazily: no
//!   background task), or, with
//!   [`open_to_half_open_timer`](CircuitBreakerLayerBuilder::open_to_half_open_timer),
//!   a timer does when the wait is over, so an idle breaker's health turns
//!   back to degraded without traffic. Each time the breaker opens again without having
//!   closed, the wait can grow by `wait_multiplier`, up to `max_wait_duration`.
//! - **HalfOpen**: exactly `permitted_calls_in_half_open` probe calls pass;
//!   others are rejected. When all of them have completed they are judged
//!   like the window (as Resilience4j does): at or above a threshold → Open
//!   again with a longer wait, otherwise → Closed with an empty window. If
//!   they have not all completed after `max_wait_in_half_open` (default 60 s),
//!   the next call finds the breaker Open again, as after a failed probe.
//! - **ForcedOpen** and **Disabled**, set by hand through a
//!   [`CircuitBreakerHandle`]: reject everything, or pass everything and
//!   record nothing, until [`reset`](CircuitBreakerHandle::reset).
//! - **MetricsOnly**, set by hand ([`CircuitBreakerHandle::metrics_only`]) or
//!   from the start ([`metrics_only`](CircuitBreakerLayerBuilder::metrics_only)):
//!   calls pass and are recorded and reported as in Closed, but where the
//!   breaker would open it logs a `warn` event (and counts
//!   `palisade_circuit_breaker_would_open_total`) instead — a new breaker's
//!   thresholds can be watched against real traffic before they act.
//!
//! A [classifier](crate::classify) decides what counts as a failure: every
//! error by default; with feature `http`, [`CircuitBreakerLayer::http`] counts
//! 5xx responses and transport errors but not 4xx.
//!
//! A call whose response future is dropped before it resolves counts as
//! neither success nor failure; a HalfOpen probe gives its permit back.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use palisade_resilience::circuit_breaker::{error::CircuitOpen, CircuitBreakerLayer, SlidingWindow, State};
//! use tower::{service_fn, Layer, Service, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), palisade_resilience::BoxError> {
//! let layer = CircuitBreakerLayer::builder()
//!     .name("payments")
//!     .sliding_window(SlidingWindow::count(10))
//!     .minimum_calls(4)
//!     .failure_rate_threshold(50.0)
//!     .wait_duration_in_open(Duration::from_secs(30))
//!     .build()?;
//! let handle = layer.handle();
//! let mut service = layer.layer(service_fn(|fail: bool| async move {
//!     if fail { Err("upstream down") } else { Ok("paid") }
//! }));
//!
//! for fail in [false, true, false, true] {
//!     let _ = service.ready().await?.call(fail).await;
//! }
//! // Two failures out of four calls: 50 %, so the breaker is open...
//! assert_eq!(handle.state(), State::Open);
//!
//! // ...and rejects calls without reaching the service.
//! let err = service.ready().await?.call(false).await.unwrap_err();
//! let open = err.downcast_ref::<CircuitOpen>().expect("rejected by the breaker");
//! assert!(open.retry_after() <= Some(Duration::from_secs(30)));
//! # Ok(())
//! # }
//! ```
//!
//! # Where a call is rejected
//!
//! [`CircuitBreaker`] decides in `poll_ready`: when it rejects, it is ready at
//! once (without waiting for the inner service) and `call` returns an
//! immediately ready error without calling the inner service. Admitted calls
//! wait for the inner service's readiness as usual.
//! [`KeyedCircuitBreaker`] can only know the key from the request, so it
//! decides in `call` instead.
//!
//! # Cost
//!
//! In Closed with a count window and no slow-call detection, a call costs one
//! atomic load in `poll_ready`, one in `call`, an `Arc` clone into the
//! response future, and on completion a `fetch_add` on the window's sequence
//! and a load of the slot it lands on (plus a `swap` and a `fetch_add` on the
//! totals only when the outcome differs from the one leaving the window): no
//! lock, no allocation, no clock read, no `tracing` span. A time window adds
//! one clock read per call and slow-call detection two (the start and the end
//! of the call). The clock is the [`crate::clock::Clock`] chosen when the
//! layer is built: the TSC (≈ 17 ns a read on a virtual machine, against
//! ≈ 40 ns for `clock_gettime`), or `tokio::time` when tokio's clock is
//! paused, so paused-time tests drive every wait and window. With feature
//! `registry`, whose `Registry` can replace the
//! window, completing a call also reads one flag, and loads the window from
//! an `ArcSwap` once it was replaced (≈ 1–2 ns and ≈ 5 ns more; see
//! `docs/decisions/0005-breaker-window-swap.md`). Transitions, the only place events
//! and listeners run, are off that path. Keyed breakers add one
//! mutex-guarded hash map lookup per call.
//!
//! # Observability
//!
//! Every transition emits a `tracing` event (target
//! `palisade_resilience::circuit_breaker`, fields `name`, `from`, `to`; WARN
//! when opening, INFO otherwise) and calls the listeners registered with
//! [`CircuitBreakerLayerBuilder::on_transition`]. With feature `metrics`:
//!
//! | name                                        | kind    | labels              |
//! |---------------------------------------------|---------|---------------------|
//! | `palisade_circuit_breaker_transitions_total` | counter | `name`, `from`, `to` |
//! | `palisade_circuit_breaker_calls_total`       | counter | `name`, `outcome` (`success`, `failure`, `rejected`) |
//! | `palisade_circuit_breaker_state`             | gauge   | `name` (0 closed, 1 open, 2 half_open, 3 forced_open, 4 disabled) |
//!
//! The per-call counters and the gauge are registered when the breaker is
//! built: install the metrics recorder first. Disabled calls are not counted.
//!
//! # Keyed breakers
//!
//! [`CircuitBreakerLayerBuilder::keyed`] makes one independent breaker per
//! key — per upstream with `key::AuthorityKey` (feature `http`), per route,
//! per tenant, or any [`ExtractKey`](crate::key::ExtractKey) of the
//! [`key`](crate::key) module — keeping at most `max_keys` and dropping the
//! least recently used.
//!
//! ```
//! use std::num::NonZeroUsize;
//! use palisade_resilience::circuit_breaker::CircuitBreakerLayer;
//! use tower::{service_fn, Layer, Service, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), palisade_resilience::BoxError> {
//! const HOSTS: NonZeroUsize = NonZeroUsize::new(1_000).unwrap();
//!
//! let layer = CircuitBreakerLayer::builder()
//!     .name("upstreams")
//!     .keyed(|host: &&'static str| Some(host.to_string()))
//!     .max_keys(HOSTS)
//!     .build()?;
//! let handles = layer.handle();
//! let mut client = layer.layer(service_fn(|host: &'static str| async move {
//!     Ok::<_, std::convert::Infallible>(host.len())
//! }));
//! client.ready().await?.call("a.example").await?;
//! client.ready().await?.call("b.example").await?;
//! assert_eq!(handles.len(), 2);
//! assert_eq!(handles.handle(&"a.example".to_string()).unwrap().name(), "upstreams:a.example");
//! # Ok(())
//! # }
//! ```

pub mod error;
pub mod future;

mod config;
mod handle;
mod keyed;
mod layer;
mod listener;
mod metrics;
#[cfg(feature = "http")]
mod retry_after;
mod service;
mod state;
mod ticket;
mod time_window;
mod window;

// For the registry, which checks a new window as the builder does.
#[cfg(feature = "registry")]
pub(crate) use config::check_window;
pub use config::{CircuitBreakerLayerBuilder, SlidingWindow};
pub use handle::{CircuitBreakerHandle, LastTransition, Snapshot};
// For the keyed breakers' health report, in `keyed.rs`.
#[cfg(feature = "health")]
pub(crate) use handle::{status_of, success_rate};
pub use keyed::{
    KeyedCircuitBreaker, KeyedCircuitBreakerHandle, KeyedCircuitBreakerLayer,
    KeyedCircuitBreakerLayerBuilder,
};
pub use layer::CircuitBreakerLayer;
pub use listener::Transition;
#[cfg(feature = "http")]
pub use retry_after::BreakOnRetryAfter;
pub use service::CircuitBreaker;
pub use state::State;
