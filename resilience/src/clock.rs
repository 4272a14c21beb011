//! The clock our layers measure durations with: nanoseconds since an origin,
//! read from the CPU's time-stamp counter in production and from
//! `tokio::time` when tokio's clock is paused, so tests stay deterministic.
//!
//! The circuit breaker (slow calls, the time window, the Open and HalfOpen
//! deadlines) and the local rate limiter read it on every call. A
//! `clock_gettime` costs ≈ 30 ns on a virtual machine, as much as a whole
//! breaker decision; a TSC read through [`quanta`] costs a few nanoseconds.
//! `docs/decisions/0001-cheap-clock.md` in the repository has the numbers.
//!
//! # Which source
//!
//! [`Clock::new`] (and `Default`, used by every layer) picks at construction:
//!
//! - **tokio** when tokio's clock is paused (`#[tokio::test(start_paused =
//!   true)]`, `tokio::time::pause`): then `tokio::time::advance` drives every
//!   deadline and window, exactly as before;
//! - **quanta** otherwise: the TSC where it is usable (invariant TSC), else the
//!   OS monotonic clock, scaled to nanoseconds.
//!
//! It tells them apart by reading `tokio::time::Instant::now()` twice: a
//! paused clock never moves between two reads, a running one always does at
//! nanosecond resolution. A coarse OS clock can make a running clock look
//! paused; that only costs speed (the tokio source), never correctness.
//!
//! **Caveat**: the choice is made once, when the layer is built. A layer built
//! before `tokio::time::pause()` keeps the real clock; build it after pausing
//! (or inside `#[tokio::test(start_paused = true)]`), or force a source with
//! [`Clock::tokio`] / [`Clock::quanta`].
//!
//! ```
//! use std::time::Duration;
//! use palisade_resilience::clock::Clock;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! // Inside a paused runtime the default clock follows tokio's time.
//! let clock = Clock::new();
//! assert!(clock.is_tokio());
//! let start = clock.now_nanos();
//! tokio::time::advance(Duration::from_millis(1_500)).await;
//! assert_eq!(clock.now_nanos() - start, 1_500_000_000);
//!
//! // The TSC clock moves on its own.
//! let fast = Clock::quanta();
//! assert!(!fast.is_tokio());
//! # }
//! ```

use std::fmt;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

/// The process-wide TSC clock: calibrating it takes a few milliseconds, once.
fn quanta_clock() -> &'static quanta::Clock {
    static CLOCK: OnceLock<quanta::Clock> = OnceLock::new();
    CLOCK.get_or_init(quanta::Clock::new)
}

/// A monotonic clock reporting nanoseconds since its origin (the moment it
/// was made); see the [module docs](self) for how the source is chosen.
///
/// Cheap to copy; copies share the origin.
///
/// It also remembers the wall-clock time of its origin, so a reading can be
/// shown to people ([`wall_time`](Self::wall_time)): the origin's wall time
/// plus the monotonic time since, which follows `tokio::time::advance` when
/// the clock reads tokio's time.
#[derive(Clone, Copy)]
pub struct Clock {
    source: Source,
    wall_origin: SystemTime,
}

/// The wall-clock time now. Read once per clock, when it is made: every
/// later wall time is derived from the monotonic reading, so it never jumps
/// with the system clock and stays deterministic under paused tokio time.
#[allow(clippy::disallowed_methods)] // the one place the wall clock is read
fn wall_now() -> SystemTime {
    SystemTime::now()
}

#[derive(Clone, Copy)]
enum Source {
    Tokio {
        origin: Instant,
    },
    Quanta {
        clock: &'static quanta::Clock,
        origin: u64,
    },
}

impl Clock {
    /// The TSC clock if tokio's clock is running, tokio's clock if it is
    /// paused (see the [module docs](self)).
    #[must_use]
    pub fn new() -> Self {
        let first = Instant::now();
        if Instant::now() == first {
            Self::tokio()
        } else {
            Self::quanta()
        }
    }

    /// Always `tokio::time`: pausable, ≈ 30 ns a read on a virtual machine.
    #[must_use]
    pub fn tokio() -> Self {
        Self {
            source: Source::Tokio {
                origin: Instant::now(),
            },
            wall_origin: wall_now(),
        }
    }

    /// Always the TSC through [`quanta`] (or the OS monotonic clock where the
    /// TSC is unusable): a few ns a read, and blind to `tokio::time::pause`.
    #[must_use]
    pub fn quanta() -> Self {
        let clock = quanta_clock();
        Self {
            source: Source::Quanta {
                clock,
                origin: clock.raw(),
            },
            wall_origin: wall_now(),
        }
    }

    /// Whether this clock reads `tokio::time`.
    #[must_use]
    pub fn is_tokio(&self) -> bool {
        matches!(self.source, Source::Tokio { .. })
    }

    /// Nanoseconds since the clock was made (saturating after 584 years).
    #[inline]
    #[must_use]
    pub fn now_nanos(&self) -> u64 {
        match self.source {
            Source::Tokio { origin } => {
                let elapsed = Instant::now().saturating_duration_since(origin);
                // u64 arithmetic rather than `as_nanos()`'s u128.
                elapsed
                    .as_secs()
                    .saturating_mul(1_000_000_000)
                    .saturating_add(u64::from(elapsed.subsec_nanos()))
            }
            Source::Quanta { clock, origin } => clock.delta_as_nanos(origin, clock.raw()),
        }
    }

    /// The wall-clock time of a reading `nanos` of [`now_nanos`](Self::now_nanos),
    /// for display (a breaker's last transition, say): the wall time when the
    /// clock was made plus `nanos`. It drifts from the system clock only as
    /// far as the system clock is adjusted after the clock was made.
    ///
    /// ```
    /// use std::time::Duration;
    /// use palisade_resilience::clock::Clock;
    ///
    /// let clock = Clock::quanta();
    /// let origin = clock.wall_time(0);
    /// assert_eq!(clock.wall_time(2_000_000_000), origin + Duration::from_secs(2));
    /// ```
    #[must_use]
    pub fn wall_time(&self, nanos: u64) -> SystemTime {
        self.wall_origin + Duration::from_nanos(nanos)
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match self.source {
            Source::Tokio { .. } => "tokio",
            Source::Quanta { .. } => "quanta",
        };
        f.debug_struct("Clock")
            .field("source", &source)
            .field("now_nanos", &self.now_nanos())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_paused_runtime_gets_tokio_time() {
        let clock = Clock::new();
        assert!(clock.is_tokio());
        let before = clock.now_nanos();
        tokio::time::advance(Duration::from_millis(1_500)).await;
        assert_eq!(clock.now_nanos() - before, 1_500_000_000);
    }

    #[tokio::test]
    async fn a_running_runtime_gets_the_tsc() {
        let clock = Clock::new();
        assert!(!clock.is_tokio());
        let first = clock.now_nanos();
        // Busy until the clock moves: it must, and never backwards.
        let mut later = clock.now_nanos();
        while later == first {
            later = clock.now_nanos();
        }
        assert!(later > first);
        assert!(format!("{clock:?}").contains("quanta"));
    }

    #[tokio::test(start_paused = true)]
    async fn wall_time_follows_paused_time() {
        let clock = Clock::new();
        let before = clock.wall_time(clock.now_nanos());
        tokio::time::advance(Duration::from_secs(90)).await;
        let after = clock.wall_time(clock.now_nanos());
        assert_eq!(
            after.duration_since(before).unwrap(),
            Duration::from_secs(90)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_forced_source_is_kept() {
        assert!(!Clock::quanta().is_tokio());
        assert!(Clock::tokio().is_tokio());
    }
}
