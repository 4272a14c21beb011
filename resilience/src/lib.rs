//! Resilience layers for [`tower`] services, each an independent [`Layer`]: a
//! circuit breaker, retries with jittered backoff and a retry budget,
//! bulkheads, rate limiting (local GCRA or shared through Redis), timeouts,
//! fallbacks, fault injection, coalescing of identical calls, client-side
//! adaptive throttling, hedging, and a health registry that reports on all
//! of them.
//!
//! Every layer works with any `tower::Service`, so it wraps axum handlers,
//! hyper clients and plain async functions alike. Time goes through
//! `tokio::time` (pausable in tests), or for per-call durations through the
//! cheap [`clock::Clock`], which follows `tokio::time` whenever it is paused;
//! randomness is injectable, so the behaviour of every layer can be tested
//! deterministically.
//!
//! # Feature flags
//!
//! | feature           | default | what it enables                                             |
//! |-------------------|---------|-------------------------------------------------------------|
//! | `circuit-breaker` | yes     | `circuit_breaker`: `CircuitBreakerLayer`, keyed breakers    |
//! | `retry`           | yes     | `retry`: `RetryLayer`, backoff with jitter, retry budget    |
//! | `bulkhead`        | yes     | `bulkhead`: `BulkheadLayer`, keyed bulkheads                |
//! | `rate-limit`      | yes     | `rate_limit`: `RateLimitLayer` (GCRA on governor, global or keyed), `RateLimit-*` headers |
//! | `timeout`         | yes     | `timeout`: `TimeoutLayer`                                   |
//! | `fallback`        | yes     | `fallback`: `FallbackLayer`                                 |
//! | `health`          | yes     | `health`: `HealthRegistry` and the aggregate status         |
//! | `registry`        | no      | `registry`: every stateful layer by name, listed with its state (and health); breakers, bulkheads and rate limiters reconfigured at run time |
//! | `chaos`           | no      | `chaos`: `ChaosLayer` (seeded latency and error injection)  |
//! | `coalesce`        | no      | `coalesce`: `CoalesceLayer` (single flight: concurrent identical calls share one) |
//! | `hedge`           | no      | `hedge`: `HedgeLayer` (extra attempts of slow calls, fixed, percentile or average-plus-x % delay, budgeted) |
//! | `adaptive`        | no      | `adaptive`: `AdaptiveLimitLayer` (a concurrency limit that follows the service: AIMD, Vegas, Gradient2) |
//! | `outlier`         | no      | `outlier`: `OutlierDetector` (ejects failing endpoints of a balanced pool: consecutive errors, success rate below peers) |
//! | `throttle`        | no      | `throttle`: `ThrottleLayer` (client-side adaptive throttling, SRE book) |
//! | `http`            | no      | HTTP presets: 5xx classification, idempotent retries, `Retry-After`, rate-limit headers |
//! | `axum`            | no      | `edge`: every error our layers originate as an RFC 9457 problem+json response |
//! | `redis`           | no      | a rate limit shared by several instances through Redis (one atomic Lua script) |
//! | `metrics`         | no      | counters and gauges through the [`metrics`] facade          |
//! | `full`            | no      | all of the above                                            |
//!
//! # Composing layers
//!
//! A full stack — fallback → rate limit → overall timeout → retry → circuit
//! breaker → bulkhead → per-attempt timeout → service — behaves as follows.
//! The rate limit counts each call once, whatever the retries. The overall
//! timeout bounds every attempt and backoff sleep. Retry (by default) retries
//! every error, and honours our own rejections: after a `CircuitOpen` or
//! `RateLimited` it waits the larger of the backoff and the rejection's
//! `retry_after`, and returns the rejection at once, unchanged and without
//! spending budget, when that wait would pass `max_elapsed` or
//! `max_retry_after` or no attempt is left (a ForcedOpen breaker is not
//! retried; `BulkheadFull` and `Elapsed` follow the backoff). The breaker
//! decides in `poll_ready` and counts per-attempt `Elapsed` — and, with the
//! default classifier, `BulkheadFull` — as failures. The per-attempt timeout
//! starts once a bulkhead permit is held. The fallback answers the final
//! error. [`rejection`] is the one list of our rejections all of them use;
//! [`ServiceBuilderExt`] names the layers on a `ServiceBuilder`. The `edge`
//! module (feature `axum`) describes each step and turns errors into RFC 9457
//! problem+json responses; `tests/tests/composition.rs` in the repository
//! asserts every step.
//!
//! # Minimum supported Rust version
//!
//! Rust 1.88.
//!
//! [`tower`]: https://docs.rs/tower
//! [`Layer`]: tower_layer::Layer
//! [`metrics`]: https://docs.rs/metrics
#![cfg_attr(docsrs, feature(doc_cfg))]

mod builder;
pub mod classify;
pub mod clock;
mod config;
pub mod key;
pub mod rejection;
#[cfg(any(feature = "circuit-breaker", feature = "bulkhead"))]
mod sync;

#[cfg(feature = "adaptive")]
pub mod adaptive;
#[cfg(feature = "bulkhead")]
pub mod bulkhead;
#[cfg(feature = "chaos")]
pub mod chaos;
#[cfg(feature = "circuit-breaker")]
pub mod circuit_breaker;
#[cfg(feature = "coalesce")]
pub mod coalesce;
#[cfg(feature = "axum")]
pub mod edge;
#[cfg(feature = "fallback")]
pub mod fallback;
#[cfg(feature = "health")]
pub mod health;
#[cfg(feature = "hedge")]
pub mod hedge;
#[cfg(feature = "outlier")]
pub mod outlier;
#[cfg(feature = "rate-limit")]
pub mod rate_limit;
#[cfg(feature = "registry")]
pub mod registry;
#[cfg(feature = "retry")]
pub mod retry;
#[cfg(feature = "throttle")]
pub mod throttle;
#[cfg(feature = "timeout")]
pub mod timeout;
#[cfg(any(feature = "bulkhead", feature = "rate-limit"))]
pub mod weight;

pub use builder::ServiceBuilderExt;
pub use config::ConfigError;

/// The boxed error type our layers return, as in `tower`.
///
/// Errors that a layer originates (such as
/// `CircuitOpen`) are public
/// structs that can be recovered with `downcast_ref`.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
