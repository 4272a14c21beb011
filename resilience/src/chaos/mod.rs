//! Fault injection: latency and errors, each with a probability, to test how
//! the rest of a stack copes.
//!
//! [`ChaosLayer`] is off unless configured: a layer without faults passes
//! every call through untouched. Decisions come from a seeded
//! [`SmallRng`](rand::rngs::SmallRng) per call, so with
//! [`seed`](ChaosLayerBuilder::seed) a test sees the same faults on every run, and
//! latency is a `tokio::time::Sleep`, so paused time makes it exact.
//!
//! ```
//! use std::time::Duration;
//! use palisade_resilience::chaos::{ChaosLayer, error::ChaosError};
//! use tokio::time::Instant;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let echo = service_fn(|n: u32| async move { Ok::<_, std::io::Error>(n) });
//!
//! let slow = ServiceBuilder::new()
//!     .layer(ChaosLayer::builder().latency(Duration::from_millis(250), 1.0).build()?)
//!     .service(echo);
//! let start = Instant::now();
//! assert_eq!(slow.clone().oneshot(1).await?, 1);
//! assert_eq!(start.elapsed(), Duration::from_millis(250));
//!
//! let broken = ServiceBuilder::new()
//!     .layer(ChaosLayer::builder().error(1.0).seed(7).build()?)
//!     .service(echo);
//! assert!(broken.oneshot(2).await.unwrap_err().is::<ChaosError>());
//! # Ok(())
//! # }
//! ```
//!
//! # What is injected, and where
//!
//! - **Latency** ([`latency`](ChaosLayerBuilder::latency) fixed, or
//!   [`latency_range`](ChaosLayerBuilder::latency_range) uniform in `min..=max`):
//!   the response future sleeps before it polls the inner future, so the call
//!   takes the delay plus the inner service's own time.
//! - **Errors** ([`error`](ChaosLayerBuilder::error) with [`error::ChaosError`], or
//!   [`error_with`](ChaosLayerBuilder::error_with) any error): the inner service is
//!   not called. With latency too, the error arrives after the delay.
//!
//! The n-th call through a layer (counted over all clones of its services)
//! draws from a generator seeded from the seed and `n` — no lock, and the
//! same sequence of faults for the same seed and call order. Injections emit
//! `debug` tracing events and, with the `metrics` feature, increment
//! `palisade_chaos_injected_total{name, fault}` (`fault` is `latency` or
//! `error`).

pub mod error;
mod faults;
pub mod future;
mod layer;
mod service;

pub use layer::{ChaosLayer, ChaosLayerBuilder};
pub use service::Chaos;
