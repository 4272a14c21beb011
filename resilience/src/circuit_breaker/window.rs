//! The sliding windows the Closed state is judged on: the last N calls
//! (here), or the calls of the last N seconds in buckets
//! ([`TimeWindow`]). Both are lock-free and O(1) per call.
//!
//! [`CountWindow`] is a ring of N one-byte slots indexed by a `fetch_add`
//! sequence. Recording `swap`s the slot's outcome and adds the difference to
//! running totals kept in one packed word, so the totals always equal the sum
//! of the slots once in-flight recordings finish; a call whose outcome equals
//! the one leaving the window only loads the slot and touches nothing else.

use super::config::SlidingWindow;
use crate::clock::Clock;
use crate::sync::{AtomicU8, AtomicU64, Ordering};

pub(crate) use super::time_window::TimeWindow;

/// Keeps a value on its own cache line (128 bytes covers adjacent-line
/// prefetching), so a counter every call writes does not slow down reads of
/// its neighbours, such as the state word or the `Arc`'s reference count.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct Padded<T>(pub(crate) T);

impl<T> std::ops::Deref for Padded<T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        &self.0
    }
}

/// The largest count window: the packed totals hold 21-bit signed fields.
pub(crate) const MAX_COUNT_WINDOW: u32 = 1_000_000;

/// What a window holds: calls, failures and slow calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    pub(crate) calls: u64,
    pub(crate) failures: u64,
    pub(crate) slow: u64,
}

/// One recorded call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sample {
    pub(crate) failure: bool,
    pub(crate) slow: bool,
}

impl Sample {
    #[inline]
    fn code(self) -> u8 {
        1 | (u8::from(self.failure) << 1) | (u8::from(self.slow) << 2)
    }
}

/// Either window.
#[derive(Debug)]
pub(crate) enum Window {
    Count(CountWindow),
    Time(TimeWindow),
}

impl Window {
    /// An empty window of `shape` (already checked: see
    /// [`check_window`](super::config::check_window)).
    pub(crate) fn new(shape: SlidingWindow, clock: Clock) -> Self {
        match shape {
            SlidingWindow::Count(n) => Self::Count(CountWindow::new(n)),
            SlidingWindow::Time { duration, buckets } => {
                Self::Time(TimeWindow::new(duration, buckets, clock))
            }
        }
    }

    /// The shape it was built with.
    #[cfg(feature = "registry")]
    pub(crate) fn shape(&self) -> SlidingWindow {
        match self {
            Self::Count(w) => {
                SlidingWindow::Count(u32::try_from(w.slots.len()).unwrap_or(u32::MAX))
            }
            Self::Time(w) => {
                let (duration, buckets) = w.shape();
                SlidingWindow::Time { duration, buckets }
            }
        }
    }

    /// Records one call and returns the totals to judge, or `None` when there
    /// is nothing new to judge or they cannot be read consistently right now
    /// (the next call judges instead).
    #[inline]
    pub(crate) fn record(&self, sample: Sample, now: Option<u64>) -> Option<Tally> {
        match self {
            Self::Count(w) => w.record(sample),
            Self::Time(w) => w.record(sample, now.unwrap_or_else(|| w.now())),
        }
    }

    /// The current totals (for handles; expires old buckets first).
    pub(crate) fn totals(&self, now: u64) -> Tally {
        match self {
            Self::Count(w) => w.totals(),
            Self::Time(w) => w.totals(now),
        }
    }

    /// Empties the window.
    pub(crate) fn reset(&self, now: u64) {
        match self {
            Self::Count(w) => w.reset(),
            Self::Time(w) => w.reset(now),
        }
    }

    /// Whether recording needs the time of the call's end.
    pub(crate) fn needs_clock(&self) -> bool {
        matches!(self, Self::Time(_))
    }
}

// ----- where the breaker keeps its window ------------------------------------

/// The breaker's window. With feature `registry` a registry may replace it
/// while calls run: the window it was built with stays in place until the
/// first replacement, which goes behind an [`ArcSwap`](arc_swap::ArcSwap)
/// and raises a flag. A completing call reads the flag (one relaxed-cost
/// acquire load) and, only once the window was replaced, loads the
/// `ArcSwap`; without the feature it is the window itself and loading it
/// costs nothing (docs/decisions/0005-breaker-window-swap.md). The crate's
/// loom models keep the plain window: they never reconfigure.
#[cfg(all(feature = "registry", not(all(test, loom))))]
#[derive(Debug)]
pub(crate) struct WindowCell {
    /// The window it was built with, current until `replaced` is set (then
    /// kept, unused, for the breaker's life: one window's memory).
    built: Window,
    replaced: std::sync::atomic::AtomicBool,
    /// The current window once `replaced` is set.
    current: arc_swap::ArcSwapOption<Window>,
}

#[cfg(all(feature = "registry", not(all(test, loom))))]
impl WindowCell {
    pub(crate) fn new(window: Window) -> Self {
        Self {
            built: window,
            replaced: std::sync::atomic::AtomicBool::new(false),
            current: arc_swap::ArcSwapOption::empty(),
        }
    }

    /// The current window. A call records into the window it loaded, and
    /// judges that window's totals, even if it is replaced meanwhile.
    #[inline]
    pub(crate) fn load(&self) -> Loaded<'_> {
        if self.replaced.load(std::sync::atomic::Ordering::Acquire) {
            Loaded::Replaced(self.current.load(), &self.built)
        } else {
            Loaded::Built(&self.built)
        }
    }

    /// Replaces the window: calls that load it from now on record into
    /// `window`.
    pub(crate) fn replace(&self, window: Window) {
        self.current.store(Some(std::sync::Arc::new(window)));
        // After the store: whoever sees the flag finds the new window.
        self.replaced
            .store(true, std::sync::atomic::Ordering::Release);
    }
}

/// A loaded window: the one the breaker was built with, or a replacement
/// held by an `ArcSwap` guard (with the built one as a fallback that is
/// never used: the flag is raised after the store).
#[cfg(all(feature = "registry", not(all(test, loom))))]
pub(crate) enum Loaded<'a> {
    Built(&'a Window),
    Replaced(arc_swap::Guard<Option<std::sync::Arc<Window>>>, &'a Window),
}

#[cfg(all(feature = "registry", not(all(test, loom))))]
impl std::ops::Deref for Loaded<'_> {
    type Target = Window;

    #[inline]
    fn deref(&self) -> &Window {
        match self {
            Self::Built(window) => window,
            Self::Replaced(guard, built) => guard.as_deref().unwrap_or(built),
        }
    }
}

/// The breaker's window, fixed when it is built (see the other definition).
#[cfg(not(all(feature = "registry", not(all(test, loom)))))]
#[derive(Debug)]
pub(crate) struct WindowCell(Window);

#[cfg(not(all(feature = "registry", not(all(test, loom)))))]
impl WindowCell {
    pub(crate) fn new(window: Window) -> Self {
        Self(window)
    }

    #[inline]
    pub(crate) fn load(&self) -> &Window {
        &self.0
    }

    /// The loom models run with the plain window and never reconfigure it.
    #[cfg(feature = "registry")]
    #[allow(clippy::unused_self)]
    pub(crate) fn replace(&self, _window: Window) {}
}

// ----- count window ---------------------------------------------------------

const FIELD: u32 = 21;
const FIELD_MASK: u64 = (1 << FIELD) - 1;

/// Packs three signed counts into one word; linear modulo 2^64, so concurrent
/// `fetch_add`s of packed deltas compose even when a field is briefly negative.
#[inline]
fn pack(calls: i64, failures: i64, slow: i64) -> u64 {
    (calls as u64)
        .wrapping_add((failures as u64) << FIELD)
        .wrapping_add((slow as u64) << (2 * FIELD))
}

#[inline]
fn sign_extend(value: u64, bits: u32) -> i64 {
    ((value << (64 - bits)) as i64) >> (64 - bits)
}

#[inline]
fn unpack(word: u64) -> Tally {
    let calls = sign_extend(word & FIELD_MASK, FIELD);
    let rest = word.wrapping_sub(calls as u64) >> FIELD;
    let failures = sign_extend(rest & FIELD_MASK, FIELD);
    let slow = sign_extend(rest.wrapping_sub(failures as u64) >> FIELD, 64 - 2 * FIELD);
    // A field can be negative for an instant while two recordings of the same
    // slot race; clamp rather than report nonsense.
    let calls = calls.max(0) as u64;
    Tally {
        calls,
        failures: (failures.max(0) as u64).min(calls),
        slow: (slow.max(0) as u64).min(calls),
    }
}

#[inline]
fn code_delta(code: u8) -> (i64, i64, i64) {
    (
        i64::from(code & 1),
        i64::from((code >> 1) & 1),
        i64::from((code >> 2) & 1),
    )
}

/// The last N calls.
#[derive(Debug)]
pub(crate) struct CountWindow {
    slots: Box<[AtomicU8]>,
    seq: Padded<AtomicU64>,
    totals: Padded<AtomicU64>,
}

impl CountWindow {
    pub(crate) fn new(size: u32) -> Self {
        Self {
            slots: (0..size).map(|_| AtomicU8::new(0)).collect(),
            seq: Padded(AtomicU64::new(0)),
            totals: Padded(AtomicU64::new(0)),
        }
    }

    /// Records one call; returns the new totals, or `None` when they did not
    /// change (the same outcome left the window as entered it), in which case
    /// they were already judged by whoever last changed them.
    #[inline]
    pub(crate) fn record(&self, sample: Sample) -> Option<Tally> {
        let len = self.slots.len() as u64;
        let index = self.seq.fetch_add(1, Ordering::Relaxed) % len;
        let new = sample.code();
        // `index < len`, so the lookup cannot fail.
        let slot = self.slots.get(index as usize)?;
        // Replacing an outcome by the same one changes nothing: skip the
        // write (this is as if the swap happened at the load).
        if slot.load(Ordering::Relaxed) == new {
            return None;
        }
        let old = slot.swap(new, Ordering::Relaxed);
        if old == new {
            return None;
        }
        let (nc, nf, ns) = code_delta(new);
        let (oc, of, os) = code_delta(old);
        let delta = pack(nc - oc, nf - of, ns - os);
        let before = self.totals.fetch_add(delta, Ordering::Relaxed);
        Some(unpack(before.wrapping_add(delta)))
    }

    #[inline]
    pub(crate) fn totals(&self) -> Tally {
        unpack(self.totals.load(Ordering::Relaxed))
    }

    /// Empties every slot, adjusting the totals by exactly what each held, so
    /// a recording racing with the reset cannot make the totals drift.
    pub(crate) fn reset(&self) {
        let (mut c, mut f, mut s) = (0, 0, 0);
        for slot in &*self.slots {
            let (oc, of, os) = code_delta(slot.swap(0, Ordering::Relaxed));
            c -= oc;
            f -= of;
            s -= os;
        }
        self.totals.fetch_add(pack(c, f, s), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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

    #[test]
    fn packed_totals_survive_negative_fields() {
        let w = pack(3, -1, 2).wrapping_add(pack(0, 2, -1));
        assert_eq!(
            unpack(w),
            Tally {
                calls: 3,
                failures: 1,
                slow: 1
            }
        );
        assert_eq!(unpack(pack(0, -1, 0)).failures, 0);
    }

    proptest! {
        #[test]
        fn count_window_matches_the_last_n_calls(
            size in 1u32..40,
            codes in proptest::collection::vec(0u8..4, 0..300),
            reset_at in proptest::option::of(0usize..300),
        ) {
            let window = CountWindow::new(size);
            let mut history: Vec<Sample> = Vec::new();
            for (i, code) in codes.iter().enumerate() {
                if reset_at == Some(i) {
                    window.reset();
                    history.clear();
                }
                let s = sample(*code);
                history.push(s);
                let tail = &history[history.len().saturating_sub(size as usize)..];
                window.record(s);
                prop_assert_eq!(window.totals(), naive(tail));
            }
        }
    }

    /// Many threads race over the slots of a small count window; the totals
    /// end up exactly the sum of the slots.
    #[test]
    fn count_window_totals_stay_exact_under_contention() {
        let window = CountWindow::new(7);
        std::thread::scope(|scope| {
            for thread in 0..4u8 {
                let window = &window;
                scope.spawn(move || {
                    for i in 0..20_000u32 {
                        window.record(sample((thread + (i % 4) as u8) % 4));
                    }
                });
            }
        });
        let mut expected = Tally::default();
        for slot in &*window.slots {
            let (c, f, s) = code_delta(slot.load(Ordering::Relaxed));
            expected.calls += c as u64;
            expected.failures += f as u64;
            expected.slow += s as u64;
        }
        assert_eq!(expected.calls, 7);
        assert_eq!(window.totals(), expected);
        window.reset();
        assert_eq!(window.totals(), Tally::default());
    }
}
