//! Named layers, listed with their state and reconfigured at run time.
//!
//! A [`Registry`] holds every stateful layer by name: circuit breakers,
//! bulkheads and rate limiters, and (each with its feature) adaptive
//! concurrency limits, outlier detectors, throttles and hedge layers.
//! [`list`](Registry::list) reports each one's settings and live handle
//! (what a `/api/breakers` endpoint or a health page shows), and
//! [`with_health`](Registry::with_health) reports each one's health too;
//! [`reconfigure`](Registry::reconfigure) changes the settings of those that
//! have run-time settings while they serve, without rebuilding the stack:
//!
//! | layer           | what changes ([`LayerConfig`])                                   | how the call path reads it |
//! |-----------------|------------------------------------------------------------------|----------------------------|
//! | circuit breaker | failure rate threshold, minimum calls, consecutive failures, wait in Open, sliding window ([`BreakerConfig`]) | relaxed atomic loads when a call completes; the window, one flag load, plus an `ArcSwap` load once it was replaced |
//! | bulkhead        | `max_concurrent` ([`BulkheadConfig`])                            | the semaphore itself: permits are added, or taken out as they come back |
//! | rate limiter    | the [`Quota`](crate::rate_limit::Quota), with a [`TunableRate`] policy | one `ArcSwap` load per call |
//! | adaptive limit (feature `adaptive`) | listed, no run-time settings ([`LayerConfig::NoSettings`]) | — |
//! | outlier detector (feature `outlier`) | listed, no run-time settings ([`LayerConfig::NoSettings`]) | — |
//! | throttle (feature `throttle`, one window) | listed, no run-time settings ([`LayerConfig::NoSettings`]) | — |
//! | hedge layer (feature `hedge`) | listed, no run-time settings ([`LayerConfig::NoSettings`]) | — |
//!
//! A layer with no run-time settings is listed with its live handle and
//! reported to the health registry like the others;
//! [`reconfigure`](Registry::reconfigure) refuses it with
//! [`RegistryError::NotReconfigurable`], changing nothing and sending no
//! event. Registering them needs only their own features: feature
//! `registry` does not turn them on.
//!
//! Nothing on the call path takes a lock. A change is validated first (a bad
//! one is refused with [`RegistryError::Invalid`] and the old settings are
//! kept), then applied: it takes effect on the next call, and calls in
//! flight are neither interrupted nor counted twice. Each applied change is
//! a [`ConfigChanged`] event: sent to every [`subscribe`](Registry::subscribe)r,
//! logged at `INFO` and, with feature `metrics`, counted in
//! `palisade_registry_changes_total{name, kind}`.
//!
//! A new sliding window replaces the breaker's window with an empty one of
//! the new shape: the window starts over (Resilience4j cannot change it at
//! all); a call completing across the change is counted once, in the window
//! it recorded into, and judged on that window's totals. The breaker's
//! half-open probes and slow-call settings, and the bulkhead's queue, are
//! fixed when the layer is built; keyed layers are not registered (each key
//! has its own state).
//!
//! ```
//! use std::num::{NonZeroU32, NonZeroUsize};
//! use palisade_resilience::bulkhead::BulkheadLayer;
//! use palisade_resilience::circuit_breaker::CircuitBreakerLayer;
//! use palisade_resilience::rate_limit::{Quota, RateLimitLayer};
//! use palisade_resilience::registry::{LayerConfig, Registry, RegistryError, TunableRate};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let breaker = CircuitBreakerLayer::builder().name("db").build()?;
//! let bulkhead = BulkheadLayer::builder()
//!     .name("db-pool")
//!     .max_concurrent(NonZeroUsize::new(10).unwrap())
//!     .build()?;
//! let limiter = RateLimitLayer::new(TunableRate::new(Quota::per_second(NonZeroU32::new(50).unwrap())));
//!
//! let registry = Registry::new();
//! registry.register_breaker(breaker.handle())?;
//! registry.register_bulkhead(bulkhead.handle())?;
//! registry.register_rate_limit("api", &limiter)?;
//! let mut events = registry.subscribe();
//!
//! // Lower the breaker's threshold while it serves.
//! let Some(LayerConfig::Breaker(mut config)) = registry.config("db") else { unreachable!() };
//! config.failure_rate_threshold = 25.0;
//! registry.reconfigure("db", LayerConfig::Breaker(config))?;
//! assert_eq!(events.recv().await?.name.as_ref(), "db");
//!
//! // A bad value is refused and changes nothing.
//! config.failure_rate_threshold = 250.0;
//! let refused = registry.reconfigure("db", LayerConfig::Breaker(config)).unwrap_err();
//! assert!(matches!(refused, RegistryError::Invalid { .. }));
//! let Some(LayerConfig::Breaker(now)) = registry.config("db") else { unreachable!() };
//! assert_eq!(now.failure_rate_threshold, 25.0);
//!
//! let names: Vec<_> = registry.list().into_iter().map(|entry| entry.name).collect();
//! assert_eq!(names.iter().map(|n| &**n).collect::<Vec<_>>(), ["db", "db-pool", "api"]);
//! # let _ = (bulkhead, limiter);
//! # Ok(())
//! # }
//! ```

mod config;
mod error;
mod event;
mod layers;
mod rate;

pub use config::{BreakerConfig, BulkheadConfig, Kind, LayerConfig};
pub use error::RegistryError;
pub use event::ConfigChanged;
pub use layers::{Entry, Handle, Registry};
pub use rate::TunableRate;
