//! The time window: the calls of the last `buckets × bucket length`.
//!
//! Prefix sums. Monotonic `u64` counters count every call exactly once (they
//! cannot overflow in practice: 2^64 calls); each bucket keeps the counters'
//! value at the moment its epoch began. The window's totals are "counters now
//! minus counters when the oldest bucket began" — what leaves the window is
//! subtracted through that snapshot, never by summing buckets. Whoever first
//! sees a new epoch moves the head (CAS) and writes the snapshots of the
//! epochs it skipped; a snapshot is three words guarded by a seqlock tag, so
//! a reader never uses a torn one. A call can land in the bucket next to the
//! one its clock reading names when it races with the head moving, but it is
//! always counted exactly once.

use std::time::Duration;

use super::window::{Padded, Sample, Tally};
use crate::clock::Clock;
use crate::sync::{AtomicU64, Ordering, fence};

/// The largest number of buckets in a time window.
pub(crate) const MAX_BUCKETS: u32 = 10_000;

const BUSY: u64 = 1 << 63;

/// The cumulative counters at the moment an epoch began, guarded by a seqlock
/// tag holding `epoch + 1` (0: never written; `BUSY`: being written).
#[derive(Debug, Default)]
struct Snapshot {
    tag: AtomicU64,
    calls: AtomicU64,
    failures: AtomicU64,
    slow: AtomicU64,
}

impl Snapshot {
    /// Writes `value` as the snapshot of `epoch` unless a newer epoch is
    /// already stored or another writer holds the slot. Only a reset
    /// (`overwrite`) replaces a snapshot of the same epoch, so a slow head
    /// advance cannot undo a reset.
    fn write(&self, epoch: u64, value: Tally, overwrite: bool) -> bool {
        let tag = epoch + 1;
        let mut current = self.tag.load(Ordering::Relaxed);
        loop {
            if current & BUSY != 0 || current > tag || (current == tag && !overwrite) {
                return false;
            }
            match self.tag.compare_exchange_weak(
                current,
                tag | BUSY,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(actual) => current = actual,
            }
        }
        // Pairs with the reader's acquire fence: a reader that sees any of the
        // stores below also sees BUSY when it re-checks the tag.
        fence(Ordering::Release);
        self.calls.store(value.calls, Ordering::Relaxed);
        self.failures.store(value.failures, Ordering::Relaxed);
        self.slow.store(value.slow, Ordering::Relaxed);
        self.tag.store(tag, Ordering::Release);
        true
    }

    fn read(&self, epoch: u64) -> Option<Tally> {
        let tag = self.tag.load(Ordering::Acquire);
        if tag != epoch + 1 {
            return None;
        }
        let value = Tally {
            calls: self.calls.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            slow: self.slow.load(Ordering::Relaxed),
        };
        fence(Ordering::Acquire);
        (self.tag.load(Ordering::Relaxed) == tag).then_some(value)
    }
}

/// Every call ever recorded, written by every call (on its own cache line).
#[derive(Debug, Default)]
struct Counters {
    calls: AtomicU64,
    failures: AtomicU64,
    slow: AtomicU64,
}

/// The calls of the last `buckets × bucket length`.
#[derive(Debug)]
pub(crate) struct TimeWindow {
    /// The breaker's clock; every time below is in ns since its origin.
    clock: Clock,
    /// The duration it was built with (reported to a registry, never
    /// computed with).
    #[cfg(feature = "registry")]
    duration: Duration,
    bucket_nanos: u64,
    buckets: u64,
    /// The latest epoch whose snapshot has been (or is being) written.
    head: AtomicU64,
    /// The epoch of the last reset; older snapshots do not count.
    floor: AtomicU64,
    counters: Padded<Counters>,
    /// At least `buckets + 1` snapshots (a power of two, so finding a slot is
    /// a mask): the one after the oldest live bucket can be rewritten for the
    /// next epoch while the oldest is still being read.
    snapshots: Box<[Snapshot]>,
}

impl TimeWindow {
    /// `bucket_nanos` and `buckets` are non-zero (checked by the builder).
    pub(crate) fn new(duration: Duration, buckets: u32, clock: Clock) -> Self {
        let bucket_nanos = bucket_nanos(duration, buckets).unwrap_or(1);
        let ring = (u64::from(buckets) + 1).next_power_of_two();
        let snapshots: Box<[Snapshot]> = (0..ring).map(|_| Snapshot::default()).collect();
        if let Some(first) = snapshots.first() {
            first.write(0, Tally::default(), false);
        }
        Self {
            clock,
            #[cfg(feature = "registry")]
            duration,
            bucket_nanos,
            buckets: u64::from(buckets),
            head: AtomicU64::new(0),
            floor: AtomicU64::new(0),
            counters: Padded::default(),
            snapshots,
        }
    }

    /// The duration and bucket count it was built with.
    #[cfg(feature = "registry")]
    pub(crate) fn shape(&self) -> (Duration, u32) {
        (
            self.duration,
            u32::try_from(self.buckets).unwrap_or(u32::MAX),
        )
    }

    /// Now, in ns since the clock's origin.
    #[inline]
    pub(crate) fn now(&self) -> u64 {
        self.clock.now_nanos()
    }

    #[inline]
    fn epoch(&self, now: u64) -> u64 {
        now / self.bucket_nanos
    }

    #[inline]
    fn slot(&self, epoch: u64) -> Option<&Snapshot> {
        // The ring's length is a power of two.
        let mask = self.snapshots.len() as u64 - 1;
        self.snapshots.get((epoch & mask) as usize)
    }

    #[inline]
    fn cumulative(&self) -> Tally {
        Tally {
            calls: self.counters.calls.load(Ordering::Relaxed),
            failures: self.counters.failures.load(Ordering::Relaxed),
            slow: self.counters.slow.load(Ordering::Relaxed),
        }
    }

    /// Moves the head to `epoch`, writing the snapshots of the epochs it
    /// passes (at most one ring's worth): no call was recorded in the skipped
    /// epochs, so they all begin with the current counters.
    #[cold]
    fn advance(&self, epoch: u64) {
        let value = self.cumulative();
        let mut head = self.head.load(Ordering::Acquire);
        while head < epoch {
            match self
                .head
                .compare_exchange_weak(head, epoch, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    let ring = self.snapshots.len() as u64;
                    let first = (head + 1).max(epoch.saturating_sub(ring - 1));
                    for e in first..=epoch {
                        if let Some(slot) = self.slot(e) {
                            slot.write(e, value, false);
                        }
                    }
                    return;
                }
                Err(actual) => head = actual,
            }
        }
    }

    #[inline]
    pub(crate) fn record(&self, sample: Sample, nanos: u64) -> Option<Tally> {
        let head = self.head.load(Ordering::Acquire);
        // Most calls fall in the head bucket: no division.
        let epoch = if nanos.wrapping_sub(head.wrapping_mul(self.bucket_nanos)) < self.bucket_nanos
        {
            head
        } else {
            let epoch = nanos / self.bucket_nanos;
            if epoch > head {
                self.advance(epoch);
            }
            epoch
        };
        self.counters.calls.fetch_add(1, Ordering::Relaxed);
        if sample.failure {
            self.counters.failures.fetch_add(1, Ordering::Relaxed);
        }
        if sample.slow {
            self.counters.slow.fetch_add(1, Ordering::Relaxed);
        }
        self.window_at(epoch)
    }

    /// Counters now minus counters when the window's oldest bucket began.
    #[inline]
    fn window_at(&self, epoch: u64) -> Option<Tally> {
        let start = epoch
            .saturating_sub(self.buckets - 1)
            .max(self.floor.load(Ordering::Acquire));
        let begin = self.slot(start)?.read(start)?;
        let now = self.cumulative();
        let calls = now.calls.saturating_sub(begin.calls);
        Some(Tally {
            calls,
            failures: now.failures.saturating_sub(begin.failures).min(calls),
            slow: now.slow.saturating_sub(begin.slow).min(calls),
        })
    }

    pub(crate) fn totals(&self, now: u64) -> Tally {
        let epoch = self.epoch(now);
        if epoch > self.head.load(Ordering::Acquire) {
            self.advance(epoch);
        }
        // A snapshot is only unreadable while another thread writes it (a
        // handful of stores); retry a bounded number of times.
        for _ in 0..1_000 {
            if let Some(tally) = self.window_at(epoch) {
                return tally;
            }
            std::hint::spin_loop();
        }
        Tally::default()
    }

    pub(crate) fn reset(&self, now: u64) {
        let mut epoch = self.epoch(now);
        // The write fails only while another thread writes the same slot or
        // has moved the head past `epoch`; retry at the head.
        for _ in 0..1_000 {
            if epoch > self.head.load(Ordering::Acquire) {
                self.advance(epoch);
            }
            epoch = epoch.max(self.head.load(Ordering::Acquire));
            let value = self.cumulative();
            if self
                .slot(epoch)
                .is_some_and(|slot| slot.write(epoch, value, true))
            {
                self.floor.fetch_max(epoch, Ordering::AcqRel);
                return;
            }
            std::hint::spin_loop();
        }
    }
}

/// The length of one bucket in nanoseconds, `None` when it would be zero.
pub(crate) fn bucket_nanos(duration: Duration, buckets: u32) -> Option<u64> {
    let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX) / u64::from(buckets.max(1));
    (nanos > 0).then_some(nanos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MS: u64 = 1_000_000;

    fn sample(code: u8) -> Sample {
        Sample {
            failure: code & 1 != 0,
            slow: code & 2 != 0,
        }
    }

    fn naive(samples: &[Sample]) -> Tally {
        Tally {
            calls: samples.len() as u64,
            failures: samples.iter().filter(|s| s.failure).count() as u64,
            slow: samples.iter().filter(|s| s.slow).count() as u64,
        }
    }

    proptest! {
        #[test]
        fn time_window_matches_the_calls_of_the_live_buckets(
            buckets in 1u32..8,
            steps in proptest::collection::vec((0u64..2_500, 0u8..4), 0..200),
        ) {
            // 1 s buckets; each step waits 0..2.5 s and records one call.
            let window =
                TimeWindow::new(Duration::from_secs(u64::from(buckets)), buckets, Clock::tokio());
            let mut history: Vec<(u64, Sample)> = Vec::new();
            let mut millis = 0;
            for (wait, code) in steps {
                millis += wait;
                let now = millis * MS;
                let s = sample(code);
                history.push((millis / 1_000, s));
                let epoch = millis / 1_000;
                let live: Vec<Sample> = history
                    .iter()
                    .filter(|(e, _)| *e + u64::from(buckets) > epoch)
                    .map(|(_, s)| *s)
                    .collect();
                prop_assert_eq!(window.record(s, now), Some(naive(&live)));
                prop_assert_eq!(window.totals(now), naive(&live));
            }
        }
    }

    /// Threads record across many bucket boundaries at once; no call is lost
    /// or counted twice: a window that starts after the first phase holds
    /// exactly the second phase's calls.
    #[test]
    fn time_window_counts_stay_exact_while_threads_move_the_head() {
        const THREADS: u64 = 4;
        const CALLS: u64 = 5_000;
        // 1000 buckets of 1 ms.
        let window = TimeWindow::new(Duration::from_secs(1), 1_000, Clock::tokio());
        let phase = |start_ms: u64| {
            std::thread::scope(|scope| {
                for thread in 0..THREADS {
                    let window = &window;
                    scope.spawn(move || {
                        for i in 0..CALLS {
                            // Each thread walks 500 ms in its own order of steps.
                            let micros = (i * 100 + thread * 37) % 500_000;
                            let now = (start_ms * 1_000 + micros) * 1_000;
                            let sample = Sample {
                                failure: i % 2 == 0,
                                slow: i % 5 == 0,
                            };
                            window.record(sample, now);
                        }
                    });
                }
            });
        };
        phase(0);
        let all = Tally {
            calls: THREADS * CALLS,
            failures: THREADS * CALLS / 2,
            slow: THREADS * CALLS / 5,
        };
        assert_eq!(window.totals(500 * MS), all);
        phase(2_000);
        // 2,500 ms: the window covers 1,501..=2,500 ms, only the second phase.
        assert_eq!(window.totals(2_500 * MS), all);
        assert_eq!(window.totals(3_500 * MS), Tally::default());
    }

    #[test]
    fn time_window_reset_forgets_earlier_calls_of_the_same_bucket() {
        let window = TimeWindow::new(Duration::from_secs(10), 10, Clock::tokio());
        let fail = Sample {
            failure: true,
            slow: false,
        };
        let now = 1_500 * MS;
        window.record(fail, now);
        window.reset(now);
        assert_eq!(window.totals(now), Tally::default());
        assert_eq!(window.record(fail, now).map(|t| t.failures), Some(1));
        // Ten seconds later the failure has left the window.
        assert_eq!(window.totals(now + 10_000 * MS), Tally::default());
    }
}
