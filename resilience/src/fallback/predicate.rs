//! Which errors a fallback answers: [`Predicate`], [`AllErrors`],
//! [`Rejections`] and [`is_rejection`].

use std::error::Error;

use crate::BoxError;

/// Decides whether an error is answered by the fallback (`true`) or returned
/// to the caller unchanged (`false`).
///
/// Implemented by [`AllErrors`], [`Rejections`] and any
/// `Fn(&BoxError) -> bool`.
pub trait Predicate {
    /// Whether the fallback should answer `error`.
    fn should_fallback(&self, error: &BoxError) -> bool;
}

impl<F> Predicate for F
where
    F: Fn(&BoxError) -> bool,
{
    fn should_fallback(&self, error: &BoxError) -> bool {
        self(error)
    }
}

/// Every error is answered by the fallback (the default).
#[derive(Debug, Clone, Copy, Default)]
pub struct AllErrors;

impl Predicate for AllErrors {
    fn should_fallback(&self, _: &BoxError) -> bool {
        true
    }
}

/// Only rejections by our own layers are answered by the fallback (see
/// [`is_rejection`]); errors of the inner service pass through.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rejections;

impl Predicate for Rejections {
    fn should_fallback(&self, error: &BoxError) -> bool {
        is_rejection(&**error)
    }
}

/// Whether `error`, or any error in its [`source`](Error::source) chain, is a
/// rejection originated by one of this crate's layers rather than a failure of
/// the inner service.
///
/// Recognised (when their features are enabled):
/// `circuit_breaker::error::CircuitOpen` (feature `circuit-breaker`),
/// `bulkhead::error::BulkheadFull` (`bulkhead`),
/// `rate_limit::error::RateLimited` (`rate-limit`) and
/// `timeout::error::Elapsed` (`timeout`). A rate limiter's
/// `BackendUnavailable` is not a rejection: it reports a broken dependency.
///
/// ```
/// use palisade_resilience::BoxError;
/// use palisade_resilience::fallback::is_rejection;
///
/// let refused: BoxError = std::io::Error::other("connection refused").into();
/// assert!(!is_rejection(&*refused));
///
/// # #[cfg(feature = "timeout")] {
/// use std::time::Duration;
/// use palisade_resilience::timeout::error::Elapsed;
///
/// let timed_out: BoxError = Elapsed::new(Duration::from_secs(1)).into();
/// assert!(is_rejection(&*timed_out));
/// # }
/// ```
#[must_use]
pub fn is_rejection(error: &(dyn Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(error) = next {
        if is_own_rejection(error) {
            return true;
        }
        next = error.source();
    }
    false
}

// One check per rejection type, each behind its feature.
#[allow(unused_variables)] // with none of the features on, nothing is recognised
fn is_own_rejection(error: &(dyn Error + 'static)) -> bool {
    #[cfg(feature = "circuit-breaker")]
    if error.is::<crate::circuit_breaker::error::CircuitOpen>() {
        return true;
    }
    #[cfg(feature = "bulkhead")]
    if error.is::<crate::bulkhead::error::BulkheadFull>() {
        return true;
    }
    #[cfg(feature = "rate-limit")]
    if error.is::<crate::rate_limit::error::RateLimited>() {
        return true;
    }
    #[cfg(feature = "timeout")]
    if error.is::<crate::timeout::error::Elapsed>() {
        return true;
    }
    false
}
