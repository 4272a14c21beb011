//! The error [`Timeout`](super::Timeout) originates.

use std::fmt;
use std::time::Duration;

/// The inner service did not answer within the configured timeout.
///
/// Recover it from a [`BoxError`](crate::BoxError) with `downcast_ref`:
///
/// ```
/// use std::time::Duration;
/// use palisade_resilience::BoxError;
/// use palisade_resilience::timeout::error::Elapsed;
///
/// let err: BoxError = Elapsed::new(Duration::from_millis(250)).into();
/// let elapsed = err.downcast_ref::<Elapsed>().unwrap();
/// assert_eq!(elapsed.timeout(), Duration::from_millis(250));
/// assert_eq!(err.to_string(), "request timed out after 250ms");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed {
    timeout: Duration,
}

impl Elapsed {
    /// An `Elapsed` error for a call that was given `timeout`.
    #[must_use]
    pub const fn new(timeout: Duration) -> Self {
        Self { timeout }
    }

    /// The timeout the call exceeded.
    #[must_use]
    pub const fn timeout(&self) -> Duration {
        self.timeout
    }
}

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "request timed out after {:?}", self.timeout)
    }
}

impl std::error::Error for Elapsed {}

/// A request's `x-request-timeout` header was not a whole number of
/// milliseconds, so the [HTTP timeout](super::TimeoutLayer::http) refused
/// it before calling the inner service (the HTTP edge, feature `axum`, answers
/// 400).
///
/// ```
/// use palisade_resilience::timeout::error::InvalidTimeout;
///
/// let err = InvalidTimeout::new();
/// assert_eq!(err.to_string(), "the x-request-timeout header must be a whole number of milliseconds");
/// ```
#[cfg(feature = "http")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InvalidTimeout(());

#[cfg(feature = "http")]
impl InvalidTimeout {
    /// The error for a malformed header.
    #[must_use]
    pub const fn new() -> Self {
        Self(())
    }
}

#[cfg(feature = "http")]
impl fmt::Display for InvalidTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the {} header must be a whole number of milliseconds",
            super::http::X_REQUEST_TIMEOUT
        )
    }
}

#[cfg(feature = "http")]
impl std::error::Error for InvalidTimeout {}
