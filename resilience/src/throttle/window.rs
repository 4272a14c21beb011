//! [`AcceptWindow`]: requests and accepts over a sliding window, and the
//! reject probability they give.

use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::clock::Clock;

/// The window slides in this many steps.
pub(crate) const BUCKETS: usize = 60;

/// The settings every window of one layer shares (K, the window's step,
/// the clock); made by the layer's builder.
#[derive(Debug, Clone, Copy)]
pub struct WindowSettings {
    /// The SRE book's K: how many requests per accept are tolerated.
    pub(crate) k: f64,
    /// The length of one step, in nanoseconds (at least 1).
    pub(crate) step_nanos: u64,
    pub(crate) clock: Clock,
}

/// The requests and accepts of one upstream (or of everything, for a
/// global throttle) over the last `window`, in 60 steps.
///
/// Created by the layer; reported by [`ThrottleHandle`](super::ThrottleHandle).
pub struct AcceptWindow {
    counts: Mutex<Counts>,
}

struct Counts {
    /// Per step: (requests, accepts); step `e` lives at `e % BUCKETS`.
    steps: [(u64, u64); BUCKETS],
    /// The newest step counted.
    head: u64,
    requests: u64,
    accepts: u64,
}

/// What one window holds now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Snapshot {
    pub(crate) requests: u64,
    pub(crate) accepts: u64,
    pub(crate) probability: f64,
}

impl AcceptWindow {
    pub(crate) fn new(settings: &WindowSettings) -> Self {
        Self {
            counts: Mutex::new(Counts {
                steps: [(0, 0); BUCKETS],
                head: settings.clock.now_nanos() / settings.step_nanos,
                requests: 0,
                accepts: 0,
            }),
        }
    }

    /// Counts a request and returns the reject probability it met (computed
    /// before counting it).
    pub(crate) fn request(&self, settings: &WindowSettings) -> f64 {
        let mut counts = self.current(settings);
        let probability = reject_probability(counts.requests, counts.accepts, settings.k);
        counts.requests += 1;
        let slot = slot(counts.head);
        counts.steps[slot].0 += 1;
        probability
    }

    /// Counts an accept (the upstream took the request).
    pub(crate) fn accept(&self, settings: &WindowSettings) {
        let mut counts = self.current(settings);
        counts.accepts += 1;
        let slot = slot(counts.head);
        counts.steps[slot].1 += 1;
    }

    pub(crate) fn snapshot(&self, settings: &WindowSettings) -> Snapshot {
        let counts = self.current(settings);
        Snapshot {
            requests: counts.requests,
            accepts: counts.accepts,
            probability: reject_probability(counts.requests, counts.accepts, settings.k),
        }
    }

    /// The counts, with the steps that left the window dropped.
    fn current(&self, settings: &WindowSettings) -> MutexGuard<'_, Counts> {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let now = settings.clock.now_nanos() / settings.step_nanos;
        if now > counts.head {
            let expired = (now - counts.head).min(BUCKETS as u64);
            for step in 1..=expired {
                let slot = slot(counts.head + step);
                let (requests, accepts) = std::mem::take(&mut counts.steps[slot]);
                counts.requests -= requests;
                counts.accepts -= accepts;
            }
            counts.head = now;
        }
        counts
    }
}

fn slot(step: u64) -> usize {
    // The remainder is below `BUCKETS`.
    #[allow(clippy::cast_possible_truncation)]
    let slot = (step % BUCKETS as u64) as usize;
    slot
}

/// The SRE book's client-side throttling probability:
/// `max(0, (requests − K·accepts) / (requests + 1))`.
#[must_use]
#[allow(clippy::cast_precision_loss)] // counts far below 2^52
pub(crate) fn reject_probability(requests: u64, accepts: u64, k: f64) -> f64 {
    let requests = requests as f64;
    ((requests - k * accepts as f64) / (requests + 1.0)).max(0.0)
}

impl fmt::Debug for AcceptWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        f.debug_struct("AcceptWindow")
            .field("requests", &counts.requests)
            .field("accepts", &counts.accepts)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn settings() -> WindowSettings {
        WindowSettings {
            k: 2.0,
            step_nanos: 2_000_000_000,
            clock: Clock::tokio(),
        }
    }

    #[test]
    fn the_formula_is_the_sre_books() {
        assert_eq!(reject_probability(0, 0, 2.0), 0.0);
        assert_eq!(reject_probability(100, 50, 2.0), 0.0);
        assert_eq!(reject_probability(100, 100, 2.0), 0.0);
        assert!((reject_probability(100, 25, 2.0) - 50.0 / 101.0).abs() < 1e-12);
        assert!((reject_probability(99, 0, 2.0) - 0.99).abs() < 1e-12);
    }

    #[tokio::test(start_paused = true)]
    async fn counts_leave_the_window_step_by_step() {
        let settings = settings();
        let window = AcceptWindow::new(&settings);
        for _ in 0..10 {
            let _ = window.request(&settings);
        }
        tokio::time::advance(Duration::from_secs(60)).await;
        for _ in 0..5 {
            let _ = window.request(&settings);
            window.accept(&settings);
        }
        assert_eq!(window.snapshot(&settings).requests, 15);
        // 2 minutes after the first ten, only the later five remain.
        tokio::time::advance(Duration::from_secs(60)).await;
        let now = window.snapshot(&settings);
        assert_eq!((now.requests, now.accepts), (5, 5));
        tokio::time::advance(Duration::from_secs(60)).await;
        let now = window.snapshot(&settings);
        assert_eq!((now.requests, now.accepts), (0, 0));
        // A long quiet period clears everything at once.
        let _ = window.request(&settings);
        tokio::time::advance(Duration::from_secs(3600)).await;
        assert_eq!(window.snapshot(&settings).requests, 0);
    }
}
