//! What the HTTP preset retries, and how long `Retry-After` asks to wait.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::{HeaderValue, Method, Response, StatusCode, header::RETRY_AFTER};

use crate::retry::Predicate;
use crate::retry::policy::{rejection_may_pass, rejection_retry_after};

/// The wall clock an HTTP-date `Retry-After` is compared against.
///
/// [`SystemClock`] is the default; tests inject a fixed time with a closure
/// `Fn() -> SystemTime`.
pub trait WallClock: Send + Sync {
    /// The current wall-clock time.
    fn now(&self) -> SystemTime;
}

impl<F> WallClock for F
where
    F: Fn() -> SystemTime + Send + Sync,
{
    fn now(&self) -> SystemTime {
        self()
    }
}

/// The operating system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl WallClock for SystemClock {
    // `Retry-After: <HTTP-date>` is a wall-clock time, so it must be compared
    // with the wall clock; this is the one place that reads it, and tests
    // inject their own `WallClock` instead.
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// The HTTP preset's predicate: transport errors (any `Err` from the inner
/// service) and 429, 502, 503 and 504 responses are retried, waiting at
/// least the delay their `Retry-After` header asks for (delta-seconds or
/// HTTP-date) when they have one. Our own rejections among the errors are
/// handled as by [`RetryErrors`](crate::retry::RetryErrors): a breaker's or
/// limiter's `retry_after` counts like a `Retry-After` header, a ForcedOpen
/// breaker is not retried.
///
/// Responses that are neither retried nor 5xx/429 count as successes for the
/// retry budget. The method check (idempotent methods only) is done by the
/// service before the request is sent, not here.
#[derive(Clone)]
pub struct HttpPredicate {
    clock: Arc<dyn WallClock>,
}

impl HttpPredicate {
    /// A predicate comparing HTTP dates with `clock`.
    #[must_use]
    pub fn new(clock: impl WallClock + 'static) -> Self {
        Self {
            clock: Arc::new(clock),
        }
    }
}

impl Default for HttpPredicate {
    fn default() -> Self {
        Self::new(SystemClock)
    }
}

impl fmt::Debug for HttpPredicate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpPredicate").finish_non_exhaustive()
    }
}

impl<B, E: 'static> Predicate<Response<B>, E> for HttpPredicate {
    fn should_retry(&self, result: &Result<Response<B>, E>) -> bool {
        match result {
            Ok(response) => is_retryable_status(response.status()),
            Err(error) => rejection_may_pass(error),
        }
    }

    fn retry_after(&self, result: &Result<Response<B>, E>) -> Option<Duration> {
        match result {
            Ok(response) => {
                parse_retry_after(response.headers().get(RETRY_AFTER)?, self.clock.now())
            }
            Err(error) => rejection_retry_after(error),
        }
    }

    fn is_success(&self, result: &Result<Response<B>, E>) -> bool {
        match result {
            Ok(response) => {
                let status = response.status();
                !status.is_server_error() && status != StatusCode::TOO_MANY_REQUESTS
            }
            Err(_) => false,
        }
    }
}

/// 429, 502, 503 and 504: the upstream (or a proxy) says "not now", and the
/// request most likely did not take effect. A 500 is not retried: it usually
/// means the request itself triggers a bug.
pub(crate) fn is_retryable_status(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::TOO_MANY_REQUESTS
            | StatusCode::BAD_GATEWAY
            | StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::GATEWAY_TIMEOUT
    )
}

/// The idempotent methods of RFC 9110 §9.2.2: sending them twice has the
/// same effect as sending them once.
pub(crate) fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

/// `Retry-After` as delta-seconds or an HTTP-date; a date in the past means
/// "now". Unparseable values give `None` (the retry layer then uses its
/// backoff delay). Shared with other crates that honour the header, such as
/// the webhook delivery engine.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use http::HeaderValue;
/// use palisade_resilience::retry::http::parse_retry_after;
///
/// let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
/// assert_eq!(parse_retry_after(&HeaderValue::from_static("120"), now), Some(Duration::from_secs(120)));
/// assert_eq!(parse_retry_after(&HeaderValue::from_static("soon"), now), None);
/// ```
#[must_use]
pub fn parse_retry_after(value: &HeaderValue, now: SystemTime) -> Option<Duration> {
    let value = value.to_str().ok()?.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // More digits than fit are "a very long time".
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_parses_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let header = |s: &str| HeaderValue::from_str(s).unwrap();
        assert_eq!(
            parse_retry_after(&header("7"), now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(parse_retry_after(&header(" 0 "), now), Some(Duration::ZERO));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(90));
        assert_eq!(
            parse_retry_after(&header(&later), now),
            Some(Duration::from_secs(90))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(90));
        assert_eq!(
            parse_retry_after(&header(&earlier), now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after(&header("soon"), now), None);
        assert_eq!(parse_retry_after(&header("-3"), now), None);
        assert_eq!(
            parse_retry_after(&header("99999999999999999999999"), now),
            Some(Duration::from_secs(u64::MAX))
        );
    }
}
