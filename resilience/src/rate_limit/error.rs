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
    /// The request weighs more than the bucket ever holds.
    ExceedsBurst(ExceedsBurst),
}

/// A call weighed more cells than the limiter's burst (see
/// [`weight`](crate::weight)): it could never pass, so it is refused at once
/// rather than told to wait. Not a rejection ("not now") but a request that
/// asks too much at once: 400 `exceeds_burst` at the HTTP edge.
///
/// ```
/// use palisade_resilience::rate_limit::error::ExceedsBurst;
///
/// let err = ExceedsBurst::new(20, 10);
/// assert_eq!(err.weight(), 20);
/// assert_eq!(err.to_string(), "rate limit: a call of weight 20 exceeds the burst of 10 and can never pass");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExceedsBurst {
    weight: u32,
    burst: u32,
}

impl ExceedsBurst {
    /// A call of `weight` cells against a burst of `burst`.
    #[must_use]
    pub const fn new(weight: u32, burst: u32) -> Self {
        Self { weight, burst }
    }

    /// What the call weighed.
    #[must_use]
    pub const fn weight(&self) -> u32 {
        self.weight
    }

    /// The limiter's burst: the most one call may weigh.
    #[must_use]
    pub const fn burst(&self) -> u32 {
        self.burst
    }
}

impl fmt::Display for ExceedsBurst {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "rate limit: a call of weight {} exceeds the burst of {} and can never pass",
            self.weight, self.burst
        )
    }
}

impl std::error::Error for ExceedsBurst {}

impl From<RateLimited> for Refused {
    fn from(limited: RateLimited) -> Self {
        Self::Limited(limited)
    }
}

impl From<ExceedsBurst> for Refused {
    fn from(heavy: ExceedsBurst) -> Self {
        Self::ExceedsBurst(heavy)
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
            Refused::ExceedsBurst(heavy) => heavy.into(),
        }
    }
}
