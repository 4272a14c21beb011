//! The limit algorithms — AIMD, Vegas and Gradient2, after Netflix's
//! `concurrency-limits` — and the window sample they read.

use std::time::Duration;

use crate::ConfigError;
use crate::config::check_range;

/// What one sample window's calls tell an algorithm: every algorithm sees one
/// of these per window (as Netflix's `WindowedLimit` feeds its limits), not
/// one per call, so a burst of slow calls is one signal rather than many.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// The average latency of the window's calls, in nanoseconds.
    pub rtt_nanos: u64,
    /// The most calls in flight when one of the window's calls started.
    pub max_in_flight: usize,
    /// Whether any of the window's calls was dropped (its result classified
    /// as a failure, the sign of an overloaded service).
    pub dropped: bool,
}

/// Additive increase, multiplicative decrease: the limit grows by one per
/// window while calls succeed (and the limit is in use), and shrinks by
/// `backoff_ratio` after a window with a drop or a latency above
/// `latency_threshold` — TCP's congestion control, Netflix's `AIMDLimit`.
///
/// ```
/// use std::time::Duration;
/// use palisade_resilience::adaptive::Aimd;
///
/// let aimd = Aimd::default().backoff_ratio(0.8).latency_threshold(Duration::from_millis(250));
/// # let _ = aimd;
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Aimd {
    backoff_ratio: f64,
    latency_threshold: Duration,
}

impl Default for Aimd {
    /// Netflix's defaults: a ratio of 0.9 and a threshold of 5 s.
    fn default() -> Self {
        Self {
            backoff_ratio: 0.9,
            latency_threshold: Duration::from_secs(5),
        }
    }
}

impl Aimd {
    /// What the limit is multiplied by after a window with a drop (default
    /// 0.9); within `0.5..1` (exclusive of 1).
    #[must_use]
    pub const fn backoff_ratio(mut self, ratio: f64) -> Self {
        self.backoff_ratio = ratio;
        self
    }

    /// A window whose average latency is above this counts as a drop (default
    /// 5 s): set it to the latency the service must not exceed.
    #[must_use]
    pub const fn latency_threshold(mut self, threshold: Duration) -> Self {
        self.latency_threshold = threshold;
        self
    }

    fn validate(&self) -> Result<(), ConfigError> {
        check_range("backoff_ratio", self.backoff_ratio, 0.5, 1.0)?;
        if self.backoff_ratio >= 1.0 {
            return Err(ConfigError::OutOfRange {
                field: "backoff_ratio",
                value: self.backoff_ratio,
                min: 0.5,
                max: 0.999,
            });
        }
        if self.latency_threshold.is_zero() {
            return Err(ConfigError::Zero {
                field: "latency_threshold",
            });
        }
        Ok(())
    }
}

/// TCP Vegas: estimates the queue at the service as
/// `limit × (1 − rtt_noload / rtt)`, where `rtt_noload` is the lowest
/// latency seen, and keeps it between `alpha` and `beta` (`3·log10(limit)`
/// and `6·log10(limit)`): grows quickly while nothing queues, one step while
/// little does, shrinks while too much does or a call was dropped. The
/// no-load latency is measured again every `probe_multiplier × limit`
/// windows, so a service that got slower for good is learnt. Netflix's
/// `VegasLimit`.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Vegas {
    alpha: usize,
    beta: usize,
    smoothing: f64,
    probe_multiplier: usize,
}

impl Default for Vegas {
    /// Netflix's defaults: alpha 3, beta 6, no smoothing, probe multiplier 30.
    fn default() -> Self {
        Self {
            alpha: 3,
            beta: 6,
            smoothing: 1.0,
            probe_multiplier: 30,
        }
    }
}

impl Vegas {
    /// The multipliers of `log10(limit)` bounding the wanted queue (default
    /// 3 and 6); `alpha` must not be above `beta`.
    #[must_use]
    pub const fn alpha_beta(mut self, alpha: usize, beta: usize) -> Self {
        self.alpha = alpha;
        self.beta = beta;
        self
    }

    /// How much of each new limit is taken (default 1, all of it); within
    /// `0..=1`, excluding 0.
    #[must_use]
    pub const fn smoothing(mut self, smoothing: f64) -> Self {
        self.smoothing = smoothing;
        self
    }

    /// The no-load latency is forgotten and measured again every
    /// `probe_multiplier × limit` windows (default 30).
    #[must_use]
    pub const fn probe_multiplier(mut self, multiplier: usize) -> Self {
        self.probe_multiplier = multiplier;
        self
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.alpha > self.beta {
            return Err(ConfigError::Inverted {
                lower: "alpha",
                upper: "beta",
            });
        }
        if self.beta == 0 {
            return Err(ConfigError::Zero { field: "beta" });
        }
        if self.probe_multiplier == 0 {
            return Err(ConfigError::Zero {
                field: "probe_multiplier",
            });
        }
        check_range("smoothing", self.smoothing, f64::MIN_POSITIVE, 1.0)?;
        Ok(())
    }
}

/// Gradient2: compares the latency of the last window (short) with a slow
/// exponential average of it (long) and sets
/// `limit = limit × clamp(tolerance × long / short, 0.5, 1) + queue_size`,
/// smoothed. The limit grows by `queue_size` while latency stays within
/// `tolerance` of its long average, and shrinks in proportion as latency
/// rises above it. Netflix's `Gradient2Limit`.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Gradient2 {
    tolerance: f64,
    long_window: usize,
    smoothing: f64,
    queue_size: usize,
}

impl Default for Gradient2 {
    /// Netflix's defaults: tolerance 1.5, a long window of 600 samples,
    /// smoothing 0.2, a queue size of 4.
    fn default() -> Self {
        Self {
            tolerance: 1.5,
            long_window: 600,
            smoothing: 0.2,
            queue_size: 4,
        }
    }
}

impl Gradient2 {
    /// How far latency may rise above its long average before the limit
    /// shrinks (default 1.5); within `1..=10`.
    #[must_use]
    pub const fn tolerance(mut self, tolerance: f64) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// The number of windows the long average spans (default 600).
    #[must_use]
    pub const fn long_window(mut self, windows: usize) -> Self {
        self.long_window = windows;
        self
    }

    /// How much of each new limit is taken (default 0.2); within `0..=1`,
    /// excluding 0.
    #[must_use]
    pub const fn smoothing(mut self, smoothing: f64) -> Self {
        self.smoothing = smoothing;
        self
    }

    /// How many calls may queue at the service (default 4): the limit's
    /// growth per window while latency is flat.
    #[must_use]
    pub const fn queue_size(mut self, queue_size: usize) -> Self {
        self.queue_size = queue_size;
        self
    }

    fn validate(&self) -> Result<(), ConfigError> {
        check_range("tolerance", self.tolerance, 1.0, 10.0)?;
        check_range("smoothing", self.smoothing, f64::MIN_POSITIVE, 1.0)?;
        if self.long_window == 0 {
            return Err(ConfigError::Zero {
                field: "long_window",
            });
        }
        Ok(())
    }
}

/// Which algorithm moves the limit; `Aimd`, `Vegas` and `Gradient2` convert
/// into it.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Algorithm {
    /// See [`Aimd`].
    Aimd(Aimd),
    /// See [`Vegas`].
    Vegas(Vegas),
    /// See [`Gradient2`].
    Gradient2(Gradient2),
}

impl Default for Algorithm {
    /// Vegas, Netflix's default.
    fn default() -> Self {
        Self::Vegas(Vegas::default())
    }
}

impl From<Aimd> for Algorithm {
    fn from(a: Aimd) -> Self {
        Self::Aimd(a)
    }
}

impl From<Vegas> for Algorithm {
    fn from(v: Vegas) -> Self {
        Self::Vegas(v)
    }
}

impl From<Gradient2> for Algorithm {
    fn from(g: Gradient2) -> Self {
        Self::Gradient2(g)
    }
}

impl Algorithm {
    /// A short label: `aimd`, `vegas` or `gradient2`.
    #[must_use]
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::Aimd(_) => "aimd",
            Self::Vegas(_) => "vegas",
            Self::Gradient2(_) => "gradient2",
        }
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        match self {
            Self::Aimd(a) => a.validate(),
            Self::Vegas(v) => v.validate(),
            Self::Gradient2(g) => g.validate(),
        }
    }
}

/// An algorithm with its running state and the limit it estimates.
#[derive(Debug)]
pub(crate) struct Estimator {
    kind: Kind,
    /// The estimate; the limit in force is its integer part.
    limit: f64,
    min: f64,
    max: f64,
}

#[derive(Debug)]
enum Kind {
    Aimd(Aimd),
    Vegas {
        settings: Vegas,
        /// The lowest latency seen since the last probe; 0 before any.
        rtt_noload: u64,
        windows_since_probe: usize,
    },
    Gradient2 {
        settings: Gradient2,
        long_rtt: ExpAverage,
    },
}

impl Estimator {
    pub(crate) fn new(algorithm: Algorithm, initial: usize, min: usize, max: usize) -> Self {
        let kind = match algorithm {
            Algorithm::Aimd(a) => Kind::Aimd(a),
            Algorithm::Vegas(settings) => Kind::Vegas {
                settings,
                rtt_noload: 0,
                windows_since_probe: 0,
            },
            Algorithm::Gradient2(settings) => Kind::Gradient2 {
                settings,
                long_rtt: ExpAverage::new(settings.long_window),
            },
        };
        #[allow(clippy::cast_precision_loss)] // limits are far below 2^52
        Self {
            kind,
            limit: initial as f64,
            min: min as f64,
            max: max as f64,
        }
    }

    /// The limit in force.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // clamped to min..=max
    pub(crate) fn limit(&self) -> usize {
        self.limit as usize
    }

    /// Moves the estimate by one window's sample; returns the limit in force.
    pub(crate) fn update(&mut self, sample: Sample) -> usize {
        let next = match &mut self.kind {
            Kind::Aimd(a) => aimd(a, self.limit, sample),
            Kind::Vegas {
                settings,
                rtt_noload,
                windows_since_probe,
            } => vegas(
                settings,
                rtt_noload,
                windows_since_probe,
                self.limit,
                sample,
            ),
            Kind::Gradient2 { settings, long_rtt } => {
                gradient2(settings, long_rtt, self.limit, sample)
            }
        };
        self.limit = next.clamp(self.min, self.max);
        self.limit()
    }
}

#[allow(clippy::cast_precision_loss)] // in-flight counts are far below 2^52
fn in_flight(sample: Sample) -> f64 {
    sample.max_in_flight as f64
}

fn aimd(a: &Aimd, limit: f64, sample: Sample) -> f64 {
    let slow = u128::from(sample.rtt_nanos) > a.latency_threshold.as_nanos();
    if sample.dropped || slow {
        (limit * a.backoff_ratio).floor()
    } else if in_flight(sample) * 2.0 >= limit {
        limit + 1.0
    } else {
        limit
    }
}

/// `log10(limit)` in whole steps, at least 1, as Netflix's `Log10RootFunction`.
fn log10(limit: f64) -> f64 {
    limit.log10().floor().max(1.0)
}

#[allow(clippy::cast_precision_loss)] // small settings and latencies in ns
fn vegas(
    v: &Vegas,
    rtt_noload: &mut u64,
    windows_since_probe: &mut usize,
    limit: f64,
    sample: Sample,
) -> f64 {
    let rtt = sample.rtt_nanos.max(1);
    *windows_since_probe += 1;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let probe_every = v.probe_multiplier.saturating_mul(limit.max(1.0) as usize);
    if *windows_since_probe >= probe_every {
        // Forget the no-load latency: the service may have changed for good.
        *windows_since_probe = 0;
        *rtt_noload = rtt;
        return limit;
    }
    if *rtt_noload == 0 || rtt < *rtt_noload {
        *rtt_noload = rtt;
        return limit;
    }
    let log = log10(limit);
    let next = if sample.dropped {
        limit - log
    } else if in_flight(sample) * 2.0 < limit {
        // Not using the limit: nothing to learn about it.
        return limit;
    } else {
        let queue = (limit * (1.0 - *rtt_noload as f64 / rtt as f64)).ceil();
        let alpha = v.alpha as f64 * log;
        let beta = v.beta as f64 * log;
        if queue <= log {
            limit + beta
        } else if queue < alpha {
            limit + log
        } else if queue > beta {
            limit - log
        } else {
            return limit;
        }
    };
    ((1.0 - v.smoothing) * limit + v.smoothing * next.max(1.0)).floor()
}

#[allow(clippy::cast_precision_loss)] // latencies in ns, small settings
fn gradient2(g: &Gradient2, long_rtt: &mut ExpAverage, limit: f64, sample: Sample) -> f64 {
    let short = sample.rtt_nanos.max(1) as f64;
    let long = long_rtt.add(short);
    // After a long overload the average lags far behind a recovered service:
    // pull it down faster than the smoothing would.
    if long / short > 2.0 {
        long_rtt.scale(0.95);
    }
    if in_flight(sample) < limit / 2.0 {
        return limit;
    }
    let gradient = (g.tolerance * long / short).clamp(0.5, 1.0);
    let next = limit * gradient + g.queue_size as f64;
    limit * (1.0 - g.smoothing) + next * g.smoothing
}

/// An exponential moving average that starts as a plain average over its
/// first few values (Netflix's `ExpAvgMeasurement`).
#[derive(Debug)]
struct ExpAverage {
    value: f64,
    factor: f64,
    count: usize,
    warmup: usize,
}

impl ExpAverage {
    #[allow(clippy::cast_precision_loss)] // a window of windows
    fn new(window: usize) -> Self {
        Self {
            value: 0.0,
            factor: 2.0 / (window as f64 + 1.0),
            count: 0,
            warmup: window.min(10),
        }
    }

    #[allow(clippy::cast_precision_loss)] // count <= 10
    fn add(&mut self, x: f64) -> f64 {
        if self.count < self.warmup {
            self.count += 1;
            self.value += (x - self.value) / self.count as f64;
        } else {
            self.value = self.value * (1.0 - self.factor) + x * self.factor;
        }
        self.value
    }

    fn scale(&mut self, by: f64) {
        self.value *= by;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(rtt_ms: u64, in_flight: usize, dropped: bool) -> Sample {
        Sample {
            rtt_nanos: rtt_ms * 1_000_000,
            max_in_flight: in_flight,
            dropped,
        }
    }

    #[test]
    fn aimd_adds_one_and_multiplies_down() {
        let mut e = Estimator::new(Aimd::default().into(), 10, 1, 100);
        assert_eq!(e.update(sample(10, 10, false)), 11);
        // An idle limit does not grow.
        assert_eq!(e.update(sample(10, 2, false)), 11);
        assert_eq!(e.update(sample(10, 11, true)), 9);
        let mut slow = Estimator::new(
            Aimd::default()
                .latency_threshold(Duration::from_millis(50))
                .into(),
            20,
            1,
            100,
        );
        assert_eq!(slow.update(sample(60, 20, false)), 18);
    }

    #[test]
    fn vegas_grows_fast_without_queueing_and_shrinks_with_it() {
        let mut e = Estimator::new(Vegas::default().into(), 20, 1, 100);
        // The first window sets the no-load latency.
        assert_eq!(e.update(sample(10, 20, false)), 20);
        // No queue: + beta (6 × log10(20) = 6).
        assert_eq!(e.update(sample(10, 20, false)), 26);
        // Latency doubled: half of the calls queue, above beta: − log10.
        assert_eq!(e.update(sample(20, 26, false)), 25);
        // A drop shrinks it too.
        assert_eq!(e.update(sample(10, 25, true)), 24);
    }

    #[test]
    fn gradient2_shrinks_when_latency_rises_above_tolerance() {
        let mut e = Estimator::new(Gradient2::default().into(), 50, 1, 1000);
        for _ in 0..10 {
            e.update(sample(10, 50, false));
        }
        let flat = e.limit();
        assert!(flat > 50, "{flat}");
        // Latency triples: the gradient is 0.5, the limit shrinks.
        let after = e.update(sample(30, flat, false));
        assert!(after < flat, "{after} < {flat}");
    }

    #[test]
    fn bad_settings_are_rejected() {
        assert!(
            Algorithm::from(Aimd::default().backoff_ratio(1.0))
                .validate()
                .is_err()
        );
        assert!(
            Algorithm::from(Aimd::default().backoff_ratio(f64::NAN))
                .validate()
                .is_err()
        );
        assert!(
            Algorithm::from(Vegas::default().alpha_beta(7, 6))
                .validate()
                .is_err()
        );
        assert!(
            Algorithm::from(Gradient2::default().tolerance(0.5))
                .validate()
                .is_err()
        );
        assert!(
            Algorithm::from(Gradient2::default().long_window(0))
                .validate()
                .is_err()
        );
        assert!(Algorithm::default().validate().is_ok());
    }
}
