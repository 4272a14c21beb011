//! Outlier ejection: take a misbehaving endpoint out of a load-balanced pool
//! for a while, as Envoy's outlier detection does.
//!
//! An [`OutlierDetector`] watches a pool of endpoints. Each endpoint is an
//! [`Endpoint`] service that reports the outcome of every call (judged by a
//! [`Classify`](crate::classify::Classify), by default every `Err` is a
//! failure) and, while ejected, is **not ready**. A balancer sends only to
//! ready services, so `tower::balance::p2c::Balance` (or any balancer built
//! on `ReadyCache`) stops sending to an ejected endpoint and takes it back
//! when its ejection ends — no `Discover` churn, and the endpoint keeps its
//! connections. [`OutlierDetector::discover`] wraps a `Discover` so that
//! every service it inserts joins the pool.
//!
//! - **Consecutive errors**: `n` failures in a row (default 5) eject the
//!   endpoint at once.
//! - **Success rate** (Envoy's model): at the end of each interval (10 s),
//!   among endpoints with at least `request_volume` calls (100) — when at
//!   least `minimum_hosts` (5) have that many — those whose success rate is
//!   below `mean − stdev × factor` (factor 1.9) of the rates are ejected. A
//!   pool that fails evenly ejects no one: only outliers go.
//! - **Growing ejections**: the `n`th ejection lasts `base × n` (30 s),
//!   capped (300 s); each base time back in the pool forgives one.
//! - **Bounded**: never more than `max_ejection_percent` (50 %) of the pool
//!   is ejected, and never its last endpoint.
//! - [`OutlierHandle`] counts ejections and names the ejected endpoints; it
//!   is a [`HealthSource`](crate::health::HealthSource) (feature `health`).
//!   Tracing: a `warn` event on ejection, `info` on return. Metrics (feature
//!   `metrics`): `palisade_outlier_ejections_total{name, reason}`
//!   (`consecutive_errors`, `success_rate`) and the gauge
//!   `palisade_outlier_ejected{name}`.
//!
//! ```
//! use std::num::NonZeroU32;
//! use std::time::Duration;
//! use palisade_resilience::BoxError;
//! use palisade_resilience::outlier::OutlierDetector;
//! use tower::balance::p2c::Balance;
//! use tower::discover::ServiceList;
//! use tower::load::{CompleteOnResponse, PendingRequestsDiscover};
//! use tower::{Service, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), BoxError> {
//! let detector = OutlierDetector::builder()
//!     .consecutive_errors(NonZeroU32::new(3).unwrap())
//!     .build()?;
//! let handle = detector.handle();
//! // Three replicas; the third is down.
//! let replicas = (0..3).map(|i| {
//!     let replica = service_fn(move |_: ()| async move {
//!         if i == 2 { Err(BoxError::from("replica 2 is down")) } else { Ok(i) }
//!     });
//!     detector.endpoint(format!("replica-{i}"), replica)
//! });
//! let pool = PendingRequestsDiscover::new(ServiceList::new(replicas), CompleteOnResponse::default());
//! let mut balance = Balance::new(pool);
//!
//! let mut errors = 0;
//! for _ in 0..100 {
//!     if balance.ready().await?.call(()).await.is_err() {
//!         errors += 1;
//!     }
//! }
//! // Three errors in a row ejected replica 2; it got no call after that.
//! assert_eq!(errors, 3);
//! assert_eq!(handle.ejected(), ["replica-2"]);
//! # Ok(())
//! # }
//! ```
//!
//! # Where it goes in a stack
//!
//! Per endpoint, under the balancer: `retry → Balance → Endpoint →
//! per-attempt timeout → client`. The per-attempt timeout goes inside, so a
//! timed-out call counts against the endpoint; the retry goes above the
//! balancer, so a retried call can go to another endpoint. A circuit
//! breaker per endpoint is then rarely needed: ejection is the pool's
//! breaker, and it never ejects the whole pool.

mod detector;
mod discover;
pub mod future;
mod handle;
mod service;
mod shared;
mod success_rate;

pub use self::detector::{OutlierDetector, OutlierDetectorBuilder};
pub use self::discover::OutlierDiscover;
pub use self::handle::OutlierHandle;
pub use self::service::Endpoint;
