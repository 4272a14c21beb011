//! The one place that turns an error into a [`Problem`].

use std::error::Error;
use std::fmt;
use std::time::Duration;

use http::StatusCode;
#[cfg(any(feature = "circuit-breaker", feature = "bulkhead"))]
use http::{HeaderValue, header::RETRY_AFTER};

use super::problem::Problem;

/// The `Retry-After` sent with a bulkhead rejection. A bulkhead frees permits
/// as calls complete, typically within a second, and has no schedule to
/// report, so a short constant tells clients to back off briefly.
pub const BULKHEAD_RETRY_AFTER: Duration = Duration::from_secs(1);

#[cfg(any(
    feature = "circuit-breaker",
    feature = "bulkhead",
    feature = "rate-limit",
    feature = "timeout",
    feature = "chaos"
))]
/// Where the `type` URIs of our problems point: the mapping table of the
/// `edge` module docs (each code has an anchor there).
const TYPE_BASE: &str =
    "https://docs.rs/palisade-resilience/latest/palisade_resilience/edge/index.html#";

impl Problem {
    /// The problem for `error`: the first error in its
    /// [`source`](Error::source) chain that one of our layers originates
    /// decides (see the table in the [module docs](super)); anything else is
    /// a `500` whose detail says nothing about the error, which is logged at
    /// `ERROR` level instead.
    ///
    /// ```
    /// use std::time::Duration;
    /// use http::StatusCode;
    /// use palisade_resilience::BoxError;
    /// use palisade_resilience::edge::Problem;
    /// use palisade_resilience::timeout::error::Elapsed;
    ///
    /// let err: BoxError = Elapsed::new(Duration::from_secs(2)).into();
    /// let problem = Problem::from_error(&*err);
    /// assert_eq!(problem.status(), StatusCode::GATEWAY_TIMEOUT);
    /// assert_eq!(problem.code(), Some("timeout"));
    ///
    /// let err: BoxError = "password=hunter2 rejected by db".into();
    /// let problem = Problem::from_error(&*err);
    /// assert_eq!(problem.status(), StatusCode::INTERNAL_SERVER_ERROR);
    /// assert!(!problem.detail().unwrap().contains("hunter2"));
    /// ```
    pub fn from_error(error: &(dyn Error + 'static)) -> Self {
        let mut next = Some(error);
        while let Some(current) = next {
            if let Some(problem) = own(current) {
                tracing::debug!(error = %Chain(error), status = problem.status().as_u16(), "request rejected");
                return problem;
            }
            next = current.source();
        }
        tracing::error!(error = %Chain(error), "request failed with an unmapped error; answering 500");
        Problem::new(StatusCode::INTERNAL_SERVER_ERROR)
            .with_code("internal")
            .with_detail("the server could not complete the request")
    }
}

#[cfg(any(
    feature = "circuit-breaker",
    feature = "bulkhead",
    feature = "rate-limit",
    feature = "timeout",
    feature = "chaos"
))]
/// A problem of ours: status, `code` (also the anchor of its `type`), title
/// and detail.
fn ours(
    status: StatusCode,
    code: &'static str,
    title: &'static str,
    detail: &'static str,
) -> Problem {
    Problem::new(status)
        .with_type(format!("{TYPE_BASE}{code}"))
        .with_title(title)
        .with_code(code)
        .with_detail(detail)
}

/// The problem for one error of the chain, if one of our layers made it.
// With none of the middleware features on, nothing is recognised.
#[allow(unused_variables)]
fn own(error: &(dyn Error + 'static)) -> Option<Problem> {
    #[cfg(feature = "circuit-breaker")]
    if let Some(open) = error.downcast_ref::<crate::circuit_breaker::error::CircuitOpen>() {
        let problem = ours(
            StatusCode::SERVICE_UNAVAILABLE,
            "circuit_open",
            "Circuit open",
            "a dependency is failing and calls to it are suspended; try again later",
        );
        return Some(match open.retry_after() {
            Some(after) => problem.with_header(RETRY_AFTER, delta_seconds(after)),
            None => problem,
        });
    }
    #[cfg(feature = "bulkhead")]
    if error.is::<crate::bulkhead::error::BulkheadFull>() {
        return Some(
            ours(
                StatusCode::SERVICE_UNAVAILABLE,
                "bulkhead_full",
                "Too busy",
                "too many requests are in progress; try again shortly",
            )
            .with_header(RETRY_AFTER, delta_seconds(BULKHEAD_RETRY_AFTER)),
        );
    }
    #[cfg(feature = "rate-limit")]
    if let Some(limited) = error.downcast_ref::<crate::rate_limit::error::RateLimited>() {
        return Some(
            ours(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "Too many requests",
                "the rate limit was exceeded; retry after the time in Retry-After",
            )
            .with_headers(limited.headers()),
        );
    }
    #[cfg(feature = "rate-limit")]
    if error.is::<crate::rate_limit::error::BackendUnavailable>() {
        return Some(ours(
            StatusCode::SERVICE_UNAVAILABLE,
            "rate_limit_unavailable",
            "Rate limiter unavailable",
            "the rate limiter could not decide in time; try again later",
        ));
    }
    #[cfg(feature = "timeout")]
    if error.is::<crate::timeout::error::Elapsed>() {
        return Some(ours(
            StatusCode::GATEWAY_TIMEOUT,
            "timeout",
            "Timed out",
            "the request took too long to complete",
        ));
    }
    #[cfg(feature = "chaos")]
    if error.is::<crate::chaos::error::ChaosError>() {
        return Some(ours(
            StatusCode::INTERNAL_SERVER_ERROR,
            "fault_injected",
            "Injected fault",
            "a fault was injected on purpose by the chaos layer",
        ));
    }
    None
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
        let problem = Problem::from_error(&*err);
        assert_eq!(problem.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(problem.headers().get(RETRY_AFTER).is_none());

        let err: BoxError = CircuitOpen::new(
            Arc::from("db"),
            State::Open,
            Some(Duration::from_millis(1500)),
        )
        .into();
        assert_eq!(Problem::from_error(&*err).headers()[RETRY_AFTER], "2");
    }

    #[cfg(feature = "rate-limit")]
    #[test]
    fn backend_unavailable_is_503_without_its_source_text() {
        use crate::rate_limit::error::BackendUnavailable;

        let err: BoxError =
            BackendUnavailable::new(Some("redis at 10.0.0.7 refused".into())).into();
        let problem = Problem::from_error(&*err);
        assert_eq!(problem.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(problem.code(), Some("rate_limit_unavailable"));
        assert!(problem.headers().get(RETRY_AFTER).is_none());
        assert!(!problem.to_json().to_string().contains("10.0.0.7"));
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
