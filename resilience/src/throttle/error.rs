//! The error [`Throttle`](super::Throttle) originates.

use std::fmt;

/// The call was refused locally, without reaching the upstream: it has
/// accepted too few of the recent requests. A rejection
/// ([`Rejection::Throttled`](crate::rejection::Rejection::Throttled)): the
/// edge answers `503`.
///
/// ```
/// use palisade_resilience::BoxError;
/// use palisade_resilience::throttle::error::Throttled;
///
/// let err: BoxError = Throttled::new(0.25).into();
/// assert_eq!(err.downcast_ref::<Throttled>().unwrap().probability(), 0.25);
/// assert_eq!(err.to_string(), "throttled locally: the upstream accepts too few requests (rejecting 25% of calls)");
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Throttled {
    probability: f64,
}

impl Throttled {
    /// A rejection made with reject probability `probability`.
    #[must_use]
    pub const fn new(probability: f64) -> Self {
        Self { probability }
    }

    /// The reject probability when the call was refused, within `0..1`.
    #[must_use]
    pub const fn probability(&self) -> f64 {
        self.probability
    }
}

impl fmt::Display for Throttled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "throttled locally: the upstream accepts too few requests (rejecting {:.0}% of calls)",
            self.probability * 100.0
        )
    }
}

impl std::error::Error for Throttled {}
