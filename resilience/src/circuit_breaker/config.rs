//! The builder and the validated settings it produces.

use std::fmt;
use std::hash::Hash;
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Arc;
use std::time::Duration;

use super::keyed::KeyedCircuitBreakerLayer;
use super::layer::CircuitBreakerLayer;
use super::listener::{Listeners, Transition};
use super::time_window::{self, MAX_BUCKETS};
use super::window::MAX_COUNT_WINDOW;
use crate::ConfigError;
use crate::classify::ErrorsAreFailures;
use crate::clock::Clock;
use crate::config::check_range;

/// The longest result-driven break by default.
const DEFAULT_MAX_RESULT_BREAK: Duration = Duration::from_secs(300);

/// How long HalfOpen waits for its probes by default.
const DEFAULT_MAX_WAIT_IN_HALF_OPEN: Duration = Duration::from_secs(60);

/// The most probes a HalfOpen breaker admits (they are counted in 12-bit
/// fields of one atomic word).
pub(crate) const MAX_PERMITTED: u32 = 4_095;

/// Which calls the Closed state is judged on.
///
/// ```
/// use std::time::Duration;
/// use palisade_resilience::circuit_breaker::SlidingWindow;
///
/// let last_100_calls = SlidingWindow::count(100);
/// let last_minute = SlidingWindow::time(Duration::from_secs(60), 12);
/// assert_ne!(last_100_calls, last_minute);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SlidingWindow {
    /// The last `n` calls (1..=1,000,000).
    Count(u32),
    /// The calls of the last `duration`, kept in `buckets` equal buckets
    /// (1..=10,000); the oldest bucket leaves the window as a whole, so the
    /// window spans between `duration - duration / buckets` and `duration`.
    Time {
        /// How far back the window reaches.
        duration: Duration,
        /// How many buckets the duration is split into.
        buckets: u32,
    },
}

impl SlidingWindow {
    /// The last `n` calls.
    #[must_use]
    pub const fn count(n: u32) -> Self {
        Self::Count(n)
    }

    /// The calls of the last `duration`, in `buckets` buckets.
    #[must_use]
    pub const fn time(duration: Duration, buckets: u32) -> Self {
        Self::Time { duration, buckets }
    }
}

/// The validated configuration every breaker of a layer (or every key of a
/// keyed layer) is built from.
#[derive(Clone)]
pub(crate) struct Settings {
    pub(crate) name: Arc<str>,
    pub(crate) window: SlidingWindow,
    /// Thresholds in basis points (1/100 of a percent), so judging is integer
    /// arithmetic.
    pub(crate) failure_bp: u64,
    pub(crate) slow_bp: u64,
    pub(crate) slow_call_duration: Option<Duration>,
    pub(crate) minimum_calls: u64,
    pub(crate) permitted: u32,
    pub(crate) wait: Duration,
    pub(crate) multiplier: f64,
    pub(crate) max_wait: Duration,
    pub(crate) max_wait_in_half_open: Duration,
    pub(crate) clock: Clock,
    pub(crate) listeners: Listeners,
    /// Opens after this many failures in a row, whatever the rates.
    pub(crate) consecutive_failures: Option<u64>,
    /// Starts in MetricsOnly.
    pub(crate) metrics_only: bool,
    /// Moves Open → HalfOpen on a timer rather than on the next call.
    pub(crate) open_to_half_open_timer: bool,
    /// The longest result-driven break.
    pub(crate) max_result_break: Duration,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("name", &self.name)
            .field("window", &self.window)
            .field("failure_bp", &self.failure_bp)
            .field("slow_bp", &self.slow_bp)
            .field("slow_call_duration", &self.slow_call_duration)
            .field("minimum_calls", &self.minimum_calls)
            .field("permitted", &self.permitted)
            .field("wait", &self.wait)
            .field("multiplier", &self.multiplier)
            .field("max_wait", &self.max_wait)
            .field("max_wait_in_half_open", &self.max_wait_in_half_open)
            .field("clock", &self.clock)
            .field("consecutive_failures", &self.consecutive_failures)
            .field("metrics_only", &self.metrics_only)
            .field("open_to_half_open_timer", &self.open_to_half_open_timer)
            .field("max_result_break", &self.max_result_break)
            .finish_non_exhaustive()
    }
}

/// Builds a [`CircuitBreakerLayer`] (or a keyed one); from
/// [`CircuitBreakerLayer::builder`].
///
/// Defaults (after Resilience4j): a count window of 100 calls, a failure
/// threshold of 50 %, judged from 20 calls on; slow-call detection off (its
/// threshold 100 %); 30 s in Open, not growing; 10 probes in HalfOpen, given
/// at most 60 s to complete; the name `"default"`.
#[must_use]
pub struct CircuitBreakerLayerBuilder<C = ErrorsAreFailures> {
    name: Arc<str>,
    window: SlidingWindow,
    failure_rate_threshold: f64,
    slow_call_rate_threshold: f64,
    slow_call_duration: Option<Duration>,
    minimum_calls: u32,
    permitted: u32,
    wait: Duration,
    multiplier: f64,
    max_wait: Option<Duration>,
    max_wait_in_half_open: Duration,
    clock: Option<Clock>,
    listeners: Listeners,
    consecutive_failures: Option<NonZeroU32>,
    metrics_only: bool,
    open_to_half_open_timer: bool,
    max_result_break: Duration,
    classifier: C,
}

impl<C: fmt::Debug> fmt::Debug for CircuitBreakerLayerBuilder<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreakerLayerBuilder")
            .field("name", &self.name)
            .field("window", &self.window)
            .field("failure_rate_threshold", &self.failure_rate_threshold)
            .field("slow_call_rate_threshold", &self.slow_call_rate_threshold)
            .field("slow_call_duration", &self.slow_call_duration)
            .field("minimum_calls", &self.minimum_calls)
            .field("permitted_calls_in_half_open", &self.permitted)
            .field("wait_duration_in_open", &self.wait)
            .field("wait_multiplier", &self.multiplier)
            .field("max_wait_duration", &self.max_wait)
            .field("max_wait_in_half_open", &self.max_wait_in_half_open)
            .field("clock", &self.clock)
            .field("listeners", &self.listeners.len())
            .field("consecutive_failures", &self.consecutive_failures)
            .field("metrics_only", &self.metrics_only)
            .field("open_to_half_open_timer", &self.open_to_half_open_timer)
            .field("max_result_break", &self.max_result_break)
            .field("classifier", &self.classifier)
            .finish()
    }
}

impl CircuitBreakerLayerBuilder<ErrorsAreFailures> {
    pub(crate) fn new() -> Self {
        Self {
            name: Arc::from("default"),
            window: SlidingWindow::Count(100),
            failure_rate_threshold: 50.0,
            slow_call_rate_threshold: 100.0,
            slow_call_duration: None,
            minimum_calls: 20,
            permitted: 10,
            wait: Duration::from_secs(30),
            multiplier: 1.0,
            max_wait: None,
            max_wait_in_half_open: DEFAULT_MAX_WAIT_IN_HALF_OPEN,
            clock: None,
            listeners: Listeners::default(),
            consecutive_failures: None,
            metrics_only: false,
            open_to_half_open_timer: false,
            max_result_break: DEFAULT_MAX_RESULT_BREAK,
            classifier: ErrorsAreFailures,
        }
    }
}

impl<C> CircuitBreakerLayerBuilder<C> {
    /// The breaker's name, used in errors, `tracing` events and metric labels.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Arc::from(name.into());
        self
    }

    /// Which calls the Closed state is judged on.
    pub fn sliding_window(mut self, window: SlidingWindow) -> Self {
        self.window = window;
        self
    }

    /// The failure rate (percent, 0..=100) at or above which the breaker
    /// opens; at 0 any failure opens it once `minimum_calls` are in.
    pub fn failure_rate_threshold(mut self, percent: f64) -> Self {
        self.failure_rate_threshold = percent;
        self
    }

    /// The slow-call rate (percent, 0..=100) at or above which the breaker
    /// opens; only used with [`slow_call_duration`](Self::slow_call_duration).
    pub fn slow_call_rate_threshold(mut self, percent: f64) -> Self {
        self.slow_call_rate_threshold = percent;
        self
    }

    /// Turns on slow-call detection: a call taking at least `duration` (from
    /// `call` until its response future resolves) is slow, whatever its
    /// outcome.
    pub fn slow_call_duration(mut self, duration: Duration) -> Self {
        self.slow_call_duration = Some(duration);
        self
    }

    /// How many calls the window must hold before its rates are judged. With
    /// a count window of fewer calls, the window size is used instead.
    pub fn minimum_calls(mut self, calls: u32) -> Self {
        self.minimum_calls = calls;
        self
    }

    /// How many probe calls HalfOpen admits (1..=4095) before judging them.
    pub fn permitted_calls_in_half_open(mut self, calls: u32) -> Self {
        self.permitted = calls;
        self
    }

    /// How long the breaker stays Open before admitting probes.
    pub fn wait_duration_in_open(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    /// Multiplies the wait by `multiplier` (≥ 1) each time the breaker opens
    /// again without having closed in between; see
    /// [`max_wait_duration`](Self::max_wait_duration) for the cap. The wait
    /// starts over once the breaker closes.
    pub fn wait_multiplier(mut self, multiplier: f64) -> Self {
        self.multiplier = multiplier;
        self
    }

    /// The longest the growing wait gets (default: no cap below about 8
    /// years); must not be below the initial wait.
    pub fn max_wait_duration(mut self, max: Duration) -> Self {
        self.max_wait = Some(max);
        self
    }

    /// How long HalfOpen waits for its probes to complete (default: 60 s);
    /// then the breaker opens again, with the next, possibly grown, wait, as
    /// after a failed probe, and probes start over afterwards. Resilience4j's
    /// `maxWaitDurationInHalfOpenState`.
    ///
    /// A probe that hangs (an upstream that accepts the connection and never
    /// answers, a response future kept but never polled) would otherwise hold
    /// its permit, and the breaker in HalfOpen, forever, rejecting every other
    /// call. The default is finite for that reason: 60 s is longer than the
    /// default wait in Open (30 s) and than any sensible request timeout, so
    /// only a probe that is lost is given up on. `Duration::MAX` waits
    /// forever (Resilience4j's default).
    ///
    /// Like the wait in Open, it is applied lazily: the move happens when a
    /// call arrives after the wait, so a handle reads HalfOpen until then.
    pub fn max_wait_in_half_open(mut self, wait: Duration) -> Self {
        self.max_wait_in_half_open = wait;
        self
    }

    /// The clock that times slow calls, the time window and the waits
    /// (default: [`Clock::new`], chosen when the layer is built: `tokio::time`
    /// if it is paused, else the TSC).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Calls `listener` on every state transition, on the thread that caused
    /// it (keep it short; it runs inside a call's completion). May be given
    /// several times.
    pub fn on_transition<F>(mut self, listener: F) -> Self
    where
        F: Fn(&Transition) + Send + Sync + 'static,
    {
        self.listeners.push(Arc::new(listener));
        self
    }

    /// Also opens after `failures` failed calls in a row (Resilience4j's
    /// consecutive-failures model), beside the rate thresholds, which keep
    /// working: whichever is crossed first opens the breaker. The run is
    /// counted in Closed (and MetricsOnly), broken by any success, and
    /// starts afresh when the breaker closes. Off by default.
    pub fn consecutive_failures(mut self, failures: NonZeroU32) -> Self {
        self.consecutive_failures = Some(failures);
        self
    }

    /// Starts the breaker in [`State::MetricsOnly`](super::State::MetricsOnly)
    /// (default `false`): it records, reports and logs where it would open,
    /// but never rejects, until `handle.reset()` makes it act.
    pub fn metrics_only(mut self, metrics_only: bool) -> Self {
        self.metrics_only = metrics_only;
        self
    }

    /// Moves the breaker from Open to HalfOpen when the wait is over, on a
    /// timer, instead of when the next call arrives (default `false`), so
    /// that a breaker nobody calls reports HalfOpen (degraded) rather than
    /// Open (unhealthy) once its wait is over — Resilience4j's
    /// `automaticTransitionFromOpenToHalfOpenEnabled`. Each opening spawns
    /// one small tokio task (when it happens inside a runtime; otherwise the
    /// move stays lazy); it holds the breaker weakly.
    pub fn open_to_half_open_timer(mut self, enabled: bool) -> Self {
        self.open_to_half_open_timer = enabled;
        self
    }

    /// The longest a result-driven break (a classifier's
    /// [`break_for`](crate::classify::Classify::break_for), such as
    /// [`BreakOnRetryAfter`](super::BreakOnRetryAfter)) keeps the breaker
    /// open (default 5 minutes): an upstream cannot switch a client off for
    /// longer. Zero ignores such breaks.
    pub fn max_result_break(mut self, max: Duration) -> Self {
        self.max_result_break = max;
        self
    }

    /// Replaces the classifier that decides which results are failures.
    pub fn classifier<C2>(self, classifier: C2) -> CircuitBreakerLayerBuilder<C2> {
        CircuitBreakerLayerBuilder {
            name: self.name,
            window: self.window,
            failure_rate_threshold: self.failure_rate_threshold,
            slow_call_rate_threshold: self.slow_call_rate_threshold,
            slow_call_duration: self.slow_call_duration,
            minimum_calls: self.minimum_calls,
            permitted: self.permitted,
            wait: self.wait,
            multiplier: self.multiplier,
            max_wait: self.max_wait,
            max_wait_in_half_open: self.max_wait_in_half_open,
            clock: self.clock,
            listeners: self.listeners,
            consecutive_failures: self.consecutive_failures,
            metrics_only: self.metrics_only,
            open_to_half_open_timer: self.open_to_half_open_timer,
            max_result_break: self.max_result_break,
            classifier,
        }
    }

    /// Validates the configuration and builds the layer.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when a value cannot work: a zero window size, bucket
    /// count, bucket length, minimum, probe count or duration; a window larger
    /// than 1,000,000 calls or 10,000 buckets; a threshold that is NaN or
    /// outside 0..=100; a multiplier below 1 or not finite; a cap below the
    /// wait; more than 4095 probes; a zero maximum wait in HalfOpen.
    pub fn build(self) -> Result<CircuitBreakerLayer<C>, ConfigError> {
        let settings = self.settings()?;
        Ok(CircuitBreakerLayer::from_parts(settings, self.classifier))
    }

    /// Continues as a keyed breaker: one breaker per key that `extractor`
    /// (any [`ExtractKey`](crate::key::ExtractKey)) finds, each built from
    /// this configuration and named `"{name}:{key}"`; see
    /// [`KeyedCircuitBreakerLayerBuilder`](super::KeyedCircuitBreakerLayerBuilder).
    pub fn keyed<X>(self, extractor: X) -> super::KeyedCircuitBreakerLayerBuilder<X, C> {
        super::KeyedCircuitBreakerLayerBuilder::new(self, extractor)
    }

    /// Validates the configuration and builds a keyed layer.
    pub(super) fn build_keyed<K, X>(
        self,
        extractor: X,
        max_keys: NonZeroUsize,
    ) -> Result<KeyedCircuitBreakerLayer<K, X, C>, ConfigError>
    where
        K: Hash + Eq,
    {
        let settings = self.settings()?;
        Ok(KeyedCircuitBreakerLayer::from_parts(
            settings,
            extractor,
            self.classifier,
            max_keys,
        ))
    }

    fn settings(&self) -> Result<Settings, ConfigError> {
        check_window(self.window)?;
        let failure = check_range(
            "failure_rate_threshold",
            self.failure_rate_threshold,
            0.0,
            100.0,
        )?;
        let slow = check_range(
            "slow_call_rate_threshold",
            self.slow_call_rate_threshold,
            0.0,
            100.0,
        )?;
        if self.slow_call_duration == Some(Duration::ZERO) {
            return Err(ConfigError::Zero {
                field: "slow_call_duration",
            });
        }
        if self.minimum_calls == 0 {
            return Err(ConfigError::Zero {
                field: "minimum_calls",
            });
        }
        if self.permitted == 0 {
            return Err(ConfigError::Zero {
                field: "permitted_calls_in_half_open",
            });
        }
        check_range(
            "permitted_calls_in_half_open",
            f64::from(self.permitted),
            1.0,
            f64::from(MAX_PERMITTED),
        )?;
        if self.wait.is_zero() {
            return Err(ConfigError::Zero {
                field: "wait_duration_in_open",
            });
        }
        if self.max_wait_in_half_open.is_zero() {
            return Err(ConfigError::Zero {
                field: "max_wait_in_half_open",
            });
        }
        if !self.multiplier.is_finite() {
            return Err(ConfigError::NotFinite {
                field: "wait_multiplier",
            });
        }
        if self.multiplier < 1.0 {
            return Err(ConfigError::OutOfRange {
                field: "wait_multiplier",
                value: self.multiplier,
                min: 1.0,
                max: f64::MAX,
            });
        }
        let max_wait = match self.max_wait {
            Some(max) if max < self.wait => {
                return Err(ConfigError::Inverted {
                    lower: "wait_duration_in_open",
                    upper: "max_wait_duration",
                });
            }
            Some(max) => max,
            None if self.multiplier > 1.0 => Duration::MAX,
            None => self.wait,
        };
        let minimum_calls = match self.window {
            SlidingWindow::Count(n) => self.minimum_calls.min(n),
            SlidingWindow::Time { .. } => self.minimum_calls,
        };
        Ok(Settings {
            name: Arc::clone(&self.name),
            window: self.window,
            failure_bp: basis_points(failure),
            slow_bp: basis_points(slow),
            slow_call_duration: self.slow_call_duration,
            minimum_calls: u64::from(minimum_calls),
            permitted: self.permitted,
            wait: self.wait,
            multiplier: self.multiplier,
            max_wait,
            max_wait_in_half_open: self.max_wait_in_half_open,
            clock: self.clock.unwrap_or_default(),
            listeners: self.listeners.clone(),
            consecutive_failures: self.consecutive_failures.map(|n| u64::from(n.get())),
            metrics_only: self.metrics_only,
            open_to_half_open_timer: self.open_to_half_open_timer,
            max_result_break: self.max_result_break,
        })
    }
}

/// Checks a sliding window as the builder does (and as a
/// [registry](crate::registry) does before replacing one at run time): a
/// count of 1..=1,000,000 calls; 1..=10,000 buckets, each at least 1 ns long.
pub(crate) fn check_window(window: SlidingWindow) -> Result<(), ConfigError> {
    match window {
        SlidingWindow::Count(0) => Err(ConfigError::Zero {
            field: "sliding_window",
        }),
        SlidingWindow::Count(n) => check_range(
            "sliding_window",
            f64::from(n),
            1.0,
            f64::from(MAX_COUNT_WINDOW),
        )
        .map(drop),
        SlidingWindow::Time { duration, buckets } => {
            if buckets == 0 {
                return Err(ConfigError::Zero {
                    field: "sliding_window.buckets",
                });
            }
            check_range(
                "sliding_window.buckets",
                f64::from(buckets),
                1.0,
                f64::from(MAX_BUCKETS),
            )?;
            if time_window::bucket_nanos(duration, buckets).is_none() {
                return Err(ConfigError::Zero {
                    field: "sliding_window.duration",
                });
            }
            Ok(())
        }
    }
}

/// `percent` is within 0..=100 (checked), so the conversion is exact enough
/// and cannot overflow.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
pub(crate) fn basis_points(percent: f64) -> u64 {
    (percent * 100.0).round() as u64
}
