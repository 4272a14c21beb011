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
