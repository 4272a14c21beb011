//! [`BreakOnRetryAfter`]: result-driven breaks from an upstream's
//! `Retry-After`.

use std::time::Duration;

use http::{Response, StatusCode, header::RETRY_AFTER};

use crate::classify::{Classify, Outcome};

/// A classifier that judges results as `inner` does and, when the upstream
/// answers `503 Service Unavailable` or `429 Too Many Requests` with a
/// `Retry-After` in seconds, asks the breaker to open until then (capped by
/// the builder's `max_result_break`, 5 minutes by default). A `Retry-After`
/// given as an HTTP date is not used (the breaker's clock is monotonic, not
/// wall time): the windows decide then.
///
/// ```
/// use std::time::Duration;
/// use palisade_resilience::circuit_breaker::{BreakOnRetryAfter, CircuitBreakerLayer};
/// use palisade_resilience::classify::{Classify, ServerErrorsAreFailures};
///
/// let classify = BreakOnRetryAfter::new(ServerErrorsAreFailures);
/// let busy: Result<http::Response<()>, std::io::Error> = Ok(http::Response::builder()
///     .status(503)
///     .header("retry-after", "30")
///     .body(())
///     .unwrap());
/// assert_eq!(classify.break_for(&busy), Some(Duration::from_secs(30)));
///
/// let layer = CircuitBreakerLayer::http().classifier(classify).build()?;
/// # let _ = layer;
/// # Ok::<(), palisade_resilience::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct BreakOnRetryAfter<C> {
    inner: C,
}

impl<C> BreakOnRetryAfter<C> {
    /// Wraps `inner`, which keeps deciding success and failure.
    pub const fn new(inner: C) -> Self {
        Self { inner }
    }
}

impl<B, E, C> Classify<Response<B>, E> for BreakOnRetryAfter<C>
where
    C: Classify<Response<B>, E>,
{
    fn classify(&self, result: &Result<Response<B>, E>) -> Outcome {
        self.inner.classify(result)
    }

    fn break_for(&self, result: &Result<Response<B>, E>) -> Option<Duration> {
        let response = result.as_ref().ok()?;
        if !matches!(
            response.status(),
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS
        ) {
            return None;
        }
        let seconds: u64 = response
            .headers()
            .get(RETRY_AFTER)?
            .to_str()
            .ok()?
            .trim()
            .parse()
            .ok()?;
        Some(Duration::from_secs(seconds))
    }
}
