//! governor's [`Clock`] over `tokio::time`, so paused-time tests drive the limiter.

use governor::clock::{Clock, ReasonablyRealtime};
use governor::nanos::Nanos;
use tokio::time::Instant;

/// Reads `tokio::time::Instant` relative to the limiter's creation.
///
/// governor's own clocks read `std::time::Instant` (or quanta), which
/// `tokio::time::pause` cannot stop; reporting [`Nanos`] since an origin keeps
/// the state in governor's native unit and sidesteps the orphan rule that
/// forbids implementing governor's `Reference` for tokio's `Instant`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TokioClock {
    origin: Instant,
}

impl TokioClock {
    pub(crate) fn new() -> Self {
        Self {
            origin: Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    type Instant = Nanos;

    #[inline]
    fn now(&self) -> Nanos {
        // Saturates after ~584 years of uptime instead of panicking; u64
        // arithmetic rather than `as_nanos()`'s u128, as this runs per call.
        let elapsed = self.origin.elapsed();
        let nanos = elapsed
            .as_secs()
            .saturating_mul(1_000_000_000)
            .saturating_add(u64::from(elapsed.subsec_nanos()));
        Nanos::from(nanos)
    }
}

impl ReasonablyRealtime for TokioClock {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn follows_paused_time() {
        let clock = TokioClock::new();
        let before = clock.now();
        tokio::time::advance(Duration::from_millis(1500)).await;
        assert_eq!(
            Duration::from(clock.now()) - Duration::from(before),
            Duration::from_millis(1500)
        );
    }
}
