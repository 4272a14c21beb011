//! How many calls a limiter admits: a rate and a burst.

use std::num::NonZeroU32;
use std::time::Duration;

use crate::ConfigError;

/// The longest replenish interval times burst we accept: governor keeps its
/// state in `u64` nanoseconds, and a quota beyond a century is a typo.
const MAX_BURST_WINDOW: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// A rate-limiting quota: `count` calls per `period`, with a burst.
///
/// The limiter follows the generic cell rate algorithm (GCRA): one call
/// becomes available every `period / count`, and up to `burst` unused calls
/// accumulate (by default `burst == count`, so a fresh limiter admits `count`
/// calls at once and then one per interval).
///
/// A `Quota` is only a description; it is validated when a layer is built from
/// it, so a bad value from a configuration file surfaces as a
/// [`ConfigError`] rather than a panic.
///
/// ```
/// use std::time::Duration;
/// use palisade_resilience::rate_limit::Quota;
///
/// let quota = Quota::new(100, Duration::from_secs(60)).burst(10);
/// assert_eq!(quota.replenish_interval().unwrap(), Duration::from_millis(600));
/// assert_eq!(quota.burst_size(), 10);
///
/// assert!(Quota::per_second(0).validate().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct Quota {
    count: u32,
    period: Duration,
    burst: Option<u32>,
}

impl Quota {
    /// `count` calls per `period`; the burst defaults to `count`.
    pub const fn new(count: u32, period: Duration) -> Self {
        Self {
            count,
            period,
            burst: None,
        }
    }

    /// `count` calls per second.
    pub const fn per_second(count: u32) -> Self {
        Self::new(count, Duration::from_secs(1))
    }

    /// `count` calls per minute.
    pub const fn per_minute(count: u32) -> Self {
        Self::new(count, Duration::from_secs(60))
    }

    /// `count` calls per hour.
    pub const fn per_hour(count: u32) -> Self {
        Self::new(count, Duration::from_secs(3600))
    }

    /// The largest number of calls admitted at once after a quiet period.
    pub const fn burst(mut self, burst: u32) -> Self {
        self.burst = Some(burst);
        self
    }

    /// The burst size: the explicit one, or `count`.
    #[must_use]
    pub const fn burst_size(&self) -> u32 {
        match self.burst {
            Some(b) => b,
            None => self.count,
        }
    }

    /// The time it takes to earn back one call (`period / count`).
    ///
    /// # Errors
    ///
    /// Returns [`ConfigError`] when the quota is invalid (see [`Quota::validate`]).
    pub fn replenish_interval(&self) -> Result<Duration, ConfigError> {
        self.validate().map(|q| q.replenish_1_per)
    }

    /// Checks the quota and converts it for the limiter.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Zero`] when `count`, `period` or `burst` is zero or the
    /// interval `period / count` is below one nanosecond, and
    /// [`ConfigError::OutOfRange`] when `interval × burst` exceeds a century.
    pub fn validate(&self) -> Result<Validated, ConfigError> {
        let count = NonZeroU32::new(self.count).ok_or(ConfigError::Zero { field: "count" })?;
        if self.period.is_zero() {
            return Err(ConfigError::Zero { field: "period" });
        }
        let burst =
            NonZeroU32::new(self.burst_size()).ok_or(ConfigError::Zero { field: "burst" })?;
        let interval = self.period / count.get();
        if interval.is_zero() {
            return Err(ConfigError::Zero {
                field: "period / count",
            });
        }
        let window = interval.checked_mul(burst.get()).unwrap_or(Duration::MAX);
        if window > MAX_BURST_WINDOW {
            return Err(ConfigError::OutOfRange {
                field: "period / count * burst (seconds)",
                value: window.as_secs_f64(),
                min: 0.0,
                max: MAX_BURST_WINDOW.as_secs_f64(),
            });
        }
        Ok(Validated {
            burst,
            replenish_1_per: interval,
        })
    }
}

/// A [`Quota`] that passed validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validated {
    pub(crate) burst: NonZeroU32,
    pub(crate) replenish_1_per: Duration,
}

impl Validated {
    /// The burst size (the `RateLimit-Limit` value).
    #[must_use]
    pub const fn burst(&self) -> u32 {
        self.burst.get()
    }

    /// The time it takes to earn back one call.
    #[must_use]
    pub const fn replenish_interval(&self) -> Duration {
        self.replenish_1_per
    }

    pub(crate) fn to_governor(self) -> governor::Quota {
        // `validate` rejected a zero interval, so `with_period` returns `Some`;
        // the fallback only exists to avoid an unwrap.
        governor::Quota::with_period(self.replenish_1_per)
            .unwrap_or_else(|| governor::Quota::per_second(self.burst))
            .allow_burst(self.burst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_zero_and_huge() {
        assert_eq!(
            Quota::per_second(0).validate(),
            Err(ConfigError::Zero { field: "count" })
        );
        assert_eq!(
            Quota::new(1, Duration::ZERO).validate(),
            Err(ConfigError::Zero { field: "period" })
        );
        assert_eq!(
            Quota::per_second(5).burst(0).validate(),
            Err(ConfigError::Zero { field: "burst" })
        );
        assert!(
            Quota::new(1, Duration::from_nanos(2))
                .burst(1)
                .validate()
                .is_ok()
        );
        assert_eq!(
            Quota::new(10, Duration::from_nanos(5)).validate(),
            Err(ConfigError::Zero {
                field: "period / count"
            })
        );
        assert!(matches!(
            Quota::per_hour(1).burst(u32::MAX).validate(),
            Err(ConfigError::OutOfRange { .. })
        ));
    }

    #[test]
    fn governor_quota_matches() {
        let q = Quota::new(100, Duration::from_secs(60))
            .burst(7)
            .validate()
            .unwrap();
        let g = q.to_governor();
        assert_eq!(g.burst_size().get(), 7);
        assert_eq!(g.replenish_interval(), Duration::from_millis(600));
    }
}
