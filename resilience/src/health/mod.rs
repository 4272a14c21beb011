//! A registry where breakers, bulkheads and limiters report their health.
//!
//! Each component registers under a name with something that implements
//! [`HealthSource`]: the handles of our layers do (when their features are
//! on), and so does any closure returning a [`ComponentHealth`]. Reading the
//! registry asks every component for a fresh report and combines them into one
//! [`Status`] — what a readiness probe such as the server's `/health/ready`
//! serves.
//!
//! # The aggregate rule
//!
//! The registry's status is the **worst** status of its components
//! (`Healthy` < `Degraded` < `Unhealthy`); an empty registry is healthy. Each
//! component decides its own status:
//!
//! | component       | healthy                 | degraded                                   | unhealthy                   |
//! |-----------------|-------------------------|--------------------------------------------|-----------------------------|
//! | circuit breaker | Closed, Disabled        | HalfOpen                                   | Open, ForcedOpen            |
//! | bulkhead        | permits available       | no permit free (calls queue or are rejected) | —                         |
//! | keyed breaker   | every key Closed or Disabled | some key not closed                   | every key Open or ForcedOpen |
//! | keyed bulkhead  | no partition full       | some partition has no permit free          | —                           |
//! | rate limiter    | deciding normally       | its shared backend (Redis) is unreachable  | —                           |
//! | adaptive limit  | the limit has room      | the limit is reached (calls queue or are rejected) | —                   |
//! | outlier detector | every endpoint in the pool | some endpoints ejected                  | —                           |
//! | throttle        | always (local rejections counted) | —                                | —                           |
//! | hedge layer     | always                  | —                                          | —                           |
//!
//! On top of that, a component whose rolling success rate is known and below
//! the registry's [`degraded_below`](HealthRegistry::degraded_below) threshold
//! (default 50 %) is at least `Degraded`.
//!
//! # Example
//!
//! ```
//! use palisade_resilience::health::{ComponentHealth, HealthRegistry, Status};
//!
//! let registry = HealthRegistry::new();
//! registry.register("database", || ComponentHealth::new("custom", Status::Healthy));
//! registry.register("search", || {
//!     ComponentHealth::new("custom", Status::Healthy).with_success_rate(20.0)
//! });
//!
//! let report = registry.check();
//! // 20 % success is below the default 50 % threshold.
//! assert_eq!(report.status, Status::Degraded);
//! assert_eq!(report.components.len(), 2);
//! assert_eq!(report.components[1].name, "search");
//! ```

mod registry;
mod report;

pub use registry::HealthRegistry;
pub use report::{ComponentHealth, ComponentReport, HealthReport, HealthSource, Status};
