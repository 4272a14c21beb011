//! Errors the rate limiter originates.

use std::fmt;
use std::time::Duration;

use super::headers::RateLimitInfo;

/// The call was over the limit and did not reach the inner service.
///
/// Carries how long to wait before the next call can pass
/// ([`retry_after`](Self::retry_after)) and the quota state the HTTP edge
/// needs for `Retry-After` and `RateLimit-*` headers
/// (`headers()` with the `http` feature). The HTTP edge
/// answers it with `429 Too Many Requests`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimited {
    retry_after: Duration,
    info: RateLimitInfo,
}

impl RateLimited {
    pub(crate) const fn new(retry_after: Duration, limit: u32, reset: Duration) -> Self {
        Self {
            retry_after,
            info: RateLimitInfo {
                limit,
                remaining: 0,
                reset,
            },
        }
    }

    /// How long until the next call can pass.
    #[must_use]
    pub const fn retry_after(&self) -> Duration {
        self.retry_after
    }

    /// The quota state: limit (burst), remaining (always 0) and reset (the
    /// time until the whole burst is available again).
    #[must_use]
    pub const fn info(&self) -> RateLimitInfo {
        self.info
    }

    /// `Retry-After` (delta seconds, rounded up) plus the `RateLimit-Limit`,
    /// `RateLimit-Remaining` and `RateLimit-Reset` headers for a 429 response.
    ///
    /// ```
    /// # use palisade_resilience::rate_limit::error::RateLimited;
    /// # fn show(err: &RateLimited) {
    /// let headers = err.headers();
    /// assert!(headers.contains_key(http::header::RETRY_AFTER));
    /// # }
    /// ```
    #[cfg(feature = "http")]
    #[must_use]
    pub fn headers(&self) -> http::HeaderMap {
        let mut map = http::HeaderMap::with_capacity(4);
        map.insert(
            http::header::RETRY_AFTER,
            super::headers::delta_seconds(self.retry_after),
        );
        self.info.write_headers(&mut map);
        map
    }
}

impl fmt::Display for RateLimited {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rate limit exceeded, retry after {:?}", self.retry_after)
    }
}

impl std::error::Error for RateLimited {}

/// The shared rate-limit backend (Redis) could not answer in time and the
/// layer is configured to fail closed. The HTTP edge answers it with
/// `503 Service Unavailable`.
#[derive(Debug)]
pub struct BackendUnavailable {
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl BackendUnavailable {
    #[allow(dead_code)] // only the redis backend creates it
    pub(crate) fn new(source: Option<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self { source }
    }
}

impl fmt::Display for BackendUnavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("rate limit backend unavailable")
    }
}

impl std::error::Error for BackendUnavailable {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Why a [`Policy`](super::Policy) refused a call: over the limit, or no key
/// to find the bucket by.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refused {
    /// The bucket is empty.
    Limited(RateLimited),
    /// The request has no key (see [`crate::key`]).
    MissingKey(crate::key::MissingKey),
}

impl From<RateLimited> for Refused {
    fn from(limited: RateLimited) -> Self {
        Self::Limited(limited)
    }
}

impl From<crate::key::MissingKey> for Refused {
    fn from(missing: crate::key::MissingKey) -> Self {
        Self::MissingKey(missing)
    }
}

impl From<Refused> for crate::BoxError {
    fn from(refused: Refused) -> Self {
        match refused {
            Refused::Limited(limited) => limited.into(),
            Refused::MissingKey(missing) => missing.into(),
        }
    }
}
