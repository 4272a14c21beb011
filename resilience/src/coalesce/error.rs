//! The errors [`Coalesce`](super::Coalesce) originates.

use std::error::Error;
use std::fmt;
use std::sync::Arc;

use crate::BoxError;

/// Too many callers were already waiting for the same key: the call was
/// refused without joining the flight and without reaching the inner
/// service. A rejection ([`Rejection::CoalesceFull`](crate::rejection::Rejection::CoalesceFull)):
/// the edge answers `503`.
///
/// ```
/// use palisade_resilience::BoxError;
/// use palisade_resilience::coalesce::error::CoalesceFull;
///
/// let err: BoxError = CoalesceFull::new(64).into();
/// assert_eq!(err.downcast_ref::<CoalesceFull>().unwrap().max_waiters(), 64);
/// assert_eq!(err.to_string(), "coalescing refused the call: 64 callers already wait for the same key");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoalesceFull {
    max_waiters: usize,
}

impl CoalesceFull {
    /// A rejection by a layer that lets `max_waiters` callers wait per key.
    #[must_use]
    pub const fn new(max_waiters: usize) -> Self {
        Self { max_waiters }
    }

    /// How many callers may wait for one key's flight.
    #[must_use]
    pub const fn max_waiters(&self) -> usize {
        self.max_waiters
    }
}

impl fmt::Display for CoalesceFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "coalescing refused the call: {} callers already wait for the same key",
            self.max_waiters
        )
    }
}

impl Error for CoalesceFull {}

/// The shared call failed: every caller that waited for it gets this error,
/// and [`source`](Error::source) (or [`get_ref`](Self::get_ref)) is the
/// inner service's error, shared rather than copied.
///
/// A caller that was alone on its flight gets the inner error itself,
/// unwrapped. Lookups that walk the source chain (such as
/// [`rejection::find`](crate::rejection::find)) see through this wrapper.
///
/// ```
/// use std::sync::Arc;
/// use palisade_resilience::BoxError;
/// use palisade_resilience::coalesce::error::CoalescedError;
///
/// let shared: Arc<BoxError> = Arc::new("connection reset".into());
/// let err = CoalescedError::new(shared);
/// assert_eq!(err.to_string(), "the shared call failed: connection reset");
/// assert_eq!(std::error::Error::source(&err).unwrap().to_string(), "connection reset");
/// ```
#[derive(Debug, Clone)]
pub struct CoalescedError {
    inner: Arc<BoxError>,
}

impl CoalescedError {
    /// Wraps the error of a shared call.
    #[must_use]
    pub const fn new(inner: Arc<BoxError>) -> Self {
        Self { inner }
    }

    /// The inner service's error.
    #[must_use]
    pub fn get_ref(&self) -> &(dyn Error + Send + Sync + 'static) {
        &**self.inner
    }
}

impl fmt::Display for CoalescedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the shared call failed: {}", self.inner)
    }
}

impl Error for CoalescedError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&**self.inner)
    }
}
