//! Exponential (or linear) backoff with the jitter modes of the AWS
//! architecture blog ("Exponential Backoff and Jitter", Marc Brooker, 2015).

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

use crate::ConfigError;

/// How the exponential delay is randomised.
///
/// With `exp = min(cap, base * 2^(n-1))` for retry `n` (1, 2, …):
///
/// | mode            | delay                                                  |
/// |-----------------|--------------------------------------------------------|
/// | `None`          | `exp`                                                  |
/// | `Full`          | `random_between(0, exp)`                               |
/// | `Equal`         | `exp / 2 + random_between(0, exp / 2)`                 |
/// | `Decorrelated`  | `min(cap, random_between(base, prev * 3))`, `prev` starting at `base` |
///
/// `Decorrelated` does not use `n`: each delay grows from the previous one.
/// All bounds are inclusive and delays have nanosecond resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Jitter {
    /// No randomness: exactly `exp`.
    None,
    /// Anywhere between zero and `exp` (the blog's recommendation).
    #[default]
    Full,
    /// At least half of `exp`, at most `exp`.
    Equal,
    /// Each delay is drawn between `base` and three times the previous one.
    Decorrelated,
}

/// An exponential backoff schedule: `base`, `cap` and a [`Jitter`] mode.
///
/// The delay before retry `n` (n = 1, 2, …) is `min(cap, base * 2^(n-1))`
/// before jitter. The values are checked when the layer is built
/// ([`ConfigError::Zero`] for a zero `base`, [`ConfigError::Inverted`] when
/// `cap < base`).
///
/// ```
/// use std::time::Duration;
/// use palisade_resilience::retry::{Backoff, Jitter};
///
/// let backoff = Backoff::exponential(Duration::from_millis(100), Duration::from_millis(500))
///     .jitter(Jitter::None);
/// let delays: Vec<_> = backoff.delays(0).take(5).collect();
/// assert_eq!(delays, [100, 200, 400, 500, 500].map(Duration::from_millis));
/// ```
///
/// [`Backoff::linear`] grows by `base` each retry instead of doubling:
///
/// ```
/// use std::time::Duration;
/// use palisade_resilience::retry::{Backoff, Jitter};
///
/// let backoff = Backoff::linear(Duration::from_millis(100), Duration::from_millis(350))
///     .jitter(Jitter::None);
/// let delays: Vec<_> = backoff.delays(0).take(5).collect();
/// assert_eq!(delays, [100, 200, 300, 350, 350].map(Duration::from_millis));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    jitter: Jitter,
    linear: bool,
}

impl Backoff {
    /// An exponential schedule from `base`, doubling up to `cap`, with
    /// [`Jitter::Full`].
    #[must_use]
    pub const fn exponential(base: Duration, cap: Duration) -> Self {
        Self {
            base,
            cap,
            jitter: Jitter::Full,
            linear: false,
        }
    }

    /// A linear schedule: `min(cap, base * n)` before retry `n`, with
    /// [`Jitter::Full`]. `Full` and `Equal` jitter apply to that delay as to
    /// the exponential one; `Decorrelated` grows from the previous delay
    /// whatever the schedule, so it ignores the difference.
    #[must_use]
    pub const fn linear(base: Duration, cap: Duration) -> Self {
        Self {
            base,
            cap,
            jitter: Jitter::Full,
            linear: true,
        }
    }

    /// Whether the delay grows linearly rather than exponentially.
    #[must_use]
    pub const fn is_linear(&self) -> bool {
        self.linear
    }

    /// Sets the jitter mode.
    #[must_use]
    pub const fn jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// The first delay before jitter.
    #[must_use]
    pub const fn base(&self) -> Duration {
        self.base
    }

    /// The largest delay.
    #[must_use]
    pub const fn cap(&self) -> Duration {
        self.cap
    }

    /// The jitter mode.
    #[must_use]
    pub const fn jitter_mode(&self) -> Jitter {
        self.jitter
    }

    /// The delay before retry `n` without jitter: `min(cap, base * 2^(n-1))`,
    /// or for a [linear](Self::linear) schedule `min(cap, base * n)`.
    ///
    /// `n = 0` is treated as `n = 1`.
    #[must_use]
    pub fn ceiling(&self, n: u32) -> Duration {
        let factor = if self.linear {
            Some(n.max(1))
        } else {
            1u32.checked_shl(n.saturating_sub(1))
        };
        match factor.and_then(|f| self.base.checked_mul(f)) {
            Some(exp) => exp.min(self.cap),
            None => self.cap,
        }
    }

    /// The delays this schedule produces for one call, drawn from a
    /// [`SmallRng`] seeded with `seed`.
    ///
    /// A [`RetryLayer`](super::RetryLayer) built with the same backoff and
    /// `.rng_seed(seed)` produces exactly these delays for its first call
    /// (its generator is shared by all calls of the layer, so later calls
    /// continue the random sequence). The iterator never ends.
    #[must_use]
    pub fn delays(&self, seed: u64) -> Delays {
        Delays {
            backoff: *self,
            rng: SmallRng::seed_from_u64(seed),
            retry: 0,
            prev: self.base,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.base.is_zero() {
            return Err(ConfigError::Zero { field: "base" });
        }
        if self.cap < self.base {
            return Err(ConfigError::Inverted {
                lower: "base",
                upper: "cap",
            });
        }
        Ok(())
    }

    /// Whether computing a delay draws from the random generator.
    pub(crate) fn is_random(&self) -> bool {
        !matches!(self.jitter, Jitter::None)
    }

    /// The delay before retry `n` (1, 2, …) and the new `prev`; the
    /// generator is only locked when the jitter mode draws from it, so
    /// `Jitter::None` never takes the lock.
    pub(crate) fn next_delay(
        &self,
        n: u32,
        prev: &mut Duration,
        rng: &Mutex<SmallRng>,
    ) -> Duration {
        if self.is_random() {
            // A poisoned generator is still a generator: its state cannot be
            // left inconsistent by a panic elsewhere.
            let mut rng = rng.lock().unwrap_or_else(PoisonError::into_inner);
            sample(self, n, prev, &mut rng)
        } else {
            let delay = self.ceiling(n);
            *prev = delay;
            delay
        }
    }
}

/// The delay before retry `n`, given the previous delay `prev` (which starts
/// at `base`); `prev` is updated to the returned delay.
pub(crate) fn sample(
    backoff: &Backoff,
    n: u32,
    prev: &mut Duration,
    rng: &mut SmallRng,
) -> Duration {
    let delay = match backoff.jitter {
        Jitter::None => backoff.ceiling(n),
        Jitter::Full => {
            let exp = nanos(backoff.ceiling(n));
            Duration::from_nanos(rng.random_range(0..=exp))
        }
        Jitter::Equal => {
            let exp = nanos(backoff.ceiling(n));
            let half = exp / 2;
            // `exp - half` rather than `half` so an odd `exp` can still be reached.
            Duration::from_nanos(half + rng.random_range(0..=exp - half))
        }
        Jitter::Decorrelated => {
            let low = nanos(backoff.base);
            let high = nanos(*prev).saturating_mul(3).max(low);
            Duration::from_nanos(rng.random_range(low..=high)).min(backoff.cap)
        }
    };
    *prev = delay;
    delay
}

impl Default for Backoff {
    /// 100 ms doubling up to 10 s with [`Jitter::Full`].
    fn default() -> Self {
        Self::exponential(Duration::from_millis(100), Duration::from_secs(10))
    }
}

/// The delays of one call, from [`Backoff::delays`].
#[derive(Debug, Clone)]
pub struct Delays {
    backoff: Backoff,
    rng: SmallRng,
    retry: u32,
    prev: Duration,
}

impl Iterator for Delays {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        self.retry = self.retry.saturating_add(1);
        Some(sample(
            &self.backoff,
            self.retry,
            &mut self.prev,
            &mut self.rng,
        ))
    }
}

/// Durations are sampled in nanoseconds; anything beyond `u64::MAX` ns (584
/// years) is clamped, which no sane schedule reaches.
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The layer's generator: seeded for reproducible schedules, otherwise from
/// the operating system.
pub(crate) fn new_rng(seed: Option<u64>) -> SmallRng {
    match seed {
        Some(seed) => SmallRng::seed_from_u64(seed),
        None => SmallRng::try_from_rng(&mut rand::rngs::SysRng).unwrap_or_else(|_| {
            // Jitter only spreads load, it protects no secret: when the OS
            // source is unavailable, an address (randomised by ASLR) is
            // good enough and better than failing to build the layer.
            let marker = 0u8;
            SmallRng::seed_from_u64(std::ptr::from_ref(&marker) as usize as u64)
        }),
    }
}
