//! The one place that turns an error into a [`Problem`]: [`problem_for`].

use std::error::Error;
use std::fmt;
use std::time::Duration;

use http::StatusCode;
#[cfg(any(feature = "circuit-breaker", feature = "bulkhead"))]
use http::{HeaderValue, header::RETRY_AFTER};

use super::Problem;
use crate::rejection::OwnError;
#[cfg(any(
    feature = "circuit-breaker",
    feature = "bulkhead",
    feature = "rate-limit",
    feature = "timeout",
    feature = "coalesce",
    feature = "throttle",
    feature = "adaptive"
))]
use crate::rejection::Rejection;

/// The `Retry-After` sent with a bulkhead rejection. A bulkhead frees permits
/// as calls complete, typically within a second, and has no schedule to
/// report, so a short constant tells clients to back off briefly.
pub const BULKHEAD_RETRY_AFTER: Duration = Duration::from_secs(1);

/// The problem for `error`: the first error in its
/// [`source`](Error::source) chain that one of our layers originated
/// ([`rejection::find_own`](crate::rejection::find_own)) decides (see the
/// table in the [module docs](super)); anything else is a `500` whose
/// detail says nothing about the error, which is logged at `ERROR` level
/// instead.
///
/// ```
/// use std::time::Duration;
/// use http::StatusCode;
/// use palisade_resilience::BoxError;
/// use palisade_resilience::edge::problem_for;
/// use palisade_resilience::timeout::error::Elapsed;
///
/// let err: BoxError = Elapsed::new(Duration::from_secs(2)).into();
/// let problem = problem_for(&*err);
/// assert_eq!(problem.status(), StatusCode::GATEWAY_TIMEOUT);
/// assert_eq!(problem.code(), Some("timeout"));
/// assert_eq!(problem.type_uri(), "https://palisade-rs.github.io/problems/timeout");
///
/// let err: BoxError = "password=hunter2 rejected by db".into();
/// let problem = problem_for(&*err);
/// assert_eq!(problem.status(), StatusCode::INTERNAL_SERVER_ERROR);
/// assert!(!problem.detail().unwrap().contains("hunter2"));
/// ```
pub fn problem_for(error: &(dyn Error + 'static)) -> Problem {
    if let Some(own) = crate::rejection::find_own(error)
        && let Some(problem) = own_problem(own)
    {
        tracing::debug!(error = %Chain(error), status = problem.status().as_u16(), "request rejected");
        return problem;
    }
    tracing::error!(error = %Chain(error), "request failed with an unmapped error; answering 500");
    Problem::new(StatusCode::INTERNAL_SERVER_ERROR)
        .with_code("internal")
        .with_detail("the server could not complete the request")
}

/// A problem of ours: status, `code` (its `type` is
/// `https://palisade-rs.github.io/problems/<code>`), title and detail.
fn ours(
    status: StatusCode,
    code: &'static str,
    title: &'static str,
    detail: &'static str,
) -> Problem {
    Problem::palisade(status, code)
        .with_title(title)
        .with_detail(detail)
}

/// The problem for one of our errors; `None` for one the edge does not map
/// (none today: every variant of a feature that is on is mapped).
// With none of the middleware features on, nothing is recognised.
#[allow(unused_variables, clippy::unnecessary_wraps)]
fn own_problem(own: OwnError<'_>) -> Option<Problem> {
    match own {
        #[cfg(feature = "circuit-breaker")]
        OwnError::Rejection(Rejection::CircuitOpen(open)) => {
            let problem = ours(
                StatusCode::SERVICE_UNAVAILABLE,
                "circuit_open",
                "Circuit open",
                "a dependency is failing and calls to it are suspended; try again later",
            );
            Some(match open.retry_after() {
                Some(after) => problem.with_header(RETRY_AFTER, delta_seconds(after)),
                None => problem,
            })
        }
        #[cfg(feature = "bulkhead")]
        OwnError::Rejection(Rejection::BulkheadFull(_)) => Some(
            ours(
                StatusCode::SERVICE_UNAVAILABLE,
                "bulkhead_full",
                "Too busy",
                "too many requests are in progress; try again shortly",
            )
            .with_header(RETRY_AFTER, delta_seconds(BULKHEAD_RETRY_AFTER)),
        ),
        #[cfg(feature = "rate-limit")]
        OwnError::Rejection(Rejection::RateLimited(limited)) => Some(
            ours(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "Too many requests",
                "the rate limit was exceeded; retry after the time in Retry-After",
            )
            .with_headers(limited.headers()),
        ),
        #[cfg(feature = "rate-limit")]
        OwnError::BackendUnavailable(_) => Some(ours(
            StatusCode::SERVICE_UNAVAILABLE,
            "rate_limit_unavailable",
            "Rate limiter unavailable",
            "the rate limiter could not decide in time; try again later",
        )),
        #[cfg(feature = "timeout")]
        OwnError::Rejection(Rejection::Elapsed(_)) => Some(ours(
            StatusCode::GATEWAY_TIMEOUT,
            "timeout",
            "Timed out",
            "the request took too long to complete",
        )),
        #[cfg(feature = "coalesce")]
        OwnError::Rejection(Rejection::CoalesceFull(_)) => Some(ours(
            StatusCode::SERVICE_UNAVAILABLE,
            "coalesce_full",
            "Too busy",
            "too many identical requests are waiting; try again shortly",
        )),
        #[cfg(feature = "throttle")]
        OwnError::Rejection(Rejection::Throttled(_)) => Some(ours(
            StatusCode::SERVICE_UNAVAILABLE,
            "throttled",
            "Upstream overloaded",
            "a dependency refuses many requests, so some are refused early; try again later",
        )),
        #[cfg(feature = "adaptive")]
        OwnError::Rejection(Rejection::LimitReached(_)) => Some(ours(
            StatusCode::SERVICE_UNAVAILABLE,
            "limit_reached",
            "Too busy",
            "the service is at its concurrency limit; try again shortly",
        )),
        #[cfg(feature = "chaos")]
        OwnError::FaultInjected(_) => Some(ours(
            StatusCode::INTERNAL_SERVER_ERROR,
            "fault_injected",
            "Injected fault",
            "a fault was injected on purpose by the chaos layer",
        )),
        #[cfg(feature = "rate-limit")]
        OwnError::ExceedsBurst(_) => Some(ours(
            StatusCode::BAD_REQUEST,
            "exceeds_burst",
            "Request too costly",
            "this request costs more than the rate limit allows at once, so it can never pass",
        )),
        #[cfg(feature = "timeout")]
        OwnError::InvalidTimeout(_) => Some(ours(
            StatusCode::BAD_REQUEST,
            "invalid_timeout",
            "Invalid timeout",
            "the x-request-timeout header must be a whole number of milliseconds",
        )),
        // The keyed layer logged the first one at `ERROR` already.
        OwnError::MissingKey(missing) if missing.is_client_error() => Some(ours(
            StatusCode::BAD_REQUEST,
            "missing_key",
            "Missing key",
            missing.what(),
        )),
        OwnError::MissingKey(_) => Some(ours(
            StatusCode::INTERNAL_SERVER_ERROR,
            "key_unavailable",
            "Server misconfigured",
            "the server cannot tell clients apart for this request",
        )),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

#[cfg(any(feature = "circuit-breaker", feature = "bulkhead"))]
/// Whole seconds, rounded up so a client never retries too early.
fn delta_seconds(d: Duration) -> HeaderValue {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    HeaderValue::from(secs)
}

/// Displays an error and its sources, `outer: inner: …`, for the log.
struct Chain<'a>(&'a (dyn Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut next = self.0.source();
        while let Some(source) = next {
            write!(f, ": {source}")?;
            next = source.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BoxError;

    #[cfg(any(feature = "circuit-breaker", feature = "bulkhead"))]
    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(delta_seconds(Duration::from_millis(1)), "1");
        assert_eq!(delta_seconds(Duration::from_secs(3)), "3");
        assert_eq!(delta_seconds(Duration::from_millis(3001)), "4");
    }

    #[cfg(feature = "circuit-breaker")]
    #[test]
    fn circuit_open_without_a_scheduled_probe_has_no_retry_after() {
        use std::sync::Arc;

        use crate::circuit_breaker::{State, error::CircuitOpen};

        let err: BoxError = CircuitOpen::new(Arc::from("db"), State::HalfOpen, None).into();
        let problem = problem_for(&*err);
        assert_eq!(problem.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(problem.headers().get(RETRY_AFTER).is_none());

        let err: BoxError = CircuitOpen::new(
            Arc::from("db"),
            State::Open,
            Some(Duration::from_millis(1500)),
        )
        .into();
        assert_eq!(problem_for(&*err).headers()[RETRY_AFTER], "2");
    }

    #[cfg(feature = "rate-limit")]
    #[test]
    fn backend_unavailable_is_503_without_its_source_text() {
        use crate::rate_limit::error::BackendUnavailable;

        let err: BoxError =
            BackendUnavailable::new(Some("redis at 10.0.0.7 refused".into())).into();
        let problem = problem_for(&*err);
        assert_eq!(problem.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(problem.code(), Some("rate_limit_unavailable"));
        assert!(problem.headers().get(RETRY_AFTER).is_none());
        assert!(!problem.to_json().to_string().contains("10.0.0.7"));
    }

    #[cfg(all(feature = "throttle", feature = "coalesce"))]
    #[test]
    fn throttled_and_coalesce_full_are_503() {
        use crate::coalesce::error::CoalesceFull;
        use crate::throttle::error::Throttled;

        for (err, code) in [
            (BoxError::from(Throttled::new(0.5)), "throttled"),
            (BoxError::from(CoalesceFull::new(8)), "coalesce_full"),
        ] {
            let problem = problem_for(&*err);
            assert_eq!(problem.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(problem.code(), Some(code));
        }
    }

    #[test]
    fn chain_lists_every_source() {
        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl fmt::Display for Outer {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("outer")
            }
        }
        impl Error for Outer {
            fn source(&self) -> Option<&(dyn Error + 'static)> {
                Some(&self.0)
            }
        }
        let err = Outer(std::io::Error::other("inner"));
        assert_eq!(Chain(&err).to_string(), "outer: inner");
    }
}
