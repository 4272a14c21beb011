//! The quota state of a decision and the `RateLimit-*` response headers.

use std::time::Duration;

/// What a limiter knows after a decision: the values of the IETF
/// `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitInfo {
    pub(crate) limit: u32,
    pub(crate) remaining: u32,
    pub(crate) reset: Duration,
}

impl RateLimitInfo {
    /// What [`ResponseHeaders::apply`] gets when it does not use the info.
    pub(crate) const UNUSED: Self = Self {
        limit: 0,
        remaining: 0,
        reset: Duration::ZERO,
    };

    /// The burst size: how many calls pass at once after a quiet period.
    #[must_use]
    pub const fn limit(&self) -> u32 {
        self.limit
    }

    /// How many more calls would pass right now.
    #[must_use]
    pub const fn remaining(&self) -> u32 {
        self.remaining
    }

    /// The time until the whole burst is available again.
    ///
    /// For the local limiter after an allowed call this is
    /// `(limit - remaining) × interval`, which may overstate the exact value by
    /// less than one replenish interval (governor exposes the remaining
    /// capacity, not its internal timestamp).
    #[must_use]
    pub const fn reset(&self) -> Duration {
        self.reset
    }

    /// Writes `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`
    /// (delta seconds, rounded up) into `headers`, replacing existing values.
    #[cfg(feature = "http")]
    pub fn write_headers(&self, headers: &mut http::HeaderMap) {
        headers.insert(RATELIMIT_LIMIT, self.limit.into());
        headers.insert(RATELIMIT_REMAINING, self.remaining.into());
        headers.insert(RATELIMIT_RESET, delta_seconds(self.reset));
    }
}

/// `RateLimit-Limit`.
#[cfg(feature = "http")]
pub const RATELIMIT_LIMIT: http::HeaderName = http::HeaderName::from_static("ratelimit-limit");
/// `RateLimit-Remaining`.
#[cfg(feature = "http")]
pub const RATELIMIT_REMAINING: http::HeaderName =
    http::HeaderName::from_static("ratelimit-remaining");
/// `RateLimit-Reset`.
#[cfg(feature = "http")]
pub const RATELIMIT_RESET: http::HeaderName = http::HeaderName::from_static("ratelimit-reset");

/// Whole seconds, rounded up so a client never retries too early.
#[cfg(feature = "http")]
pub(crate) fn delta_seconds(d: Duration) -> http::HeaderValue {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    secs.into()
}

/// Decides what an allowed response carries; chosen by the layer's type.
///
/// [`NoHeaders`] leaves any response alone; `HttpHeaders` (feature `http`)
/// adds the `RateLimit-*` headers to an `http::Response`.
pub trait ResponseHeaders<R> {
    /// Whether [`apply`](Self::apply) reads its `info`. When false, the
    /// limiter does not compute the quota state of allowed calls (see
    /// [`Policy::admit`](super::Policy::admit)) and `apply` gets a
    /// placeholder with every value zero.
    const USES_INFO: bool = true;

    /// Called with the inner service's response to an allowed call.
    fn apply(response: &mut R, info: &RateLimitInfo);
}

/// Leaves responses untouched (any response type).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHeaders;

impl<R> ResponseHeaders<R> for NoHeaders {
    const USES_INFO: bool = false;

    #[inline]
    fn apply(_: &mut R, _: &RateLimitInfo) {}
}

/// Adds `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` to
/// every allowed `http::Response`.
#[cfg(feature = "http")]
#[derive(Debug, Clone, Copy, Default)]
pub struct HttpHeaders;

#[cfg(feature = "http")]
impl<B> ResponseHeaders<http::Response<B>> for HttpHeaders {
    #[inline]
    fn apply(response: &mut http::Response<B>, info: &RateLimitInfo) {
        info.write_headers(response.headers_mut());
    }
}

#[cfg(all(test, feature = "http"))]
mod tests {
    use super::*;

    #[test]
    fn delta_seconds_rounds_up() {
        assert_eq!(delta_seconds(Duration::ZERO), "0");
        assert_eq!(delta_seconds(Duration::from_millis(1)), "1");
        assert_eq!(delta_seconds(Duration::from_secs(2)), "2");
        assert_eq!(delta_seconds(Duration::from_millis(2001)), "3");
    }
}
