//! Observed latencies over a rolling window, for a hedge delay that follows
//! them: a percentile of the window, or its average plus a margin.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// Log-linear buckets of microseconds: 4 per power of two (each within 25 %
/// of its value), from 1 µs to beyond a day.
const BUCKETS: usize = 4 * 40;
/// `delay_nanos` before any percentile is known.
const UNKNOWN: u64 = u64::MAX;

/// What the delay is computed from at the end of a window.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Statistic {
    /// The upper bound of the bucket holding this percentile (`0..=100`).
    Percentile(f64),
    /// The exact mean latency times this factor (`1 + x / 100`, at least 1).
    MeanTimes(f64),
}

/// A histogram over the current window; at the end of each window, the
/// statistic of that window becomes the delay for the next one.
pub(crate) struct Latencies {
    statistic: Statistic,
    window: Duration,
    min_samples: u64,
    delay_nanos: AtomicU64,
    current: Mutex<Histogram>,
}

struct Histogram {
    started: Instant,
    counts: [u64; BUCKETS],
    total: u64,
    /// The exact sum of the window's latencies, for the mean (buckets are
    /// only within 25 %).
    sum_nanos: u128,
}

impl Latencies {
    /// `statistic` validated by the builder.
    pub(crate) fn new(statistic: Statistic, window: Duration, min_samples: u64) -> Self {
        Self {
            statistic,
            window,
            min_samples,
            delay_nanos: AtomicU64::new(UNKNOWN),
            current: Mutex::new(Histogram {
                started: Instant::now(),
                counts: [0; BUCKETS],
                total: 0,
                sum_nanos: 0,
            }),
        }
    }

    /// The delay, once `min_samples` latencies were seen.
    #[inline]
    pub(crate) fn delay(&self) -> Option<Duration> {
        match self.delay_nanos.load(Ordering::Relaxed) {
            UNKNOWN => None,
            nanos => Some(Duration::from_nanos(nanos)),
        }
    }

    pub(crate) fn record(&self, latency: Duration) {
        let now = Instant::now();
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if now.saturating_duration_since(current.started) >= self.window {
            // The window is over: its percentile is the delay of the next one.
            if current.total >= self.min_samples {
                self.publish(&current);
            }
            current.counts = [0; BUCKETS];
            current.total = 0;
            current.sum_nanos = 0;
            current.started = now;
        }
        current.counts[bucket(latency)] += 1;
        current.total += 1;
        current.sum_nanos += latency.as_nanos();
        // Until a first window ends, every `min_samples` samples give a delay.
        if self.delay().is_none() && current.total.is_multiple_of(self.min_samples.max(1)) {
            self.publish(&current);
        }
    }

    fn publish(&self, histogram: &Histogram) {
        let delay = match self.statistic {
            Statistic::Percentile(p) => percentile(histogram, p),
            Statistic::MeanTimes(factor) => mean(histogram).mul_f64(factor),
        };
        let nanos = u64::try_from(delay.as_nanos()).unwrap_or(UNKNOWN - 1);
        self.delay_nanos.store(nanos, Ordering::Relaxed);
    }
}

/// The bucket of `latency`.
fn bucket(latency: Duration) -> usize {
    let micros = u64::try_from(latency.as_micros())
        .unwrap_or(u64::MAX)
        .max(1);
    if micros < 4 {
        // 1..=3 (0 is counted as 1).
        #[allow(clippy::cast_possible_truncation)]
        return micros as usize;
    }
    let exponent = 63 - micros.leading_zeros() as usize; // ≥ 2
    let sub = usize::try_from((micros >> (exponent - 2)) & 3).unwrap_or(0);
    (4 * (exponent - 1) + sub).min(BUCKETS - 1)
}

/// The exclusive upper bound of bucket `index`, in microseconds.
fn upper_micros(index: usize) -> u64 {
    if index < 4 {
        return index as u64 + 1;
    }
    let exponent = index / 4 + 1;
    let sub = (index % 4) as u64;
    ((4 + sub) << (exponent - 2)) + (1 << (exponent - 2))
}

/// The mean latency of a window with at least one sample.
fn mean(histogram: &Histogram) -> Duration {
    let mean = histogram.sum_nanos / u128::from(histogram.total.max(1));
    Duration::from_nanos(u64::try_from(mean).unwrap_or(u64::MAX))
}

/// The upper bound of the bucket holding the `p`th percentile.
fn percentile(histogram: &Histogram, p: f64) -> Duration {
    // `p` is within 0..=100 and `total` far below 2^52.
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let rank = ((p / 100.0) * histogram.total as f64).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (index, count) in histogram.counts.iter().enumerate() {
        seen += count;
        if seen >= rank {
            return Duration::from_micros(upper_micros(index));
        }
    }
    Duration::from_micros(upper_micros(BUCKETS - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_ordered_and_bound_their_values() {
        let mut last = 0;
        for micros in [
            1_u64,
            2,
            3,
            4,
            5,
            7,
            8,
            9,
            15,
            16,
            100,
            1_000,
            10_000,
            1_000_000,
            1 << 35,
        ] {
            let index = bucket(Duration::from_micros(micros));
            assert!(index >= last, "{micros}");
            last = index;
            let upper = upper_micros(index);
            assert!(upper > micros, "{micros} < {upper}");
            // Within 25 % (plus one for the smallest values).
            assert!(upper <= micros + micros / 4 + 1, "{micros}: {upper}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_delay_is_the_percentile_of_the_last_window() {
        let latencies = Latencies::new(Statistic::Percentile(90.0), Duration::from_secs(10), 10);
        assert_eq!(latencies.delay(), None);
        for i in 0..100 {
            let ms = if i % 10 == 9 { 1_000 } else { 10 };
            latencies.record(Duration::from_millis(ms));
        }
        // 90 % of the calls took 10 ms: the delay is 10 ms, rounded up to
        // its bucket's bound.
        let delay = latencies.delay().unwrap();
        assert!(
            delay > Duration::from_millis(10) && delay <= Duration::from_micros(12_289),
            "{delay:?}"
        );

        // The next window is slow; its percentile takes over when it ends.
        tokio::time::advance(Duration::from_secs(10)).await;
        for _ in 0..100 {
            latencies.record(Duration::from_millis(200));
        }
        tokio::time::advance(Duration::from_secs(10)).await;
        latencies.record(Duration::from_millis(200));
        let delay = latencies.delay().unwrap();
        assert!(
            delay > Duration::from_millis(200) && delay <= Duration::from_millis(250),
            "{delay:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_delay_is_the_exact_mean_of_the_last_window_plus_the_margin() {
        // Average plus 50 %.
        let latencies = Latencies::new(Statistic::MeanTimes(1.5), Duration::from_secs(10), 4);
        for ms in [10, 20, 30] {
            latencies.record(Duration::from_millis(ms));
        }
        assert_eq!(latencies.delay(), None, "fewer than min_samples");
        latencies.record(Duration::from_millis(40));
        // Mean 25 ms (not a bucket bound) × 1.5.
        assert_eq!(latencies.delay(), Some(Duration::from_micros(37_500)));

        // The window goes on: its mean is published only when it ends.
        latencies.record(Duration::from_millis(100));
        assert_eq!(latencies.delay(), Some(Duration::from_micros(37_500)));
        tokio::time::advance(Duration::from_secs(10)).await;
        latencies.record(Duration::from_millis(1));
        // (10 + 20 + 30 + 40 + 100) / 5 = 40 ms, × 1.5.
        assert_eq!(latencies.delay(), Some(Duration::from_millis(60)));
    }
}
