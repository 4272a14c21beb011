//! governor's [`Clock`] over our [`crate::clock::Clock`]: the TSC in
//! production, `tokio::time` when it is paused, so paused-time tests drive the
//! limiter.

use governor::clock::{Clock, ReasonablyRealtime};
use governor::nanos::Nanos;

/// Reports our clock's nanoseconds since its origin as governor's [`Nanos`].
///
/// governor's own clocks read `std::time::Instant` (or quanta directly),
/// which `tokio::time::pause` cannot stop; reporting [`Nanos`] since an origin
/// keeps the state in governor's native unit and sidesteps the orphan rule
/// that forbids implementing governor's `Reference` for tokio's `Instant`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GovernorClock {
    clock: crate::clock::Clock,
}

impl GovernorClock {
    /// Over [`crate::clock::Clock::new`]: the TSC, or tokio's time if paused.
    pub(crate) fn new() -> Self {
        Self::with(crate::clock::Clock::new())
    }

    pub(crate) fn with(clock: crate::clock::Clock) -> Self {
        Self { clock }
    }
}

impl Clock for GovernorClock {
    type Instant = Nanos;

    #[inline]
    fn now(&self) -> Nanos {
        Nanos::from(self.clock.now_nanos())
    }
}

impl ReasonablyRealtime for GovernorClock {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn follows_paused_time() {
        let clock = GovernorClock::new();
        let before = clock.now();
        tokio::time::advance(Duration::from_millis(1500)).await;
        assert_eq!(
            Duration::from(clock.now()) - Duration::from(before),
            Duration::from_millis(1500)
        );
    }

    /// Outside paused time the limiter reads the TSC: it still limits, and
    /// reports how long to wait.
    #[tokio::test]
    async fn a_running_runtime_limits_on_the_tsc() {
        use crate::rate_limit::{Global, Quota};

        let limiter = Global::new(Quota::per_hour(std::num::NonZeroU32::MIN));
        assert!(limiter.check_now().is_ok());
        let limited = limiter.check_now().unwrap_err();
        let wait = limited.retry_after();
        assert!(wait > Duration::from_secs(3_500), "{wait:?}");
        assert!(wait <= Duration::from_secs(3_600), "{wait:?}");
    }

    /// A limiter forced onto tokio's clock follows paused time.
    #[tokio::test(start_paused = true)]
    async fn a_forced_tokio_clock_refills_with_paused_time() {
        use crate::rate_limit::{Global, Quota};

        let limiter = Global::with_clock(
            Quota::per_second(std::num::NonZeroU32::MIN),
            crate::clock::Clock::tokio(),
        );
        assert!(limiter.check_now().is_ok());
        assert!(limiter.check_now().is_err());
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(limiter.check_now().is_ok());
    }
}
