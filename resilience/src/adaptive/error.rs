//! The error [`AdaptiveLimit`](super::AdaptiveLimit) originates.

use std::fmt;
use std::time::Duration;

/// The adaptive limit was reached and the call could not wait (or waited
/// `max_wait` in vain). The call never reached the inner service. A
/// rejection ([`Rejection::LimitReached`](crate::rejection::Rejection::LimitReached)):
/// the edge answers `503` with the problem code `limit_reached`.
///
/// ```
/// use palisade_resilience::BoxError;
/// use palisade_resilience::adaptive::error::LimitReached;
///
/// let err: BoxError = LimitReached::new(21, None).into();
/// let reached = err.downcast_ref::<LimitReached>().unwrap();
/// assert_eq!(reached.limit(), 21);
/// assert!(!reached.is_wait_expired());
/// assert_eq!(err.to_string(), "concurrency limit reached: 21 calls in flight and no room to wait");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitReached {
    limit: usize,
    waited: Option<Duration>,
}

impl LimitReached {
    /// A rejection at `limit`, after waiting `waited` in the queue (`None`:
    /// rejected at once).
    #[must_use]
    pub const fn new(limit: usize, waited: Option<Duration>) -> Self {
        Self { limit, waited }
    }

    /// The limit in force when the call was rejected.
    #[must_use]
    pub const fn limit(&self) -> usize {
        self.limit
    }

    /// Whether the call was rejected after waiting `max_wait` in the queue.
    #[must_use]
    pub const fn is_wait_expired(&self) -> bool {
        self.waited.is_some()
    }
}

impl fmt::Display for LimitReached {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.waited {
            None => write!(
                f,
                "concurrency limit reached: {} calls in flight and no room to wait",
                self.limit
            ),
            Some(waited) => write!(
                f,
                "concurrency limit reached: no place within {waited:?} (limit {})",
                self.limit
            ),
        }
    }
}

impl std::error::Error for LimitReached {}
