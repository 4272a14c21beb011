//! The error [`Chaos`](super::Chaos) injects.

use std::fmt;

/// A failure injected by the chaos layer instead of calling the inner service.
///
/// ```
/// use palisade_resilience::BoxError;
/// use palisade_resilience::chaos::error::ChaosError;
///
/// let err: BoxError = ChaosError::new().into();
/// assert!(err.is::<ChaosError>());
/// assert_eq!(err.to_string(), "fault injected by the chaos layer");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChaosError(());

impl ChaosError {
    /// A new injected error.
    #[must_use]
    pub const fn new() -> Self {
        Self(())
    }
}

impl fmt::Display for ChaosError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("fault injected by the chaos layer")
    }
}

impl std::error::Error for ChaosError {}
