//! A rate limiter shared by several instances through Redis (feature `redis`).
//!
//! The GCRA decision of the local limiter, made atomically in Redis by one Lua
//! script ([`redis::Script`], `EVALSHA` with an `EVAL` fallback, one round
//! trip) on the Redis server's clock (`TIME`), so every instance sees the same
//! buckets and the same time. Each bucket is one string key under a
//! configurable prefix that expires by itself once the bucket is full again.
//!
//! Every call to Redis is bounded by a timeout (default 50 ms). When Redis
//! does not answer in time or fails, the [`FailurePolicy`] decides: fail open
//! (admit, with a `tracing` warning and the
//! `palisade_rate_limit_backend_errors_total` counter) or fail closed (reject
//! with [`BackendUnavailable`](super::error::BackendUnavailable)).
//!
//! ```no_run
//! use std::num::NonZeroU32;
//! use std::time::Duration;
//! use palisade_resilience::rate_limit::redis::{lazy_connection, FailurePolicy, RedisRateLimitLayer};
//! use palisade_resilience::rate_limit::Quota;
//!
//! # async fn run() -> Result<(), palisade_resilience::BoxError> {
//! let conn = lazy_connection("redis://127.0.0.1:6379", Duration::from_millis(50))?;
//! const PER_MINUTE: NonZeroU32 = NonZeroU32::new(600).unwrap();
//! let layer = RedisRateLimitLayer::builder(conn, Quota::per_minute(PER_MINUTE), |tenant: &String| Some(tenant.clone()))
//!     .prefix("myapp:rl:")
//!     .failure_policy(FailurePolicy::FailClosed)
//!     .build()?;
//! # let _ = layer;
//! # Ok(())
//! # }
//! ```

mod future;
mod key;
mod layer;
mod script;
mod service;

use std::time::Duration;

use redis::Client;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::BoxError;

pub use self::future::RedisResponseFuture;
pub use self::key::RedisKey;
pub use self::layer::{RedisRateLimitLayer, RedisRateLimitLayerBuilder};
pub use self::service::RedisRateLimit;

/// The default bound on every call to Redis.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(50);
/// The default key prefix.
pub const DEFAULT_PREFIX: &str = "palisade:ratelimit:";

/// What the layer does when Redis cannot decide in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum FailurePolicy {
    /// Admit the call: availability over strictness (the default).
    #[default]
    FailOpen,
    /// Reject the call with [`BackendUnavailable`](super::error::BackendUnavailable) (the HTTP edge answers 503).
    FailClosed,
}

/// A [`ConnectionManager`] that connects on first use, with `timeout` on
/// every connection attempt and response and few reconnection retries, so a
/// missing Redis never blocks the caller.
///
/// # Errors
///
/// When `url` is not a Redis URL, or when called outside a Tokio runtime (the
/// manager spawns a task).
pub fn lazy_connection(url: &str, timeout: Duration) -> Result<ConnectionManager, BoxError> {
    if tokio::runtime::Handle::try_current().is_err() {
        return Err("lazy_connection must be called inside a Tokio runtime".into());
    }
    let client = Client::open(url)?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout))
        .set_number_of_retries(2)
        .set_max_delay(Duration::from_secs(1));
    Ok(ConnectionManager::new_lazy_with_config(client, config)?)
}
