//! How many calls a limiter admits: a rate and a burst.

use std::num::NonZeroU32;
use std::time::Duration;

use crate::ConfigError;

/// The longest replenish interval times burst we accept: governor keeps its
/// state in `u64` nanoseconds, and a quota beyond a century is a typo.
const MAX_BURST_WINDOW: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// The shortest replenish interval governor can represent.
const MIN_INTERVAL: Duration = Duration::from_nanos(1);

/// A rate-limiting quota: one call earned back every interval, with a burst.
///
/// The limiter follows the generic cell rate algorithm (GCRA): one call
/// becomes available every `period / count`, and up to `burst` unused calls
/// accumulate (by default `burst == count`, so a fresh limiter admits `count`
/// calls at once and then one per interval).
///
/// A `Quota` is always valid: the per-second, per-minute and per-hour
/// constructors take a [`NonZeroU32`] and cannot fail, so a limiter built
/// from one cannot fail either. Only settings that interact are checked and
/// return [`ConfigError`]: a free period that is zero or shorter than one
/// nanosecond per call ([`Quota::with_period`]) and a burst whose refill
/// would exceed a century ([`Quota::burst`]).
///
/// ```
/// use std::num::NonZeroU32;
/// use std::time::Duration;
/// use palisade_resilience::rate_limit::Quota;
///
/// const HUNDRED: NonZeroU32 = NonZeroU32::new(100).unwrap();
/// const TEN: NonZeroU32 = NonZeroU32::new(10).unwrap();
///
/// let quota = Quota::per_minute(HUNDRED).burst(TEN)?;
/// assert_eq!(quota.replenish_interval(), Duration::from_millis(600));
/// assert_eq!(quota.burst_size(), 10);
///
/// assert!(Quota::with_period(HUNDRED, Duration::ZERO).is_err());
/// # Ok::<(), palisade_resilience::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct Quota {
    pub(crate) burst: NonZeroU32,
    pub(crate) replenish_1_per: Duration,
}

impl Quota {
    /// `count` calls per `period`; the burst defaults to `count`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Zero`] when `period` is zero or `period / count` is
    /// below one nanosecond; [`ConfigError::OutOfRange`] when `period` exceeds
    /// a century.
    pub fn with_period(count: NonZeroU32, period: Duration) -> Result<Self, ConfigError> {
        if period.is_zero() {
            return Err(ConfigError::Zero { field: "period" });
        }
        let interval = period / count.get();
        if interval.is_zero() {
            return Err(ConfigError::Zero {
                field: "period / count",
            });
        }
        Self {
            burst: NonZeroU32::MIN,
            replenish_1_per: interval,
        }
        .burst(count)
    }

    /// `count` calls per `period`, where the period is a fixed constant;
    /// rates above one call per nanosecond are capped at one per nanosecond.
    const fn per(count: NonZeroU32, period: Duration) -> Self {
        let interval = period.as_nanos() / count.get() as u128;
        let replenish_1_per = if interval == 0 {
            MIN_INTERVAL
        } else {
            // An hour in nanoseconds fits in a u64.
            #[allow(clippy::cast_possible_truncation)]
            Duration::from_nanos(interval as u64)
        };
        Self {
            burst: count,
            replenish_1_per,
        }
    }

    /// `count` calls per second (at most one per nanosecond).
    pub const fn per_second(count: NonZeroU32) -> Self {
        Self::per(count, Duration::from_secs(1))
    }

    /// `count` calls per minute.
    pub const fn per_minute(count: NonZeroU32) -> Self {
        Self::per(count, Duration::from_secs(60))
    }

    /// `count` calls per hour.
    pub const fn per_hour(count: NonZeroU32) -> Self {
        Self::per(count, Duration::from_secs(3600))
    }

    /// The largest number of calls admitted at once after a quiet period
    /// (by default the `count` of the constructor).
    ///
    /// # Errors
    ///
    /// [`ConfigError::OutOfRange`] when earning back the whole burst
    /// (`interval × burst`) would take more than a century.
    pub fn burst(mut self, burst: NonZeroU32) -> Result<Self, ConfigError> {
        let window = self
            .replenish_1_per
            .checked_mul(burst.get())
            .unwrap_or(Duration::MAX);
        if window > MAX_BURST_WINDOW {
            return Err(ConfigError::OutOfRange {
                field: "period / count * burst (seconds)",
                value: window.as_secs_f64(),
                min: 0.0,
                max: MAX_BURST_WINDOW.as_secs_f64(),
            });
        }
        self.burst = burst;
        Ok(self)
    }

    /// The burst size (the `RateLimit-Limit` value).
    #[must_use]
    pub const fn burst_size(&self) -> u32 {
        self.burst.get()
    }

    /// The time it takes to earn back one call (`period / count`).
    #[must_use]
    pub const fn replenish_interval(&self) -> Duration {
        self.replenish_1_per
    }

    pub(crate) fn to_governor(self) -> governor::Quota {
        // The interval is never zero, so `with_period` returns `Some`; the
        // fallback only exists to avoid an unwrap.
        governor::Quota::with_period(self.replenish_1_per)
            .unwrap_or_else(|| governor::Quota::per_second(self.burst))
            .allow_burst(self.burst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nz(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).unwrap()
    }

    #[test]
    fn rejects_interacting_values() {
        assert_eq!(
            Quota::with_period(nz(1), Duration::ZERO),
            Err(ConfigError::Zero { field: "period" })
        );
        assert!(Quota::with_period(nz(1), Duration::from_nanos(2)).is_ok());
        assert_eq!(
            Quota::with_period(nz(10), Duration::from_nanos(5)),
            Err(ConfigError::Zero {
                field: "period / count"
            })
        );
        assert!(matches!(
            Quota::per_hour(nz(1)).burst(nz(u32::MAX)),
            Err(ConfigError::OutOfRange { .. })
        ));
        assert!(matches!(
            Quota::with_period(nz(1), Duration::from_secs(200 * 365 * 24 * 3600)),
            Err(ConfigError::OutOfRange { .. })
        ));
    }

    #[test]
    fn presets_never_fail_and_cap_at_one_call_per_nanosecond() {
        assert_eq!(
            Quota::per_second(nz(4)).replenish_interval(),
            Duration::from_millis(250)
        );
        assert_eq!(Quota::per_hour(nz(7)).burst_size(), 7);
        assert_eq!(
            Quota::per_second(nz(u32::MAX)).replenish_interval(),
            Duration::from_nanos(1)
        );
    }

    #[test]
    fn governor_quota_matches() {
        let q = Quota::with_period(nz(100), Duration::from_secs(60))
            .and_then(|q| q.burst(nz(7)))
            .unwrap();
        let g = q.to_governor();
        assert_eq!(g.burst_size().get(), 7);
        assert_eq!(g.replenish_interval(), Duration::from_millis(600));
    }
}
