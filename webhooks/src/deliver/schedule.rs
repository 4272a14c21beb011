//! When a failed delivery is tried again.

use std::time::Duration;

/// The delays between attempts, each spread by a jitter.
///
/// `delays[0]` is the wait before the first attempt (normally zero),
/// `delays[k]` the wait after the `k`-th failed attempt; after the last one
/// the delivery is dead. The default is Svix's: immediately, 5 s, 5 min,
/// 30 min, 2 h, 5 h, 10 h, 10 h (eight attempts over about 28 hours), each
/// delay multiplied by a factor drawn from `1 ± 0.2`.
///
/// The jitter is derived from the delivery id and the attempt number, not
/// from a random generator: retries of different deliveries spread out just
/// as well, and the same delivery always gets the same schedule, which
/// tests (and operators reading the attempt log) can rely on.
///
/// ```
/// use std::time::Duration;
/// use palisade_webhooks::deliver::RetrySchedule;
///
/// let schedule = RetrySchedule::new(vec![Duration::ZERO, Duration::from_secs(10)]).jitter(0.0);
/// assert_eq!(schedule.max_attempts(), 2);
/// assert_eq!(schedule.delay_after(1, 42), Some(Duration::from_secs(10)));
/// assert_eq!(schedule.delay_after(2, 42), None); // dead
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RetrySchedule {
    delays: Vec<Duration>,
    jitter: f64,
}

impl Default for RetrySchedule {
    fn default() -> Self {
        const MIN: u64 = 60;
        const HOUR: u64 = 60 * MIN;
        Self::new(
            [
                0,
                5,
                5 * MIN,
                30 * MIN,
                2 * HOUR,
                5 * HOUR,
                10 * HOUR,
                10 * HOUR,
            ]
            .into_iter()
            .map(Duration::from_secs)
            .collect(),
        )
    }
}

impl RetrySchedule {
    /// A schedule with these delays and the default ±20% jitter. An empty
    /// list means a single attempt.
    #[must_use]
    pub fn new(delays: Vec<Duration>) -> Self {
        let delays = if delays.is_empty() {
            vec![Duration::ZERO]
        } else {
            delays
        };
        Self {
            delays,
            jitter: 0.2,
        }
    }

    /// Spreads each delay by up to `fraction` either way (clamped to
    /// `0.0..=1.0`; `0.0` makes the schedule exact).
    #[must_use]
    pub fn jitter(mut self, fraction: f64) -> Self {
        self.jitter = if fraction.is_finite() {
            fraction.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self
    }

    /// How many attempts a delivery gets before it is dead.
    #[must_use]
    pub fn max_attempts(&self) -> u32 {
        u32::try_from(self.delays.len()).unwrap_or(u32::MAX)
    }

    /// The wait after `attempts_made` failed attempts of delivery
    /// `delivery_id`, or `None` when that was the last attempt.
    #[must_use]
    pub fn delay_after(&self, attempts_made: u32, delivery_id: i64) -> Option<Duration> {
        let base = *self.delays.get(usize::try_from(attempts_made).ok()?)?;
        if self.jitter == 0.0 || base.is_zero() {
            return Some(base);
        }
        // A uniform draw in [-1, 1) from the delivery and the attempt.
        let bits = splitmix64(delivery_id.cast_unsigned() ^ (u64::from(attempts_made) << 48));
        #[allow(clippy::cast_precision_loss)]
        let unit = (bits >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
        Some(base.mul_f64(1.0 + self.jitter * unit))
    }
}

/// A fast, well-mixed 64-bit hash (Steele, Lea and Flood's SplitMix64).
fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_eight_attempts_over_about_28_hours() {
        let s = RetrySchedule::default().jitter(0.0);
        assert_eq!(s.max_attempts(), 8);
        let total: Duration = (0..8).filter_map(|k| s.delay_after(k, 1)).sum();
        assert_eq!(
            total,
            Duration::from_secs(5 + 300 + 1800 + 7200 + 18000 + 72000)
        );
        assert_eq!(s.delay_after(0, 1), Some(Duration::ZERO));
        assert_eq!(s.delay_after(8, 1), None);
    }

    #[test]
    fn jitter_stays_within_its_fraction_and_spreads_deliveries() {
        let s = RetrySchedule::default();
        let base = Duration::from_secs(300);
        let mut seen = std::collections::HashSet::new();
        for id in 0..1000 {
            let d = s.delay_after(2, id).expect("in schedule");
            assert!(d >= base.mul_f64(0.8) && d <= base.mul_f64(1.2), "{d:?}");
            seen.insert(d.as_millis());
            assert_eq!(s.delay_after(2, id), Some(d), "stable for a delivery");
        }
        assert!(seen.len() > 900, "deliveries retry at spread-out times");
    }

    #[test]
    fn an_empty_schedule_is_one_attempt() {
        assert_eq!(RetrySchedule::new(vec![]).max_attempts(), 1);
    }
}
