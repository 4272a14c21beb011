//! Which results are retried.

use std::time::Duration;

use crate::classify::Classify;

/// Decides, from the result of one attempt, whether to try again.
///
/// Implemented by closures `Fn(&Result<Res, E>) -> bool` (return `true` to
/// retry), by [`RetryErrors`] (the default: retry every error, never a
/// response, and wait as long as our own rejections ask) and by
/// [`RetryFailures`] (reuse a [`Classify`] implementation).
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

    /// A delay the result itself asks for (such as HTTP's `Retry-After`, or
    /// the [`retry_after`](crate::rejection::Rejection::retry_after) of one
    /// of our rejections). The retry then waits the **larger** of this and
    /// the backoff delay. If it is longer than the layer's
    /// `max_retry_after`, or the retry would start after `max_elapsed`, the
    /// layer stops at once and returns the result as it is (no retry budget
    /// is spent). The default asks for nothing.
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

/// The default predicate: every error is retried, no response is; our own
/// rejections are retried when they say the call may pass, after the wait
/// they ask for.
///
/// The rejections of this crate's layers (see [`crate::rejection`]), found
/// in a [`BoxError`](crate::BoxError) or its source chain:
///
/// | rejection                         | retried?                 | delay before the retry |
/// |-----------------------------------|--------------------------|------------------------|
/// | `CircuitOpen` (Open)              | yes                      | the larger of the backoff and its `retry_after` (the next probe) |
/// | `CircuitOpen` (HalfOpen)          | yes                      | the backoff (probes are in flight; no schedule) |
/// | `CircuitOpen` (ForcedOpen)        | **no**, returned at once | — (only an operator's reset admits calls again) |
/// | `RateLimited`                     | yes                      | the larger of the backoff and its `retry_after` |
/// | `BulkheadFull`                    | yes                      | the backoff: permits free as calls end, there is no schedule, so it is an ordinary retryable error |
/// | `Elapsed`                         | yes                      | the backoff, like any other error |
///
/// When the wait would end after `max_elapsed`, exceeds `max_retry_after`,
/// or no attempt is left, the rejection is returned unchanged at once,
/// without spending retry budget: retrying against a breaker that just said
/// "not for 10 s" would only burn attempts.
///
/// Errors are inspected when they are a `BoxError` (what our layers return)
/// or one of the rejection types itself; other error types are retried with
/// the backoff.
#[derive(Debug, Clone, Copy, Default)]
pub struct RetryErrors;

impl<Res, E: 'static> Predicate<Res, E> for RetryErrors {
    fn should_retry(&self, result: &Result<Res, E>) -> bool {
        match result {
            Ok(_) => false,
            Err(error) => rejection_may_pass(error),
        }
    }

    fn retry_after(&self, result: &Result<Res, E>) -> Option<Duration> {
        rejection_retry_after(result.as_ref().err()?)
    }
}

/// Whether an error is worth retrying as far as our rejections go: `false`
/// only for a rejection that no wait can end (a ForcedOpen breaker).
pub(crate) fn rejection_may_pass<E: 'static>(error: &E) -> bool {
    match crate::rejection::find_in(error) {
        #[cfg(feature = "circuit-breaker")]
        Some(crate::rejection::Rejection::CircuitOpen(open)) => {
            open.state() != crate::circuit_breaker::State::ForcedOpen
        }
        _ => true,
    }
}

/// The wait one of our rejections asks for, if `error` is one with a
/// schedule.
pub(crate) fn rejection_retry_after<E: 'static>(error: &E) -> Option<Duration> {
    crate::rejection::find_in(error)?.retry_after()
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
