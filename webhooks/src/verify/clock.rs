//! Where a verifier reads the current time.

use std::time::{SystemTime, UNIX_EPOCH};

/// The verifier's clock, in Unix seconds.
///
/// [`SystemClock`] reads the wall clock; tests inject a fixed or stepped one.
/// Closures `Fn() -> i64` are clocks too.
///
/// ```
/// use palisade_webhooks::{Clock, SystemClock};
///
/// let fixed = || 1_614_265_330_i64;
/// assert_eq!(fixed.now_unix(), 1_614_265_330);
/// assert!(SystemClock.now_unix() > 1_600_000_000);
/// ```
pub trait Clock: Send + Sync + 'static {
    /// The current time as seconds since the Unix epoch.
    fn now_unix(&self) -> i64;
}

/// The wall clock (`SystemTime`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SystemClock;

impl Clock for SystemClock {
    // The one place that reads the wall clock: webhook timestamps are wall
    // time set by another machine, so tokio's (monotonic, pausable) clock
    // cannot answer. Tests inject their own `Clock` instead.
    #[allow(clippy::disallowed_methods)]
    fn now_unix(&self) -> i64 {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            Err(before) => i64::try_from(before.duration().as_secs()).map_or(i64::MIN, |s| -s),
        }
    }
}

impl<F> Clock for F
where
    F: Fn() -> i64 + Send + Sync + 'static,
{
    fn now_unix(&self) -> i64 {
        self()
    }
}
