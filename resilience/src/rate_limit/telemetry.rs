//! Tracing events and `metrics` counters, in one place so every backend names them alike.

use super::error::RateLimited;

/// A call was rejected: `palisade_rate_limit_limited_total{name}`.
#[inline]
pub(crate) fn limited(name: &'static str, error: &RateLimited) {
    tracing::debug!(
        limiter = name,
        retry_after_ms = u64::try_from(error.retry_after().as_millis()).unwrap_or(u64::MAX),
        "rate limited"
    );
    #[cfg(feature = "metrics")]
    metrics::counter!("palisade_rate_limit_limited_total", "name" => name).increment(1);
}

/// The shared backend failed: `palisade_rate_limit_backend_errors_total{name}`.
#[allow(dead_code)] // only the redis backend has a backend to fail
pub(crate) fn backend_error(name: &'static str, fail_open: bool, error: &dyn std::error::Error) {
    tracing::warn!(
        limiter = name,
        fail_open,
        error = %error,
        "rate limit backend unavailable"
    );
    #[cfg(feature = "metrics")]
    metrics::counter!("palisade_rate_limit_backend_errors_total", "name" => name).increment(1);
}
