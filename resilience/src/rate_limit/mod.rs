//! Rate limiting: GCRA through [`governor`], global or keyed, locally or
//! shared through Redis.
//!
//! [`RateLimitLayer`] admits a burst of calls and then one per replenish
//! interval ([`Quota`]); calls over the limit fail at once with
//! [`error::RateLimited`], which carries the time to wait and the quota state,
//! and never reach the inner service.
//!
//! Every limiter is built the same way: [`RateLimitLayer::builder`]`(quota)`
//! (or the HTTP preset `RateLimitLayer::http(quota)`), optionally
//! `.keyed(extractor).max_keys(n)`, `.name(..)`, then `.build()`:
//!
//! - one bucket for all requests (the default; shortcut
//!   [`RateLimitLayer::global`]`(quota)`), lock-free and allocation-free per
//!   call;
//! - [`keyed`](RateLimitLayerBuilder::keyed): one bucket per key, found by any
//!   [`ExtractKey`](crate::key::ExtractKey) of the [`key`](crate::key)
//!   module (client IP, trusted proxies' `X-Forwarded-For`, an API key
//!   header, the route, a closure), at most `max_keys` keys (shortcut
//!   [`RateLimitLayer::keyed`]`(quota, extractor)`); see [`Keyed`]. A request
//!   without a key is refused, never pooled;
//! - `RateLimitLayer::http(quota)` (feature `http`): allowed responses carry
//!   `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`;
//!   `RateLimited::headers` gives `Retry-After` and the same headers for the
//!   429.
//! - [`weight`](RateLimitLayerBuilder::weight): a call takes the cells a
//!   [`Weigh`](crate::weight::Weigh) finds (a closure, or the request's
//!   `Weight` extension) instead of one; heavier than the burst, it is
//!   refused at once with [`ExceedsBurst`](error::ExceedsBurst);
//! - `RedisRateLimitLayer` (feature `redis`): the same decision, made
//!   atomically by one Lua script in Redis, so several server instances share
//!   one limit; a `FailurePolicy` decides what happens
//!   when Redis does not answer in time.
//!
//! Time goes through `tokio::time`, so tests drive the limiter with paused
//! time.
//!
//! # Health and counts
//!
//! [`RateLimitLayer::handle`] (and `RedisRateLimitLayer::handle`) returns a
//! [`RateLimitHandle`]: allowed, limited and backend-error totals shared by
//! every service of the layer, and whether the last call to Redis failed. It
//! is a `HealthSource` (feature `health`): healthy while the limiter decides
//! normally, degraded while its shared backend is failing; it reports the
//! limited calls as rejections and no success rate, since a limiter that
//! rejects is doing its job. Counting costs one relaxed atomic add per call.
//!
//! # Example
//!
//! ```
//! use std::num::NonZeroU32;
//! use std::time::Duration;
//! use palisade_resilience::rate_limit::{error::RateLimited, Quota, RateLimitLayer};
//! use tower::{service_fn, Layer, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), palisade_resilience::BoxError> {
//! // Two calls at once, then one every 500 ms.
//! const TWO: NonZeroU32 = NonZeroU32::new(2).unwrap();
//! let layer = RateLimitLayer::global(Quota::per_second(TWO));
//! let svc = layer.layer(service_fn(|n: u32| async move { Ok::<_, std::convert::Infallible>(n) }));
//!
//! assert_eq!(svc.clone().oneshot(1).await?, 1);
//! assert_eq!(svc.clone().oneshot(2).await?, 2);
//! let err = svc.clone().oneshot(3).await.unwrap_err();
//! let limited = err.downcast_ref::<RateLimited>().expect("a RateLimited error");
//! assert_eq!(limited.retry_after(), Duration::from_millis(500));
//!
//! tokio::time::advance(Duration::from_millis(500)).await;
//! assert_eq!(svc.oneshot(4).await?, 4);
//!
//! // Every service of the layer counts into the same handle.
//! let counts = layer.handle();
//! assert_eq!((counts.allowed_total(), counts.limited_total()), (3, 1));
//! # Ok(())
//! # }
//! ```

mod clock;
pub mod error;
mod future;
mod handle;
mod headers;
mod keyed;
mod layer;
mod policy;
mod quota;
#[cfg(feature = "redis")]
pub mod redis;
mod service;
mod telemetry;

pub use self::future::ResponseFuture;
pub use self::handle::RateLimitHandle;
#[cfg(feature = "http")]
pub use self::headers::{HttpHeaders, RATELIMIT_LIMIT, RATELIMIT_REMAINING, RATELIMIT_RESET};
pub use self::headers::{NoHeaders, RateLimitInfo, ResponseHeaders};
pub use self::keyed::Keyed;
pub use self::layer::{ByKey, RateLimitLayer, RateLimitLayerBuilder};
pub use self::policy::{Global, Policy};
pub use self::quota::Quota;
pub use self::service::RateLimit;
