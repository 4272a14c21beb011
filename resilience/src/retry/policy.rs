//! Which results are retried.

use std::time::Duration;

use crate::classify::Classify;

/// Decides, from the result of one attempt, whether to try again.
///
/// Implemented by closures `Fn(&Result<Res, E>) -> bool` (return `true` to
/// retry), by [`RetryErrors`] (the default: retry every error, never a
/// response) and by [`RetryFailures`] (reuse a [`Classify`] implementation).
/// Whether a retry then happens also depends on the attempts left,
/// `max_elapsed` and the [`RetryBudget`](super::RetryBudget).
///
/// ```
/// use palisade_resilience::retry::Predicate;
///
/// // Retry errors and "busy" answers.
/// let busy = |result: &Result<&str, std::io::Error>| match result {
///     Ok(body) => *body == "busy",
///     Err(_) => true,
/// };
/// assert!(busy.should_retry(&Ok("busy")));
/// assert!(!busy.should_retry(&Ok("done")));
/// ```
pub trait Predicate<Res, E> {
    /// Returns `true` if this result should be retried.
    fn should_retry(&self, result: &Result<Res, E>) -> bool;

    /// A delay the result itself asks for (such as HTTP's `Retry-After`),
    /// used instead of the backoff delay for this retry. If it is longer
    /// than the layer's `max_retry_after`, the layer stops retrying and
    /// returns the result. The default asks for nothing.
    fn retry_after(&self, result: &Result<Res, E>) -> Option<Duration> {
        let _ = result;
        None
    }

    /// For a result that is not retried: does it count as a success that
    /// refills the retry budget? The default: every `Ok`.
    fn is_success(&self, result: &Result<Res, E>) -> bool {
        result.is_ok()
    }
}

impl<Res, E, F> Predicate<Res, E> for F
where
    F: Fn(&Result<Res, E>) -> bool,
{
    fn should_retry(&self, result: &Result<Res, E>) -> bool {
        self(result)
    }
}

/// The default predicate: every error is retried, no response is.
#[derive(Debug, Clone, Copy, Default)]
pub struct RetryErrors;

impl<Res, E> Predicate<Res, E> for RetryErrors {
    fn should_retry(&self, result: &Result<Res, E>) -> bool {
        result.is_err()
    }
}

/// Retries whatever a [`Classify`] implementation calls a failure, so the
/// retry layer and the circuit breaker can share one judgement.
///
/// ```
/// use palisade_resilience::classify::ErrorsAreFailures;
/// use palisade_resilience::retry::{Predicate, RetryFailures};
///
/// let predicate = RetryFailures(ErrorsAreFailures);
/// assert!(predicate.should_retry(&Err::<(), _>("reset")));
/// assert!(!predicate.should_retry(&Ok::<_, ()>(())));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct RetryFailures<C>(pub C);

impl<Res, E, C> Predicate<Res, E> for RetryFailures<C>
where
    C: Classify<Res, E>,
{
    fn should_retry(&self, result: &Result<Res, E>) -> bool {
        self.0.classify(result).is_failure()
    }

    fn is_success(&self, result: &Result<Res, E>) -> bool {
        !self.0.classify(result).is_failure()
    }
}
