//! Deciding whether a call succeeded or failed.
//!
//! The circuit breaker (and, later, health reporting and tracing) judge a call
//! by its result. A [`Classify`] implementation makes that judgement; it sees
//! the inner service's `Result` before any of our layers box the error.
//!
//! - [`ErrorsAreFailures`] (the default): every `Err` is a failure, every `Ok`
//!   a success.
//! - `ServerErrorsAreFailures` (feature `http`): for `http::Response`s, 5xx
//!   statuses and transport errors are failures; 4xx are the caller's fault and
//!   count as successes.
//! - Any closure `Fn(&Result<T, E>) -> Outcome`.
//!
//! ```
//! use palisade_resilience::classify::{Classify, ErrorsAreFailures, Outcome};
//!
//! let ok: Result<u16, &str> = Ok(200);
//! let err: Result<u16, &str> = Err("connection reset");
//! assert_eq!(ErrorsAreFailures.classify(&ok), Outcome::Success);
//! assert_eq!(ErrorsAreFailures.classify(&err), Outcome::Failure);
//!
//! // A closure: treat 500 and above as failures even though they are `Ok`.
//! let by_status = |r: &Result<u16, &str>| match r {
//!     Ok(status) if *status < 500 => Outcome::Success,
//!     _ => Outcome::Failure,
//! };
//! assert_eq!(by_status.classify(&Ok(503)), Outcome::Failure);
//! ```

/// The verdict on one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The call succeeded.
    Success,
    /// The call failed.
    Failure,
}

impl Outcome {
    /// Returns `true` for [`Outcome::Failure`].
    #[must_use]
    pub fn is_failure(self) -> bool {
        matches!(self, Self::Failure)
    }
}

/// Classifies the result of a call as a success or a failure.
pub trait Classify<T, E> {
    /// Judges one result.
    fn classify(&self, result: &Result<T, E>) -> Outcome;

    /// For the circuit breaker: how long this result asks the breaker to
    /// stay open, opening it at once whatever its windows say (a
    /// result-driven break, such as an upstream's `Retry-After`). `None`, the
    /// default, leaves the decision to the windows. Other layers ignore it.
    fn break_for(&self, result: &Result<T, E>) -> Option<std::time::Duration> {
        let _ = result;
        None
    }
}

impl<T, E, F> Classify<T, E> for F
where
    F: Fn(&Result<T, E>) -> Outcome,
{
    fn classify(&self, result: &Result<T, E>) -> Outcome {
        self(result)
    }
}

/// The default classifier: every error is a failure, every response a success.
#[derive(Debug, Clone, Copy, Default)]
pub struct ErrorsAreFailures;

impl<T, E> Classify<T, E> for ErrorsAreFailures {
    fn classify(&self, result: &Result<T, E>) -> Outcome {
        match result {
            Ok(_) => Outcome::Success,
            Err(_) => Outcome::Failure,
        }
    }
}

/// The HTTP classifier: 5xx responses and transport errors are failures, every
/// other status (including 4xx, which are the client's fault) is a success.
///
/// ```
/// use palisade_resilience::classify::{Classify, Outcome, ServerErrorsAreFailures};
///
/// let response = |status: u16| -> Result<http::Response<()>, std::io::Error> {
///     Ok(http::Response::builder().status(status).body(()).unwrap())
/// };
/// assert_eq!(ServerErrorsAreFailures.classify(&response(404)), Outcome::Success);
/// assert_eq!(ServerErrorsAreFailures.classify(&response(503)), Outcome::Failure);
/// ```
#[cfg(feature = "http")]
#[derive(Debug, Clone, Copy, Default)]
pub struct ServerErrorsAreFailures;

#[cfg(feature = "http")]
impl<B, E> Classify<http::Response<B>, E> for ServerErrorsAreFailures {
    fn classify(&self, result: &Result<http::Response<B>, E>) -> Outcome {
        match result {
            Ok(response) if !response.status().is_server_error() => Outcome::Success,
            _ => Outcome::Failure,
        }
    }
}
