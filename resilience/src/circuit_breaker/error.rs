//! The error the breaker originates.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::state::State;

/// The breaker rejected the call without reaching the inner service.
///
/// Returned (boxed in a [`BoxError`](crate::BoxError)) while the breaker is
/// Open, ForcedOpen, or HalfOpen with every probe already admitted. Recover it
/// with `downcast_ref::<CircuitOpen>()`; the HTTP edge maps it to
/// `503 Service Unavailable` with `Retry-After` taken from
/// [`retry_after`](Self::retry_after).
#[derive(Debug, Clone)]
pub struct CircuitOpen {
    name: Arc<str>,
    state: State,
    retry_after: Option<Duration>,
}

impl CircuitOpen {
    pub(crate) fn new(name: Arc<str>, state: State, retry_after: Option<Duration>) -> Self {
        Self {
            name,
            state,
            retry_after,
        }
    }

    /// How long until the breaker admits a probe call.
    ///
    /// - Open: the remaining wait (`Some`, never zero).
    /// - HalfOpen: `None` — probes are in flight and the next one is admitted
    ///   as soon as they are judged, which has no scheduled time.
    /// - ForcedOpen: `None` — nothing is scheduled; an operator must
    ///   [`reset`](super::CircuitBreakerHandle::reset) the breaker.
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// The name of the breaker that rejected the call.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The state the breaker was in when it rejected the call.
    #[must_use]
    pub fn state(&self) -> State {
        self.state
    }
}

impl fmt::Display for CircuitOpen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "circuit breaker `{}` is {}", self.name, self.state)?;
        if let Some(after) = self.retry_after {
            write!(f, "; retry after {} ms", after.as_millis())?;
        }
        Ok(())
    }
}

impl std::error::Error for CircuitOpen {}
